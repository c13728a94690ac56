/* TEI's routes (tei.h): each parses TEI's JSON shape, runs through routes.c's model lookup and
 * embedding path (the same batcher, checks and limits as /v1/embeddings), and writes TEI's
 * shape. Shapes and status codes follow text-embeddings-inference's router (router/src/http/
 * types.rs and server.rs): /embed answers [[floats], ...] for one input as for many. */
#include "server/tei.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "runtime/folder.h"
#include "runtime/model.h"
#include "runtime/pooling.h"
#include "runtime/registry.h"
#include "tokenizer/tokenizer.h"

#ifndef EMBP_VERSION
#define EMBP_VERSION "unknown"
#endif

/* TEI's error types, with the status TEI answers each with. */
static const struct {
    const char *type;
    int status;
} tei_types[] = {{"validation", 422}, {"empty", 400},    {"tokenizer", 422},
                 {"overloaded", 429}, {"backend", 424},  {"unhealthy", 503}};

#define TEI_FAIL(e, type, status, ...) embp_http_fail(e, status, type, NULL, NULL, __VA_ARGS__)
#define INVALID(e, ...) TEI_FAIL(e, "validation", 422, __VA_ARGS__)

void embp_tei_error(embp_reply *r, const embp_http_error *e) {
    const char *type = NULL;
    int status = e->status;
    for (size_t i = 0; i < sizeof tei_types / sizeof tei_types[0]; i++)
        if (e->type && !strcmp(e->type, tei_types[i].type))
            type = e->type;
    if (!type) { /* an error of the shared code, in OpenAI's words */
        if (status == 400) {
            status = 422;
            type = "validation";
        } else if (status == 503 && e->code && !strcmp(e->code, "queue_full")) {
            status = 429;
            type = "overloaded";
        } else if (status == 503) {
            type = "unhealthy";
        } else {
            type = status >= 500 ? "backend" : "validation";
        }
    }
    embp_route_reply_json(r, status, json_pack("{s:s, s:s}", "error", e->message, "error_type",
                                               type));
}

/* ---------------------------------------------------------------- request fields */

static const char *kind_of(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* obj[key] into *v, NULL when absent or null; 0 (a 422 naming the key, `want` and what was
 * found) when it is there but `is_kind` is 0 for it. */
static int get_field(const json_t *obj, const char *key, int (*is_kind)(const json_t *),
                     const char *want, const json_t **v, embp_http_error *e) {
    *v = json_object_get(obj, key);
    if (*v && json_is_null(*v))
        *v = NULL;
    return !*v || is_kind(*v) || INVALID(e, "`%s` must be %s, found %s", key, want, kind_of(*v));
}

static int is_boolean(const json_t *v) {
    return json_is_boolean(v);
}

static int is_string(const json_t *v) {
    return json_is_string(v);
}

/* obj[key] as a boolean (absent or null: def). */
static int get_bool(const json_t *obj, const char *key, int def, int *out, embp_http_error *e) {
    const json_t *v;
    int ok = get_field(obj, key, is_boolean, "true or false", &v, e);
    *out = ok && v ? json_is_true(v) : def;
    return ok;
}

/* obj[key] as a string (absent or null: NULL). */
static int get_str(const json_t *obj, const char *key, const char **out, embp_http_error *e) {
    const json_t *v;
    int ok = get_field(obj, key, is_string, "a string", &v, e);
    *out = ok && v ? json_string_value(v) : NULL;
    return ok;
}

/* The options TEI's embedding routes share (truncate, truncation_direction, prompt_name), from
 * obj (NULL: none given), and embp's "model" and "prompt" (a literal prompt, as on
 * /v1/embeddings) extensions from root, into q. */
static int parse_embed_options(embp_server_ctx *x, const json_t *obj, const json_t *root,
                               embp_request *q, embp_http_error *e) {
    const char *dir, *prompt, *model, *literal;
    if (!get_bool(obj, "truncate", x->cfg->truncate, &q->truncate, e) ||
        !get_str(obj, "truncation_direction", &dir, e) ||
        !get_str(obj, "prompt_name", &prompt, e) || !get_str(root, "model", &model, e) ||
        !get_str(root, "prompt", &literal, e))
        return 0;
    if (literal && !(q->prompt = embp_strdup(literal)))
        return TEI_FAIL(e, "backend", 500, "out of memory");
    if (dir && strcmp(dir, "right") && strcmp(dir, "Right") && strcmp(dir, "left") &&
        strcmp(dir, "Left"))
        return INVALID(e, "`truncation_direction` must be \"left\" or \"right\", found "
                       "\"%.32s\"", dir);
    q->truncate_left = dir && (dir[0] == 'l' || dir[0] == 'L');
    /* prompt_name: a key of the model's sentence-transformers prompts, resolved where the
     * texts are tokenized (an unknown name is a 422 naming the model's; none: its default) */
    if ((prompt && !(q->prompt_name = embp_strdup(prompt))) ||
        (model && !(q->model = embp_strdup(model))))
        return TEI_FAIL(e, "backend", 500, "out of memory");
    return 1;
}

/* The "inputs" of an embedding request into q (string, strings, token ids or arrays of them,
 * as /v1/embeddings reads "input"; a batch may mix strings and arrays of ids, as TEI's Input
 * takes each item as a String or Ids). An empty batch is TEI's 400 "empty". */
static int take_inputs(embp_server_ctx *x, const json_t *in, embp_request *q,
                       embp_http_error *e) {
    if (!in)
        return INVALID(e, "`inputs` is required: a string or an array of strings (or of token "
                       "ids)");
    if (json_is_array(in) && json_array_size(in) == 0)
        return TEI_FAIL(e, "empty", 400, "`inputs` cannot be empty");
    embp_request_limits lim;
    embp_route_limits(x, &lim)->mixed = 1; /* TEI's Input: each item a String or Ids */
    return embp_request_take_input(q, in, &lim, e); /* ids with a prompt: routes.c decodes */
}

/* ---------------------------------------------------------------- writers */

/* v[0..n) as [...], each the shortest decimal that reads back. 0 when one is not finite. */
static int write_floats(embp_buf *b, const float *v, int n) {
    char num[32];
    embp_buf_puts(b, "[");
    for (int j = 0; j < n; j++) {
        if (!isfinite(v[j]))
            return 0;
        if (j)
            embp_buf_append(b, ",", 1);
        embp_buf_append(b, num, (size_t)embp_format_float(v[j], num));
    }
    embp_buf_puts(b, "]");
    return 1;
}

/* rows (n, d) as [[...], ...]. 0 when a value is not finite. */
static int write_rows(embp_buf *b, const float *rows, int n, int d) {
    embp_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            embp_buf_puts(b, ",");
        if (!write_floats(b, rows + (size_t)i * (size_t)d, d))
            return 0;
    }
    embp_buf_puts(b, "]");
    return 1;
}

static void l2_normalize(float *rows, int n, int d) {
    for (int i = 0; i < n; i++) {
        float *v = rows + (size_t)i * (size_t)d;
        double s = 0.0;
        for (int j = 0; j < d; j++)
            s += (double)v[j] * v[j];
        float inv = s > 0.0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int j = 0; j < d; j++)
            v[j] *= inv;
    }
}

/* ---------------------------------------------------------------- POST /embed, /similarity */

/* Embeds q with normalize applied as TEI does (true: unit vectors; false: the model's own
 * output, which for a folder with a Normalize module is already normalized and cannot be
 * undone: a 422 then). */
static int embed(embp_server_ctx *x, embp_request *q, int normalize, embp_reply *r, float **out,
                 int *d, embp_http_error *e) {
    embp_registry_model *m = embp_route_find_model_kind(x, q->model, "embedding", e);
    if (!m)
        return 0;
    if (!normalize && m->info.normalize)
        return INVALID(e, "`normalize` false: model %s ends in a Normalize module "
                       "(modules.json), so embp serves its vectors normalized; leave normalize "
                       "true", m->info.name);
    if (!embp_route_embed(x, q, r, &m, out, d, NULL, e))
        return 0;
    if (normalize && !m->info.normalize)
        l2_normalize(*out, q->n_inputs, *d);
    return 1;
}

static int tei_embed(embp_server_ctx *x, const json_t *root, embp_reply *r, embp_http_error *e) {
    embp_request q = {0};
    float *out = NULL;
    int normalize, d = 0, ok = get_bool(root, "normalize", 1, &normalize, e) &&
                               parse_embed_options(x, root, root, &q, e);
    const json_t *dims = json_object_get(root, "dimensions");
    if (ok && dims && !json_is_null(dims)) {
        if (!json_is_integer(dims) || json_integer_value(dims) < 1 ||
            json_integer_value(dims) > 1 << 20)
            ok = INVALID(e, "`dimensions` must be a positive integer, found %s", kind_of(dims));
        else
            q.dimensions = (int)json_integer_value(dims);
    }
    ok = ok && take_inputs(x, json_object_get(root, "inputs"), &q, e) &&
         embed(x, &q, normalize, r, &out, &d, e);
    if (ok) {
        r->status = 200;
        if (!write_rows(&r->body, out, q.n_inputs, d))
            ok = TEI_FAIL(e, "backend", 424, "the model produced a value that is not a finite "
                          "number");
    }
    embp_free(out);
    embp_request_free(&q);
    return ok;
}

static int tei_similarity(embp_server_ctx *x, const json_t *root, embp_reply *r,
                          embp_http_error *e) {
    const json_t *in = json_object_get(root, "inputs");
    const json_t *params = json_object_get(root, "parameters");
    json_t *src = json_object_get(in, "source_sentence");
    json_t *sents = json_object_get(in, "sentences");
    if (!json_is_object(in) || !json_is_string(src) || !json_is_array(sents))
        return INVALID(e, "`inputs` must be {\"source_sentence\": string, \"sentences\": "
                       "[strings]}");
    if (json_array_size(sents) == 0)
        return TEI_FAIL(e, "empty", 400, "`inputs.sentences` cannot be empty");
    if (params && !json_is_null(params) && !json_is_object(params))
        return INVALID(e, "`parameters` must be an object, found %s", kind_of(params));
    embp_request q = {0};
    float *out = NULL;
    int d = 0, ok = parse_embed_options(x, params, root, &q, e); /* TEI: under "parameters" */
    json_t *all = json_array();
    ok = ok && all && json_array_append(all, src) == 0 &&
         json_array_extend(all, sents) == 0;
    ok = ok && take_inputs(x, all, &q, e) && embed(x, &q, 1, r, &out, &d, e);
    json_decref(all);
    float *sims = ok ? embp_malloc((size_t)q.n_inputs * sizeof *sims) : NULL;
    if (ok && !sims)
        ok = TEI_FAIL(e, "backend", 500, "out of memory");
    if (ok) { /* unit vectors: the cosine is the dot product */
        for (int i = 1; i < q.n_inputs; i++) {
            double dot = 0.0;
            for (int j = 0; j < d; j++)
                dot += (double)out[j] * out[(size_t)i * (size_t)d + (size_t)j];
            sims[i - 1] = (float)dot;
        }
        r->status = 200;
        if (!write_floats(&r->body, sims, q.n_inputs - 1))
            ok = TEI_FAIL(e, "backend", 424, "the model produced a value that is not a finite "
                          "number");
    }
    embp_free(sims);
    embp_free(out);
    embp_request_free(&q);
    return ok;
}

/* POST /embed_all: the model's last layer for every token of each input, before pooling:
 * [[[floats] per token] per input]. */
static int tei_embed_all(embp_server_ctx *x, const json_t *root, embp_reply *r,
                         embp_http_error *e) {
    embp_request q = {0};
    embp_registry_model *m = NULL;
    float *out = NULL;
    int *lens = NULL, d = 0;
    int ok = parse_embed_options(x, root, root, &q, e) &&
             take_inputs(x, json_object_get(root, "inputs"), &q, e) &&
             embp_route_embed(x, &q, r, &m, &out, &d, &lens, e);
    if (ok) {
        r->status = 200;
        embp_buf_puts(&r->body, "[");
        size_t row = 0;
        for (int i = 0; ok && i < q.n_inputs; i++) {
            if (i)
                embp_buf_puts(&r->body, ",");
            ok = write_rows(&r->body, out + row * (size_t)d, lens[i], d);
            row += (size_t)lens[i];
        }
        embp_buf_puts(&r->body, "]");
        if (!ok)
            TEI_FAIL(e, "backend", 424, "the model produced a value that is not a finite number");
    }
    embp_free(lens);
    embp_free(out);
    embp_request_free(&q);
    return ok;
}

/* ---------------------------------------------------------------- POST /tokenize, /decode */

/* The tokenizer of the default model (or of "model"); *mp (may be NULL) gets the model. */
static const embp_tokenizer *tokenizer_of(embp_server_ctx *x, const json_t *root,
                                          embp_registry_model **mp, embp_http_error *e) {
    const char *model;
    if (!get_str(root, "model", &model, e))
        return NULL;
    embp_registry_model *m = embp_route_find_model(x, model, e);
    if (mp)
        *mp = m;
    return m ? embp_model_folder(m->model)->tok : NULL;
}

/* A batch's items: a single value (is_item) or an array of them. TEI's 400 for an empty
 * batch, 422 over EMB_PROVIDER_MAX_BATCH_SIZE. */
static int batch_of(embp_server_ctx *x, json_t *v, const char *key,
                    int (*is_item)(const json_t *), json_t **items, embp_http_error *e) {
    if (!v)
        return INVALID(e, "`%s` is required", key);
    if (is_item(v)) {
        *items = json_pack("[O]", v);
        return 1;
    }
    if (!json_is_array(v))
        return INVALID(e, "`%s` must be one item or an array of them, found %s", key,
                       kind_of(v));
    if (json_array_size(v) == 0)
        return TEI_FAIL(e, "empty", 400, "`%s` cannot be empty", key);
    if (json_array_size(v) > (size_t)x->cfg->max_batch_size)
        return INVALID(e, "batch size %zu > maximum allowed batch size %ld", json_array_size(v),
                       x->cfg->max_batch_size);
    *items = json_incref(v);
    return 1;
}

static int is_text(const json_t *v) {
    return json_is_string(v);
}

/* TEI's tokens of one text (or pair, embp's extension: b): [{"id", "text", "special", "start",
 * "stop"}], as TEI's into_tokens: a special token (HF's special_tokens_mask) has its token
 * string and null offsets; any other its byte offsets into its text (the prompted text, with a
 * prompt) and that slice of the text as "text" (invalid UTF-8 read as Rust's from_utf8_lossy). */
static json_t *tokens_json(const embp_tokenizer *t, const char *a, size_t la, const char *b,
                           size_t lb, int special, size_t i, embp_http_error *e) {
    embp_token_offsets *o = NULL;
    int n = 0;
    embp_error err;
    embp_status st = embp_tokenizer_encode_offsets(t, a, la, b, lb, special, false, &o, &n, &err);
    if (st == EMBP_ENOMEM)
        return TEI_FAIL(e, "backend", 500, "inputs[%zu]: %s", i, err.msg), NULL;
    if (st != EMBP_OK)
        return TEI_FAIL(e, "tokenizer", 422, "inputs[%zu]: %s", i, err.msg), NULL;
    json_t *toks = json_array();
    embp_buf slice = {0};
    for (int k = 0; toks && k < n; k++) {
        json_t *tok;
        if (o[k].seq < 0) {
            const char *s = embp_tokenizer_id_to_token(t, o[k].id);
            tok = json_pack("{s:i, s:s, s:b, s:n, s:n}", "id", o[k].id, "text", s ? s : "",
                            "special", 1, "start", "stop");
        } else {
            const char *src = o[k].seq ? b : a;
            slice.len = 0;
            embp_utf8_lossy(&slice, (const unsigned char *)src + o[k].start,
                            o[k].stop - o[k].start);
            tok = json_pack("{s:i, s:s%, s:b, s:I, s:I}", "id", o[k].id, "text",
                            slice.p ? slice.p : "", slice.len, "special", 0, "start",
                            (json_int_t)o[k].start, "stop", (json_int_t)o[k].stop);
        }
        if (!tok || json_array_append_new(toks, tok) != 0) {
            json_decref(toks);
            toks = NULL;
        }
    }
    embp_buf_free(&slice);
    embp_free(o);
    if (!toks || slice.oom)
        return TEI_FAIL(e, "backend", 500, "out of memory"), NULL;
    return toks;
}

/* The end of /tokenize and /decode: items (the request's batch) freed, then out answered 200
 * when ok, else dropped (e holds the error). Returns ok. */
static int reply_batch(json_t *items, int ok, embp_reply *r, json_t *out) {
    json_decref(items);
    if (ok)
        embp_route_reply_json(r, 200, out);
    else
        json_decref(out);
    return ok;
}

static int tei_tokenize(embp_server_ctx *x, const json_t *root, embp_reply *r,
                        embp_http_error *e) {
    embp_registry_model *m = NULL;
    const embp_tokenizer *t = tokenizer_of(x, root, &m, e);
    int special;
    const char *prompt_name, *prompt = "";
    json_t *items = NULL;
    if (!t || !get_bool(root, "add_special_tokens", 1, &special, e) ||
        !get_str(root, "prompt_name", &prompt_name, e))
        return 0;
    embp_error err;
    embp_prompt choice = {NULL, prompt_name};
    /* TEI: the named prompt before each text, offsets into the prompted text; none unnamed */
    if (prompt_name && embp_prompt_resolve(m->model, &choice, &prompt, &err) != EMBP_OK)
        return INVALID(e, "%s", err.msg);
    if (!batch_of(x, json_object_get(root, "inputs"), "inputs", is_text, &items, e))
        return 0;
    json_t *outer = json_array();
    embp_buf text = {0};
    int ok = outer != NULL || TEI_FAIL(e, "backend", 500, "out of memory");
    for (size_t i = 0; ok && i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i), *a = it, *b = NULL;
        if (json_is_array(it) && json_array_size(it) == 2 &&
            json_is_string(json_array_get(it, 0)) && json_is_string(json_array_get(it, 1))) {
            a = json_array_get(it, 0); /* a pair: the post-processor's pair template */
            b = json_array_get(it, 1);
        } else if (!json_is_string(it)) {
            ok = INVALID(e, "inputs[%zu] must be a string or a pair [string, string], found %s",
                         i, kind_of(it));
            break;
        }
        if (b && *prompt) {
            ok = INVALID(e, "`prompt_name` cannot be set with pairs (inputs[%zu])", i);
            break;
        }
        text.len = 0;
        embp_buf_puts(&text, prompt);
        embp_buf_append(&text, json_string_value(a), json_string_length(a));
        if (text.oom) {
            ok = TEI_FAIL(e, "backend", 500, "out of memory");
            break;
        }
        json_t *toks = tokens_json(t, text.p ? text.p : "", text.len,
                                   b ? json_string_value(b) : NULL,
                                   b ? json_string_length(b) : 0, special, i, e);
        ok = toks && json_array_append_new(outer, toks) == 0;
    }
    embp_buf_free(&text);
    return reply_batch(items, ok, r, outer);
}

static int is_id_list(const json_t *v) {
    return json_is_array(v) && (json_array_size(v) == 0 || json_is_integer(json_array_get(v, 0)));
}

static int tei_decode(embp_server_ctx *x, const json_t *root, embp_reply *r, embp_http_error *e) {
    const embp_tokenizer *t = tokenizer_of(x, root, NULL, e);
    int skip;
    json_t *items = NULL;
    if (!t || !get_bool(root, "skip_special_tokens", 1, &skip, e) ||
        !batch_of(x, json_object_get(root, "ids"), "ids", is_id_list, &items, e))
        return 0;
    json_t *texts = json_array();
    int ok = 1;
    for (size_t i = 0; ok && i < json_array_size(items); i++) {
        const json_t *arr = json_array_get(items, i);
        size_t n = json_array_size(arr);
        if (!json_is_array(arr)) {
            ok = INVALID(e, "ids[%zu] must be an array of token ids, found %s", i, kind_of(arr));
            break;
        }
        int32_t *ids = embp_malloc((n ? n : 1) * sizeof *ids);
        if (!ids) {
            ok = TEI_FAIL(e, "backend", 500, "out of memory");
            break;
        }
        for (size_t k = 0; ok && k < n; k++) {
            const json_t *v = json_array_get(arr, k);
            json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
            if (id < 0 || id > 0xFFFFFFFFll)
                ok = INVALID(e, "ids[%zu][%zu] must be a token id (an integer 0..4294967295), "
                             "found %s", i, k, kind_of(v));
            ids[k] = id > INT32_MAX ? -1 : (int32_t)id; /* beyond the vocabulary: dropped */
        }
        char *text = NULL;
        size_t len = 0;
        embp_error err;
        embp_status st = ok ? embp_tokenizer_decode(t, ids, n, skip, &text, &len, &err) : EMBP_OK;
        if (ok && st == EMBP_ENOMEM)
            ok = TEI_FAIL(e, "backend", 500, "%s", err.msg);
        else if (ok && st != EMBP_OK)
            ok = TEI_FAIL(e, "tokenizer", 422, "%s", err.msg);
        if (ok)
            json_array_append_new(texts, json_stringn(text, len));
        embp_free(text);
        embp_free(ids);
    }
    return reply_batch(items, ok, r, texts);
}

/* ---------------------------------------------------------------- GET /info */

static const char *dtype_of(const char *storage) {
    static const char *const map[][2] = {{"fp32", "float32"}, {"bf16", "bfloat16"},
                                         {"fp16", "float16"}, {"int8", "int8"},
                                         {"int4", "int4"}};
    for (size_t i = 0; storage && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(storage, map[i][0]))
            return map[i][1];
    return storage ? storage : "";
}

/* TEI's model_type: {"embedding": {"pooling"}}, or for a reranker (embp_registry_kind)
 * {"reranker": {"id2label", "label2id"}} with transformers' default label names (LABEL_k: embp
 * keeps the count of config.json's labels, not their names). */
static json_t *model_type(const embp_model_info *i) {
    if (strcmp(embp_registry_kind(i), "reranker") != 0)
        return json_pack("{s:{s:s}}", "embedding", "pooling", embp_pooling_str(i->pooling));
    json_t *id2label = json_object(), *label2id = json_object();
    for (int k = 0; k < i->num_labels; k++) {
        char id[16], label[32];
        snprintf(id, sizeof id, "%d", k);
        snprintf(label, sizeof label, "LABEL_%d", k);
        json_object_set_new(id2label, id, json_string(label));
        json_object_set_new(label2id, label, json_integer(k));
    }
    return json_pack("{s:{s:o, s:o}}", "reranker", "id2label", id2label, "label2id", label2id);
}

json_t *embp_tei_info(embp_server_ctx *x, json_t *embp) {
    const embp_config *c = x->cfg;
    json_t *o = json_pack("{s:n, s:s, s:I, s:n, s:I, s:b, s:i, s:s, s:n, s:n}", "model_sha",
                          "version", EMBP_VERSION, "max_concurrent_requests",
                          (json_int_t)c->max_connections, "max_batch_requests",
                          "max_client_batch_size", (json_int_t)c->max_batch_size,
                          "auto_truncate", c->truncate, "tokenization_workers",
                          embp_cpu_get()->n_cores, "router", "embp", "sha", "docker_label");
    if (o && x->n_models > 0) { /* TEI serves one model: the default one */
        const embp_registry_model *m = &x->models[0];
        json_object_set_new(o, "model_id", json_string(m->info.name));
        json_object_set_new(o, "served_model_name", json_string(m->info.name));
        json_object_set_new(o, "model_dtype", json_string(dtype_of(m->info.storage)));
        json_object_set_new(o, "model_type", model_type(&m->info));
        json_object_set_new(o, "max_input_length", json_integer(m->max_seq_len));
        json_object_set_new(o, "max_batch_tokens",
                            json_integer(embp_model_max_batch_tokens(m->model)));
    }
    if (o)
        json_object_set_new(o, "embp", embp);
    else
        json_decref(embp);
    return o;
}

/* ---------------------------------------------------------------- dispatch */

void embp_tei_handle(embp_server_ctx *x, const char *url, const char *body, size_t len,
                     embp_reply *r) {
    embp_http_error e;
    embp_request_limits lim;
    json_t *root = NULL;
    int ok = embp_request_load_json(body, len, embp_route_limits(x, &lim), &root, &e);
    if (ok && (!strcmp(url, "/embed") || !strcmp(url, "/")))
        ok = tei_embed(x, root, r, &e);
    else if (ok && !strcmp(url, "/similarity"))
        ok = tei_similarity(x, root, r, &e);
    else if (ok && !strcmp(url, "/tokenize"))
        ok = tei_tokenize(x, root, r, &e);
    else if (ok && !strcmp(url, "/decode"))
        ok = tei_decode(x, root, r, &e);
    else if (ok) /* /embed_all */
        ok = tei_embed_all(x, root, r, &e);
    json_decref(root);
    if (!ok)
        embp_route_reply_error(r, &e);
}
