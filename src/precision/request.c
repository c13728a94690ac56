/* Parsing EMB_PROVIDER_* precision strings (request.h): each variable has one setter. */
#include "precision/request.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define V_OVERRIDES "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES"

static const char *const precision_names[] = {"", "auto", "fp32", "fp16", "bf16", "int8",
                                               "int4"};
#define PRECISION_ALLOWED "auto|fp32|fp16|bf16|int8|int4"
#define STORAGE_ALLOWED   "fp32|fp16|bf16|int8|int4"
#define COMPUTE_ALLOWED   "fp32|bf16|int8"
#define GROUP_ALLOWED     "16|32|64|128|256"
#define BOOL_ALLOWED      "true|false (or 1|0, yes|no, on|off)"

void embp_precision_request_init(embp_precision_request *r) {
    memset(r, 0, sizeof *r);
    r->global.precision = EMBP_PRECISION_UNSET;
    r->global.storage = r->global.compute = -1;
    r->group_size = 32;
    r->quantization_enabled = 1;
    r->fidelity_mean_min = 0.999;
    r->fidelity_min_min = 0.995;
}

void embp_precision_request_free(embp_precision_request *r) {
    for (int i = 0; i < r->n_overrides; i++)
        embp_free(r->overrides[i].model);
    embp_free(r->overrides);
    embp_precision_request_init(r);
}

/* ---------------------------------------------------------------- scalar values */

static int parse_precision(const char *s) {
    for (int i = 1; i < (int)(sizeof precision_names / sizeof precision_names[0]); i++)
        if (strcmp(s, precision_names[i]) == 0)
            return i;
    return -1;
}

static int parse_bool(const char *s) {
    static const char *const t[] = {"true", "1", "yes", "on"}, *const f[] = {"false", "0", "no",
                                                                             "off"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, t[i]) == 0)
            return 1;
        if (strcmp(s, f[i]) == 0)
            return 0;
    }
    return -1;
}

/* 16..256, a power of two; else -1. */
static int parse_group(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 16 || v > 256 || (v & (v - 1)))
        return -1;
    return (int)v;
}

/* "mean,min", each in [0, 1]. */
static int parse_fidelity(const char *s, double *mean, double *min) {
    char *end;
    double a = strtod(s, &end);
    if (end == s || *end != ',')
        return -1;
    const char *p = end + 1;
    double b = strtod(p, &end);
    if (end == p || *end || !(a >= 0.0 && a <= 1.0) || !(b >= 0.0 && b <= 1.0))
        return -1;
    *mean = a, *min = b;
    return 0;
}

static embp_status bad(embp_error *err, const char *name, const char *value,
                       const char *allowed) {
    return embp_fail(err, EMBP_ECONFIG, "%s=%s: allowed values %s", name, value, allowed);
}

static embp_status set_method(const char *v, embp_error *err) {
    static const char *const known[] = {"gptq", "awq", "bitsandbytes", "bnb", "hqq", "eetq",
                                        "fp8", "marlin", "exl2", "gguf"};
    if (strcmp(v, "rtn") == 0)
        return EMBP_OK;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(v, known[i]) == 0)
            return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_QUANTIZATION_METHOD=%s: not "
                             "supported; embp supports rtn only (round to nearest at load from "
                             "the fp32/fp16/bf16 checkpoint). %s needs calibration data or its "
                             "own pre-quantized checkpoint format and kernels, which embp does "
                             "not read", v, v);
    return bad(err, "EMB_PROVIDER_QUANTIZATION_METHOD", v, "rtn");
}

/* ---------------------------------------------------------------- overrides JSON */

/* One key of an override object into spec; model names the entry in messages. */
static embp_status spec_field(const char *model, const char *key, json_t *v,
                              embp_precision_spec *s, embp_error *err) {
    const char *str = json_is_string(v) ? json_string_value(v) : NULL;
    if (strcmp(key, "group_size") == 0) {
        json_int_t g = json_is_integer(v) ? json_integer_value(v) : 0;
        if (g < 16 || g > 256 || (g & (g - 1)))
            return embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": model \"%s\": group_size must be "
                             "an integer, one of " GROUP_ALLOWED, model);
        s->group_size = (int)g;
        return EMBP_OK;
    }
    int which = strcmp(key, "precision") == 0 ? 0 : strcmp(key, "storage") == 0 ? 1
              : strcmp(key, "compute") == 0   ? 2 : -1;
    if (which < 0)
        return embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": model \"%s\": unknown key \"%s\"; "
                         "allowed keys precision, storage, compute, group_size", model, key);
    static const char *const allowed[] = {PRECISION_ALLOWED, STORAGE_ALLOWED, COMPUTE_ALLOWED};
    int val = !str ? -1 : which == 0 ? parse_precision(str) : which == 1 ? embp_storage_parse(str)
                                                                        : embp_compute_parse(str);
    if (val < 0)
        return embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": model \"%s\": %s = %s%s%s: allowed "
                         "values %s", model, key, str ? "\"" : "", str ? str : "(not a string)",
                         str ? "\"" : "", allowed[which]);
    if (which == 0)
        s->precision = (embp_precision)val;
    else if (which == 1)
        s->storage = val;
    else
        s->compute = val;
    return EMBP_OK;
}

static embp_status parse_spec(const char *model, json_t *v, embp_precision_spec *s,
                              embp_error *err) {
    s->precision = EMBP_PRECISION_UNSET, s->storage = s->compute = -1, s->group_size = 0;
    if (json_is_string(v))
        return spec_field(model, "precision", v, s, err);
    if (!json_is_object(v))
        return embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": model \"%s\": value must be a "
                         "precision string (" PRECISION_ALLOWED ") or an object", model);
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f) {
        embp_status rc = spec_field(model, key, f, s, err);
        if (rc != EMBP_OK)
            return rc;
    }
    if (s->precision == EMBP_PRECISION_UNSET && s->storage < 0 && s->compute < 0)
        return embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": model \"%s\": the object names no "
                         "precision, storage or compute", model);
    return EMBP_OK;
}

/* Parses text into a fresh overrides array; on success replaces r's. */
static embp_status set_overrides(embp_precision_request *r, const char *text, embp_error *err) {
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": invalid JSON at line %d column %d: "
                         "%s; expected {\"model-name\": \"int8\"} or {\"model-name\": "
                         "{\"storage\": \"int4\", \"compute\": \"bf16\", \"group_size\": 64}}",
                         je.line, je.column, je.text);
    embp_status rc = EMBP_OK;
    embp_precision_override *o = NULL;
    size_t n = json_is_object(root) ? json_object_size(root) : 0, i = 0;
    if (!json_is_object(root)) {
        rc = embp_fail(err, EMBP_ECONFIG, V_OVERRIDES ": must be a JSON object mapping model "
                       "names to precisions, e.g. {\"model-name\": \"int8\"}");
        goto done;
    }
    o = embp_calloc(n ? n : 1, sizeof *o);
    if (!o) {
        rc = embp_fail(err, EMBP_ENOMEM, V_OVERRIDES ": out of memory for %zu entries", n);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if ((rc = parse_spec(key, v, &o[i].spec, err)) != EMBP_OK)
            goto done;
        if (!(o[i].model = embp_strdup(key))) {
            rc = embp_fail(err, EMBP_ENOMEM, V_OVERRIDES ": out of memory");
            goto done;
        }
        i++;
    }
    for (int j = 0; j < r->n_overrides; j++) /* replace what an earlier call set */
        embp_free(r->overrides[j].model);
    embp_free(r->overrides);
    r->overrides = o, r->n_overrides = (int)n;
    o = NULL, i = 0;
done:
    for (size_t j = 0; o && j < i; j++)
        embp_free(o[j].model);
    embp_free(o);
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------- variables */

embp_status embp_precision_request_set(embp_precision_request *r, const char *name,
                                       const char *value, embp_error *err) {
    if (!value || !*value)
        return EMBP_OK;
    int v;
    if (strcmp(name, "EMB_PROVIDER_MODEL_PRECISION") == 0) {
        if ((v = parse_precision(value)) < 0)
            return bad(err, name, value, PRECISION_ALLOWED);
        r->global.precision = (embp_precision)v;
    } else if (strcmp(name, "EMB_PROVIDER_MODEL_STORAGE_PRECISION") == 0) {
        if ((v = embp_storage_parse(value)) < 0)
            return bad(err, name, value, STORAGE_ALLOWED);
        r->global.storage = v;
    } else if (strcmp(name, "EMB_PROVIDER_MODEL_COMPUTATION_PRECISION") == 0) {
        if ((v = embp_compute_parse(value)) < 0)
            return bad(err, name, value, COMPUTE_ALLOWED);
        r->global.compute = v;
    } else if (strcmp(name, V_OVERRIDES) == 0) {
        return set_overrides(r, value, err);
    } else if (strcmp(name, "EMB_PROVIDER_ENABLE_QUANTIZATION") == 0) {
        if ((v = parse_bool(value)) < 0)
            return bad(err, name, value, BOOL_ALLOWED);
        r->quantization_enabled = v;
    } else if (strcmp(name, "EMB_PROVIDER_QUANTIZATION_METHOD") == 0) {
        return set_method(value, err);
    } else if (strcmp(name, "EMB_PROVIDER_QUANT_GROUP_SIZE") == 0) {
        if ((v = parse_group(value)) < 0)
            return bad(err, name, value, GROUP_ALLOWED);
        r->group_size = v;
    } else if (strcmp(name, "EMB_PROVIDER_PRECISION_STRICT") == 0) {
        if ((v = parse_bool(value)) < 0)
            return bad(err, name, value, BOOL_ALLOWED);
        r->strict = v;
    } else if (strcmp(name, "EMB_PROVIDER_FIDELITY_MIN") == 0) {
        if (parse_fidelity(value, &r->fidelity_mean_min, &r->fidelity_min_min) != 0)
            return bad(err, name, value, "\"mean,min\", two numbers in [0, 1], e.g. 0.999,0.995");
    } else {
        return embp_fail(err, EMBP_EINVAL, "%s: not a precision variable", name);
    }
    return EMBP_OK;
}

embp_status embp_precision_request_parse(embp_lookup_fn lookup, void *ctx,
                                         embp_precision_request *r, embp_error *err) {
    static const char *const names[] = {
        "EMB_PROVIDER_MODEL_PRECISION",     "EMB_PROVIDER_MODEL_STORAGE_PRECISION",
        "EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", V_OVERRIDES,
        "EMB_PROVIDER_ENABLE_QUANTIZATION", "EMB_PROVIDER_QUANTIZATION_METHOD",
        "EMB_PROVIDER_QUANT_GROUP_SIZE",    "EMB_PROVIDER_PRECISION_STRICT",
        "EMB_PROVIDER_FIDELITY_MIN"};
    embp_precision_request_init(r);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        embp_status rc = embp_precision_request_set(r, names[i], lookup(ctx, names[i]), err);
        if (rc != EMBP_OK) {
            embp_precision_request_free(r);
            return rc;
        }
    }
    return EMBP_OK;
}
