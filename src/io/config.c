/* Model folder configuration: config.json, modules.json, the pooling config and
 * sentence_bert_config.json. See config.h for what each file contributes. */
#include "io/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

/* Bounds on shapes from config.json: far above any BERT-family model, low enough that the
 * products (vocab x hidden, layers x hidden^2) cannot overflow a size_t. */
#define MAX_HIDDEN 65536
#define MAX_LAYERS 1024
#define MAX_VOCAB (16 << 20)
#define MAX_POSITIONS (1 << 20)

static json_t *load_json(const char *text, size_t len, const char *fname, embp_error *err) {
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        embp_fail(err, EMBP_EFORMAT, "%s: invalid JSON: %s (line %d, column %d)", fname, je.text,
                  je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        embp_fail(err, EMBP_EFORMAT, "%s: top level is not a JSON object", fname);
        return NULL;
    }
    return root;
}

/* Reads the integer field name into *out, within [lo, hi]. required=0 keeps *out when absent. */
static embp_status get_int(json_t *o, const char *fname, const char *name, int required, long lo,
                           long hi, int *out, embp_error *err) {
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        if (required)
            return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' missing", fname, name);
        return EMBP_OK;
    }
    if (!json_is_integer(v))
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be an integer", fname, name);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' = %lld is outside [%ld, %ld]", fname,
                         name, (long long)x, lo, hi);
    *out = (int)x;
    return EMBP_OK;
}

static embp_status get_str(json_t *o, const char *fname, const char *name, char *out, size_t size,
                           embp_error *err) {
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return EMBP_OK;
    if (!json_is_string(v))
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be a string", fname, name);
    if (json_string_length(v) >= size)
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' is too long", fname, name);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return EMBP_OK;
}

/* ---------------------------------------------------------------- config.json */

/* The config.json keys of the shapes: BERT's, or DistilBERT's own names for the same. */
typedef struct {
    const char *hidden, *layers, *heads, *intermediate, *act;
} shape_keys;
static const shape_keys bert_keys = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                     "intermediate_size", "hidden_act"};
static const shape_keys distilbert_keys = {"dim", "n_layers", "n_heads", "hidden_dim",
                                           "activation"};

static embp_status read_shapes(json_t *o, const char *f, const shape_keys *k, embp_model_config *c,
                               embp_error *err) {
    embp_status s;
    if ((s = get_int(o, f, k->hidden, 1, 1, MAX_HIDDEN, &c->hidden, err)) ||
        (s = get_int(o, f, k->layers, 1, 1, MAX_LAYERS, &c->layers, err)) ||
        (s = get_int(o, f, k->heads, 1, 1, MAX_HIDDEN, &c->heads, err)) ||
        (s = get_int(o, f, k->intermediate, 1, 1, 16 * MAX_HIDDEN, &c->intermediate, err)) ||
        (s = get_int(o, f, "vocab_size", 1, 1, MAX_VOCAB, &c->vocab_size, err)) ||
        (s = get_int(o, f, "max_position_embeddings", 1, 1, MAX_POSITIONS, &c->max_position,
                     err)) ||
        (s = get_int(o, f, "type_vocab_size", 0, 0, 1024, &c->type_vocab_size, err)) ||
        (s = get_int(o, f, "pad_token_id", 0, 0, MAX_VOCAB, &c->pad_token_id, err)))
        return s;
    if (c->hidden % c->heads != 0)
        return embp_fail(err, EMBP_EFORMAT, "%s: %s %d is not a multiple of %s %d", f,
                         k->hidden, c->hidden, k->heads, c->heads);
    json_t *eps = json_object_get(o, "layer_norm_eps");
    if (eps && !json_is_null(eps)) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0 || json_number_value(eps) > 1)
            return embp_fail(err, EMBP_EFORMAT, "%s: field 'layer_norm_eps' must be a number in "
                             "(0, 1]", f);
        c->layer_norm_eps = (float)json_number_value(eps);
    }
    return EMBP_OK;
}

static embp_status read_kind(json_t *o, const char *f, const shape_keys *k, embp_model_config *c,
                             embp_error *err) {
    json_t *arch = json_object_get(o, "architectures");
    if (arch && !json_is_null(arch)) {
        if (!json_is_array(arch) || (json_array_size(arch) && !json_is_string(json_array_get(arch, 0))))
            return embp_fail(err, EMBP_EFORMAT, "%s: field 'architectures' must be an array of "
                             "strings", f);
        const char *a = json_string_value(json_array_get(arch, 0));
        if (a && strlen(a) < sizeof c->architecture)
            strcpy(c->architecture, a);
    }
    embp_status s;
    if ((s = get_str(o, f, "model_type", c->model_type, sizeof c->model_type, err)) ||
        (s = get_str(o, f, k->act, c->hidden_act, sizeof c->hidden_act, err)) ||
        (s = get_str(o, f, "position_embedding_type", c->position_embedding_type,
                     sizeof c->position_embedding_type, err)) ||
        (s = get_str(o, f, "torch_dtype", c->torch_dtype, sizeof c->torch_dtype, err)))
        return s;
    /* Which model_types embp runs is the architecture table's (model/arch.c) to say. */
    if (strcmp(c->hidden_act, "gelu") != 0)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: %s '%s' is not supported "
                         "(supported: gelu, the exact erf form)", f, k->act, c->hidden_act);
    if (strcmp(c->position_embedding_type, "absolute") != 0)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: position_embedding_type '%s' is not "
                         "supported (supported: absolute)", f, c->position_embedding_type);
    /* The RoBERTa family (fairseq's layout) numbers positions from padding_idx + 1, padding_idx
     * being pad_token_id, and nests the encoder of its task heads under "roberta.". */
    static const char *const roberta[] = {"roberta", "xlm-roberta", "camembert"};
    for (size_t i = 0; i < sizeof roberta / sizeof roberta[0]; i++)
        if (strcmp(c->model_type, roberta[i]) == 0) {
            c->position_offset = c->pad_token_id + 1;
            strcpy(c->tensor_prefix, "roberta.");
        }
    /* DistilBERT has no token types and nests the encoder of its task heads under
     * "distilbert."; its layer tensors' names are model/distilbert.c's. */
    if (k == &distilbert_keys)
        strcpy(c->tensor_prefix, "distilbert.");
    if (c->position_offset >= c->max_position)
        return embp_fail(err, EMBP_EFORMAT, "%s: pad_token_id %d leaves no position of "
                         "max_position_embeddings %d (model_type '%s' counts from pad + 1)", f,
                         c->pad_token_id, c->max_position, c->model_type);
    /* BertModel saves tensors without a prefix; the task heads (BertForMaskedLM, ...) nest
     * the encoder under "bert.". The weight loader tries both. */
    if (k == &bert_keys && !c->position_offset && c->architecture[0] &&
        strcmp(c->architecture, "BertModel") != 0)
        strcpy(c->tensor_prefix, "bert.");
    json_t *demo = json_object_get(o, "embp_demo");
    c->is_demo = json_is_true(demo);
    return EMBP_OK;
}

embp_status embp_config_parse_config_json(const char *text, size_t len, const char *fname,
                                          embp_model_config *c, embp_error *err) {
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    json_t *type = json_object_get(o, "model_type");
    const shape_keys *k = json_is_string(type) && strcmp(json_string_value(type), "distilbert") == 0
                              ? &distilbert_keys
                              : &bert_keys;
    c->type_vocab_size = k == &bert_keys ? 2 : 0;
    c->layer_norm_eps = 1e-12f;
    strcpy(c->hidden_act, "gelu");
    strcpy(c->position_embedding_type, "absolute");
    embp_status s = read_shapes(o, fname, k, c, err);
    if (s == EMBP_OK)
        s = read_kind(o, fname, k, c, err);
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- pooling */

embp_status embp_config_parse_pooling_json(const char *text, size_t len, const char *fname,
                                           embp_model_config *c, embp_error *err) {
    static const struct {
        const char *key;
        int mode; /* -1: a mode embp does not run */
    } modes[] = {
        {"pooling_mode_cls_token", EMBP_POOLING_CLS},
        {"pooling_mode_mean_tokens", EMBP_POOLING_MEAN},
        {"pooling_mode_max_tokens", EMBP_POOLING_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", EMBP_POOLING_MEAN_SQRT_LEN},
        {"pooling_mode_lasttoken", EMBP_POOLING_LASTTOKEN},
        {"pooling_mode_weightedmean_tokens", -1},
    };
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    embp_status s = EMBP_OK;
    int found = -1, n_on = 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        json_t *v = json_object_get(o, modes[i].key);
        if (v && !json_is_boolean(v)) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be true or false", fname,
                          modes[i].key);
            goto done;
        }
        if (json_is_true(v)) {
            n_on++;
            found = (int)i;
        }
    }
    if (n_on > 1) {
        s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: %d pooling modes are on; embp supports one "
                      "(sentence-transformers would concatenate them)", fname, n_on);
    } else if (found >= 0 && modes[found].mode < 0) {
        s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: %s is not supported (supported: cls, mean, "
                      "max, mean_sqrt_len, lasttoken)", fname, modes[found].key);
    } else {
        c->pooling = found >= 0 ? (embp_pooling)modes[found].mode : EMBP_POOLING_MEAN;
        int dim = 0;
        s = get_int(o, fname, "word_embedding_dimension", 0, 1, MAX_HIDDEN, &dim, err);
        if (s == EMBP_OK && dim && c->hidden && dim != c->hidden)
            s = embp_fail(err, EMBP_EFORMAT, "%s: word_embedding_dimension %d differs from "
                          "config.json hidden_size %d", fname, dim, c->hidden);
    }
done:
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- the folder */

/* Reads dir/name into a NUL-terminated heap buffer (free()); NULL with *missing = 1 when the
 * file does not exist, NULL with err set on other failures. */
static char *slurp(const char *path, size_t *len, int *missing, embp_error *err) {
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        embp_fail(err, EMBP_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && n < (64L << 20) && fseek(f, 0, SEEK_SET) == 0) {
            buf = embp_malloc((size_t)n + 1);
            if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
                buf[n] = '\0';
                *len = (size_t)n;
            } else {
                embp_free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    if (!buf)
        embp_fail(err, EMBP_EIO, "%s: cannot read (or larger than 64 MiB)", path);
    return buf;
}

typedef embp_status (*parse_fn)(const char *, size_t, const char *, embp_model_config *,
                                embp_error *);

/* Parses dir/rel with fn; a missing optional file is fine. */
static embp_status parse_file(const char *dir, const char *rel, int required, parse_fn fn,
                              embp_model_config *c, embp_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    size_t len = 0;
    int missing;
    char *text = slurp(path, &len, &missing, err);
    if (!text)
        return missing && !required ? EMBP_OK : (err ? err->code : EMBP_EIO);
    embp_status s = fn(text, len, path, c, err);
    embp_free(text);
    return s;
}

static embp_status parse_sbert(const char *text, size_t len, const char *fname,
                               embp_model_config *c, embp_error *err) {
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    int n = 0;
    embp_status s = get_int(o, fname, "max_seq_length", 0, 1, MAX_POSITIONS, &n, err);
    if (s == EMBP_OK && n)
        c->max_seq_len = n;
    json_decref(o);
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* modules.json: Transformer, then Pooling (its folder holds config.json), then optionally
 * Normalize. Anything else (Dense, a custom module) changes the output: refused, not skipped. */
static embp_status parse_modules(const char *text, size_t len, const char *fname,
                                 embp_model_config *c, embp_error *err, const char *dir) {
    json_error_t je;
    json_t *arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!arr)
        return embp_fail(err, EMBP_EFORMAT, "%s: invalid JSON: %s (line %d)", fname, je.text,
                         je.line);
    embp_status s = EMBP_OK;
    if (!json_is_array(arr)) {
        s = embp_fail(err, EMBP_EFORMAT, "%s: top level is not an array of modules", fname);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(arr) && s == EMBP_OK; i++) {
        json_t *m = json_array_get(arr, i);
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *path = json_string_value(json_object_get(m, "path"));
        if (!type || (json_object_get(m, "path") && !path)) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: module %zu needs string 'type' and 'path'",
                          fname, i);
        } else if (ends_with(type, ".Transformer")) {
        } else if (ends_with(type, ".Pooling")) {
            if (!path || strstr(path, "..") || path[0] == '/') {
                s = embp_fail(err, EMBP_EFORMAT, "%s: module %zu: pooling path '%s' must be a "
                              "folder inside the model", fname, i, path ? path : "");
            } else {
                char rel[1024];
                snprintf(rel, sizeof rel, "%s%sconfig.json", path, *path ? "/" : "");
                s = parse_file(dir, rel, 1, embp_config_parse_pooling_json, c, err);
            }
        } else if (ends_with(type, ".Normalize")) {
            c->normalize = 1;
        } else {
            s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: module %zu type '%s' is not supported "
                          "(supported: Transformer, Pooling, Normalize)", fname, i, type);
        }
    }
done:
    json_decref(arr);
    return s;
}

embp_status embp_config_load(const char *dir, embp_model_config *c, embp_error *err) {
    memset(c, 0, sizeof *c);
    c->pooling = EMBP_POOLING_MEAN;
    embp_status s = parse_file(dir, "config.json", 1, embp_config_parse_config_json, c, err);
    if (s != EMBP_OK)
        return s;
    char path[4096];
    snprintf(path, sizeof path, "%s/modules.json", dir);
    size_t len = 0;
    int missing;
    char *text = slurp(path, &len, &missing, err);
    if (text) {
        s = parse_modules(text, len, path, c, err, dir);
        embp_free(text);
    } else if (!missing) {
        return err ? err->code : EMBP_EIO;
    }
    if (s == EMBP_OK)
        s = parse_file(dir, "sentence_bert_config.json", 0, parse_sbert, c, err);
    if (s != EMBP_OK)
        return s;
    if (c->max_seq_len == 0 || c->max_seq_len > c->max_position - c->position_offset)
        c->max_seq_len = c->max_position - c->position_offset;
    embp_error_clear(err);
    return EMBP_OK;
}
