/* The HTTP server (libmicrohttpd, a thread per connection): POST /v1/embeddings (and
 * /embeddings), GET /v1/models, /health, /info. Connection threads parse, tokenize, enqueue
 * into the model's batcher and wait; they never run the model. */
#ifndef EMBP_SERVER_SERVER_H
#define EMBP_SERVER_SERVER_H

#include <stdint.h>

#include "core/status.h"
#include "runtime/batcher.h"
#include "server/config.h"

/* The signature of embp_tokenize (include/embp/embp.h). */
typedef embp_status (*embp_server_tokenize_fn)(const embp_model *m, const char *text, size_t len,
                                               int truncate, int32_t *ids, int cap, int *n,
                                               int *n_full, embp_error *err);

/* A model as the server sees it; filled by the caller (src/server/models.c loads them).
 * The server borrows it; the caller frees it after embp_server_stop. */
typedef struct {
    embp_model *model;
    embp_model_info info;
    int max_seq_len;   /* info.max_seq_len capped by --max-context-length */
    embp_batcher *batcher;
    embp_server_tokenize_fn tokenize;
} embp_server_model;

typedef struct embp_server embp_server;

/* Binds cfg->host:cfg->port and starts serving models[0..n_models) (models[0] is the default;
 * n_models 0 serves /health as 503 "loading" and embeddings as 503). cfg and models are
 * borrowed until embp_server_stop. */
embp_status embp_server_start(const embp_config *cfg, embp_server_model *models, int n_models,
                              embp_server **out /* OUT */, embp_error *err);

/* The port actually bound (useful with port 0). */
int embp_server_port(const embp_server *s);

/* Stops accepting (MHD_quiesce_daemon), waits up to grace_ms for requests in flight to be
 * answered, then closes everything and frees s. Returns how many requests were still in flight
 * when it gave up (0 after a clean drain). NULL is fine. */
int embp_server_stop(embp_server *s, int grace_ms);

#endif
