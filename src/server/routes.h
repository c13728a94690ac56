/* What each route answers, apart from sockets: the server calls these with a request's method,
 * URL, Authorization header and body, and sends the reply they build. */
#ifndef EMBP_SERVER_ROUTES_H
#define EMBP_SERVER_ROUTES_H

#include <jansson.h>
#include <stdatomic.h>

#include "core/log.h"
#include "runtime/encoding.h"
#include "server/metrics.h"
#include "server/response.h"
#include "server/server.h"

typedef struct {
    const embp_config *cfg;
    embp_registry_model *models;
    int n_models;
    embp_log_level log_level;
    embp_logger log;      /* log_level and EMB_PROVIDER_LOG_FORMAT */
    atomic_ulong next_id; /* requests seen: generated X-Request-Ids count them */
    atomic_int quiescing;
    embp_quant_ranges ranges; /* int8/uint8 buckets (EMB_PROVIDER_QUANTIZE_RANGES) */
    embp_metrics *metrics;    /* GET /metrics; NULL: none kept */
    char *openapi;            /* GET /openapi.json (server/openapi.h), built at start; NULL:
                               * built per request */
    size_t openapi_len;
} embp_server_ctx;

/* One row of the route table: what the router matches, and what GET /openapi.json documents
 * (server/openapi.c assembles the document from these rows, so the two cannot drift). */
typedef struct {
    const char *url, *method; /* HEAD is also answered on a GET route */
    int id;                   /* routes.c's handler */
    int tei;                  /* errors in TEI's shape (server/tei.h), else OpenAI's */
    int open;                 /* served without the API key (EMB_PROVIDER_API_KEY) */
    const char *doc;          /* its OpenAPI operation (server/openapi.h) */
} embp_route;

/* The route table (static storage), *n rows. */
const embp_route *embp_route_table(size_t *n /* OUT */);

/* A reply: status, JSON body (heap, handed to libmicrohttpd), up to 6 extra headers (static
 * strings), and what the log line reports. */
typedef struct {
    int status;
    embp_buf body;
    const char *hdr[6][2];
    int n_hdr;
    int inputs;
    long tokens;
    const char *request_id;   /* set by the caller: X-Request-Id, accepted or generated */
    const char *content_type; /* static; NULL: application/json */
    /* Set by the caller (may be NULL): polled while the request waits on the model; nonzero
     * when its client has gone, so that its queued work is dropped. */
    int (*client_gone)(void *client);
    void *client;
    int tei; /* a TEI route: errors in TEI's shape (server/tei.h) */
    const char *route; /* static; NULL: embp_route_name(url) (the web pages set their own) */
    char hdr_buf[48];  /* room for one header value made per request (server/static.c's ETag) */
    char allow[48];    /* a 405's Allow header: the methods of the path's rows */
} embp_reply;

/* Before the body: CORS (with EMB_PROVIDER_CORS_ORIGIN set: the allow-origin header on every
 * reply, and a 204 to an OPTIONS preflight, which carries no API key), unknown route (404),
 * wrong method (405 + Allow), missing or wrong API key (401 + WWW-Authenticate; the table's
 * open routes, /health and /openapi.json, need none; /metrics needs the key like every other
 * route), a POST whose content_type (the header, NULL: none) is not JSON (415, as TEI).
 * Returns 1 when r holds that answer. */
int embp_route_precheck(embp_server_ctx *x, const char *method, const char *url,
                        const char *authorization, const char *content_type, embp_reply *r);

/* The route table's path for url (static storage), or NULL when no route has it: what
 * /metrics counts requests by, so a route added to the table is counted without more code. */
const char *embp_route_name(const char *url);

/* The 413 for a body over EMB_PROVIDER_MAX_REQUEST_BYTES. Returns 1. */
int embp_route_too_big(embp_server_ctx *x, embp_reply *r);

/* The answer to a request whose body has fully arrived: the 413 when it was too_big, a 500
 * when buffering it ran out of memory (body->oom: never a partial body), else
 * embp_route_handle's. */
void embp_route_complete(embp_server_ctx *x, const char *method, const char *url,
                         const embp_buf *body, int too_big, embp_reply *r);

/* The answer to a request that passed the precheck, body complete. */
void embp_route_handle(embp_server_ctx *x, const char *method, const char *url, const char *body,
                       size_t len, embp_reply *r);

/* For the other route files (tei.c): routes.c's reply writers, its model lookup (a served id or
 * an alias; NULL: the default model; 404 model_not_found naming the served ids), and its
 * embedding path: m an embedding model (NULL: the first served one; a reranker named: 400
 * model_kind_mismatch naming its kind), q's inputs checked against m, tokenized (q->truncate_left: keep the end),
 * queued on m's batcher, with q->dimensions applied; *out (heap, embp_free) holds
 * q->n_inputs rows of *dim floats. With lens (not NULL): one vector per token instead, the
 * model's last layer before pooling: *lens (heap) gets each input's token count and *out
 * sum(lens) rows of *dim (the hidden size) floats. r->inputs and r->tokens are set. 1, or 0
 * with e. */
void embp_route_add_header(embp_reply *r, const char *name, const char *value);
void embp_route_reply_json(embp_reply *r, int status, json_t *v); /* takes v */
void embp_route_reply_error(embp_reply *r, const embp_http_error *e);
embp_registry_model *embp_route_find_model(embp_server_ctx *x, const char *name,
                                           embp_http_error *e);
int embp_route_embed(embp_server_ctx *x, embp_request *q, embp_reply *r,
                     embp_registry_model **m /* OUT */, float **out /* OUT */,
                     int *dim /* OUT */, int **lens /* OUT */, embp_http_error *e);

/* The bounds every route's JSON body is read under (server/request.h): at most
 * EMB_PROVIDER_MAX_BATCH_SIZE inputs, the values that allows, 16 levels deep, truncate's
 * default; one batch kind (lim->mixed 0). Fills and returns lim. */
embp_request_limits *embp_route_limits(embp_server_ctx *x, embp_request_limits *lim);

/* POST /rerank (tei nonzero: TEI's shape) and POST /v1/rerank (Infinity's / Cohere's):
 * server/rerank.c. */
void embp_route_rerank(embp_server_ctx *x, const char *body, size_t len, embp_reply *r, int tei);

/* What routes.c also shares with rerank.c. */
/* The model named (NULL: the first served of that kind) if it is of `kind`
 * (embp_registry_kind), else NULL with a 404 (no such model) or a 400 naming its kind. */
embp_registry_model *embp_route_find_model_kind(embp_server_ctx *x, const char *name,
                                                const char *kind, embp_http_error *e);
/* Runs job (ids, types, lens, n, out filled) through m's batcher: 1, or 0 with e (499 client
 * gone, 503 queue full or shutting down, 500 the model failed). */
int embp_route_run_job(embp_server_ctx *x, embp_registry_model *m, embp_batch_job *job,
                       embp_reply *r, embp_http_error *e);
/* 1 with the 503 in e (and Retry-After on r) when m's queue (m NULL: every model's) is full. */
int embp_route_refuse_busy(embp_server_ctx *x, embp_registry_model *m, embp_reply *r,
                           embp_http_error *e);
/* This thread's CPU time (ms), and the 413 once preparing a request used more than
 * EMB_PROVIDER_MAX_PREPARE_MS of it since t0 (1 while within). */
double embp_route_cpu_ms(void);
int embp_route_within_prepare_bound(embp_server_ctx *x, double t0, embp_http_error *e);

#endif
