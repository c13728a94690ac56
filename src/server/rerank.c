/* POST /rerank (Hugging Face TEI's shape) and POST /v1/rerank (Infinity's, after Cohere's): a
 * query and texts scored as (query, text) pairs by a reranker (a cross-encoder), answered sorted
 * by score, best first. The pairs go through the model's batcher like embedding inputs, so a
 * client with many texts shares the passes with the others instead of holding the model.
 *
 *   POST /rerank     {"query", "texts": [..], "raw_scores", "return_text", "truncate",
 *                     "truncation_direction": "right"|"left", "model" (embp's: which reranker)}
 *                    -> [{"index", "score", "text"?}, ...]
 *   POST /v1/rerank  {"model", "query", "documents": [string or object], "rank_fields",
 *                     "top_n", "max_tokens_per_doc", "return_documents", "raw_scores",
 *                     "truncate" (embp's)}
 *                    -> {"object": "rerank", "results": [{"relevance_score", "index",
 *                        "document"?}], "model", "usage": {"prompt_tokens", "total_tokens"},
 *                        "id", "created"}
 *
 * A score is the head's logit (raw_scores), else its sigmoid, as both servers answer for a
 * one-label model. A document object is ranked by its "text", or with rank_fields (Cohere v1)
 * by those keys' string values in that order, written as the YAML lines "key: value" (the
 * structured-document format Cohere documents for its rerankers); max_tokens_per_doc (Cohere
 * v2) cuts each document to its first that many tokens before the pair is made. */
#include "server/routes.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"

#define BAD(e, param, ...) embp_http_fail(e, 400, "invalid_request_error", param, NULL, __VA_ARGS__)

typedef struct {
    int tei;                /* TEI's shape, else Infinity's */
    const char *texts_key;  /* "texts" or "documents" */
    const char *model;      /* NULL: the first served reranker */
    const char *query;
    size_t query_len;
    const char **texts;     /* n, pointing into the parsed body (or into fields) */
    size_t *text_lens;
    int n;
    int truncate, from_left, raw_scores, return_text, top_n;
    int max_doc_tokens;     /* max_tokens_per_doc; 0: none */
    json_t *rank_fields;    /* the array, or NULL */
    json_t *docs;           /* the texts' array as given */
    embp_buf fields;        /* the documents' rank_fields texts, back to back */
    size_t *field_at;       /* n: where document i's text starts in fields (SIZE_MAX: none) */
} rerank_req;

typedef struct {
    int32_t *ids, *types;   /* (n, max_seq_len) */
    const int32_t **id_rows, **type_rows;
    int *lens;
    long tokens;
    float *logits;          /* (n) */
    int *order;             /* (n) indices, best score first */
} rerank_run;

static void run_free(rerank_run *u) {
    embp_free(u->ids);
    embp_free(u->types);
    embp_free(u->id_rows);
    embp_free(u->type_rows);
    embp_free(u->lens);
    embp_free(u->logits);
    embp_free(u->order);
}

/* ---------------------------------------------------------------- parsing */

/* o[key]: true, false, or absent / null (def). */
static int get_bool(json_t *o, const char *key, int def, int *out, embp_http_error *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 1;
    }
    if (!json_is_boolean(v))
        return BAD(e, key, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return 1;
}

/* Document object v's rank_fields as "key: value" lines into q->fields. */
static int join_fields(rerank_req *q, json_t *v, int i, embp_http_error *e) {
    size_t k;
    json_t *f;
    q->field_at[i] = q->fields.len;
    json_array_foreach(q->rank_fields, k, f) {
        const char *key = json_string_value(f);
        json_t *val = json_object_get(v, key);
        if (!json_is_string(val))
            return BAD(e, "rank_fields", "documents[%d] %s \"%.64s\" (rank_fields[%zu]); "
                       "each rank field must be a string of every document", i,
                       val ? "has no string field" : "lacks the field", key, k);
        char where[96];
        snprintf(where, sizeof where, "documents[%d].%.64s", i, key);
        if (!embp_request_no_nul(json_string_value(val), json_string_length(val), "documents",
                                 where, e))
            return 0;
        embp_buf_puts(&q->fields, key);
        embp_buf_puts(&q->fields, ": ");
        embp_buf_append(&q->fields, json_string_value(val), json_string_length(val));
        embp_buf_puts(&q->fields, "\n");
    }
    if (q->fields.oom)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    q->text_lens[i] = q->fields.len - q->field_at[i];
    return 1;
}

/* texts[i] of the array: a string, or (Infinity/Cohere) an object {"text": string}, or with
 * rank_fields an object with those string fields. */
static int get_text(rerank_req *q, json_t *arr, int i, embp_http_error *e) {
    json_t *v = json_array_get(arr, (size_t)i);
    q->field_at[i] = SIZE_MAX;
    if (json_is_object(v) && q->rank_fields)
        return join_fields(q, v, i, e);
    if (json_is_object(v) && !q->tei)
        v = json_object_get(v, "text");
    if (!json_is_string(v))
        return BAD(e, q->texts_key, "%s[%d] must be a string%s", q->texts_key, i,
                   q->tei ? "" : " or an object with a string \"text\" (or the rank_fields)");
    q->texts[i] = json_string_value(v);
    q->text_lens[i] = json_string_length(v);
    char where[48];
    snprintf(where, sizeof where, "%s[%d]", q->texts_key, i);
    return embp_request_no_nul(q->texts[i], q->text_lens[i], q->texts_key, where, e);
}

/* Cohere's rank_fields (a non-empty array of distinct keys) and max_tokens_per_doc (>= 1). */
static int parse_cohere(json_t *o, rerank_req *q, embp_http_error *e) {
    json_t *rf = json_object_get(o, "rank_fields");
    json_t *mt = json_object_get(o, "max_tokens_per_doc");
    if (rf && !json_is_null(rf)) {
        size_t k;
        json_t *f;
        if (!json_is_array(rf) || json_array_size(rf) == 0)
            return BAD(e, "rank_fields", "'rank_fields' must be a non-empty array of field "
                       "names");
        json_array_foreach(rf, k, f) {
            if (!json_is_string(f) || json_string_length(f) == 0 ||
                memchr(json_string_value(f), '\0', json_string_length(f)))
                return BAD(e, "rank_fields", "rank_fields[%zu] must be a non-empty string "
                           "without NUL", k);
            for (size_t j = 0; j < k; j++)
                if (json_equal(f, json_array_get(rf, j)))
                    return BAD(e, "rank_fields", "rank_fields[%zu] repeats \"%.64s\"", k,
                               json_string_value(f));
        }
        q->rank_fields = rf;
    }
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1)
            return BAD(e, "max_tokens_per_doc", "'max_tokens_per_doc' must be an integer >= 1");
        q->max_doc_tokens = json_integer_value(mt) < INT32_MAX ? (int)json_integer_value(mt)
                                                               : INT32_MAX;
    }
    return 1;
}

static int parse(embp_server_ctx *x, json_t *o, rerank_req *q, embp_http_error *e) {
    json_t *query = json_object_get(o, "query"), *arr = json_object_get(o, q->texts_key);
    json_t *model = json_object_get(o, "model"), *dir = json_object_get(o, "truncation_direction");
    json_t *top = json_object_get(o, "top_n");
    if (!json_is_string(query))
        return BAD(e, "query", "'query' must be a string%s", query ? "" : " (it is missing)");
    q->query = json_string_value(query);
    q->query_len = json_string_length(query);
    if (!embp_request_no_nul(q->query, q->query_len, "query", "query", e))
        return 0;
    if (q->tei && json_is_array(arr) && json_array_size(arr) == 0) /* TEI's 400 "empty" */
        return embp_http_fail(e, 400, "empty", NULL, NULL, "`texts` cannot be empty");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return BAD(e, q->texts_key, "'%s' must be a non-empty array of texts", q->texts_key);
    if (json_array_size(arr) > (size_t)x->cfg->max_batch_size)
        return BAD(e, q->texts_key, "'%s' has %zu texts, more than %ld "
                   "(EMB_PROVIDER_MAX_BATCH_SIZE)", q->texts_key, json_array_size(arr),
                   (long)x->cfg->max_batch_size);
    if (model && !json_is_null(model) && !json_is_string(model))
        return BAD(e, "model", "'model' must be a string");
    q->model = json_string_value(model);
    if (q->model && !q->tei && !strcmp(q->model, "default/not-specified"))
        q->model = NULL; /* Infinity's default: its first model */
    const char *d = json_string_value(dir);
    if (dir && !json_is_null(dir) && (!d || (strcasecmp(d, "left") && strcasecmp(d, "right"))))
        return BAD(e, "truncation_direction", "'truncation_direction' must be \"right\" or "
                   "\"left\"");
    q->from_left = d && !strcasecmp(d, "left");
    if (top && !json_is_null(top) && (!json_is_integer(top) || json_integer_value(top) < 1))
        return BAD(e, "top_n", "'top_n' must be an integer >= 1");
    q->top_n = top && json_is_integer(top) && json_integer_value(top) < (json_int_t)INT32_MAX
                   ? (int)json_integer_value(top) : INT32_MAX;
    if (!get_bool(o, "truncate", x->cfg->truncate, &q->truncate, e) ||
        !get_bool(o, "raw_scores", 0, &q->raw_scores, e) ||
        !get_bool(o, q->tei ? "return_text" : "return_documents", 0, &q->return_text, e))
        return 0;
    if (!q->tei && !parse_cohere(o, q, e))
        return 0;
    q->docs = arr;
    q->n = (int)json_array_size(arr);
    q->texts = embp_calloc((size_t)q->n, sizeof *q->texts);
    q->text_lens = embp_calloc((size_t)q->n, sizeof *q->text_lens);
    q->field_at = embp_calloc((size_t)q->n, sizeof *q->field_at);
    if (!q->texts || !q->text_lens || !q->field_at)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (int i = 0; i < q->n; i++)
        if (!get_text(q, arr, i, e))
            return 0;
    for (int i = 0; i < q->n; i++) /* fields has stopped growing: point into it */
        if (q->field_at[i] != SIZE_MAX)
            q->texts[i] = q->fields.p + q->field_at[i];
    return 1;
}

/* ---------------------------------------------------------------- scoring */

/* Pair i, (query, texts[i]), into u's rows by the registry's context rule. */
static int tokenize_pair(embp_registry_model *m, const rerank_req *q, int i, rerank_run *u,
                         embp_http_error *e) {
    size_t cap = (size_t)m->max_seq_len;
    int32_t *ids = u->ids + (size_t)i * cap, *types = u->types + (size_t)i * cap;
    int n = 0, n_full = 0;
    embp_error err;
    embp_status rc = embp_registry_tokenize_pair(m, q->query, q->query_len, q->texts[i],
                                                 q->text_lens[i], q->truncate, q->from_left,
                                                 q->max_doc_tokens, ids, types, &n, &n_full,
                                                 &err);
    if (rc == EMBP_ENOMEM)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "%s[%d]: %s", q->texts_key, i,
                              err.msg);
    if (rc == EMBP_ETOOLONG)
        return embp_http_fail(e, 400, "invalid_request_error", q->texts_key,
                              "context_length_exceeded", "the query with %s[%d] has %d tokens; "
                              "this model takes at most %d (truncate is false)", q->texts_key, i,
                              n_full, m->max_seq_len);
    if (rc != EMBP_OK)
        return BAD(e, q->texts_key, "%s[%d]: %s", q->texts_key, i, err.msg);
    if (n == 0)
        return BAD(e, q->texts_key, "the query with %s[%d] has no tokens", q->texts_key, i);
    u->id_rows[i] = ids, u->type_rows[i] = types, u->lens[i] = n;
    u->tokens += n;
    return 1;
}

typedef struct {
    float score;
    int index;
} ranked;

/* Best score first; ties keep the texts' order. */
static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Tokenizes every pair, runs them through m's batcher, turns the logits into scores and u->order
 * into the ranking. */
static int score(embp_server_ctx *x, embp_registry_model *m, const rerank_req *q, rerank_run *u,
                 double t0, embp_reply *r, embp_http_error *e) {
    size_t n = (size_t)q->n, cap = (size_t)m->max_seq_len;
    u->ids = embp_malloc(n * cap * sizeof *u->ids);
    u->types = embp_malloc(n * cap * sizeof *u->types);
    u->id_rows = embp_calloc(n, sizeof *u->id_rows);
    u->type_rows = embp_calloc(n, sizeof *u->type_rows);
    u->lens = embp_calloc(n, sizeof *u->lens);
    u->logits = embp_calloc(n * (size_t)m->info.num_labels, sizeof *u->logits);
    u->order = embp_calloc(n, sizeof *u->order);
    if (!u->ids || !u->types || !u->id_rows || !u->type_rows || !u->lens || !u->logits ||
        !u->order)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (int i = 0; i < q->n; i++)
        if (!tokenize_pair(m, q, i, u, e) || !embp_route_within_prepare_bound(x, t0, e))
            return 0;
    embp_batch_job job;
    memset(&job, 0, sizeof job);
    job.ids = u->id_rows;
    job.types = u->type_rows;
    job.lens = u->lens;
    job.n = q->n;
    job.out = u->logits;
    if (!embp_route_run_job(x, m, &job, r, e))
        return 0;
    ranked *rk = embp_malloc(n * sizeof *rk);
    if (!rk)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (int i = 0; i < q->n; i++) {
        float v = u->logits[(size_t)i * (size_t)m->info.num_labels];
        u->logits[i] = q->raw_scores ? v : 1.0f / (1.0f + expf(-v));
        rk[i] = (ranked){u->logits[i], i};
    }
    qsort(rk, n, sizeof *rk, cmp_ranked);
    for (int i = 0; i < q->n; i++)
        u->order[i] = rk[i].index;
    embp_free(rk);
    return 1;
}

/* ---------------------------------------------------------------- answers */

static void put_float(embp_buf *b, float v) {
    char f[32];
    embp_buf_append(b, f, (size_t)embp_format_float(v, f));
}

/* TEI: [{"index": i, "score": s, "text"?: ...}, ...] best first. */
static void write_tei(embp_buf *b, const rerank_req *q, const rerank_run *u) {
    embp_buf_puts(b, "[");
    for (int k = 0; k < q->n; k++) {
        int i = u->order[k];
        char head[48];
        snprintf(head, sizeof head, "%s{\"index\":%d,", k ? "," : "", i);
        embp_buf_puts(b, head);
        if (q->return_text) {
            embp_buf_puts(b, "\"text\":");
            embp_buf_json_string(b, q->texts[i], q->text_lens[i]);
            embp_buf_puts(b, ",");
        }
        embp_buf_puts(b, "\"score\":");
        put_float(b, u->logits[i]);
        embp_buf_puts(b, "}");
    }
    embp_buf_puts(b, "]");
}

/* Infinity: {"object": "rerank", "results": [...], "model", "usage", "id", "created"}, the
 * results cut to top_n. */
static void write_v1(embp_buf *b, const rerank_req *q, const rerank_run *u, const char *model) {
    embp_buf_puts(b, "{\"object\":\"rerank\",\"results\":[");
    for (int k = 0; k < q->n && k < q->top_n; k++) {
        int i = u->order[k];
        embp_buf_puts(b, k ? ",{\"relevance_score\":" : "{\"relevance_score\":");
        put_float(b, u->logits[i]);
        char idx[32];
        snprintf(idx, sizeof idx, ",\"index\":%d", i);
        embp_buf_puts(b, idx);
        json_t *doc = json_array_get(q->docs, (size_t)i);
        char *obj = q->return_text && json_is_object(doc) ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (obj) { /* a document object comes back as it was given (Cohere) */
            embp_buf_puts(b, ",\"document\":");
            embp_buf_puts(b, obj);
            free(obj);
        } else if (q->return_text) {
            embp_buf_puts(b, ",\"document\":");
            embp_buf_json_string(b, q->texts[i], q->text_lens[i]);
        }
        embp_buf_puts(b, "}");
    }
    embp_buf_puts(b, "],\"model\":");
    embp_buf_json_string(b, model, strlen(model));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char tail[160];
    snprintf(tail, sizeof tail, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld},"
             "\"id\":\"embp-rerank-%lx%08lx\",\"created\":%lld}", u->tokens, u->tokens,
             (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec, (long long)ts.tv_sec);
    embp_buf_puts(b, tail);
}

void embp_route_rerank(embp_server_ctx *x, const char *body, size_t len, embp_reply *r, int tei) {
    embp_http_error e;
    rerank_req q = {.tei = tei, .texts_key = tei ? "texts" : "documents"};
    rerank_run u = {0};
    double t0 = embp_route_cpu_ms();
    embp_request_limits lim;
    json_t *o = NULL;
    embp_registry_model *m = NULL;
    /* the embeddings routes' loader: the same depth and value bounds, the same 400s */
    int ok = !embp_route_refuse_busy(x, NULL, r, &e) &&
             embp_request_load_json(body, len, embp_route_limits(x, &lim), &o, &e);
    ok = ok && parse(x, o, &q, &e) &&
         (m = embp_route_find_model_kind(x, q.model, "reranker", &e)) &&
         !embp_route_refuse_busy(x, m, r, &e) && embp_route_within_prepare_bound(x, t0, &e);
    ok = ok && score(x, m, &q, &u, t0, r, &e);
    r->inputs = q.n;
    r->tokens = u.tokens;
    if (ok) {
        r->status = 200;
        if (tei)
            write_tei(&r->body, &q, &u);
        else
            write_v1(&r->body, &q, &u, m->info.name);
        if (r->body.oom)
            ok = embp_http_fail(&e, 500, "server_error", NULL, NULL,
                                "out of memory while writing the reply");
    }
    if (!ok)
        embp_route_reply_error(r, &e);
    json_decref(o);
    embp_free(q.texts);
    embp_free(q.text_lens);
    embp_free(q.field_at);
    embp_buf_free(&q.fields);
    run_free(&u);
}
