/* The settings table and its parsers: environment first, then flags override. */
#include "settings/config.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "hub/hub.h"

/* K_CHOICE: a string among the names in `allowed`; K_PREC: an embp_precision among them; K_GROUP: a power of two in
 * min..max; K_METHOD: embp_quant_method; K_FLOORS: "mean,min" into two doubles; K_OVERRIDES:
 * the per-model JSON into embp_config_override rows; K_ALIASES: the alias JSON into
 * embp_model_alias rows. */
typedef enum { K_STR, K_INT, K_BOOL, K_LEVEL, K_PREC, K_GROUP, K_METHOD, K_FLOORS,
               K_OVERRIDES, K_ALIASES, K_CHOICE } kind;

typedef struct {
    const char *flag, *env, *def, *help;
    kind k;
    size_t off;
    long min, max;
    unsigned cmds;
    const char *opt;     /* the embp_load_opts field it becomes, for embp_config_explain */
    const char *allowed; /* K_PREC: the names it takes */
} setting;

#define PRECISION_ALLOWED "auto|fp32|fp16|bf16|int8|int4"
#define STORAGE_ALLOWED   "fp32|fp16|bf16|int8|int4"
#define COMPUTE_ALLOWED   "fp32|bf16|int8"

#define S EMBP_CMD_SERVE
#define E EMBP_CMD_EMBED
#define T EMBP_CMD_TOKENIZE
#define I EMBP_CMD_INFO
#define F(field) offsetof(embp_config, field)

/* clang-format off */
static const setting table[] = {
    {"model", "EMB_PROVIDER_MODEL_PATH", "", "model folder(s) or Hugging Face ids "
     "ORG/NAME[@REV] (from the HF cache, pulled when absent), comma separated; the first is the "
     "default. Unset: the HF cache's sentence-transformers/all-MiniLM-L6-v2, else "
     "<bin>/../models/all-MiniLM-L6-v2 (scripts/setup.sh puts it there), else the demo "
     "<bin>/../models/demo-all-MiniLM-L6-v2", K_STR, F(model_path), 0, 0, S | E | T | I, NULL,
     NULL},
    {"model-name", "EMB_PROVIDER_MODEL_NAME", "", "API id of each model, comma separated; unset: "
     "the folder's name (NAME for ORG/NAME or a Hugging Face cache snapshot of it)", K_STR,
     F(model_name), 0, 0, S | E | T | I, NULL, NULL},
    {"host", "EMB_PROVIDER_HOST", "0.0.0.0", "address to listen on", K_STR, F(host), 0, 0, S,
     NULL, NULL},
    {"port", "EMB_PROVIDER_PORT", "9000", "TCP port (0: any free port)", K_INT, F(port), 0, 65535,
     S, NULL, NULL},
    {"api-key", "EMB_PROVIDER_API_KEY", "", "require 'Authorization: Bearer KEY' (not on "
     "/health, /openapi.json)", K_STR, F(api_key), 0, 0, S, NULL, NULL},
    {"max-batch-size", "EMB_PROVIDER_MAX_BATCH_SIZE", "2048", "most inputs in one request",
     K_INT, F(max_batch_size), 1, 1 << 20, S, NULL, NULL},
    {"max-context-length", "EMB_PROVIDER_MAX_CONTEXT_LENGTH", "0", "caps the model's "
     "max_seq_len (tokens per input); 0: the model's", K_INT, F(max_context_length), 0, 1 << 20,
     S | E | T, NULL, NULL},
    {"max-request-bytes", "EMB_PROVIDER_MAX_REQUEST_BYTES", "8388608", "largest request body "
     "(413 beyond)", K_INT, F(max_request_bytes), 64, 1L << 31, S, NULL, NULL},
    {"max-batch-tokens", "EMB_PROVIDER_MAX_BATCH_TOKENS", "0", "token budget of one forward "
     "pass; 0: 1024, or the model's max_seq_len when longer (the forward's scratch is sized by "
     "it: ~15 KiB per token for MiniLM, ~30 for BERT-base)", K_INT, F(max_batch_tokens), 0,
     1 << 24, S | E, "max_batch_tokens", NULL},
    {"max-wait-time-ms", "EMB_PROVIDER_MAX_WAIT_TIME_MS", "2", "longest wait for a batch to "
     "fill: until it holds the token budget or as many requests as the last batch answered "
     "(a lone client never waits); 0: never wait",
     K_INT, F(max_wait_time_ms), 0, 10000, S, NULL, NULL},
    {"length-grouping", "EMB_PROVIDER_ENABLE_LENGTH_GROUPING", "true", "when more than a batch "
     "waits, fill half of each batch shortest first across requests and the other half in "
     "arrival order: short requests pass large ones, nothing starves, same vectors (false: "
     "arrival order only)", K_BOOL, F(length_grouping), 0, 0, S, NULL, NULL},
    {"max-queue-tokens", "EMB_PROVIDER_MAX_QUEUE_TOKENS", "262144", "queued tokens beyond which "
     "requests get 503 + Retry-After", K_INT, F(max_queue_tokens), 1, 1L << 30, S, NULL, NULL},
    {"max-connections", "EMB_PROVIDER_MAX_CONNECTIONS", "256", "open connections at once",
     K_INT, F(max_connections), 1, 100000, S, NULL, NULL},
    {"max-connections-per-ip", "EMB_PROVIDER_MAX_CONNECTIONS_PER_IP", "0", "open connections "
     "at once from one client address (beyond it a new one is closed at once); 0: no limit "
     "but max-connections (behind a proxy every client shares its address)", K_INT,
     F(max_connections_per_ip), 0, 100000, S, NULL, NULL},
    {"timeout", "EMB_PROVIDER_TIMEOUT_S", "30", "seconds a connection may take to send a "
     "request, or to read its reply, and may stay idle",
     K_INT, F(timeout_s), 1, 3600, S, NULL, NULL},
    {"max-prepare-ms", "EMB_PROVIDER_MAX_PREPARE_MS", "10000", "CPU ms one request may spend "
     "being parsed and tokenized on its connection's thread (413 beyond, checked between "
     "inputs); 0: no bound", K_INT, F(max_prepare_ms), 0, 3600000, S, NULL, NULL},
    {"drain-timeout", "EMB_PROVIDER_DRAIN_TIMEOUT_S", "30", "on SIGTERM/SIGINT, seconds to "
     "let requests in flight finish; then their connections close unanswered and the process "
     "exits once the model finishes the work already queued (keep it below your "
     "orchestrator's grace period, e.g. Kubernetes' terminationGracePeriodSeconds)", K_INT,
     F(drain_timeout_s), 0, 86400, S, NULL, NULL},
    {"truncate", "EMB_PROVIDER_TRUNCATE", "true", "cut inputs longer than max_seq_len "
     "(--no-truncate: reject them)", K_BOOL, F(truncate), 0, 0, S | E | T, NULL, NULL},
    {"cors-origin", "EMB_PROVIDER_CORS_ORIGIN", "", "answer browsers from this origin (* or "
     "https://app.example): Access-Control-Allow-Origin and OPTIONS preflight; unset: no CORS",
     K_STR, F(cors_origin), 0, 0, S, NULL, NULL},
    {"threads", "EMB_PROVIDER_THREADS", "0", "compute threads; 0: one per core", K_INT,
     F(threads), 0, 1024, S | E | I, NULL, NULL},
    {"log-level", "EMB_PROVIDER_LOG_LEVEL", "info", "debug|info|warn|error", K_LEVEL,
     F(log_level), 0, 0, S | E | T | I, NULL, NULL},
    {"log-format", "EMB_PROVIDER_LOG_FORMAT", "text", "text|json: json writes one JSON object "
     "per line (time, level, msg, and for requests request_id, method, route, path, status, "
     "latency_ms, inputs, tokens) for log shippers", K_CHOICE, F(log_format), 0, 0,
     S | E | T | I, NULL, "text|json"},
    {"quantize-ranges", "EMB_PROVIDER_QUANTIZE_RANGES", "-1,1", "the per-dimension ranges the "
     "int8/uint8 encodings bucket by (sentence-transformers' quantize_embeddings ranges): "
     "\"LO,HI\" for every dimension, [[min...],[max...]] inline, or a file holding that JSON",
     K_STR, F(quantize_ranges), 0, 0, S | E, NULL, NULL},
    {"precision", "EMB_PROVIDER_MODEL_PRECISION", "", "auto|fp32|fp16|bf16|int8|int4 (unset: fp32)",
     K_PREC, F(precision), 0, 0, S | E | I, "precision", PRECISION_ALLOWED},
    {"storage-precision", "EMB_PROVIDER_MODEL_STORAGE_PRECISION", "", "weights in memory: "
     "fp32|fp16|bf16|int8|int4", K_PREC, F(storage_precision), 0, 0, S | E | I, "storage",
     STORAGE_ALLOWED},
    {"computation-precision", "EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "", "GEMM inputs: "
     "fp32|bf16|int8", K_PREC, F(computation_precision), 0, 0, S | E | I, "compute",
     COMPUTE_ALLOWED},
    {"precision-overrides", "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", "", "JSON per model name: "
     "{\"name\":\"int8\"} or {\"name\":{\"storage\":\"int4\",\"compute\":\"bf16\"}}; wins over "
     "the settings above for that model", K_OVERRIDES, F(precision_overrides), 0, 0, S | E | I,
     "precision_overrides", NULL},
    {"enable-quantization", "EMB_PROVIDER_ENABLE_QUANTIZATION", "true", "allow int8/int4 plans "
     "(false: an int8/int4 request is an error and auto never picks them)", K_BOOL,
     F(enable_quantization), 0, 0, S | E | I, "enable_quantization", NULL},
    {"quantization-method", "EMB_PROVIDER_QUANTIZATION_METHOD", "", "rtn (round to nearest at "
     "load, the default); gptq/awq/bitsandbytes are refused with the reason", K_METHOD,
     F(quantization_method), 0, 0, S | E | I, "quantization_method", NULL},
    {"quant-group-size", "EMB_PROVIDER_QUANT_GROUP_SIZE", "32", "int4 group along K: a power of "
     "two 16..256 dividing the layer widths", K_GROUP, F(quant_group_size), 16, 256, S | E | I,
     "quant_group_size", NULL},
    {"fidelity-min", "EMB_PROVIDER_FIDELITY_MIN", "0.999,0.995", "MEAN,MIN cosine to fp32 on the "
     "probe set that auto needs to pick a plan", K_FLOORS, F(fidelity_floor_mean), 0, 0,
     S | E | I, "fidelity_floor_mean", NULL},
    {"fidelity-cache", "EMB_PROVIDER_FIDELITY_CACHE", "", "folder caching measured fidelity; "
     "unset: $XDG_CACHE_HOME/embp or ~/.cache/embp; 'off': none", K_STR, F(fidelity_cache), 0, 0,
     S | E | I, NULL, NULL},
    {"default-prompt-name", "EMB_PROVIDER_DEFAULT_PROMPT_NAME", "", "prompt put before every "
     "text a request does not give a prompt or prompt_name for: a key of the model's "
     "config_sentence_transformers.json prompts (e.g. query for an e5 model); unset: its "
     "default_prompt_name. A model without that prompt fails to load", K_STR,
     F(default_prompt_name), 0, 0, S | E | I, "default_prompt_name", NULL},
    {"model-aliases", "EMB_PROVIDER_MODEL_ALIASES", "", "JSON object: other names for served "
     "models, e.g. {\"text-embedding-3-small\": \"all-MiniLM-L6-v2\"}; each alias must name a "
     "served model id", K_ALIASES, F(n_model_aliases), 0, 0, S, NULL, NULL},
    {"ui", "EMB_PROVIDER_UI", "true", "serve the playground at GET / (false: GET / is not "
     "served; POST / stays TEI's embed, /docs stays on)", K_BOOL, F(ui), 0, 0, S, NULL, NULL},
    {"ui-dir", "EMB_PROVIDER_UI_DIR", "", "folder of the web pages (/, /docs, /ui/*); unset: "
     "<bin>/ui (the build's copy), else <bin>/../share/embp/ui", K_STR, F(ui_dir), 0, 0, S,
     NULL, NULL},
    {"measure-fidelity", "EMB_PROVIDER_MEASURE_FIDELITY", "false", "measure every model's plan "
     "against fp32 of its folder at load, not only auto's (/v1/models and /info then show the "
     "probe set's cosines; costs an fp32 build per model at start, unless cached)", K_BOOL,
     F(measure_fidelity), 0, 0, S, "measure_fidelity", NULL},
    {"precision-strict", "EMB_PROVIDER_PRECISION_STRICT", "false", "a precision the CPU cannot "
     "run is an error, not a fallback", K_BOOL, F(precision_strict), 0, 0, S | E | I, "strict",
     NULL},
};
/* clang-format on */
#define N_SETTINGS (sizeof table / sizeof table[0])

static const char *const precision_names[] = {"", "auto", "fp32", "fp16", "bf16", "int8",
                                               "int4"};

int embp_config_parse_precision(const char *text, const char *allowed, embp_precision *out) {
    size_t n = strlen(text);
    for (const char *p = allowed; n && *p; p += strcspn(p, "|"), p += *p == '|')
        if (strncmp(p, text, n) == 0 && (p[n] == '|' || p[n] == '\0'))
            for (int i = 1; i < (int)(sizeof precision_names / sizeof precision_names[0]); i++)
                if (strcmp(text, precision_names[i]) == 0) {
                    *out = (embp_precision)i;
                    return 0;
                }
    return -1;
}

embp_status embp_config_parse_method(const char *text, const char *where, embp_quant_method *out,
                                     embp_error *err) {
    static const char *const known[] = {"gptq", "awq", "bitsandbytes", "bnb", "hqq", "eetq",
                                        "fp8", "marlin", "exl2", "gguf"};
    if (strcmp(text, "rtn") == 0) {
        *out = EMBP_QUANT_RTN;
        return EMBP_OK;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(text, known[i]) == 0)
            return embp_fail(err, EMBP_ECONFIG, "%s=%s: not supported; embp supports rtn only "
                             "(round to nearest at load from the fp32/fp16/bf16 checkpoint). %s "
                             "needs calibration data or its own pre-quantized checkpoint format "
                             "and kernels, which embp does not read", where, text, text);
    return embp_fail(err, EMBP_ECONFIG, "%s=%s: allowed values rtn", where, text);
}

/* "mean,min", each in [0, 1]. */
static int parse_floors(const char *s, double *mean, double *min) {
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

/* ---------------------------------------------------------------- overrides JSON */

#define OVERRIDES_FORMAT "expected {\"model-name\": \"int8\"} or {\"model-name\": {\"storage\": " \
                         "\"int4\", \"compute\": \"bf16\", \"group_size\": 64}}"

/* One key of an override object into o; where names the variable in messages. */
static embp_status override_field(const char *where, const char *key, json_t *v,
                                  embp_config_override *o, embp_error *err) {
    const char *str = json_is_string(v) ? json_string_value(v) : NULL;
    if (strcmp(key, "group_size") == 0) {
        json_int_t g = json_is_integer(v) ? json_integer_value(v) : 0;
        if (g < 16 || g > 256 || (g & (g - 1)))
            return embp_fail(err, EMBP_ECONFIG, "%s: model \"%s\": group_size must be an "
                             "integer, one of 16|32|64|128|256", where, o->model);
        o->group_size = (int)g;
        return EMBP_OK;
    }
    static const char *const keys[] = {"precision", "storage", "compute"};
    static const char *const allowed[] = {PRECISION_ALLOWED, STORAGE_ALLOWED, COMPUTE_ALLOWED};
    embp_precision *dst[] = {&o->precision, &o->storage, &o->compute};
    for (int w = 0; w < 3; w++) {
        if (strcmp(key, keys[w]) != 0)
            continue;
        if (!str || embp_config_parse_precision(str, allowed[w], dst[w]) != 0)
            return embp_fail(err, EMBP_ECONFIG, "%s: model \"%s\": %s = %s%s%s: allowed values "
                             "%s", where, o->model, key, str ? "\"" : "",
                             str ? str : "(not a string)", str ? "\"" : "", allowed[w]);
        return EMBP_OK;
    }
    return embp_fail(err, EMBP_ECONFIG, "%s: model \"%s\": unknown key \"%s\"; allowed keys "
                     "precision, storage, compute, group_size", where, o->model, key);
}

/* A setting's JSON text, an object of at most max members (what the rows hold), into *root
 * (the caller's to json_decref). Invalid JSON, another type or too many members are
 * EMBP_ECONFIG naming where and saying what is expected: `expected` after a JSON error, "must
 * be a JSON object mapping <mapping>" after another type, "<n> <rows>; at most <max>". */
static embp_status load_setting_object(const char *text, const char *where, const char *expected,
                                       const char *mapping, const char *rows, size_t max,
                                       json_t **root, embp_error *err) {
    json_error_t je;
    embp_status rc = EMBP_OK;
    if (!(*root = json_loads(text, JSON_REJECT_DUPLICATES, &je)))
        return embp_fail(err, EMBP_ECONFIG, "%s: invalid JSON at line %d column %d: %s; %s",
                         where, je.line, je.column, je.text, expected);
    if (!json_is_object(*root))
        rc = embp_fail(err, EMBP_ECONFIG, "%s: must be a JSON object mapping %s", where, mapping);
    else if (json_object_size(*root) > max)
        rc = embp_fail(err, EMBP_ECONFIG, "%s: %zu %s; at most %zu", where,
                       json_object_size(*root), rows, max);
    if (rc != EMBP_OK) {
        json_decref(*root);
        *root = NULL;
    }
    return rc;
}

/* The overrides JSON text into c's rows (replacing them only on success). */
static embp_status parse_overrides(embp_config *c, const char *text, const char *where,
                                   embp_error *err) {
    json_t *root;
    if (load_setting_object(text, where, OVERRIDES_FORMAT,
                            "model names to precisions, e.g. {\"model-name\": \"int8\"}",
                            "models", EMBP_CONFIG_OVERRIDES_MAX, &root, err))
        return err->code;
    embp_config_override rows[EMBP_CONFIG_OVERRIDES_MAX];
    embp_status rc = EMBP_OK;
    int n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (rc != EMBP_OK)
            break;
        embp_config_override *o = &rows[n++];
        memset(o, 0, sizeof *o);
        if (!*key || strlen(key) >= sizeof o->model) {
            rc = embp_fail(err, EMBP_ECONFIG, "%s: a model name must be 1..%zu bytes", where,
                           sizeof o->model - 1);
            break;
        }
        memcpy(o->model, key, strlen(key) + 1);
        if (json_is_string(v)) {
            rc = override_field(where, "precision", v, o, err);
        } else if (!json_is_object(v)) {
            rc = embp_fail(err, EMBP_ECONFIG, "%s: model \"%s\": value must be a precision "
                           "string (" PRECISION_ALLOWED ") or an object", where, key);
        } else {
            const char *k;
            json_t *f;
            json_object_foreach(v, k, f) {
                if ((rc = override_field(where, k, f, o, err)) != EMBP_OK)
                    break;
            }
            if (rc == EMBP_OK && !o->precision && !o->storage && !o->compute)
                rc = embp_fail(err, EMBP_ECONFIG, "%s: model \"%s\": the object names no "
                               "precision, storage or compute", where, key);
        }
    }
    json_decref(root);
    if (rc == EMBP_OK) {
        memcpy(c->precision_overrides, rows, (size_t)n * sizeof rows[0]);
        c->n_precision_overrides = n;
    }
    return rc;
}

/* ---------------------------------------------------------------- aliases JSON */

/* The aliases JSON text into c's rows (replacing them only on success). Whether each target
 * is served is checked once the models are loaded (embp_config_load_models). */
static embp_status parse_aliases(embp_config *c, const char *text, const char *where,
                                 embp_error *err) {
    json_t *root;
    if (load_setting_object(text, where, "expected {\"alias\": \"served-model-id\", ...}",
                            "aliases to served model ids, e.g. {\"text-embedding-3-small\": "
                            "\"all-MiniLM-L6-v2\"}",
                            "aliases", EMBP_CONFIG_ALIASES_MAX, &root, err))
        return err->code;
    embp_status rc = EMBP_OK;
    int n = 0;
    const char *key;
    json_t *v;
    embp_model_alias rows[EMBP_CONFIG_ALIASES_MAX];
    json_object_foreach(root, key, v) {
        if (rc != EMBP_OK)
            break;
        const char *t = json_string_value(v);
        embp_model_alias *a = &rows[n++];
        if (!*key || strlen(key) >= sizeof a->alias)
            rc = embp_fail(err, EMBP_ECONFIG, "%s: an alias must be 1..%zu bytes", where,
                           sizeof a->alias - 1);
        else if (!t || !*t || strlen(t) >= sizeof a->target)
            rc = embp_fail(err, EMBP_ECONFIG, "%s: alias \"%s\" must map to a served model id "
                           "(a non-empty string)", where, key);
        else {
            memcpy(a->alias, key, strlen(key) + 1);
            memcpy(a->target, t, strlen(t) + 1);
        }
    }
    json_decref(root);
    if (rc == EMBP_OK) {
        memcpy(c->model_aliases, rows, (size_t)n * sizeof rows[0]);
        c->n_model_aliases = n;
    }
    return rc;
}

/* Every alias names a served model, and none hides one (a served id answers for itself). */
static embp_status check_aliases(const embp_config *c, embp_registry_model *m, int n,
                                 embp_error *err) {
    char names[1024];
    for (int a = 0; a < c->n_model_aliases; a++) {
        const embp_model_alias *al = &c->model_aliases[a];
        if (embp_registry_find(m, n, NULL, 0, al->alias, NULL))
            return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_MODEL_ALIASES: alias \"%s\" is "
                             "already a served model's id; an alias must be another name",
                             al->alias);
        if (!embp_registry_find(m, n, NULL, 0, al->target, NULL)) {
            embp_registry_names(m, n, NULL, 0, names, sizeof names);
            return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_MODEL_ALIASES: alias \"%s\" maps "
                             "to \"%s\", which is not a served model id (served: %s)",
                             al->alias, al->target, names);
        }
    }
    return EMBP_OK;
}

/* Parses text into the field of s; where names the source ("EMB_PROVIDER_PORT" or "--port"). */
static embp_status apply(embp_config *c, const setting *s, const char *text, const char *where,
                         embp_error *err) {
    char *field = (char *)c + s->off;
    switch (s->k) {
    case K_STR:
        memcpy(field, &text, sizeof text);
        return EMBP_OK;
    case K_PREC: {
        embp_precision p = EMBP_PRECISION_UNSET;
        if (*text && embp_config_parse_precision(text, s->allowed, &p) != 0)
            return embp_fail(err, EMBP_ECONFIG, "%s=%s: allowed values %s", where, text,
                             s->allowed);
        memcpy(field, &p, sizeof p);
        return EMBP_OK;
    }
    case K_METHOD: {
        embp_quant_method m = EMBP_QUANT_RTN;
        embp_status rc = *text ? embp_config_parse_method(text, where, &m, err) : EMBP_OK;
        if (rc == EMBP_OK)
            memcpy(field, &m, sizeof m);
        return rc;
    }
    case K_FLOORS: {
        double v[2];
        if (parse_floors(text, &v[0], &v[1]) != 0)
            return embp_fail(err, EMBP_ECONFIG, "%s=%s: allowed values \"mean,min\", two numbers "
                             "in [0, 1], e.g. 0.999,0.995", where, text);
        c->fidelity_floor_mean = v[0], c->fidelity_floor_min = v[1];
        return EMBP_OK;
    }
    case K_OVERRIDES:
        if (!*text) {
            c->n_precision_overrides = 0;
            return EMBP_OK;
        }
        return parse_overrides(c, text, where, err);
    case K_ALIASES:
        if (!*text) {
            c->n_model_aliases = 0;
            return EMBP_OK;
        }
        return parse_aliases(c, text, where, err);
    case K_CHOICE: {
        size_t n = strlen(text);
        for (const char *p = s->allowed; n && *p; p += strcspn(p, "|"), p += *p == '|')
            if (strncmp(p, text, n) == 0 && (p[n] == '|' || p[n] == '\0')) {
                memcpy(field, &text, sizeof text);
                return EMBP_OK;
            }
        return embp_fail(err, EMBP_ECONFIG, "%s=%s: allowed values %s", where, text, s->allowed);
    }
    case K_LEVEL:        if (embp_log_level_parse(text) < 0)
            return embp_fail(err, EMBP_ECONFIG, "%s=%s: not a log level; allowed: %s", where,
                             text, s->help);
        memcpy(field, &text, sizeof text);
        return EMBP_OK;
    case K_BOOL: {
        static const char *yes[] = {"true", "1", "yes", "on"}, *no[] = {"false", "0", "no", "off"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
                *(int *)(void *)field = strcmp(text, yes[i]) == 0;
                return EMBP_OK;
            }
        }
        return embp_fail(err, EMBP_ECONFIG, "%s=%s: not a boolean; allowed: true|false|1|0|yes|"
                         "no|on|off", where, text);
    }
    case K_GROUP:
    case K_INT: {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (s->k == K_GROUP &&
            (errno || end == text || *end || v < s->min || v > s->max || (v & (v - 1))))
            return embp_fail(err, EMBP_ECONFIG, "%s=%s: allowed values 16|32|64|128|256", where,
                             text);
        if (errno || end == text || *end || v < s->min || v > s->max)
            return embp_fail(err, EMBP_ECONFIG, "%s=%s: not an integer in %ld..%ld (%s)", where,
                             text, s->min, s->max, s->help);
        *(long *)(void *)field = v;
        return EMBP_OK;
    }
    }
    return EMBP_EINTERNAL;
}

void embp_config_defaults(embp_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_SETTINGS; i++)
        apply(c, &table[i], table[i].def, "default", NULL);
}

embp_status embp_config_from_env(embp_config *c, const char *(*getenv_fn)(const char *),
                                 embp_error *err) {
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = getenv_fn(table[i].env);
        if (v && (*v || table[i].k == K_STR) && apply(c, &table[i], v, table[i].env, err))
            return err ? err->code : EMBP_ECONFIG;
    }
    return EMBP_OK;
}

/* The setting whose flag is name (len bytes, without "--"), for cmd; *negated set for "no-X". */
static const setting *find_flag(const char *name, size_t len, unsigned cmd, int *negated) {
    *negated = 0;
    if (len > 3 && strncmp(name, "no-", 3) == 0) {
        const setting *s = find_flag(name + 3, len - 3, cmd, negated);
        if (s && s->k == K_BOOL) {
            *negated = 1;
            return s;
        }
    }
    for (size_t i = 0; i < N_SETTINGS; i++)
        if ((table[i].cmds & cmd) && strlen(table[i].flag) == len &&
            strncmp(table[i].flag, name, len) == 0)
            return &table[i];
    return NULL;
}

int embp_config_parse_flag(embp_config *c, unsigned cmd, int argc, char **argv, int *i,
                           embp_error *err) {
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0)
        return 0;
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int negated;
    const setting *s = find_flag(name, len, cmd, &negated);
    if (!s)
        return 0;
    char where[64];
    snprintf(where, sizeof where, "--%.*s", (int)len, name);
    const char *value = eq ? eq + 1 : NULL;
    if (s->k == K_BOOL && !value) {
        value = negated ? "false" : "true";
    } else if (negated) {
        embp_fail(err, EMBP_ECONFIG, "%s takes no value", where);
        return -1;
    } else if (!value) {
        if (*i + 1 >= argc) {
            embp_fail(err, EMBP_ECONFIG, "%s needs a value (%s)", where, s->help);
            return -1;
        }
        value = argv[++*i];
    }
    (*i)++;
    return apply(c, s, value, where, err) == EMBP_OK ? 1 : -1;
}

void embp_config_print_help(FILE *f, unsigned cmd, int markdown) {
    if (markdown)
        fputs("| flag | environment variable | default | meaning |\n|---|---|---|---|\n", f);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &table[i];
        if (!(s->cmds & cmd))
            continue;
        const char *def = *s->def ? s->def : "unset";
        char flag[64];
        if (s->k == K_BOOL)
            snprintf(flag, sizeof flag, "--%s, --no-%s", s->flag, s->flag);
        else
            snprintf(flag, sizeof flag, "--%s VALUE", s->flag);
        if (markdown) {
            fprintf(f, "| `%s` | `%s` | `%s` | ", flag, s->env, def);
            for (const char *h = s->help; *h; h++) /* a bare '|' would end the cell */
                fputs(*h == '|' ? "\\|" : (char[2]){*h, 0}, f);
            fputs(" |\n", f);
        }
        else
            fprintf(f, "  %-40s %s\n  %-40s [%s, default %s]\n", flag, s->help, "", s->env, def);
    }
}

void embp_config_list_item(const char *list, int i, char *out, size_t size) {
    out[0] = '\0';
    const char *p = list;
    for (; i > 0 && p; i--) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    if (!p)
        return;
    size_t n = strcspn(p, ",");
    snprintf(out, size, "%.*s", (int)n, p);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The HF cache's all-MiniLM-L6-v2 snapshot at refs/main into out, or 0 when absent. */
static int hf_cache_model(const char *(*getenv_fn)(const char *), char *out, size_t size) {
    char hub[1024], ref[128] = "";
    const char *hf = getenv_fn("HF_HOME"), *home = getenv_fn("HOME");
    if (hf && *hf)
        snprintf(hub, sizeof hub, "%s/hub", hf);
    else if (home && *home)
        snprintf(hub, sizeof hub, "%s/.cache/huggingface/hub", home);
    else
        return 0;
    char refpath[1200];
    snprintf(refpath, sizeof refpath,
             "%s/models--sentence-transformers--all-MiniLM-L6-v2/refs/main", hub);
    FILE *f = fopen(refpath, "r");
    if (!f)
        return 0;
    size_t n = fread(ref, 1, sizeof ref - 1, f);
    fclose(f);
    ref[n] = '\0';
    ref[strcspn(ref, " \r\n")] = '\0';
    if (!*ref || strchr(ref, '/'))
        return 0;
    snprintf(out, size, "%s/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/%s", hub,
             ref);
    return is_dir(out);
}

int embp_config_model_paths(const embp_config *c, const char *exe_dir,
                            const char *(*getenv_fn)(const char *), char *buf, size_t size,
                            const char **paths, int max, embp_error *err) {
    if (*c->model_path) {
        snprintf(buf, size, "%s", c->model_path);
        int n = 0;
        int seen = 0;
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            if (seen++ < max)
                paths[n++] = t;
        if (seen > max)
            return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_MODEL_PATH names %d folders; at "
                             "most %d are served by one process", seen, max), 0;
        if (n == 0)
            embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_MODEL_PATH=%s names no folder",
                      c->model_path);
        return n;
    }
    if (hf_cache_model(getenv_fn, buf, size)) {
        paths[0] = buf;
        return 1;
    }
    /* The real model scripts/setup.sh fetches, then the demo it writes when it cannot. */
    static const char *const beside_bin[] = {"all-MiniLM-L6-v2", "demo-all-MiniLM-L6-v2"};
    for (size_t i = 0; i < sizeof beside_bin / sizeof beside_bin[0]; i++) {
        snprintf(buf, size, "%s/../models/%s", exe_dir ? exe_dir : ".", beside_bin[i]);
        if (is_dir(buf)) {
            paths[0] = buf;
            return 1;
        }
    }
    embp_fail(err, EMBP_ECONFIG, "no model: set EMB_PROVIDER_MODEL_PATH (or --model) to a "
              "sentence-transformers folder, put all-MiniLM-L6-v2 in the Hugging Face cache "
              "($HF_HOME/hub), or run scripts/setup.sh (or `embp demo-model %s`) for a demo "
              "model", buf);
    return 0;
}

void embp_config_load_opts(const embp_config *c, int i, embp_config_model_opts *out) {
    embp_load_opts *o = &out->opts;
    embp_load_opts_init(o);
    embp_config_list_item(c->model_name, i, out->name, sizeof out->name);
    o->name = *out->name ? out->name : NULL;
    o->precision = c->precision;
    o->storage = c->storage_precision;
    o->compute = c->computation_precision;
    o->quantization_method = c->quantization_method;
    o->quant_group_size = (int)c->quant_group_size;
    o->strict = c->precision_strict;
    o->n_threads = (int)c->threads;
    o->max_batch_tokens = (int)c->max_batch_tokens;
    for (int k = 0; k < c->n_precision_overrides; k++) {
        const embp_config_override *v = &c->precision_overrides[k];
        out->overrides[k] = (embp_precision_override){v->model, v->precision, v->storage,
                                                      v->compute, v->group_size};
    }
    o->precision_overrides = c->n_precision_overrides ? out->overrides : NULL;
    o->n_precision_overrides = c->n_precision_overrides;
    o->enable_quantization = c->enable_quantization;
    o->fidelity_floor_mean = c->fidelity_floor_mean;
    o->fidelity_floor_min = c->fidelity_floor_min;
    o->fidelity_cache_dir = *c->fidelity_cache && strcmp(c->fidelity_cache, "off") != 0
                                ? c->fidelity_cache : NULL;
    o->default_prompt_name = *c->default_prompt_name ? c->default_prompt_name : NULL;
    o->measure_fidelity = c->measure_fidelity;
}

embp_status embp_config_ui_dir(const embp_config *c, const char *exe_dir, char *buf,
                               size_t size, embp_error *err) {
    static const char *const beside_bin[] = {"%s/ui", "%s/../share/embp/ui"};
    snprintf(buf, size, "%s", c->ui_dir);
    if (*c->ui_dir && !is_dir(buf))
        return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_UI_DIR=%s: not a folder", c->ui_dir);
    for (size_t i = 0; !*c->ui_dir && i < sizeof beside_bin / sizeof beside_bin[0]; i++) {
        snprintf(buf, size, beside_bin[i], exe_dir ? exe_dir : ".");
        if (is_dir(buf))
            return EMBP_OK;
        buf[0] = '\0';
    }
    return EMBP_OK;
}

static int word_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.';
}

void embp_config_explain(embp_error *err) {
    if (!err)
        return;
    char out[sizeof err->msg];
    size_t used = 0;
    for (const char *p = err->msg; *p && used + 1 < sizeof out;) {
        const setting *hit = NULL;
        size_t len = 0;
        for (size_t i = 0; i < N_SETTINGS && (p == err->msg || !word_char(p[-1])); i++) {
            const char *f = table[i].opt;
            size_t n = f ? strlen(f) : 0;
            if (n && strncmp(p, f, n) == 0 && (p[n] == '=' || p[n] == '[') && n > len)
                hit = &table[i], len = n;
        }
        if (!hit) {
            out[used++] = *p++;
            continue;
        }
        const char *val = p + len;
        const char *b = hit->k == K_BOOL && val[0] == '=' && (val[1] == '0' || val[1] == '1') &&
                                !word_char(val[2])
                            ? (val[1] == '1' ? "=true" : "=false") : "";
        int n = snprintf(out + used, sizeof out - used, "%s%s", hit->env, b);
        used += n < 0 ? 0 : (size_t)n;
        if (used >= sizeof out)
            used = sizeof out - 1;
        p = val + (*b ? 2 : 0);
    }
    out[used] = '\0';
    memcpy(err->msg, out, used + 1);
}

embp_logger embp_config_logger(const embp_config *c) {
    int lvl = embp_log_level_parse(c->log_level), fmt = embp_log_format_parse(c->log_format);
    return (embp_logger){lvl < 0 ? EMBP_LOG_INFO : (embp_log_level)lvl,
                         fmt < 0 ? EMBP_LOG_TEXT : (embp_log_format)fmt};
}

static const char *env(const char *name) {
    return getenv(name);
}

/* A --model value that is no folder but reads ORG/NAME[@REVISION] is a Hugging Face Hub
 * model: found in the HF cache, else pulled into it (unless HF_HUB_OFFLINE). paths[i] then
 * points at dirs[i], the snapshot folder, and names[i] at the id's NAME, the model's default
 * API id. */
typedef struct {
    char dirs[16][4096];
    embp_hub_id ids[16];
    const char *names[16];
} hub_paths;

static embp_status resolve_hub_ids(const char **paths, int count, hub_paths *h,
                                   const embp_logger *lg, embp_error *err) {
    embp_hub_opts o;
    embp_hub_opts_from_env(&o, env);
    embp_hub_progress_state progress = {0};
    o.progress = embp_hub_progress_stderr;
    o.progress_ctx = &progress;
    for (int i = 0; i < count; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 || !embp_hub_is_id(paths[i]))
            continue;
        embp_hub_parse_id(paths[i], &h->ids[i], NULL);
        if (embp_hub_find(&o, &h->ids[i], h->dirs[i], sizeof h->dirs[i], NULL) != EMBP_OK) {
            if (!o.offline)
                embp_logger_log(lg, EMBP_LOG_INFO, NULL, "%s is neither a folder nor in the "
                                "Hugging Face cache (%s): pulling it from %s", paths[i],
                                o.cache, o.endpoint);
            if (embp_hub_pull(&o, &h->ids[i], h->dirs[i], sizeof h->dirs[i], err) != EMBP_OK) {
                char what[160];
                snprintf(what, sizeof what, "model %.100s (no such folder; as a Hub id)",
                         paths[i]);
                embp_error_prefix(err, what);
                return err->code;
            }
        }
        paths[i] = h->dirs[i];
        h->names[i] = h->ids[i].name;
    }
    return EMBP_OK;
}

embp_status embp_config_load_models(const embp_config *c, const char *exe_dir, int with_batcher,
                                    embp_registry_model **out, int *n, embp_error *err) {
    *out = NULL;
    *n = 0;
    char buf[4096];
    const char *paths[16];
    int count = embp_config_model_paths(c, exe_dir, env, buf, sizeof buf, paths, 16, err);
    if (count == 0)
        return err->code;
    embp_config_model_opts *mo = calloc((size_t)count, sizeof *mo);
    embp_load_opts *opts = calloc((size_t)count, sizeof *opts);
    hub_paths *h = calloc(1, sizeof *h);
    embp_status rc = EMBP_OK;
    if (!mo || !opts || !h)
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory");
    embp_logger lg = embp_config_logger(c);
    if (rc == EMBP_OK)
        rc = resolve_hub_ids(paths, count, h, &lg, err);
    for (int i = 0; rc == EMBP_OK && i < count; i++) {
        embp_config_load_opts(c, i, &mo[i]);
        opts[i] = mo[i].opts;
        if (!opts[i].name)
            opts[i].name = h->names[i]; /* a Hub id's NAME; NULL: the folder's name */
        opts[i].warmup_tokens = with_batcher ? 512 : 0; /* a server's first requests find
                                                          * their GEMM primitives made */
    }
    embp_registry_opts ro = {.max_context_length = (int)c->max_context_length,
                             .with_batcher = with_batcher,
                             .max_wait_ms = (int)c->max_wait_time_ms,
                             .max_queue_tokens = c->max_queue_tokens,
                             .length_grouping = c->length_grouping, .log = lg};
    if (rc == EMBP_OK && (rc = embp_registry_load(paths, opts, count, &ro, out, err)) != EMBP_OK)
        embp_config_explain(err); /* the library names its fields; we name our variables */
    else if (rc == EMBP_OK && (rc = check_aliases(c, *out, count, err)) != EMBP_OK) {
        embp_registry_free(*out, count);
        *out = NULL;
    }
    free(mo);
    free(opts);
    free(h);
    if (rc == EMBP_OK)
        *n = count;
    return rc;
}
