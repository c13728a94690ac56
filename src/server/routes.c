/* Route handlers: what each URL answers. Sockets live in server.c; the model runs in the
 * batcher; this file turns requests into sequences and rows into JSON. */
#include "server/routes.h"

#include "runtime/pooling.h"
#include "runtime/registry.h"
#include "server/openapi.h"
#include "server/tei.h"
#include "settings/openmp.h"

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/cpu.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

static const char demo_warning[] = "demo model: seeded random weights, the vectors carry no "
                                   "meaning";

static void add_header(embp_reply *r, const char *name, const char *value) {
    if (r->n_hdr < (int)(sizeof r->hdr / sizeof r->hdr[0])) {
        r->hdr[r->n_hdr][0] = name;
        r->hdr[r->n_hdr][1] = value;
        r->n_hdr++;
    }
}

/* The error body of the route's family: TEI's routes answer TEI's shape (server/tei.h),
 * the others OpenAI's. */
static void reply_error(embp_reply *r, const embp_http_error *e) {
    r->status = e->status;
    embp_buf_free(&r->body);
    if (r->tei)
        embp_tei_error(r, e);
    else
        embp_response_error(&r->body, e);
}

/* Takes v (a new reference) as the body. */
static void reply_json(embp_reply *r, int status, json_t *v) {
    r->status = status;
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (s)
        embp_buf_puts(&r->body, s);
    else
        r->body.oom = 1;
    free(s);
}

/* ---------------------------------------------------------------- routing and keys */

enum { R_NONE, R_EMBED, R_MODELS, R_HEALTH, R_INFO, R_METRICS, R_TEI, R_RERANK, R_V1_RERANK,
       R_OPENAPI, R_PAGE };

/* clang-format off */
static const embp_route routes[] = {
    /* url              method  handler      tei open  OpenAPI operation (server/openapi.c) */
    {"/v1/embeddings",  "POST", R_EMBED,     0,  0,    embp_openapi_embeddings},
    {"/embeddings",     "POST", R_EMBED,     0,  0,    embp_openapi_embeddings},
    {"/v1/models",      "GET",  R_MODELS,    0,  0,    embp_openapi_models},
    {"/models",         "GET",  R_MODELS,    0,  0,    embp_openapi_models},
    {"/health",         "GET",  R_HEALTH,    0,  1,    embp_openapi_health},
    {"/info",           "GET",  R_INFO,      0,  0,    embp_openapi_info},
    {"/metrics",        "GET",  R_METRICS,   0,  0,    embp_openapi_metrics},
    {"/openapi.json",   "GET",  R_OPENAPI,   0,  1,    embp_openapi_openapi},
    /* the web pages: server/static.c answers them first; here only GET / with the UI off */
    {"/",               "GET",  R_PAGE,      0,  1,    embp_openapi_page_playground},
    {"/docs",           "GET",  R_PAGE,      0,  1,    embp_openapi_page_docs},
    /* TEI's routes (server/tei.c), TEI's errors */
    {"/embed",          "POST", R_TEI,       1,  0,    embp_openapi_tei_embed},
    {"/embed_all",      "POST", R_TEI,       1,  0,    embp_openapi_tei_embed_all},
    {"/tokenize",       "POST", R_TEI,       1,  0,    embp_openapi_tei_tokenize},
    {"/decode",         "POST", R_TEI,       1,  0,    embp_openapi_tei_decode},
    {"/similarity",     "POST", R_TEI,       1,  0,    embp_openapi_tei_similarity},
    {"/",               "POST", R_TEI,       1,  0,    embp_openapi_tei_embed},
    /* reranking (server/rerank.c): TEI's /rerank (TEI's errors) and Infinity's */
    {"/rerank",         "POST", R_RERANK,    1,  0,    embp_openapi_rerank},
    {"/v1/rerank",      "POST", R_V1_RERANK, 0,  0,    embp_openapi_v1_rerank},
};
/* clang-format on */

const embp_route *embp_route_table(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* 1 when row answers method (HEAD on a GET row too). */
static int row_takes(const embp_route *row, const char *method) {
    return !strcmp(method, row->method) ||
           (!strcmp(method, "HEAD") && !strcmp(row->method, "GET"));
}

/* The row of url that takes method, else the first row of url (another method: a 405), else
 * NULL. A path may have a row per method. */
static const embp_route *row_of(const char *url, const char *method) {
    const embp_route *any = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].url) != 0)
            continue;
        if (row_takes(&routes[i], method))
            return &routes[i];
        any = any ? any : &routes[i];
    }
    return any;
}

/* The methods url's rows take, "GET, POST", into out. */
static void allowed_methods(const char *url, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && used < size; i++)
        if (!strcmp(url, routes[i].url))
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "",
                                     routes[i].method);
}

const char *embp_route_name(const char *url) {
    const embp_route *row = row_of(url, "");
    return row ? row->url : NULL;
}

/* Compares in time that depends only on the expected key's length, not on where they differ. */
static int key_matches(const char *authorization, const char *key) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *got = authorization + 7;
    size_t n = strlen(key), m = strlen(got);
    unsigned char d = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(key[i] ^ (i < m ? got[i] : 0));
    return d == 0;
}

/* 1 when content_type names JSON as TEI reads it (axum's Json extractor, 0.7): type
 * application, subtype json or a +json suffix (application/vnd.api+json), any case, parameters
 * such as charset ignored. Hand-written: libmicrohttpd parses no media types, and this is the
 * whole of the rule. */
static int json_content_type(const char *content_type) {
    if (!content_type)
        return 0;
    const char *p = content_type + strspn(content_type, " \t");
    size_t n = strcspn(p, ";");
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    const char *slash = memchr(p, '/', n);
    if (!slash || (size_t)(slash - p) != 11 || strncasecmp(p, "application", 11) != 0)
        return 0;
    size_t sub = n - 12; /* the subtype's length */
    return (sub == 4 && !strncasecmp(slash + 1, "json", 4)) ||
           (sub > 5 && !strncasecmp(slash + 1 + sub - 5, "+json", 5));
}

int embp_route_precheck(embp_server_ctx *x, const char *method, const char *url,
                        const char *authorization, const char *content_type, embp_reply *r) {
    const embp_route *row = row_of(url, method);
    embp_http_error e;
    const char *cors = x->cfg->cors_origin;
    r->tei = row && row->tei;
    if (cors && *cors) {
        add_header(r, "Access-Control-Allow-Origin", cors);
        if (strcmp(cors, "*") != 0)
            add_header(r, "Vary", "Origin");
        add_header(r, "Access-Control-Expose-Headers", "X-Request-Id");
        if (!strcmp(method, "OPTIONS") && row) { /* the browser's preflight */
            add_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            add_header(r, "Access-Control-Allow-Headers",
                       "Authorization, Content-Type, X-Request-Id");
            add_header(r, "Access-Control-Max-Age", "600");
            r->status = 204;
            embp_buf_append(&r->body, "", 0);
            return 1;
        }
    }
    if (!(row && row->open) && *x->cfg->api_key &&
        !key_matches(authorization, x->cfg->api_key)) {
        embp_http_fail(&e, 401, "invalid_request_error", NULL, "invalid_api_key",
                       authorization ? "Incorrect API key provided" :
                       "You didn't provide an API key: send 'Authorization: Bearer KEY'");
        add_header(r, "WWW-Authenticate", "Bearer realm=\"embp\"");
    } else if (!row) {
        embp_http_fail(&e, 404, "invalid_request_error", NULL, "unknown_url",
                       "Unknown request URL: %.16s %.200s", method, url);
    } else if (!row_takes(row, method)) {
        allowed_methods(url, r->allow, sizeof r->allow);
        embp_http_fail(&e, 405, "invalid_request_error", NULL, "method_not_allowed",
                       "%.200s takes %s, not %.16s", url, r->allow, method);
        add_header(r, "Allow", r->allow);
    } else if (!strcmp(row->method, "POST") && !json_content_type(content_type)) {
        /* as TEI (415) and OpenAI (which reads a form body as a form): curl -d alone sends
         * application/x-www-form-urlencoded */
        embp_http_fail(&e, 415, "invalid_request_error", NULL, "unsupported_media_type",
                       "Expected request with `Content-Type: application/json`, found %s%.100s%s"
                       " (with curl: -H 'Content-Type: application/json')",
                       content_type ? "'" : "none", content_type ? content_type : "",
                       content_type ? "'" : "");
    } else {
        return 0;
    }
    reply_error(r, &e);
    return 1;
}

int embp_route_too_big(embp_server_ctx *x, embp_reply *r) { /* r->tei: set by the precheck */
    embp_http_error e;
    embp_http_fail(&e, 413, "invalid_request_error", NULL, "request_too_large",
                   "The request body is larger than %ld bytes (EMB_PROVIDER_MAX_REQUEST_BYTES)",
                   x->cfg->max_request_bytes);
    add_header(r, "Connection", "close");
    reply_error(r, &e);
    return 1;
}

/* ---------------------------------------------------------------- POST /v1/embeddings */

/* A request's sequences: n id arrays (pointing into block or into the request) and lengths. */
typedef struct {
    int32_t *block;
    const int32_t **ids;
    int *lens;
    int *skip;          /* each sequence's prompt ids pooling leaves out */
    const char *prompt; /* put before each text (embp_prompt_resolve); "" none */
    long tokens;
} sequences;

static void sequences_free(sequences *sq) {
    embp_free(sq->block);
    embp_free(sq->ids);
    embp_free(sq->lens);
    embp_free(sq->skip);
}

static embp_registry_model *find_model(embp_server_ctx *x, const char *name, embp_http_error *e) {
    if (x->n_models == 0) {
        embp_http_fail(e, 503, "server_error", NULL, NULL, "no model is loaded yet");
        return NULL;
    }
    if (!name)
        return &x->models[0];
    embp_registry_model *m = embp_registry_find(x->models, x->n_models, x->cfg->model_aliases,
                                                x->cfg->n_model_aliases, name, NULL);
    if (m)
        return m;
    char names[300];
    embp_registry_names(x->models, x->n_models, x->cfg->model_aliases, x->cfg->n_model_aliases,
                        names, sizeof names);
    embp_http_fail(e, 404, "invalid_request_error", "model", "model_not_found",
                   "The model '%.120s' does not exist; served: %s", name, names);
    return NULL;
}

/* The model a request names (name NULL: the first served one of that kind), which must be of
 * `kind` (embp_registry_kind: "embedding" or "reranker"): else a 400 naming its kind, or, with
 * no name and none of that kind, the served models' kinds. */
static embp_registry_model *find_model_kind(embp_server_ctx *x, const char *name,
                                            const char *kind, embp_http_error *e) {
    for (int i = 0; !name && i < x->n_models; i++)
        if (!strcmp(embp_registry_kind(&x->models[i].info), kind))
            return &x->models[i];
    embp_registry_model *m = find_model(x, name, e);
    if (!m || !strcmp(embp_registry_kind(&m->info), kind))
        return m;
    int rerank = !strcmp(kind, "reranker");
    if (!name) {
        char served[256] = "";
        for (int i = 0, used = 0; i < x->n_models && used < (int)sizeof served; i++)
            used += snprintf(served + used, sizeof served - (size_t)used, "%s%s (%s)",
                             i ? ", " : "", x->models[i].info.name,
                             embp_registry_kind(&x->models[i].info));
        embp_http_fail(e, 400, "invalid_request_error", "model", "model_kind_mismatch",
                       "no served model is %s; served: %s", rerank ? "a reranker" :
                       "an embedding model", served);
    } else if (rerank) {
        embp_http_fail(e, 400, "invalid_request_error", "model", "model_kind_mismatch",
                       "model '%.200s' is an embedding model, not a reranker: reranking needs a "
                       "cross-encoder (config.json architectures *ForSequenceClassification)",
                       name);
    } else {
        embp_http_fail(e, 400, "invalid_request_error", "model", "model_kind_mismatch",
                       "model '%.200s' is a reranker (a cross-encoder): it scores (query, text) "
                       "pairs on POST /rerank and /v1/rerank and makes no embeddings", name);
    }
    return NULL;
}

/* Tokenizes text input i into ids (room for m->max_seq_len): the registry's context rule. */
static int tokenize_one(embp_registry_model *m, const embp_request *q, const char *prompt, int i,
                        int32_t *ids, int *len, int *skip, embp_http_error *e) {
    embp_error err;
    int n = 0, n_full = 0;
    embp_status rc = q->truncate_left
                         ? embp_registry_tokenize_left(m, prompt, q->texts[i], q->text_lens[i],
                                                       q->truncate, ids, &n, &n_full, skip, &err)
                         : embp_registry_tokenize_prompt(m, prompt, q->texts[i], q->text_lens[i],
                                                         q->truncate, ids, &n, &n_full, skip,
                                                         &err);
    if (rc == EMBP_ENOMEM)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "input[%d]: %s", i, err.msg);
    if (rc == EMBP_OK && n == 0) /* no special tokens, an input of only spaces or controls */
        return embp_http_fail(e, 400, "invalid_request_error", "input", NULL, "input[%d] has "
                              "no tokens after tokenization (only whitespace or control "
                              "characters?); every input needs at least one", i);
    if (rc == EMBP_ETOOLONG)
        return embp_http_fail(e, 400, "invalid_request_error", "input",
                              "context_length_exceeded", "input[%d] has %d tokens; this model "
                              "takes at most %d (truncate is false)", i, n_full, m->max_seq_len);
    if (rc != EMBP_OK)
        return embp_http_fail(e, 400, "invalid_request_error", "input", NULL, "input[%d]: %s",
                              i, err.msg);
    *len = n;
    return 1;
}

/* CPU time this thread has used, in ms: request preparation runs on the connection's thread. */
static double thread_cpu_ms(void) {
    return 1e3 * embp_clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* The 413 for a request whose parse and tokenization used more than max_prepare_ms of CPU
 * since t0 (thread_cpu_ms), checked between inputs; 1 while within it or unbounded (0). */
static int within_prepare_bound(embp_server_ctx *x, double t0, embp_http_error *e) {
    long lim = x->cfg->max_prepare_ms;
    if (lim <= 0 || thread_cpu_ms() - t0 <= (double)lim)
        return 1;
    return embp_http_fail(e, 413, "invalid_request_error", "input", "request_too_expensive",
                          "preparing this request (parsing and tokenizing) took more than %ld "
                          "ms of CPU (EMB_PROVIDER_MAX_PREPARE_MS); send fewer or shorter "
                          "inputs per request", lim);
}

/* With a prompt asked for (prompt or prompt_name), each token-id input of q becomes the text
 * its ids decode to (special tokens skipped, as HF's decode(ids, skip_special_tokens=True)),
 * which then takes the prompt and is tokenized as a text input: what TEI does
 * (core/src/tokenization.rs: decode, the prompt before the text, encode with special tokens,
 * truncated then: so the ids are checked against m's vocabulary here, not cut). 1, or 0 with
 * e. */
static int decode_prompted_ids(embp_registry_model *m, embp_request *q, embp_http_error *e) {
    if ((!q->prompt && !q->prompt_name) || !q->ids)
        return 1;
    if (!embp_request_check_model(q, m->info.dim, m->info.vocab_size, INT32_MAX, e))
        return 0;
    size_t n = (size_t)q->n_inputs;
    if (!q->texts && (!(q->texts = embp_calloc(n, sizeof *q->texts)) ||
                      !(q->text_lens = embp_calloc(n, sizeof *q->text_lens))))
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    const embp_tokenizer *t = embp_model_folder(m->model)->tok;
    for (size_t i = 0; i < n; i++) {
        if (!q->ids[i])
            continue;
        char *text;
        size_t len;
        embp_error err;
        embp_status st = embp_tokenizer_decode(t, q->ids[i], (size_t)q->n_ids[i], true, &text,
                                               &len, &err);
        if (st != EMBP_OK)
            return embp_http_fail(e, st == EMBP_ENOMEM ? 500 : 400, st == EMBP_ENOMEM ?
                                  "server_error" : "invalid_request_error", "input", NULL,
                                  "input[%zu]: decoding its token ids to put the prompt before "
                                  "them: %s", i, err.msg);
        if (memchr(text, '\0', len)) {
            embp_free(text);
            return embp_http_fail(e, 400, "invalid_request_error", "input", NULL, "input[%zu]'s "
                                  "token ids decode to text with a NUL character, which takes "
                                  "no prompt", i);
        }
        embp_free(q->ids[i]);
        q->ids[i] = NULL;
        q->texts[i] = text;
        q->text_lens[i] = len;
    }
    q->is_tokens = 0;
    return 1;
}

static int make_sequences(embp_server_ctx *x, embp_registry_model *m, const embp_request *q,
                          sequences *sq, double t0, embp_http_error *e) {
    size_t n = (size_t)q->n_inputs, cap = (size_t)m->max_seq_len;
    sq->ids = embp_calloc(n, sizeof *sq->ids);
    sq->lens = embp_calloc(n, sizeof *sq->lens);
    sq->skip = embp_calloc(n, sizeof *sq->skip);
    if (!q->is_tokens)
        sq->block = embp_calloc(n, cap * sizeof(int32_t));
    if (!sq->ids || !sq->lens || !sq->skip || (!q->is_tokens && !sq->block))
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    embp_error err;
    embp_prompt choice = {q->prompt, q->prompt_name};
    sq->prompt = "";
    if (!q->is_tokens && embp_prompt_resolve(m->model, &choice, &sq->prompt, &err) != EMBP_OK)
        return embp_http_fail(e, 400, "invalid_request_error", "prompt_name", NULL, "%s",
                              err.msg);
    for (size_t i = 0; i < n; i++) {
        if (embp_request_is_ids(q, (int)i)) {
            sq->ids[i] = q->ids[i];
            sq->lens[i] = q->n_ids[i];
        } else {
            if (!tokenize_one(m, q, sq->prompt, (int)i, sq->block + i * cap, &sq->lens[i],
                              &sq->skip[i], e) ||
                !within_prepare_bound(x, t0, e))
                return 0;
            sq->ids[i] = sq->block + i * cap;
        }
        sq->tokens += sq->lens[i];
    }
    return 1;
}

/* The 503 for a full queue: answered before parsing or tokenizing, so that refusing costs
 * next to nothing when the server is overloaded. */
static int refuse_queue_full(embp_server_ctx *x, embp_reply *r, embp_http_error *e) {
    add_header(r, "Retry-After", "1");
    return embp_http_fail(e, 503, "server_error", NULL, "queue_full", "The server is busy: "
                          "more than %ld tokens are queued (EMB_PROVIDER_MAX_QUEUE_TOKENS); "
                          "retry later", x->cfg->max_queue_tokens);
}

/* Runs job (ids, types, lens, n, out filled; run: alone) through m's batcher; 1, or 0 with e. */
static int run_job(embp_server_ctx *x, embp_registry_model *m, embp_batch_job *job,
                   embp_reply *r, embp_http_error *e) {
    embp_batch_submit s = embp_batcher_run_while(m->batcher, job, r->client_gone, r->client, 50);
    if (s == EMBP_BATCH_CANCELED) /* nobody reads this; the log line shows nginx's 499 */
        return embp_http_fail(e, 499, "invalid_request_error", NULL, "client_closed_request",
                              "The client closed the connection before the answer");
    if (s == EMBP_BATCH_FULL)
        return refuse_queue_full(x, r, e);
    if (s == EMBP_BATCH_STOPPED) {
        add_header(r, "Retry-After", "1");
        return embp_http_fail(e, 503, "server_error", NULL, "shutting_down",
                              "The server is shutting down");
    }
    if (job->status != EMBP_OK)
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "%s failed: %s",
                              m->info.num_labels ? "scoring" : "embedding", job->err.msg);
    return 1;
}

/* Runs sq through m's batcher into out (n, dim); with run, that job run alone instead
 * (embp_batch_job.run: /embed_all's token vectors). */
static int embed_sequences(embp_server_ctx *x, embp_registry_model *m, sequences *sq, int n,
                           float *out, embp_reply *r, embp_http_error *e,
                           embp_status (*run)(void *, embp_batch_job *, embp_error *)) {
    embp_batch_job job;
    memset(&job, 0, sizeof job);
    job.run = run;
    job.ids = sq->ids;
    job.lens = sq->lens;
    job.skip = sq->skip;
    job.n = n;
    job.out = out;
    return run_job(x, m, &job, r, e);
}

/* 1 when the int8/uint8 ranges (EMB_PROVIDER_QUANTIZE_RANGES) fit m, or q asks for neither. */
static int ranges_fit(embp_server_ctx *x, const embp_request *q, const embp_registry_model *m,
                      embp_http_error *e) {
    int bucketed = q->encoding == EMBP_ENCODING_INT8 || q->encoding == EMBP_ENCODING_UINT8;
    for (int t = 0; t < q->n_types; t++)
        bucketed |= q->types[t] == EMBP_ENCODING_INT8 || q->types[t] == EMBP_ENCODING_UINT8;
    if (!bucketed || embp_quant_ranges_fit(&x->ranges, m->info.dim))
        return 1;
    return embp_http_fail(e, 400, "invalid_request_error", "encoding_format", NULL, "int8/uint8 "
                          "need ranges for model %s's %d dimensions; EMB_PROVIDER_QUANTIZE_RANGES "
                          "holds %d", m->info.name, m->info.dim, x->ranges.dim);
}

/* 1 when every served model's queue would refuse any request now (so parsing is pointless). */
static int all_queues_full(embp_server_ctx *x) {
    for (int i = 0; i < x->n_models; i++)
        if (!x->models[i].batcher || !embp_batcher_full(x->models[i].batcher))
            return 0;
    return x->n_models > 0;
}

/* Embeds q's inputs with its model: *out (heap, q->n_inputs rows of *dim floats, dimensions
 * applied) and *m. 1, or 0 with e (and *out NULL). t0: thread_cpu_ms() at the request's start.
 * lens set: one vector per token instead (/embed_all): *lens (heap) gets each input's token
 * count, *out sum(lens) rows of the hidden size. */
static int embed_request(embp_server_ctx *x, embp_request *q, double t0, embp_reply *r,
                         embp_registry_model **mp, float **outp, int *dim, int **lens,
                         embp_http_error *e) {
    sequences sq = {0};
    float *out = NULL;
    embp_registry_model *m = find_model_kind(x, q->model, "embedding", e);
    int ok = m && decode_prompted_ids(m, q, e) &&
             embp_request_check_model(q, m->info.dim, m->info.vocab_size, m->max_seq_len, e) &&
             ranges_fit(x, q, m, e);
    if (ok && m->batcher && embp_batcher_full(m->batcher))
        ok = refuse_queue_full(x, r, e);
    ok = ok && within_prepare_bound(x, t0, e) && make_sequences(x, m, q, &sq, t0, e);
    r->inputs = q->n_inputs;
    r->tokens = sq.tokens;
    size_t rows = lens ? (size_t)sq.tokens : (size_t)q->n_inputs;
    int width = !m ? 0 : lens ? m->info.hidden : m->info.dim;
    if (ok && lens && !(*lens = embp_malloc((size_t)q->n_inputs * sizeof **lens)))
        ok = embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    if (ok) {
        out = embp_malloc((rows ? rows : 1) * (size_t)width * sizeof(float));
        ok = out ? embed_sequences(x, m, &sq, q->n_inputs, out, r, e,
                                   lens ? embp_registry_token_states : NULL)
                 : embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    if (ok && lens) {
        memcpy(*lens, sq.lens, (size_t)q->n_inputs * sizeof **lens);
        *dim = width;
    } else if (ok) {
        *dim = q->dimensions ? q->dimensions : m->info.dim;
        embp_pool_truncate(out, q->n_inputs, m->info.dim, *dim, m->info.normalize);
    } else {
        embp_free(out);
        out = NULL;
    }
    *mp = m;
    *outp = out;
    sequences_free(&sq);
    return ok;
}

static void route_embeddings(embp_server_ctx *x, const char *body, size_t len, embp_reply *r) {
    embp_http_error e;
    embp_request q;
    embp_request_limits lim;
    double t0 = thread_cpu_ms();
    if (all_queues_full(x)) {
        refuse_queue_full(x, r, &e);
        reply_error(r, &e);
        return;
    }
    if (!embp_request_parse(body, len, embp_route_limits(x, &lim), &q, &e)) {
        reply_error(r, &e);
        return;
    }
    float *out = NULL;
    embp_registry_model *m = NULL;
    int d = 0;
    int ok = embed_request(x, &q, t0, r, &m, &out, &d, NULL, &e);
    if (ok) {
        r->status = 200;
        /* "model" echoes the name asked for (an alias stays the alias), as OpenAI does */
        embp_response_opts ro = {.encoding = q.encoding, .types = q.types,
                                 .n_types = q.n_types, .ranges = &x->ranges,
                                 .model = q.model ? q.model : m->info.name,
                                 .id = r->request_id, .texts = q.texts,
                                 .prompt_tokens = r->tokens};
        if (!embp_response_embeddings(&r->body, out, q.n_inputs, d, &ro))
            ok = embp_http_fail(&e, 500, "server_error", NULL, NULL, r->body.oom ?
                                "out of memory while writing the reply" : "the model produced "
                                "a value that is not a finite number");
    }
    if (!ok)
        reply_error(r, &e);
    embp_free(out);
    embp_request_free(&q);
}

/* ---------------------------------------------------------------- GET routes */

/* The "embp" object of a model entry: shapes, pooling and the precision plan. */
static json_t *model_embp_json(const embp_registry_model *m) {
    const embp_model_info *i = &m->info;
    json_t *o = json_pack("{s:i, s:i, s:s, s:b, s:{s:s, s:s, s:s, s:s}, s:b}", "dim", i->dim,
                          "max_seq_len", m->max_seq_len, "pooling", embp_pooling_str(i->pooling),
                          "normalize", i->normalize, "precision", "storage",
                          i->storage ? i->storage : "", "compute", i->compute ? i->compute : "",
                          "accumulation", i->accumulation ? i->accumulation : "", "reason",
                          i->plan_reason ? i->plan_reason : "", "demo", i->is_demo);
    if (o)
        json_object_set_new(o, "precision", embp_registry_precision_json(i));
    if (o)
        json_object_set_new(o, "prompts", embp_registry_prompts_json(m));
    if (o) /* what it serves: "embedding" (/v1/embeddings) or "reranker" (/rerank, /v1/rerank) */
        json_object_set_new(o, "kind", json_string(embp_registry_kind(i)));
    if (o && i->is_demo)
        json_object_set_new(o, "warning", json_string(demo_warning));
    return o;
}

static void route_models(embp_server_ctx *x, embp_reply *r) {
    json_t *data = json_array();
    for (int k = 0; k < x->n_models; k++)
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s, s:o}", "id",
                                              x->models[k].info.name, "object", "model",
                                              "created", 0, "owned_by", "embp", "embp",
                                              model_embp_json(&x->models[k])));
    /* each alias as an entry of its own: its target's embp object, plus "alias_of" */
    for (int a = 0; a < x->cfg->n_model_aliases; a++) {
        const embp_model_alias *al = &x->cfg->model_aliases[a];
        embp_registry_model *m = embp_registry_find(x->models, x->n_models, NULL, 0, al->target,
                                                    NULL);
        json_t *o = m ? model_embp_json(m) : NULL;
        if (!o)
            continue;
        json_object_set_new(o, "alias_of", json_string(al->target));
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s, s:o}", "id", al->alias,
                                              "object", "model", "created", 0, "owned_by",
                                              "embp", "embp", o));
    }
    reply_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static json_t *cpu_json(void) {
    const embp_cpu *cpu = embp_cpu_get();
    char feats[512];
    embp_cpu_features_str(cpu, feats, sizeof feats);
    char omp[160]; /* how the compute threads wait: settings/openmp.h */
    return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "vendor", cpu->vendor, "brand", cpu->brand,
                     "cores", cpu->n_cores, "features", feats, "masked", cpu->masked, "openmp",
                     embp_openmp_describe(omp, sizeof omp));
}

static void route_info(embp_server_ctx *x, embp_reply *r) {
    const embp_config *c = x->cfg;
    json_t *models = json_array();
    for (int k = 0; k < x->n_models; k++) {
        const embp_model_info *i = &x->models[k].info;
        json_array_append_new(models, json_pack(
            "{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:o}", "id", i->name, "path",
            i->path, "architecture", i->architecture ? i->architecture : "", "hidden", i->hidden,
            "layers", i->layers, "heads", i->heads, "intermediate", i->intermediate,
            "vocab_size", i->vocab_size, "max_position", i->max_position, "weight_bytes",
            (json_int_t)i->weight_bytes, "embp", model_embp_json(&x->models[k])));
    }
    json_t *limits = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b}", "max_batch_size",
                               (json_int_t)c->max_batch_size, "max_request_bytes",
                               (json_int_t)c->max_request_bytes, "max_batch_tokens",
                               (json_int_t)c->max_batch_tokens, "max_wait_time_ms",
                               (json_int_t)c->max_wait_time_ms, "max_queue_tokens",
                               (json_int_t)c->max_queue_tokens, "max_connections",
                               (json_int_t)c->max_connections, "timeout_s",
                               (json_int_t)c->timeout_s, "truncate", c->truncate,
                               "length_grouping", c->length_grouping);
    json_t *aliases = json_object();
    for (int a = 0; a < c->n_model_aliases; a++)
        json_object_set_new(aliases, c->model_aliases[a].alias,
                            json_string(c->model_aliases[a].target));
    /* TEI's shape (server/tei.c), embp's own detail under "embp" */
    reply_json(r, 200, embp_tei_info(x, json_pack("{s:s, s:o, s:o, s:o, s:o, s:b}", "name",
                                                  "embp", "models", models, "aliases", aliases,
                                                  "cpu", cpu_json(), "limits", limits, "auth",
                                                  *c->api_key != '\0')));
}

/* The document built at start, or (a context no server started) one built now. */
static void route_openapi(embp_server_ctx *x, embp_reply *r) {
    embp_error err;
    size_t len = x->openapi_len;
    char *doc = x->openapi ? x->openapi : embp_openapi_build(x->cfg, &len, &err);
    if (doc) {
        r->status = 200;
        embp_buf_append(&r->body, doc, len);
    } else {
        embp_http_error e;
        embp_http_fail(&e, 500, "server_error", NULL, NULL, "%s", err.msg);
        reply_error(r, &e);
    }
    if (doc != x->openapi)
        embp_free(doc);
}

void embp_route_complete(embp_server_ctx *x, const char *method, const char *url,
                         const embp_buf *body, int too_big, embp_reply *r) {
    const embp_route *row = row_of(url, method);
    r->tei = row && row->tei;
    if (too_big) {
        embp_route_too_big(x, r);
    } else if (body->oom) {
        embp_http_error e;
        embp_http_fail(&e, 500, "server_error", NULL, NULL, "out of memory while receiving "
                       "the request body");
        add_header(r, "Connection", "close");
        reply_error(r, &e);
    } else {
        embp_route_handle(x, method, url, body->p ? body->p : "", body->len, r);
    }
}

void embp_route_handle(embp_server_ctx *x, const char *method, const char *url, const char *body,
                       size_t len, embp_reply *r) {
    const embp_route *row = row_of(url, method);
    int route = row && row_takes(row, method) ? row->id : R_NONE;
    r->tei = row && row->tei;
    switch (route) {
    case R_EMBED:
        route_embeddings(x, body, len, r);
        break;
    case R_MODELS:
        route_models(x, r);
        break;
    case R_HEALTH:
        if (x->n_models > 0 && !atomic_load(&x->quiescing))
            reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
        else
            reply_json(r, 503, json_pack("{s:s}", "status", x->n_models ? "stopping" : "loading"));
        break;
    case R_INFO:
        route_info(x, r);
        break;
    case R_TEI:
        embp_tei_handle(x, url, body, len, r);
        break;
    case R_METRICS: /* Prometheus' text format 0.0.4 */
        r->status = 200;
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (x->metrics)
            embp_metrics_write(x->metrics, &r->body);
        else
            embp_buf_append(&r->body, "", 0);
        break;
    case R_RERANK:
    case R_V1_RERANK:
        embp_route_rerank(x, body, len, r, route == R_RERANK);
        break;
    case R_OPENAPI:
        route_openapi(x, r);
        break;
    case R_PAGE: { /* server/static.c answers the pages it serves; GET / with the UI off */
        embp_http_error e;
        embp_http_fail(&e, 404, "invalid_request_error", NULL, "unknown_url", "%.200s: the "
                       "playground is off (EMB_PROVIDER_UI=false)", url);
        reply_error(r, &e);
        break;
    }
    default: { /* the precheck answers unknown routes; kept for safety */
        embp_http_error e;
        embp_http_fail(&e, 404, "invalid_request_error", NULL, "unknown_url", "Unknown URL");
        reply_error(r, &e);
    }
    }
}

/* ---------------------------------------------------------------- for the other route files */

embp_request_limits *embp_route_limits(embp_server_ctx *x, embp_request_limits *lim) {
    *lim = (embp_request_limits){.max_inputs = (int)x->cfg->max_batch_size,
                                 .default_truncate = x->cfg->truncate, .max_depth = 16};
    return lim;
}

embp_registry_model *embp_route_find_model_kind(embp_server_ctx *x, const char *name,
                                                const char *kind, embp_http_error *e) {
    return find_model_kind(x, name, kind, e);
}

void embp_route_add_header(embp_reply *r, const char *name, const char *value) {
    add_header(r, name, value);
}

void embp_route_reply_json(embp_reply *r, int status, json_t *v) {
    reply_json(r, status, v);
}

void embp_route_reply_error(embp_reply *r, const embp_http_error *e) {
    reply_error(r, e);
}

int embp_route_run_job(embp_server_ctx *x, embp_registry_model *m, embp_batch_job *job,
                       embp_reply *r, embp_http_error *e) {
    return run_job(x, m, job, r, e);
}

int embp_route_refuse_busy(embp_server_ctx *x, embp_registry_model *m, embp_reply *r,
                           embp_http_error *e) {
    if (m ? m->batcher && embp_batcher_full(m->batcher) : all_queues_full(x))
        return !refuse_queue_full(x, r, e);
    return 0;
}

double embp_route_cpu_ms(void) {
    return thread_cpu_ms();
}

int embp_route_within_prepare_bound(embp_server_ctx *x, double t0, embp_http_error *e) {
    return within_prepare_bound(x, t0, e);
}

embp_registry_model *embp_route_find_model(embp_server_ctx *x, const char *name,
                                           embp_http_error *e) {
    return find_model(x, name, e);
}

int embp_route_embed(embp_server_ctx *x, embp_request *q, embp_reply *r,
                     embp_registry_model **m, float **out, int *dim, int **lens,
                     embp_http_error *e) {
    double t0 = thread_cpu_ms();
    if (all_queues_full(x))
        return refuse_queue_full(x, r, e);
    return embed_request(x, q, t0, r, m, out, dim, lens, e);
}
