/* A minimal blocking HTTP/1.1 client for the server tests: raw requests over a real socket, so
 * tests control every byte (bad bodies, lying Content-Length, slow senders). */
#ifndef EMBP_TESTS_HTTPC_H
#define EMBP_TESTS_HTTPC_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int status;
    char *head; /* status line and headers */
    char *body; /* NUL-terminated */
    size_t body_len;
} httpc_reply;

static inline int httpc_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static inline int httpc_send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads until the peer closes (or timeout_ms of silence); returns bytes read, malloc'd in *out. */
static inline size_t httpc_read_all(int fd, char **out, int timeout_ms) {
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    *out = buf;
    return len;
}

static inline void httpc_parse(char *raw, size_t len, httpc_reply *r) {
    memset(r, 0, sizeof *r);
    char *sep = strstr(raw, "\r\n\r\n");
    if (!sep || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1) {
        r->head = raw;
        r->body = strdup("");
        return;
    }
    size_t hl = (size_t)(sep - raw);
    r->body_len = len - hl - 4;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    raw[hl] = '\0';
    r->head = raw;
}

/* Sends method url with body (may be NULL), extra header lines (each ending "\r\n", may be
 * NULL) and Content-Type content_type (NULL: none); reads the whole reply. status -1 when the
 * connection failed. */
static inline httpc_reply httpc_request_typed(int port, const char *method, const char *url,
                                              const char *headers, const char *content_type,
                                              const char *body, size_t body_len) {
    httpc_reply r = {-1, NULL, NULL, 0};
    int fd = httpc_connect(port);
    if (fd < 0)
        return r;
    char head[2048];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                     "\r\n%s", method, url, headers ? headers : "");
    if (content_type)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    char *raw = NULL;
    if (httpc_send_all(fd, head, (size_t)n) == 0 && (!body || httpc_send_all(fd, body, body_len)
                                                     == 0)) {
        size_t len = httpc_read_all(fd, &raw, 30000);
        httpc_parse(raw, len, &r);
    }
    close(fd);
    return r;
}

/* httpc_request_typed, a body sent as application/json. */
static inline httpc_reply httpc_request(int port, const char *method, const char *url,
                                        const char *headers, const char *body, size_t body_len) {
    return httpc_request_typed(port, method, url, headers, body ? "application/json" : NULL,
                               body, body_len);
}

static inline void httpc_free(httpc_reply *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* The value of header name in r (case-insensitive name), copied into out; 0 if absent. */
static inline int httpc_header(const httpc_reply *r, const char *name, char *out, size_t size) {
    size_t n = strlen(name);
    for (const char *p = r->head; p && (p = strstr(p, "\r\n")); ) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)strcspn(v, "\r\n"), v);
            return 1;
        }
    }
    return 0;
}

#endif
