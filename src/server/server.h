/* The HTTP server (libmicrohttpd, a thread per connection): POST /v1/embeddings (and
 * /embeddings), GET /v1/models, /health, /info. Connection threads parse, tokenize, enqueue
 * into the model's batcher and wait; they never run the model. */
#ifndef EMBP_SERVER_SERVER_H
#define EMBP_SERVER_SERVER_H

#include <stdint.h>

#include "core/status.h"
#include "runtime/registry.h"
#include "server/config.h"

typedef struct embp_server embp_server;

/* Binds cfg->host:cfg->port and starts serving models[0..n_models) (the runtime's registry,
 * runtime/registry.h, loads them; the server borrows them until embp_server_stop) (models[0] is the default;
 * n_models 0 serves /health as 503 "loading" and embeddings as 503). cfg and models are
 * borrowed until embp_server_stop. */
embp_status embp_server_start(const embp_config *cfg, embp_registry_model *models, int n_models,
                              embp_server **out /* OUT */, embp_error *err);

/* The port actually bound (useful with port 0). */
int embp_server_port(const embp_server *s);

/* Stops accepting (MHD_quiesce_daemon), waits up to grace_ms for requests in flight to be
 * answered, then closes everything and frees s. Returns how many requests were still in flight
 * when it gave up (0 after a clean drain). NULL is fine. */
int embp_server_stop(embp_server *s, int grace_ms);

#endif
