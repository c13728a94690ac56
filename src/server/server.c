/* libmicrohttpd plumbing: routing, API key, body limit, one log line per request, shutdown.
 * A thread per connection: a connection's thread parses, tokenizes, waits on the batcher and
 * answers; the model runs only on the batcher's worker. */
#include "server/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "server/response.h"
#include "server/routes.h"

struct embp_server {
    embp_server_ctx ctx;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int active; /* requests between their first byte and their completion */
};

/* One request's state across libmicrohttpd's calls. */
typedef struct {
    embp_buf body;
    int too_big;
    int64_t t0; /* microseconds, at the headers */
} request_state;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Queues r's body with status and headers (Content-Type, plus r->hdr if set), freeing r's
 * buffer when sent, and logs the request's line. */
static enum MHD_Result send_reply(struct MHD_Connection *c, embp_server *s, embp_reply *r,
                                  const char *method, const char *url, int64_t t0) {
    struct MHD_Response *resp;
    if (r->body.oom || !r->body.p) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"param\":null,\"code\":null}}";
        embp_buf_free(&r->body);
        r->status = 500;
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)(uintptr_t)oom,
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer_with_free_callback(r->body.len, r->body.p,
                                                                  embp_free);
        r->body.p = NULL;
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    for (int i = 0; i < r->n_hdr; i++)
        MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    unsigned long id = atomic_fetch_add(&s->ctx.next_id, 1) + 1;
    embp_log(s->ctx.log_level, EMBP_LOG_INFO, "req=%lu %s %s status=%d inputs=%d tokens=%ld "
             "ms=%.2f", id, method, url, r->status, r->inputs, r->tokens,
             (double)(now_us() - t0) / 1000.0);
    return ret;
}

/* Appends up to the body limit; beyond it marks the request too big and keeps nothing more. */
static void take_body(embp_server *s, request_state *st, const char *data, size_t n) {
    if (st->too_big)
        return;
    if (st->body.len + n > (size_t)s->ctx.cfg->max_request_bytes) {
        st->too_big = 1;
        embp_buf_free(&st->body);
        return;
    }
    embp_buf_append(&st->body, data, n);
}

/* A Content-Length above the limit is refused before any of the body is read. */
static int declared_too_big(embp_server *s, struct MHD_Connection *c) {
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    return cl && strtoull(cl, NULL, 10) > (unsigned long long)s->ctx.cfg->max_request_bytes;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    embp_server *s = cls;
    request_state *st = *con_cls;
    if (!st) { /* first call: headers only */
        st = embp_calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        st->t0 = now_us();
        atomic_fetch_add(&s->active, 1);
        /* Route problems and an announced oversize body are answered before reading it. */
        embp_reply r = {0};
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (embp_route_precheck(&s->ctx, method, url, auth, &r))
            return send_reply(c, s, &r, method, url, st->t0);
        if (declared_too_big(s, c)) {
            embp_route_too_big(&s->ctx, &r);
            return send_reply(c, s, &r, method, url, st->t0);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(s, st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    embp_reply r = {0};
    if (st->too_big)
        embp_route_too_big(&s->ctx, &r);
    else
        embp_route_handle(&s->ctx, method, url, st->body.p ? st->body.p : "", st->body.len, &r);
    return send_reply(c, s, &r, method, url, st->t0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    embp_server *s = cls;
    request_state *st = *con_cls;
    if (!st)
        return;
    embp_buf_free(&st->body);
    embp_free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

/* ---------------------------------------------------------------- start, stop */

/* host (IPv4 or IPv6 literal) and port into *ss. */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, int *v6) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = 0;
        return 1;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = 1;
        return 1;
    }
    return 0;
}

embp_status embp_server_start(const embp_config *cfg, embp_server_model *models, int n_models,
                              embp_server **out, embp_error *err) {
    *out = NULL;
    struct sockaddr_storage ss;
    int v6;
    if (!parse_addr(cfg->host, (int)cfg->port, &ss, &v6))
        return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_HOST=%s: not an IPv4 or IPv6 address",
                         cfg->host);
    embp_server *s = embp_calloc(1, sizeof *s);
    if (!s)
        return embp_fail(err, EMBP_ENOMEM, "server: out of memory");
    s->ctx.cfg = cfg;
    s->ctx.models = models;
    s->ctx.n_models = n_models;
    int lvl = embp_log_level_parse(cfg->log_level);
    s->ctx.log_level = lvl < 0 ? EMBP_LOG_INFO : (embp_log_level)lvl;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)(1 << 20), MHD_OPTION_END);
    if (!s->daemon) {
        embp_free(s);
        return embp_fail(err, EMBP_EIO, "cannot listen on %s:%ld (address in use, or not "
                         "allowed?)", cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (int)cfg->port;
    *out = s;
    return EMBP_OK;
}

int embp_server_port(const embp_server *s) {
    return s->port;
}

int embp_server_stop(embp_server *s, int grace_ms) {
    if (!s)
        return 0;
    atomic_store(&s->ctx.quiescing, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    int waited = 0;
    while (atomic_load(&s->active) > 0 && waited < grace_ms) {
        usleep(10000);
        waited += 10;
    }
    int left = atomic_load(&s->active);
    MHD_stop_daemon(s->daemon);
    embp_free(s);
    return left;
}
