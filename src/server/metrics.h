/* The server's counters for GET /metrics (Prometheus text exposition format 0.0.4): requests by
 * route and status, latency and queue-wait histograms, batch sizes and tokens per pass, queue
 * depth, tokens and inputs per model, the process's memory and uptime. No global state: the
 * server owns one embp_metrics; connection threads and the batchers' workers update it under its
 * mutex. */
#ifndef EMBP_SERVER_METRICS_H
#define EMBP_SERVER_METRICS_H

#include "core/buf.h"
#include "runtime/registry.h"

typedef struct embp_metrics embp_metrics;

/* Counters for models[0..n_models), and observers on their batchers (those without one are
 * skipped); NULL when out of memory. models are borrowed until embp_metrics_free, which
 * detaches the observers first. */
embp_metrics *embp_metrics_create(embp_registry_model *models, int n_models);
void embp_metrics_free(embp_metrics *m); /* NULL is fine */

/* A request answered: route is the route table's URL (static storage) or NULL for a URL no
 * route has; status its HTTP status; seconds from its headers to its answer. */
void embp_metrics_request(embp_metrics *m, const char *route, int status, double seconds);

/* Appends the exposition of every metric to b. */
void embp_metrics_write(embp_metrics *m, embp_buf *b);

#endif
