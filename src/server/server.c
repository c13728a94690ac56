/* libmicrohttpd plumbing: routing, API key, body limit, one log line per request, a deadline
 * per request, shutdown. A thread per connection: a connection's thread parses, tokenizes,
 * waits on the batcher and answers; the model runs only on the batcher's worker. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/text.h"
#include "server/openapi.h"
#include "server/response.h"
#include "server/routes.h"
#include "server/static.h"

#define REQUEST_ID_MAX 128 /* bytes of an X-Request-Id we accept */

/* An open connection. deadline_us is when its request must have fully arrived, or once the
 * reply is queued, when the reply must have been sent (0 while the model works on it):
 * libmicrohttpd's timeout is for idleness, so a client sending a byte a second (slowloris),
 * or reading a few bytes every few seconds of a multi-MB reply, would hold its connection and
 * thread forever without this. */
typedef enum { PHASE_RECEIVING, PHASE_WORKING, PHASE_SENDING } conn_phase;
typedef struct conn_entry {
    struct conn_entry *prev, *next;
    MHD_socket fd;
    int64_t deadline_us;
    conn_phase phase;
    char rid[REQUEST_ID_MAX + 1]; /* its current request's id, for the watchdog's line */
} conn_entry;

struct embp_server {
    embp_server_ctx ctx;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int active; /* requests between their first byte and their completion */
    /* The watchdog: every open connection, and a thread cutting those past their deadline. */
    pthread_mutex_t conn_mu;
    pthread_cond_t conn_cv;
    conn_entry *conns;
    pthread_t watchdog;
    int watchdog_started, watchdog_stop;
    uint64_t id_seed[2]; /* random at start: generated request ids differ across processes */
};

/* One request's state across libmicrohttpd's calls. */
typedef struct {
    embp_buf body;
    int too_big;
    int64_t t0; /* microseconds, at the headers */
    char rid[REQUEST_ID_MAX + 1]; /* X-Request-Id: the client's, or one made here */
} request_state;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- request deadlines */

/* Tracks each connection from accept to close (MHD_OPTION_NOTIFY_CONNECTION). libmicrohttpd
 * notifies CLOSED before it closes the socket, so the watchdog never touches a reused fd. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    embp_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_entry *e = ci ? embp_calloc(1, sizeof *e) : NULL;
        if (!e) /* no deadline for this one; the idle timeout still applies */
            return;
        e->fd = ci->connect_fd;
        e->deadline_us = now_us() + (int64_t)s->ctx.cfg->timeout_s * 1000000;
        /* Without a cap, Linux autotunes a socket's send buffer up to tcp_wmem's 4 MiB: a reply
         * that fits is "sent" at once and then trickles out to a slow reader after close,
         * beyond any deadline. 256 KiB keeps the rest of a big reply in our hands. */
        int sndbuf = 256 * 1024;
        setsockopt(e->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        pthread_mutex_lock(&s->conn_mu);
        e->next = s->conns;
        if (s->conns)
            s->conns->prev = e;
        s->conns = e;
        pthread_mutex_unlock(&s->conn_mu);
        *socket_context = e;
    } else if (*socket_context) {
        conn_entry *e = *socket_context;
        pthread_mutex_lock(&s->conn_mu);
        if (e->prev)
            e->prev->next = e->next;
        else
            s->conns = e->next;
        if (e->next)
            e->next->prev = e->prev;
        pthread_mutex_unlock(&s->conn_mu);
        embp_free(e);
        *socket_context = NULL;
    }
}

/* c's entry in the watchdog's list, or NULL. */
static conn_entry *entry_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Sets the id of c's current request ("": none), for the watchdog's log line. */
static void set_request_id(embp_server *s, struct MHD_Connection *c, const char *rid) {
    conn_entry *e = entry_of(c);
    if (!e)
        return;
    pthread_mutex_lock(&s->conn_mu);
    snprintf(e->rid, sizeof e->rid, "%s", rid);
    pthread_mutex_unlock(&s->conn_mu);
}

/* Sets c's phase and deadline: none while the model works, now + timeout to receive the next
 * request or to send the reply. */
static void set_phase(embp_server *s, struct MHD_Connection *c, conn_phase phase) {
    conn_entry *e = entry_of(c);
    if (!e)
        return;
    pthread_mutex_lock(&s->conn_mu);
    e->phase = phase;
    e->deadline_us =
        phase == PHASE_WORKING ? 0 : now_us() + (int64_t)s->ctx.cfg->timeout_s * 1000000;
    pthread_mutex_unlock(&s->conn_mu);
}

/* Every 200 ms: shuts down the sockets of connections past their deadline. libmicrohttpd's
 * thread for the connection then reads EOF and closes it as a client abort. */
static void *watchdog_main(void *arg) {
    embp_server *s = arg;
    pthread_mutex_lock(&s->conn_mu);
    while (!s->watchdog_stop) {
        int64_t now = now_us();
        for (conn_entry *e = s->conns; e; e = e->next) {
            if (e->deadline_us && now > e->deadline_us) {
                /* A reply still in the kernel's send buffer (MBs on loopback) would trickle
                 * out after a plain shutdown: linger 0 makes libmicrohttpd's close a reset. */
                if (e->phase == PHASE_SENDING)
                    setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &(struct linger){1, 0},
                               sizeof(struct linger));
                shutdown(e->fd, SHUT_RDWR);
                e->deadline_us = 0;
                embp_log_fields f = {.request_id = e->rid[0] ? e->rid : NULL, .status = -1,
                                     .latency_ms = -1, .inputs = -1, .tokens = -1};
                embp_logger_log(&s->ctx.log, EMBP_LOG_INFO, &f, "closed a connection that %s "
                                "within %ld s (EMB_PROVIDER_TIMEOUT_S)",
                                e->phase == PHASE_SENDING ? "did not read its whole reply"
                                                          : "sent no complete request",
                                s->ctx.cfg->timeout_s);
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->conn_cv, &s->conn_mu, &ts);
    }
    pthread_mutex_unlock(&s->conn_mu);
    return NULL;
}

/* ---------------------------------------------------------------- requests */

/* Queues r's body with status and headers (Content-Type, X-Request-Id, plus r->hdr if set),
 * freeing r's buffer when sent; counts it for /metrics and logs the request's line. */
static enum MHD_Result send_reply(struct MHD_Connection *c, embp_server *s, embp_reply *r,
                                  const char *method, const char *url, request_state *st) {
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
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, "X-Request-Id", st->rid);
    for (int i = 0; i < r->n_hdr; i++)
        MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    set_phase(s, c, PHASE_SENDING); /* a slow reader gets timeout_s for the whole reply */
    double seconds = (double)(now_us() - st->t0) / 1e6;
    const char *route = r->route ? r->route : embp_route_name(url);
    embp_metrics_request(s->ctx.metrics, route, r->status, seconds);
    char m[40], u[600]; /* the client chose both: a raw newline would forge a text log line */
    embp_log_escape(method, m, sizeof m);
    embp_log_escape(url, u, sizeof u);
    embp_log_fields f = {.request_id = st->rid, .method = method, .path = url,
                         .route = route ? route : "unmatched", .status = r->status,
                         .latency_ms = seconds * 1000.0, .inputs = r->inputs,
                         .tokens = r->tokens}; /* JSON escapes method and url itself */
    embp_logger_log(&s->ctx.log, EMBP_LOG_INFO, &f, "%s %s", m, u);
    return ret;
}

/* 1 when the client of the connection on *fd has closed it or reset it. Data waiting (a
 * pipelined next request) means it is still there. Runs on the connection's own thread. */
static int client_gone(void *fd) {
    char b;
    ssize_t n = recv(*(MHD_socket *)fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
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

/* 1 when id (the client's X-Request-Id) is 1..REQUEST_ID_MAX visible ASCII characters
 * (0x21..0x7e): no space, which would split a text log line's fields, and no control byte. */
static int valid_request_id(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return 0;
    return 1;
}

/* splitmix64's finalizer: a bijection, so distinct counters give distinct ids. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The client's X-Request-Id when valid, else a new one: 32 hex digits, unique per request in
 * this process (a counter through a bijection) and unlike another process's (a random seed). */
static void take_request_id(embp_server *s, struct MHD_Connection *c, char *out) {
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (valid_request_id(id)) {
        snprintf(out, REQUEST_ID_MAX + 1, "%s", id);
        return;
    }
    uint64_t n = atomic_fetch_add(&s->ctx.next_id, 1) + 1;
    snprintf(out, REQUEST_ID_MAX + 1, "%016llx%016llx",
             (unsigned long long)mix64(s->id_seed[0] + n), (unsigned long long)s->id_seed[1]);
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
        take_request_id(s, c, st->rid);
        set_request_id(s, c, st->rid);
        /* Route problems and an announced oversize body are answered before reading it. */
        embp_reply r = {.request_id = st->rid};
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (embp_static_handle(&s->ctx, method, url, inm, &r) || /* the web pages: no key */
            embp_route_precheck(&s->ctx, method, url, auth, type, &r))
            return send_reply(c, s, &r, method, url, st);
        if (declared_too_big(s, c)) {
            embp_route_too_big(&s->ctx, &r);
            return send_reply(c, s, &r, method, url, st);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(s, st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    set_phase(s, c, PHASE_WORKING); /* the whole request is in: answering may take its time */
    embp_reply r = {0};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    MHD_socket fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
    if (fd != MHD_INVALID_SOCKET) {
        r.client_gone = client_gone;
        r.client = &fd;
    }
    r.request_id = st->rid;
    embp_route_complete(&s->ctx, method, url, &st->body, st->too_big, &r);
    return send_reply(c, s, &r, method, url, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)toe;
    embp_server *s = cls;
    request_state *st = *con_cls;
    set_phase(s, c, PHASE_RECEIVING); /* a keep-alive connection's next request */
    set_request_id(s, c, "");
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

/* Frees s after its daemon and watchdog have stopped (or never started). */
static void server_release(embp_server *s) {
    if (s->watchdog_started) {
        pthread_mutex_lock(&s->conn_mu);
        s->watchdog_stop = 1;
        pthread_cond_signal(&s->conn_cv);
        pthread_mutex_unlock(&s->conn_mu);
        pthread_join(s->watchdog, NULL);
    }
    pthread_mutex_destroy(&s->conn_mu);
    pthread_cond_destroy(&s->conn_cv);
    embp_quant_ranges_free(&s->ctx.ranges);
    embp_metrics_free(s->ctx.metrics);
    embp_free(s->ctx.openapi);
    embp_free(s);
}

/* Starts libmicrohttpd on ss: a thread per connection, the connection limit (beyond it new
 * connections wait in the kernel's listen backlog), the per-address limit (beyond it
 * libmicrohttpd closes a new connection at once: one client cannot take every slot) and the
 * idle timeout. */
static struct MHD_Daemon *start_daemon(embp_server *s, struct sockaddr_storage *ss, int v6) {
    const embp_config *cfg = s->ctx.cfg;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0);
    return MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)(1 << 20), MHD_OPTION_END);
}

embp_status embp_server_start(const embp_config *cfg, embp_registry_model *models, int n_models,
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
    s->ctx.log = (embp_logger){s->ctx.log_level, embp_log_format_parse(cfg->log_format) ==
                               EMBP_LOG_JSON ? EMBP_LOG_JSON : EMBP_LOG_TEXT};
    if (getrandom(s->id_seed, sizeof s->id_seed, 0) != (ssize_t)sizeof s->id_seed) {
        s->id_seed[0] = (uint64_t)now_us(); /* no entropy: still unique within the process */
        s->id_seed[1] = (uint64_t)getpid();
    }
    pthread_mutex_init(&s->conn_mu, NULL);
    pthread_cond_init(&s->conn_cv, NULL);
    if (embp_quant_ranges_parse(cfg->quantize_ranges, "EMB_PROVIDER_QUANTIZE_RANGES",
                                &s->ctx.ranges, err) != EMBP_OK) {
        server_release(s);
        return err->code;
    }
    if (!(s->ctx.metrics = embp_metrics_create(models, n_models))) {
        server_release(s);
        return embp_fail(err, EMBP_ENOMEM, "server: out of memory for the metrics");
    }
    if (!(s->ctx.openapi = embp_openapi_build(cfg, &s->ctx.openapi_len, err))) {
        server_release(s);
        return err->code;
    }
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
        server_release(s);
        return embp_fail(err, EMBP_ENOMEM, "server: cannot start the watchdog thread");
    }
    s->watchdog_started = 1;
    errno = 0;
    s->daemon = start_daemon(s, &ss, v6);
    if (!s->daemon) {
        int e = errno;
        server_release(s);
        return embp_fail(err, EMBP_EIO, "cannot listen on %s:%ld: %s (EMB_PROVIDER_HOST, "
                         "EMB_PROVIDER_PORT)", cfg->host, cfg->port, e ? strerror(e) :
                         "address in use, or not allowed?");
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
    server_release(s);
    return left;
}
