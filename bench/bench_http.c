/* A load client for a running embp server: N threads, each with its own keep-alive HTTP/1.1
 * connection, POST /v1/embeddings back to back for S seconds. Not a test of answers beyond
 * "200 with K embeddings": tests/load_client.mjs compares vectors.
 *   bench_http --port P [--host 127.0.0.1] [--clients N] [--seconds S] [--text T] [--inputs K]
 *              [--api-key KEY]
 * Prints one JSON line: clients, inputs, requests, errors, rps, inputs_per_s, tokens_per_s (the
 * server's usage.prompt_tokens), p50_ms, p99_ms (of the good requests), reconnects (requests
 * sent again after the server closed an idle kept-alive connection). Exits 1 when every
 * request failed. Plain sockets and a hand-written reader, so no client library's overhead and
 * no process start-up lands in the figures (curl per request adds both). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

typedef struct {
    const char *host, *text, *api_key;
    int port, clients, inputs;
    double seconds;
} options;

/* Shared by the threads: the request (built once) and the start line they wait at. */
typedef struct {
    const options *o;
    char *request; /* head and body, sent as is every time */
    size_t request_len;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;            /* threads connected and warmed up */
    double start, finish; /* start: set by the last thread ready; finish: the latest return */
} shared;

typedef struct {
    shared *s;
    long requests, errors, tokens, reconnects;
    double *lat_ms; /* (requests) latencies of the good requests */
    size_t cap;
    char msg[160]; /* the first error */
} client;

/* ---------------------------------------------------------------- the request */

/* Appends text to out (cap bytes, *n used) as a JSON string. Returns 0 when out is full. */
static int json_string(char *out, size_t cap, size_t *n, const char *text) {
    size_t k = *n;
    if (k + 1 >= cap)
        return 0;
    out[k++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (k + 8 >= cap)
            return 0;
        if (*p == '"' || *p == '\\')
            k += (size_t)snprintf(out + k, cap - k, "\\%c", *p);
        else if (*p < 0x20)
            k += (size_t)snprintf(out + k, cap - k, "\\u%04x", *p);
        else
            out[k++] = (char)*p;
    }
    out[k++] = '"';
    *n = k;
    return 1;
}

/* The whole request: {"input": TEXT} for one input, {"input": [TEXT, ...]} for more. */
static char *build_request(const options *o, size_t *len) {
    size_t cap = (strlen(o->text) * 6 + 8) * (size_t)o->inputs + 64, n = 0;
    char *body = malloc(cap);
    if (!body)
        return NULL;
    n += (size_t)snprintf(body, cap, "{\"input\":%s", o->inputs > 1 ? "[" : "");
    for (int i = 0; i < o->inputs; i++) {
        if (i > 0)
            body[n++] = ',';
        if (!json_string(body, cap, &n, o->text)) {
            free(body);
            return NULL;
        }
    }
    n += (size_t)snprintf(body + n, cap - n, "%s}", o->inputs > 1 ? "]" : "");
    char auth[300] = "";
    if (o->api_key)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", o->api_key);
    size_t head_cap = 512 + strlen(auth), total = head_cap + n;
    char *req = malloc(total);
    if (!req) {
        free(body);
        return NULL;
    }
    int h = snprintf(req, head_cap, "POST /v1/embeddings HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: "
                     "application/json\r\n%sContent-Length: %zu\r\n\r\n", o->host, o->port, auth,
                     n);
    memcpy(req + h, body, n);
    free(body);
    *len = (size_t)h + n;
    return req;
}

/* ---------------------------------------------------------------- one connection */

static int connect_to(const options *o) {
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(o->host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1; /* the request goes out in one send; do not hold its tail back */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A growing receive buffer; data[0..len) holds bytes read and not yet consumed. */
typedef struct {
    char *data;
    size_t len, cap;
} rbuf;

/* Reads more bytes into r. Returns 0 on EOF or error. */
static int fill(int fd, rbuf *r) {
    if (r->len + 4096 + 1 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 65536;
        char *d = realloc(r->data, cap);
        if (!d)
            return 0;
        r->data = d;
        r->cap = cap;
    }
    ssize_t k;
    do
        k = recv(fd, r->data + r->len, r->cap - r->len - 1, 0);
    while (k < 0 && errno == EINTR);
    if (k <= 0)
        return 0;
    r->len += (size_t)k;
    r->data[r->len] = '\0';
    return 1;
}

/* The value of header name (with its ':') in head, or NULL. */
static const char *header(const char *head, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0) {
            p += n;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

/* Reads one response on fd into r: *status, body at r->data + *body_off, *body_len bytes.
 * Handles Content-Length and chunked bodies (chunks are joined in place). *close_after is set
 * when the server says Connection: close. Returns 0 on a broken connection or reply. */
static int read_response(int fd, rbuf *r, int *status, size_t *body_off, size_t *body_len,
                         int *close_after) {
    char *end;
    while (!r->data || !(end = strstr(r->data, "\r\n\r\n")))
        if (!fill(fd, r))
            return 0;
    size_t hl = (size_t)(end - r->data) + 4;
    end[2] = '\0'; /* headers end "\r\n" for header() */
    if (sscanf(r->data, "HTTP/1.%*d %d", status) != 1)
        return 0;
    const char *cl = header(r->data, "content-length:"), *te = header(r->data,
                                                                      "transfer-encoding:");
    const char *conn = header(r->data, "connection:");
    *close_after = conn && strncasecmp(conn, "close", 5) == 0;
    *body_off = hl;
    if (cl) {
        size_t n = strtoul(cl, NULL, 10);
        while (r->len < hl + n)
            if (!fill(fd, r))
                return 0;
        *body_len = n;
        return 1;
    }
    if (!te || strncasecmp(te, "chunked", 7) != 0)
        return 0; /* a body that ends at close: not keep-alive, not what embp sends */
    size_t in = hl, out = hl; /* chunks are copied down to out as they complete */
    for (;;) {
        char *eol;
        while (!(eol = strstr(r->data + in, "\r\n")))
            if (!fill(fd, r))
                return 0;
        size_t n = strtoul(r->data + in, NULL, 16), data = (size_t)(eol - r->data) + 2;
        while (r->len < data + n + 2)
            if (!fill(fd, r))
                return 0;
        memmove(r->data + out, r->data + data, n);
        out += n;
        in = data + n + 2;
        if (n == 0)
            break; /* no trailers from embp: the last chunk's CRLF ends the body */
    }
    *body_len = out - hl;
    /* Keep what follows the body for the next response (there is none with one in flight). */
    memmove(r->data + out, r->data + in, r->len - in);
    r->len = out + (r->len - in);
    r->data[r->len] = '\0';
    return 1;
}

/* Drops the response just read (body_off + body_len bytes) from the front of r. */
static void consume(rbuf *r, size_t n) {
    memmove(r->data, r->data + n, r->len - n);
    r->len -= n;
    r->data[r->len] = '\0';
}

/* How many "embedding" arrays the body holds, and its usage.prompt_tokens (0 if absent). */
static int count_embeddings(const char *body, long *tokens) {
    int n = 0;
    for (const char *p = body; (p = strstr(p, "\"embedding\":")); p++)
        n++;
    const char *t = strstr(body, "\"prompt_tokens\":");
    *tokens = t ? atol(t + 16) : 0;
    return n;
}

/* One request on *fd (reconnecting first when *fd < 0). Returns 1 when it got 200 with the
 * expected embeddings; adds the prompt tokens to *tokens. A kept-alive connection the server
 * closed while it was idle (uvicorn closes them after 5 s; a client waiting at the start line
 * idles that long) fails before any byte of the answer: that request is sent once more on a new
 * connection, as HTTP clients do with a stale pooled connection, and counted in reconnects; its
 * latency includes both attempts. */
static int one_request(client *c, int *fd, rbuf *r, long *tokens) {
    const options *o = c->s->o;
    int reused = *fd >= 0, ok = 0, status = 0, close_after = 0;
    size_t off = 0, len = 0;
    for (int attempt = 0; attempt < 2 && !ok; attempt++) {
        if (attempt > 0) {
            if (!reused || r->len > 0)
                break; /* a fresh connection broke, or the answer had begun: an error */
            close(*fd);
            *fd = -1;
            c->reconnects++;
        }
        if (*fd < 0 && (*fd = connect_to(o)) < 0) {
            snprintf(c->msg, sizeof c->msg, "cannot connect to %s:%d: %s", o->host, o->port,
                     strerror(errno));
            return 0;
        }
        ok = send_all(*fd, c->s->request, c->s->request_len) == 0 &&
             read_response(*fd, r, &status, &off, &len, &close_after);
    }
    if (!ok) {
        snprintf(c->msg, sizeof c->msg, "connection broken mid-request");
        close(*fd);
        *fd = -1;
        r->len = 0;
        return 0;
    }
    char save = r->data[off + len];
    r->data[off + len] = '\0';
    long t = 0;
    int n = count_embeddings(r->data + off, &t);
    if (status != 200 || n != o->inputs) {
        ok = 0;
        snprintf(c->msg, sizeof c->msg, "status %d, %d embeddings (want %d): %.80s", status, n,
                 o->inputs, r->data + off);
    }
    r->data[off + len] = save;
    consume(r, off + len);
    if (close_after) {
        close(*fd);
        *fd = -1;
        r->len = 0;
    }
    if (ok)
        *tokens += t;
    return ok;
}

/* ---------------------------------------------------------------- clients */

static void *client_main(void *arg) {
    client *c = arg;
    shared *s = c->s;
    int fd = -1;
    rbuf r = {0};
    long warm = 0;
    for (int i = 0; i < 2; i++) /* connect and warm up off the clock */
        one_request(c, &fd, &r, &warm);
    pthread_mutex_lock(&s->mu);
    if (++s->ready == s->o->clients) {
        s->start = embp_clock_s(CLOCK_MONOTONIC);
        pthread_cond_broadcast(&s->cv);
    }
    while (s->ready < s->o->clients)
        pthread_cond_wait(&s->cv, &s->mu);
    double deadline = s->start + s->o->seconds;
    pthread_mutex_unlock(&s->mu);
    for (double t0 = embp_clock_s(CLOCK_MONOTONIC); t0 < deadline;
         t0 = embp_clock_s(CLOCK_MONOTONIC)) {
        long tokens = 0;
        int ok = one_request(c, &fd, &r, &tokens);
        double ms = 1000.0 * (embp_clock_s(CLOCK_MONOTONIC) - t0);
        if (!ok) {
            c->errors++;
            if (fd < 0)
                usleep(10000); /* a refused connection would spin */
            continue;
        }
        if ((size_t)c->requests == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 1024;
            double *l = realloc(c->lat_ms, cap * sizeof *l);
            if (!l)
                break;
            c->lat_ms = l;
            c->cap = cap;
        }
        c->lat_ms[c->requests++] = ms;
        c->tokens += tokens;
    }
    double end = embp_clock_s(CLOCK_MONOTONIC);
    pthread_mutex_lock(&s->mu);
    if (end > s->finish)
        s->finish = end;
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0)
        close(fd);
    free(r.data);
    return NULL;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The q-quantile of sorted a[n] (nearest rank), or 0 when n is 0. */
static double quantile(const double *a, long n, double q) {
    if (n == 0)
        return 0;
    long k = (long)(q * (double)n + 0.999999) - 1;
    return a[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static int usage(void) {
    fprintf(stderr, "usage: bench_http --port P [--host H] [--clients N] [--seconds S] "
                    "[--text T] [--inputs K] [--api-key KEY]\n");
    return 2;
}

int main(int argc, char **argv) {
    options o = {.host = "127.0.0.1", .port = 0, .clients = 1, .inputs = 1, .seconds = 2,
                 .text = "The quick brown fox jumps over the lazy dog by the river bank today."};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(a, "--port"))
            o.port = atoi(v);
        else if (!strcmp(a, "--host"))
            o.host = v;
        else if (!strcmp(a, "--clients"))
            o.clients = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--text"))
            o.text = v;
        else if (!strcmp(a, "--inputs"))
            o.inputs = atoi(v);
        else if (!strcmp(a, "--api-key"))
            o.api_key = v;
        else
            return usage();
        i++;
    }
    if (o.port < 1 || o.port > 65535 || o.clients < 1 || o.clients > 4096 || o.inputs < 1 ||
        o.seconds <= 0)
        return usage();
    shared s = {.o = &o, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    s.request = build_request(&o, &s.request_len);
    client *cs = calloc((size_t)o.clients, sizeof *cs);
    pthread_t *th = calloc((size_t)o.clients, sizeof *th);
    if (!s.request || !cs || !th) {
        fprintf(stderr, "bench_http: out of memory\n");
        return 1;
    }
    for (int i = 0; i < o.clients; i++) {
        cs[i].s = &s;
        if (pthread_create(&th[i], NULL, client_main, &cs[i]) != 0) {
            fprintf(stderr, "bench_http: cannot start client %d\n", i);
            return 1;
        }
    }
    long requests = 0, errors = 0, tokens = 0, reconnects = 0;
    for (int i = 0; i < o.clients; i++) {
        pthread_join(th[i], NULL);
        requests += cs[i].requests;
        errors += cs[i].errors;
        tokens += cs[i].tokens;
        reconnects += cs[i].reconnects;
    }
    double *all = malloc((size_t)(requests > 0 ? requests : 1) * sizeof *all);
    long k = 0;
    for (int i = 0; i < o.clients; i++) {
        if (cs[i].requests > 0)
            memcpy(all + k, cs[i].lat_ms, (size_t)cs[i].requests * sizeof *all);
        k += cs[i].requests;
    }
    qsort(all, (size_t)requests, sizeof *all, cmp_double);
    double secs = s.finish - s.start;
    printf("{\"clients\":%d,\"inputs\":%d,\"seconds\":%.3f,\"requests\":%ld,\"errors\":%ld,"
           "\"rps\":%.2f,\"inputs_per_s\":%.1f,\"tokens_per_s\":%.1f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"reconnects\":%ld}\n",
           o.clients, o.inputs, secs, requests, errors, (double)requests / secs,
           (double)requests * o.inputs / secs, (double)tokens / secs,
           quantile(all, requests, 0.50), quantile(all, requests, 0.99), reconnects);
    for (int i = 0; i < o.clients; i++) {
        if (cs[i].errors) {
            fprintf(stderr, "bench_http: client %d: %ld errors, e.g. %s\n", i, cs[i].errors,
                    cs[i].msg);
            break;
        }
    }
    for (int i = 0; i < o.clients; i++)
        free(cs[i].lat_ms);
    free(all);
    free(cs);
    free(th);
    free(s.request);
    return requests > 0 ? 0 : 1;
}
