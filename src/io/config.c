/* Model folder configuration: config.json, modules.json, the pooling config and
 * sentence_bert_config.json. See config.h for what each file contributes. */
#include "io/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"

/* Bounds on shapes from config.json: far above any BERT-family model, low enough that the
 * products (vocab x hidden, layers x hidden^2) cannot overflow a size_t. */
#define MAX_HIDDEN 65536
#define MAX_LAYERS 1024
#define MAX_VOCAB (16 << 20)
#define MAX_POSITIONS (1 << 20)

/* The JSON text of file fname, whose top level must be of type `type` (`what` names it in the
 * error); NULL with err set when it is not. */
static json_t *load_json_as(const char *text, size_t len, const char *fname, json_type type,
                            const char *what, embp_error *err) {
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        embp_fail(err, EMBP_EFORMAT, "%s: invalid JSON: %s (line %d, column %d)", fname, je.text,
                  je.line, je.column);
        return NULL;
    }
    if (json_typeof(root) != type) {
        json_decref(root);
        embp_fail(err, EMBP_EFORMAT, "%s: top level is not %s", fname, what);
        return NULL;
    }
    return root;
}

static json_t *load_json(const char *text, size_t len, const char *fname, embp_error *err) {
    return load_json_as(text, len, fname, JSON_OBJECT, "a JSON object", err);
}

#define KIND(t) (1u << (t))
/* o[name] into *v: NULL when absent or null; EMBP_EFORMAT naming the file and the field when it
 * is there but of none of the JSON types `kinds` (KIND(JSON_STRING) | ...), `want` saying what
 * it must be. */
static embp_status field(json_t *o, const char *fname, const char *name, unsigned kinds,
                         const char *want, json_t **v, embp_error *err) {
    *v = json_object_get(o, name);
    if (*v && json_is_null(*v))
        *v = NULL;
    if (*v && !(kinds & KIND(json_typeof(*v))))
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be %s", fname, name, want);
    return EMBP_OK;
}

/* Reads the integer field name into *out, within [lo, hi]. required=0 keeps *out when absent. */
static embp_status get_int(json_t *o, const char *fname, const char *name, int required, long lo,
                           long hi, int *out, embp_error *err) {
    json_t *v;
    embp_status s = field(o, fname, name, KIND(JSON_INTEGER), "an integer", &v, err);
    if (s != EMBP_OK || !v)
        return s != EMBP_OK || !required
                   ? s
                   : embp_fail(err, EMBP_EFORMAT, "%s: field '%s' missing", fname, name);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' = %lld is outside [%ld, %ld]", fname,
                         name, (long long)x, lo, hi);
    *out = (int)x;
    return EMBP_OK;
}

static embp_status get_str(json_t *o, const char *fname, const char *name, char *out, size_t size,
                           embp_error *err) {
    json_t *v;
    embp_status s = field(o, fname, name, KIND(JSON_STRING), "a string", &v, err);
    if (s != EMBP_OK || !v)
        return s;
    if (json_string_length(v) >= size)
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' is too long", fname, name);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return EMBP_OK;
}

/* ---------------------------------------------------------------- config.json */

/* The config.json keys of the shapes: BERT's, DistilBERT's or NomicBERT's own names for the
 * same; rotary: the family checks its activation itself (model/rotenc.c). */
typedef struct {
    const char *hidden, *layers, *heads, *intermediate, *act, *positions, *eps;
    int rotary;
} shape_keys;
static const shape_keys bert_keys = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                     "intermediate_size", "hidden_act", "max_position_embeddings",
                                     "layer_norm_eps", 0};
static const shape_keys distilbert_keys = {"dim", "n_layers", "n_heads", "hidden_dim",
                                           "activation", "max_position_embeddings",
                                           "layer_norm_eps", 0};
static const shape_keys modernbert_keys = {"hidden_size", "num_hidden_layers",
                                           "num_attention_heads", "intermediate_size",
                                           "hidden_activation", "max_position_embeddings",
                                           "norm_eps", 1};
static const shape_keys nomic_keys = {"n_embd", "n_layer", "n_head", "n_inner",
                                      "activation_function", "n_positions",
                                      "layer_norm_epsilon", 1};

static embp_status read_shapes(json_t *o, const char *f, const shape_keys *k, embp_model_config *c,
                               embp_error *err) {
    embp_status s;
    if ((s = get_int(o, f, k->hidden, 1, 1, MAX_HIDDEN, &c->hidden, err)) ||
        (s = get_int(o, f, k->layers, 1, 1, MAX_LAYERS, &c->layers, err)) ||
        (s = get_int(o, f, k->heads, 1, 1, MAX_HIDDEN, &c->heads, err)) ||
        (s = get_int(o, f, k->intermediate, 1, 1, 16 * MAX_HIDDEN, &c->intermediate, err)) ||
        (s = get_int(o, f, "vocab_size", 1, 1, MAX_VOCAB, &c->vocab_size, err)) ||
        (s = get_int(o, f, k->positions, 1, 1, MAX_POSITIONS, &c->max_position, err)) ||
        (s = get_int(o, f, "type_vocab_size", 0, 0, 1024, &c->type_vocab_size, err)) ||
        (s = get_int(o, f, "pad_token_id", 0, 0, MAX_VOCAB, &c->pad_token_id, err)))
        return s;
    if (c->hidden % c->heads != 0)
        return embp_fail(err, EMBP_EFORMAT, "%s: %s %d is not a multiple of %s %d", f,
                         k->hidden, c->hidden, k->heads, c->heads);
    json_t *eps = json_object_get(o, k->eps);
    if (eps && !json_is_null(eps)) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0 || json_number_value(eps) > 1)
            return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be a number in (0, 1]", f,
                             k->eps);
        c->layer_norm_eps = (float)json_number_value(eps);
    }
    return EMBP_OK;
}

/* A *ForSequenceClassification head (a cross-encoder) has as many outputs as labels:
 * transformers' PretrainedConfig counts id2label when given, else takes num_labels, else 2. */
static embp_status read_num_labels(json_t *o, const char *f, embp_model_config *c,
                                   embp_error *err) {
    static const char head[] = "ForSequenceClassification";
    size_t n = strlen(c->architecture), h = sizeof head - 1;
    if (n <= h || strcmp(c->architecture + n - h, head) != 0)
        return EMBP_OK;
    json_t *labels = json_object_get(o, "id2label");
    if (labels && !json_is_null(labels) && (!json_is_object(labels) || !json_object_size(labels)))
        return embp_fail(err, EMBP_EFORMAT, "%s: field 'id2label' must be an object of one or "
                         "more labels", f);
    c->num_labels = labels && json_is_object(labels) ? (int)json_object_size(labels) : 2;
    return labels && json_is_object(labels)
               ? EMBP_OK
               : get_int(o, f, "num_labels", 0, 1, 1 << 16, &c->num_labels, err);
}

/* The decoder families (model/qwen3.c): causal, rotary, RMSNorm, gated MLP. */
static int is_decoder(const char *model_type) {
    static const char *const names[] = {"qwen3", "qwen2", "mistral", "llama"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(model_type, names[i]) == 0)
            return 1;
    return 0;
}

/* A positive number field of o (an object, or NULL: absent) into *out (kept when absent), at
 * most hi. */
static embp_status get_num(json_t *o, const char *f, const char *name, double hi, double *out,
                           embp_error *err) {
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return EMBP_OK;
    if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > hi)
        return embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be a number in (0, %g]", f, name,
                         hi);
    *out = json_number_value(v);
    return EMBP_OK;
}

/* The decoder families' fields: grouped-query heads, head size, the rotary base (transformers
 * 4's rope_theta or 5's rope_parameters), RMSNorm's eps, biases, the sliding window. What the
 * forward does not compute (scaled rotary, an activation but SiLU) is refused here. */
static embp_status read_decoder(json_t *o, const char *f, embp_model_config *c, embp_error *err) {
    double eps = 1e-6;
    c->kv_heads = c->heads;
    c->head_dim = c->hidden / c->heads;
    c->rope_theta = 10000.0;
    embp_status s;
    json_t *rp = json_object_get(o, "rope_parameters"), *rs = json_object_get(o, "rope_scaling");
    if ((s = get_int(o, f, "num_key_value_heads", 0, 1, c->heads, &c->kv_heads, err)) ||
        (s = get_int(o, f, "head_dim", 0, 1, 4096, &c->head_dim, err)) ||
        (s = get_num(o, f, "rope_theta", 1e12, &c->rope_theta, err)) ||
        (s = get_num(o, f, "rms_norm_eps", 1.0, &eps, err)))
        return s;
    if (json_is_object(rp) && (s = get_num(rp, f, "rope_theta", 1e12, &c->rope_theta, err)))
        return s;
    /* transformers 5's rope_parameters.rope_type, 4's rope_scaling (any scaling at all) */
    json_t *scaling = rs && !json_is_null(rs) ? rs : rp;
    const char *rtype = json_string_value(json_object_get(scaling, "rope_type"));
    if (!rtype && scaling == rs)
        rtype = json_string_value(json_object_get(rs, "type"));
    if ((scaling == rs && !rtype) || (rtype && strcmp(rtype, "default")))
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: rope_type '%s' is not supported "
                         "(supported: default, unscaled rotary)", f, rtype ? rtype : "?");
    if (c->heads % c->kv_heads || c->head_dim % 2)
        return embp_fail(err, EMBP_EFORMAT, "%s: num_attention_heads %d is not a multiple of "
                         "num_key_value_heads %d, or head_dim %d is odd", f, c->heads,
                         c->kv_heads, c->head_dim);
    if (strcmp(c->hidden_act, "silu") != 0)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: hidden_act '%s' is not supported for "
                         "model_type '%s' (supported: silu)", f, c->hidden_act, c->model_type);
    c->layer_norm_eps = (float)eps;
    c->attention_bias = json_is_true(json_object_get(o, "attention_bias"));
    if (json_is_true(json_object_get(o, "mlp_bias")))
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: mlp_bias true is not supported", f);
    /* Mistral slides every layer's window when sliding_window is set; Qwen2/Qwen3 only the
     * layers past max_window_layers, and only with use_sliding_window, which no Qwen embedder
     * sets: refused rather than run wrong. */
    if (json_is_true(json_object_get(o, "use_sliding_window")))
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: use_sliding_window true is not supported "
                         "for model_type '%s'", f, c->model_type);
    if (strcmp(c->model_type, "mistral") == 0 &&
        (s = get_int(o, f, "sliding_window", 0, 1, MAX_POSITIONS, &c->sliding_window, err)))
        return s;
    c->type_vocab_size = 0;
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
    if (is_decoder(c->model_type)) {
        if ((s = read_num_labels(o, f, c, err)))
            return s;
        if (c->num_labels) /* its head scores the last token, not BERT's first: not run here */
            return embp_fail(err, EMBP_EUNSUPPORTED, "%s: architectures '%s': a decoder "
                             "reranker (model_type '%s') is not supported; rerankers: the BERT "
                             "family's *ForSequenceClassification", f, c->architecture,
                             c->model_type);
        return read_decoder(o, f, c, err);
    }
    if (!k->rotary && strcmp(c->hidden_act, "gelu") != 0)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: %s '%s' is not supported "
                         "(supported: gelu, the exact erf form)", f, k->act, c->hidden_act);
    if (strcmp(c->position_embedding_type, "absolute") != 0)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: position_embedding_type '%s' is not "
                         "supported (supported: absolute)", f, c->position_embedding_type);
    /* Where positions start (0, or pad_token_id + 1) is the architecture's: its recipe's
     * pos_after_pad, applied by runtime/folder.c. */
    /* MPNet counts positions as RoBERTa from padding_idx + 1 (its recipe's pos_after_pad),
     * transformers fixing padding_idx at 1; it has no token types, and a table of
     * relative_attention_num_buckets position biases (model/mpnet.c). */
    if (strcmp(c->model_type, "mpnet") == 0) {
        if (c->pad_token_id != 1)
            return embp_fail(err, EMBP_EUNSUPPORTED, "%s: pad_token_id %d: MPNet's position ids "
                             "count from padding_idx 1 (transformers fixes it), so only 1 is "
                             "supported", f, c->pad_token_id);
        c->type_vocab_size = 0;
        c->rel_buckets = 32;
        strcpy(c->tensor_prefix, "mpnet.");
        embp_status s2 = get_int(o, f, "relative_attention_num_buckets", 0, 1, 4096,
                                 &c->rel_buckets, err);
        if (s2)
            return s2;
    }
    /* DistilBERT has no token types and nests the encoder of its task heads under
     * "distilbert."; its layer tensors' names are model/distilbert.c's. */
    if (k == &distilbert_keys)
        strcpy(c->tensor_prefix, "distilbert.");
    /* BertModel saves tensors without a prefix; the task heads (BertForMaskedLM, ...) nest
     * the encoder under "bert.", the RoBERTa family's under "roberta.". The weight loader
     * tries these (model/bert_load.c). */
    if ((!c->model_type[0] || strcmp(c->model_type, "bert") == 0) && c->architecture[0] &&
        strcmp(c->architecture, "BertModel") != 0)
        strcpy(c->tensor_prefix, "bert.");
    if ((s = read_num_labels(o, f, c, err)))
        return s;
    json_t *demo = json_object_get(o, "embp_demo");
    c->is_demo = json_is_true(demo);
    return EMBP_OK;
}

/* ---------------------------------------------------------------- rotary encoders */

static embp_status get_bool(json_t *o, const char *f, const char *name, int dflt, int *out,
                            embp_error *err) {
    json_t *v;
    embp_status s = field(o, f, name, KIND(JSON_TRUE) | KIND(JSON_FALSE), "true or false", &v,
                          err);
    *out = s == EMBP_OK && v ? json_is_true(v) : dflt;
    return s;
}

/* Refuses a field that changes the arithmetic unless it is absent, null or `ok`. */
static embp_status refuse(json_t *o, const char *f, const char *name, json_t *ok,
                          embp_error *err) {
    json_t *v = json_object_get(o, name);
    int fine = !v || json_is_null(v) || (ok && json_equal(v, ok));
    if (ok)
        json_decref(ok);
    if (fine)
        return EMBP_OK;
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    embp_fail(err, EMBP_EUNSUPPORTED, "%s: %s %.40s is not supported", f, name,
              text ? text : "?");
    free(text);
    return EMBP_EUNSUPPORTED;
}

/* ModernBERT: layer i is global when layer_types[i] is "full_attention" (transformers 5), or
 * when i % global_attn_every_n_layers == 0 (the Hub's configs); embp runs that one pattern. */
static embp_status read_layer_types(json_t *o, const char *f, embp_model_config *c,
                                    embp_error *err) {
    json_t *lt = json_object_get(o, "layer_types");
    c->global_every = 3;
    embp_status s = get_int(o, f, "global_attn_every_n_layers", 0, 1, MAX_LAYERS,
                            &c->global_every, err);
    if (s || !lt || json_is_null(lt))
        return s;
    if (!json_is_array(lt) || json_array_size(lt) != (size_t)c->layers)
        return embp_fail(err, EMBP_EFORMAT, "%s: field 'layer_types' must be an array of %d "
                         "strings", f, c->layers);
    int every = c->layers;
    for (int i = 1; i < c->layers; i++)
        if (json_is_string(json_array_get(lt, (size_t)i)) &&
            strcmp(json_string_value(json_array_get(lt, (size_t)i)), "full_attention") == 0) {
            every = i;
            break;
        }
    for (int i = 0; i < c->layers; i++) {
        const char *v = json_string_value(json_array_get(lt, (size_t)i));
        const char *want = i % every ? "sliding_attention" : "full_attention";
        if (!v || strcmp(v, want) != 0)
            return embp_fail(err, EMBP_EUNSUPPORTED, "%s: layer_types[%d] is '%s', expected "
                             "'%s' (embp runs a global layer every n, the first global)", f, i,
                             v ? v : "?", want);
    }
    c->global_every = every;
    return EMBP_OK;
}

static embp_status read_modernbert(json_t *o, const char *f, embp_model_config *c,
                                   embp_error *err) {
    embp_status s;
    int bias, mlp_bias, local = 128;
    c->rope_theta = 160000.0;
    c->rope_theta_local = 10000.0;
    json_t *rp = json_object_get(o, "rope_parameters");
    json_t *full = json_is_object(rp) ? json_object_get(rp, "full_attention") : NULL;
    json_t *slid = json_is_object(rp) ? json_object_get(rp, "sliding_attention") : NULL;
    if ((s = get_num(o, f, "global_rope_theta", 1e12, &c->rope_theta, err)) ||
        (s = get_num(o, f, "local_rope_theta", 1e12, &c->rope_theta_local, err)) ||
        (s = get_num(full, f, "rope_theta", 1e12, &c->rope_theta, err)) ||
        (s = get_num(slid, f, "rope_theta", 1e12, &c->rope_theta_local, err)) ||
        (s = refuse(full ? full : o, f, "rope_type", json_string("default"), err)) ||
        (s = refuse(slid ? slid : o, f, "rope_type", json_string("default"), err)) ||
        (s = refuse(o, f, "rope_scaling", NULL, err)) ||
        (s = get_int(o, f, "local_attention", 0, 2, MAX_POSITIONS, &local, err)) ||
        (s = read_layer_types(o, f, c, err)) ||
        (s = get_bool(o, f, "norm_bias", 0, &c->norm_bias, err)) ||
        (s = get_bool(o, f, "attention_bias", 0, &bias, err)) ||
        (s = get_bool(o, f, "mlp_bias", 0, &mlp_bias, err)))
        return s;
    c->window = local / 2; /* transformers: sliding_window = local_attention // 2, |i - j| <= it */
    c->qkv_bias = c->out_bias = bias;
    c->up_bias = c->down_bias = mlp_bias;
    c->type_vocab_size = 0;
    c->rotary_fraction = 1.0f;
    /* ModernBertForMaskedLM and the other heads nest the encoder under "model." */
    strcpy(c->tensor_prefix, "model.");
    return EMBP_OK;
}

/* NomicBERT (nomic-ai's modeling_hf_nomic_bert.py, GPT-2 style keys); the variants embp does
 * not run (interleaved or scaled rotary, absolute positions, pre-norm, causal) are refused. */
static embp_status read_nomic(json_t *o, const char *f, embp_model_config *c, embp_error *err) {
    embp_status s;
    double frac = 0.0;
    c->rope_theta = 10000.0;
    if ((s = get_num(o, f, "rotary_emb_base", 1e12, &c->rope_theta, err)) ||
        (s = get_num(o, f, "rotary_emb_fraction", 1e12, &frac, err)) ||
        (s = refuse(o, f, "rotary_emb_interleaved", json_false(), err)) ||
        (s = refuse(o, f, "rotary_scaling_factor", NULL, err)) ||
        (s = refuse(o, f, "rotary_emb_scale_base", NULL, err)) ||
        (s = refuse(o, f, "prenorm", json_false(), err)) ||
        (s = refuse(o, f, "causal", json_false(), err)) ||
        (s = get_bool(o, f, "qkv_proj_bias", 1, &c->qkv_bias, err)) ||
        (s = get_bool(o, f, "mlp_fc1_bias", 1, &c->up_bias, err)) ||
        (s = get_bool(o, f, "mlp_fc2_bias", 1, &c->down_bias, err)))
        return s;
    int D = c->hidden / c->heads, rot = (int)(D * frac);
    if (frac > 1.0 || rot < 2 || rot % 2)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: rotary_emb_fraction %g of head size %d is "
                         "not supported (embp runs rotary positions on an even share of each "
                         "head; 0 means absolute positions)", f, frac, D);
    c->rotary_fraction = (float)frac;
    c->out_bias = c->qkv_bias;
    c->norm_bias = 1;
    c->window = 0;
    c->global_every = 1;
    c->tensor_prefix[0] = '\0';
    return EMBP_OK;
}

static embp_status read_rotary(json_t *o, const char *f, int modernbert, embp_model_config *c,
                               embp_error *err) {
    return modernbert ? read_modernbert(o, f, c, err) : read_nomic(o, f, c, err);
}

embp_status embp_config_parse_config_json(const char *text, size_t len, const char *fname,
                                          embp_model_config *c, embp_error *err) {
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    json_t *type = json_object_get(o, "model_type");
    const char *t = json_is_string(type) ? json_string_value(type) : "";
    const shape_keys *k = strcmp(t, "distilbert") == 0   ? &distilbert_keys
                          : strcmp(t, "modernbert") == 0 ? &modernbert_keys
                          : strcmp(t, "nomic_bert") == 0 ? &nomic_keys
                                                         : &bert_keys;
    c->type_vocab_size = k == &bert_keys || k == &nomic_keys ? 2 : 0;
    c->layer_norm_eps = k == &modernbert_keys ? 1e-5f : 1e-12f;
    strcpy(c->hidden_act, is_decoder(t) ? "silu" : "gelu");
    strcpy(c->position_embedding_type, "absolute");
    embp_status s = read_shapes(o, fname, k, c, err);
    if (s == EMBP_OK)
        s = read_kind(o, fname, k, c, err);
    if (s == EMBP_OK && k->rotary)
        s = read_rotary(o, fname, k == &modernbert_keys, c, err);
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- pooling */

/* sentence-transformers' pooling modes: the legacy boolean keys (pooling_mode_*_tokens, what
 * published folders hold) and the names of the "pooling_mode" key that 6.x saves. */
static const struct {
    const char *key, *name;
    embp_pooling mode;
} pooling_modes[] = {
    {"pooling_mode_cls_token", "cls", EMBP_POOLING_CLS},
    {"pooling_mode_max_tokens", "max", EMBP_POOLING_MAX},
    {"pooling_mode_mean_tokens", "mean", EMBP_POOLING_MEAN},
    {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", EMBP_POOLING_MEAN_SQRT_LEN},
    {"pooling_mode_weightedmean_tokens", "weightedmean", EMBP_POOLING_WEIGHTEDMEAN},
    {"pooling_mode_lasttoken", "lasttoken", EMBP_POOLING_LASTTOKEN},
};
#define N_POOLING_MODES (sizeof pooling_modes / sizeof pooling_modes[0])

/* "pooling_mode": one name, or a list of them (one is all embp runs). */
static embp_status pooling_by_name(json_t *v, const char *fname, int *found, int *n_on,
                                   embp_error *err) {
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_is_array(v) ? json_array_get(v, k) : v;
        const char *name = json_string_value(e);
        size_t i = 0;
        while (name && i < N_POOLING_MODES && strcmp(name, pooling_modes[i].name) != 0)
            i++;
        if (!name || i == N_POOLING_MODES)
            return embp_fail(err, EMBP_EFORMAT, "%s: field 'pooling_mode' has %s%.64s%s; "
                             "expected cls, max, mean, mean_sqrt_len_tokens, weightedmean or "
                             "lasttoken", fname, name ? "'" : "", name ? name : "a non-string",
                             name ? "'" : "");
        *found = (int)i;
        ++*n_on;
    }
    return EMBP_OK;
}

embp_status embp_config_parse_pooling_json(const char *text, size_t len, const char *fname,
                                           embp_model_config *c, embp_error *err) {
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    embp_status s = EMBP_OK;
    int found = -1, n_on = 0;
    json_t *by_name = json_object_get(o, "pooling_mode");
    if (by_name && !json_is_null(by_name)) { /* sentence-transformers drops the legacy keys */
        s = pooling_by_name(by_name, fname, &found, &n_on, err);
    } else {
        for (size_t i = 0; i < N_POOLING_MODES && s == EMBP_OK; i++) {
            json_t *v = json_object_get(o, pooling_modes[i].key);
            if (v && !json_is_boolean(v))
                s = embp_fail(err, EMBP_EFORMAT, "%s: field '%s' must be true or false", fname,
                              pooling_modes[i].key);
            else if (json_is_true(v))
                n_on++, found = (int)i;
        }
    }
    json_t *ip = json_object_get(o, "include_prompt");
    if (s == EMBP_OK && ip && !json_is_null(ip) && !json_is_boolean(ip))
        s = embp_fail(err, EMBP_EFORMAT, "%s: field 'include_prompt' must be true or false",
                      fname);
    if (s != EMBP_OK) {
    } else if (n_on > 1) {
        s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: %d pooling modes are on; embp supports one "
                      "(sentence-transformers would concatenate them)", fname, n_on);
    } else {
        c->pooling = found >= 0 ? pooling_modes[found].mode : EMBP_POOLING_MEAN;
        c->include_prompt = !json_is_false(ip);
        int dim = 0;
        const char *key = json_object_get(o, "embedding_dimension") ? "embedding_dimension"
                                                                     : "word_embedding_dimension";
        s = get_int(o, fname, key, 0, 1, MAX_HIDDEN, &dim, err);
        if (s == EMBP_OK && dim && c->hidden && dim != c->hidden)
            s = embp_fail(err, EMBP_EFORMAT, "%s: %s %d differs from config.json hidden_size %d",
                          fname, key, dim, c->hidden);
    }
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- Dense */

static const struct {
    const char *name; /* torch's class path, as sentence-transformers saves it */
    embp_activation act;
} activations[] = {
    {"torch.nn.modules.linear.Identity", EMBP_ACT_IDENTITY},
    {"torch.nn.modules.activation.Tanh", EMBP_ACT_TANH},
    {"torch.nn.modules.activation.ReLU", EMBP_ACT_RELU},
    {"torch.nn.modules.activation.Sigmoid", EMBP_ACT_SIGMOID},
    {"torch.nn.modules.activation.GELU", EMBP_ACT_GELU},
};

/* A Dense module's config.json: appended to c->dense. Its input must be what comes before it
 * (the pooled vector, or the previous Dense's output). */
embp_status embp_config_parse_dense_json(const char *text, size_t len, const char *fname,
                                         embp_model_config *c, embp_error *err) {
    if (c->n_dense == EMBP_MAX_DENSE)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: more than %d Dense modules", fname,
                         EMBP_MAX_DENSE);
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    embp_dense_config d = {.bias = 1, .act = EMBP_ACT_TANH}; /* Dense's defaults */
    embp_status s;
    json_t *v;
    char act[96] = "", in_name[64] = "", out_name[64] = "";
    if ((s = get_int(o, fname, "in_features", 1, 1, MAX_HIDDEN, &d.in, err)) ||
        (s = get_int(o, fname, "out_features", 1, 1, MAX_HIDDEN, &d.out, err)) ||
        (s = get_str(o, fname, "activation_function", act, sizeof act, err)) ||
        (s = get_str(o, fname, "module_input_name", in_name, sizeof in_name, err)) ||
        (s = get_str(o, fname, "module_output_name", out_name, sizeof out_name, err)))
        goto done;
    if ((v = json_object_get(o, "bias")) && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: field 'bias' must be true or false", fname);
            goto done;
        }
        d.bias = json_is_true(v);
    }
    if (json_is_true(json_object_get(o, "use_residual"))) {
        s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: use_residual is not supported", fname);
        goto done;
    }
    if ((*in_name && strcmp(in_name, "sentence_embedding") != 0) ||
        (*out_name && strcmp(out_name, "sentence_embedding") != 0)) {
        s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: a Dense module on '%s' -> '%s' is not "
                      "supported (supported: the pooled sentence_embedding)", fname,
                      *in_name ? in_name : "sentence_embedding",
                      *out_name ? out_name : "sentence_embedding");
        goto done;
    }
    if (*act) {
        size_t i = 0, n = sizeof activations / sizeof activations[0];
        while (i < n && strcmp(act, activations[i].name) != 0)
            i++;
        if (i == n) {
            s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: activation_function '%s' is not "
                          "supported (supported: Identity, Tanh, ReLU, Sigmoid, GELU of "
                          "torch.nn)", fname, act);
            goto done;
        }
        d.act = activations[i].act;
    }
    int before = c->n_dense ? c->dense[c->n_dense - 1].out : c->hidden;
    if (before && d.in != before) {
        s = embp_fail(err, EMBP_EFORMAT, "%s: in_features %d differs from the %d values the "
                      "module before it gives", fname, d.in, before);
        goto done;
    }
    c->dense[c->n_dense++] = d;
done:
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- prompts */

const char *embp_config_prompt(const embp_model_config *c, int i, const char **text) {
    const char *p = c->prompt_data;
    for (int k = 0; k < 2 * i; k++)
        p += strlen(p) + 1;
    if (text)
        *text = p + strlen(p) + 1;
    return p;
}

int embp_config_find_prompt(const embp_model_config *c, const char *name) {
    for (int i = 0; i < c->n_prompts; i++)
        if (strcmp(embp_config_prompt(c, i, NULL), name) == 0)
            return i;
    return -1;
}

void embp_config_prompt_names(const embp_model_config *c, char *buf, size_t size) {
    size_t used = 0;
    snprintf(buf, size, "none");
    for (int i = 0; i < c->n_prompts && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "",
                                 embp_config_prompt(c, i, NULL));
}

/* config_sentence_transformers.json: "prompts" {name: text} and "default_prompt_name" (a key
 * of prompts, or null). sentence-transformers refuses a default that is not a key; so do we. */
embp_status embp_config_parse_prompts_json(const char *text, size_t len, const char *fname,
                                           embp_model_config *c, embp_error *err) {
    json_t *o = load_json(text, len, fname, err);
    if (!o)
        return err ? err->code : EMBP_EFORMAT;
    json_t *prompts = json_object_get(o, "prompts"), *v;
    const char *name;
    size_t used = 0;
    embp_status s = EMBP_OK;
    c->n_prompts = 0;
    c->default_prompt = -1;
    if (prompts && !json_is_null(prompts) && !json_is_object(prompts)) {
        s = embp_fail(err, EMBP_EFORMAT, "%s: field 'prompts' must be an object of name: "
                      "text", fname);
        goto done;
    }
    json_object_foreach(prompts, name, v) {
        const char *t = json_is_null(v) ? "" : json_string_value(v); /* null: "" as ST does */
        size_t nl = strlen(name), tl = t ? strlen(t) : 0;
        if (!t || (size_t)json_string_length(v) != tl) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: prompts['%.64s'] must be a string without "
                          "NUL characters", fname, name);
            goto done;
        }
        if (used + nl + tl + 2 > sizeof c->prompt_data) {
            s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: the prompts take more than %d bytes",
                          fname, EMBP_PROMPTS_BYTES);
            goto done;
        }
        memcpy(c->prompt_data + used, name, nl + 1);
        memcpy(c->prompt_data + used + nl + 1, t, tl + 1);
        used += nl + tl + 2;
        c->n_prompts++;
    }
    v = json_object_get(o, "default_prompt_name");
    if (v && !json_is_null(v)) {
        char names[256];
        embp_config_prompt_names(c, names, sizeof names);
        if (!json_is_string(v))
            s = embp_fail(err, EMBP_EFORMAT, "%s: field 'default_prompt_name' must be a string "
                          "or null", fname);
        else if ((c->default_prompt = embp_config_find_prompt(c, json_string_value(v))) < 0)
            s = embp_fail(err, EMBP_EFORMAT, "%s: default_prompt_name '%.64s' is not one of "
                          "the prompts (%s)", fname, json_string_value(v), names);
    }
done:
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- the folder */

/* path's text (embp_free it); an optional file that does not exist is EMBP_OK with *text NULL.
 * A config file is JSON of a few kB: 64 MiB is far beyond any real one. */
static embp_status read_config_file(const char *path, int required, char **text, size_t *len,
                                    embp_error *err) {
    *text = NULL;
    if (!required && access(path, F_OK) != 0 && errno == ENOENT)
        return EMBP_OK;
    return embp_read_file(path, 64u << 20, text, len, err);
}

typedef embp_status (*parse_fn)(const char *, size_t, const char *, embp_model_config *,
                                embp_error *);

/* Parses dir/rel with fn; a missing optional file is fine. */
static embp_status parse_file(const char *dir, const char *rel, int required, parse_fn fn,
                              embp_model_config *c, embp_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    size_t len;
    char *text;
    embp_status s = read_config_file(path, required, &text, &len, err);
    if (s != EMBP_OK || !text)
        return s;
    s = fn(text, len, path, c, err);
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
    json_t *lc = json_object_get(o, "do_lower_case");
    if (s == EMBP_OK && lc && !json_is_null(lc) && !json_is_boolean(lc))
        s = embp_fail(err, EMBP_EFORMAT, "%s: field 'do_lower_case' must be true or false",
                      fname);
    c->do_lower_case = json_is_true(lc);
    json_decref(o);
    return s;
}

/* tokenizer_config.json's model_max_length, where sentence-transformers 6 saves max_seq_length
 * (and what it falls back to without one): taken only when sentence_bert_config.json gave none.
 * transformers writes int(1e30) for "no limit" (an integer jansson cannot hold: read as a real);
 * the cap at the positions comes later. The file is transformers', holding much embp does not
 * read: one it cannot use is ignored, as it was before embp read it, never a load failure. */
static embp_status parse_tokenizer_config(const char *text, size_t len, const char *fname,
                                          embp_model_config *c, embp_error *err) {
    (void)fname, (void)err;
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &je);
    json_t *v = json_object_get(o, "model_max_length"); /* NULL o: NULL */
    if (json_is_number(v) && json_number_value(v) >= 1 && !c->max_seq_len)
        c->max_seq_len = json_number_value(v) < MAX_POSITIONS ? (int)json_number_value(v)
                                                               : MAX_POSITIONS;
    json_decref(o);
    return EMBP_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* modules.json: Transformer, then Pooling (its folder holds config.json), then any Dense
 * modules (each folder's config.json; the weights are the runtime's), then optionally Normalize,
 * last. Anything else (a custom module) changes the output: refused, not skipped. */
static embp_status parse_modules(const char *text, size_t len, const char *fname,
                                 embp_model_config *c, embp_error *err, const char *dir) {
    json_t *arr = load_json_as(text, len, fname, JSON_ARRAY, "an array of modules", err);
    if (!arr)
        return err ? err->code : EMBP_EFORMAT;
    embp_status s = EMBP_OK;
    for (size_t i = 0; i < json_array_size(arr) && s == EMBP_OK; i++) {
        json_t *m = json_array_get(arr, i);
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *path = json_string_value(json_object_get(m, "path"));
        if (!type || (json_object_get(m, "path") && !path)) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: module %zu needs string 'type' and 'path'",
                          fname, i);
        } else if (ends_with(type, ".Transformer")) {
        } else if (c->normalize) {
            s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: module %zu type '%s' comes after "
                          "Normalize; embp runs Normalize last", fname, i, type);
        } else if (ends_with(type, ".Pooling") || ends_with(type, ".Dense")) {
            int dense = ends_with(type, ".Dense");
            if (!path || strstr(path, "..") || path[0] == '/' ||
                strlen(path) >= sizeof c->dense[0].path) {
                s = embp_fail(err, EMBP_EFORMAT, "%s: module %zu: %s path '%s' must be a "
                              "folder inside the model", fname, i, dense ? "Dense" : "pooling",
                              path ? path : "");
            } else {
                char rel[1024];
                snprintf(rel, sizeof rel, "%s%sconfig.json", path, *path ? "/" : "");
                s = parse_file(dir, rel, 1, dense ? embp_config_parse_dense_json
                               : embp_config_parse_pooling_json, c, err);
                if (s == EMBP_OK && dense)
                    strcpy(c->dense[c->n_dense - 1].path, path);
            }
        } else if (ends_with(type, ".Normalize")) {
            c->normalize = 1;
        } else {
            s = embp_fail(err, EMBP_EUNSUPPORTED, "%s: module %zu type '%s' is not supported "
                          "(supported: Transformer, Pooling, Dense, Normalize)", fname, i, type);
        }
    }
    json_decref(arr);
    return s;
}

embp_status embp_config_load(const char *dir, embp_model_config *c, embp_error *err) {
    memset(c, 0, sizeof *c);
    c->pooling = EMBP_POOLING_MEAN;
    c->include_prompt = 1;
    c->default_prompt = -1;
    embp_status s = parse_file(dir, "config.json", 1, embp_config_parse_config_json, c, err);
    if (s != EMBP_OK)
        return s;
    char path[4096];
    snprintf(path, sizeof path, "%s/modules.json", dir);
    size_t len;
    char *text;
    s = read_config_file(path, 0, &text, &len, err);
    if (s == EMBP_OK && text)
        s = parse_modules(text, len, path, c, err, dir);
    embp_free(text);
    if (s == EMBP_OK)
        s = parse_file(dir, "sentence_bert_config.json", 0, parse_sbert, c, err);
    if (s == EMBP_OK)
        s = parse_file(dir, "tokenizer_config.json", 0, parse_tokenizer_config, c, err);
    if (s == EMBP_OK)
        s = parse_file(dir, "config_sentence_transformers.json", 0,
                       embp_config_parse_prompts_json, c, err);
    if (s != EMBP_OK)
        return s;
    c->dim = c->n_dense ? c->dense[c->n_dense - 1].out : c->hidden;
    /* capped at the position table; runtime/folder.c caps it again where the architecture's
     * positions start later */
    if (c->max_seq_len == 0 || c->max_seq_len > c->max_position)
        c->max_seq_len = c->max_position;
    /* A decoder family's context runs to 32k tokens and more; its forward scratch and the
     * quadratic attention time grow with it, so embp's default stops at 8192 tokens (as TEI's
     * does), below max_position_embeddings (EMB_PROVIDER_MAX_CONTEXT_LENGTH lowers it further). */
    if (is_decoder(c->model_type) && c->max_seq_len > EMBP_DECODER_DEFAULT_CONTEXT)
        c->max_seq_len = EMBP_DECODER_DEFAULT_CONTEXT;
    embp_error_clear(err);
    return EMBP_OK;
}
