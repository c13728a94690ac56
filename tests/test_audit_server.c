/* The HTTP layer's holes found by the code audit (issue 12), over real sockets against an
 * in-process server on the tiny fixture (minilm for the abandoned-work case):
 * - the request line reaches the log escaped (item 5: `GET /x%0A...` forged log lines);
 * - an error message quoting a URL cut inside a UTF-8 character is still valid UTF-8 (item 5);
 * - EMB_PROVIDER_MAX_CONNECTIONS_PER_IP closes a client's extra connections (item 3);
 * - a client reading its reply a few bytes at a time is cut at EMB_PROVIDER_TIMEOUT_S (item 3);
 * - a client that sends a large request and disconnects has its queued work dropped (item 6). */
#include "srvutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <time.h>

#include "runtime/batcher.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void expect_ok(srv_fixture *f, const char *after) {
    json_t *q = json_pack("{s:s}", "input", "hello world"), *reply;
    int st = su_post(f->port, q, &reply, NULL);
    json_decref(q);
    if (st != 200 || json_array_size(json_object_get(reply, "data")) != 1)
        fail_msg("after %s: a plain request got %d", after, st);
    json_decref(reply);
}

/* Sends raw bytes as one request and returns the reply (closing the connection). */
static httpc_reply raw_request(int port, const char *req) {
    httpc_reply r = {0};
    int fd = httpc_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(httpc_send_all(fd, req, strlen(req)), 0);
    char *raw;
    size_t n = httpc_read_all(fd, &raw, 3000);
    close(fd);
    httpc_parse(raw, n, &r);
    return r;
}

/* Sends body as a POST /v1/embeddings on fd (keep-alive). */
static void send_post(int fd, const char *body) {
    char head[256];
    snprintf(head, sizeof head, "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    assert_int_equal(httpc_send_all(fd, head, strlen(head)), 0);
    assert_int_equal(httpc_send_all(fd, body, strlen(body)), 0);
}

/* ---------------------------------------------------------------- log forgery */

static void info_log(embp_config *c) {
    c->log_level = "info";
}

static void test_request_line_is_escaped_in_the_log(void **state) {
    (void)state;
    srv_fixture *f = su_start("tiny", info_log);
    char path[] = "/tmp/embp_audit_log_XXXXXX";
    int lf = mkstemp(path);
    assert_true(lf >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(lf, 2);
    httpc_reply r = raw_request(f->port, "GET /x%0A2026-01-01T00:00:00.000Z%20INFO%20req=1%20"
                                         "GET%20/admin%20status=200%1B[0m HTTP/1.1\r\nHost: x\r\n"
                                         "Connection: close\r\n\r\n");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    su_stop(f);
    assert_int_equal(r.status, 404);
    httpc_free(&r);
    size_t n;
    char *log = tu_read_file(path, &n);
    close(lf);
    unlink(path);
    assert_non_null(log);
    if (strstr(log, "\n2026-01-01T00:00:00.000Z") || strchr(log, '\x1b'))
        fail_msg("the log holds a forged line or a raw escape:\n%s", log);
    if (!strstr(log, "/x\\x0A2026-01-01T00:00:00.000Z INFO req=1 GET /admin status=200\\x1B[0m"))
        fail_msg("the request line is not in the log, escaped:\n%s", log);
    free(log);
}

/* 199 bytes of path then "é": the 404 message quotes at most 200 bytes of it. */
static void test_error_quoting_a_cut_url_is_valid_utf8(void **state) {
    (void)state;
    srv_fixture *f = su_start("tiny", NULL);
    char req[1024], path[300];
    memset(path, 'a', 199);
    path[0] = '/';
    strcpy(path + 199, "%C3%A9%C3%A9");
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    httpc_reply r = raw_request(f->port, req);
    assert_int_equal(r.status, 404);
    json_error_t je;
    json_t *v = json_loads(r.body, 0, &je);
    if (!v)
        fail_msg("the 404 body is not valid JSON (%s): %.300s", je.text, r.body);
    json_decref(v);
    httpc_free(&r);
    su_stop(f);
}

/* ---------------------------------------------------------------- per-address limit */

static void per_ip_2(embp_config *c) {
    c->max_connections_per_ip = 2;
}

/* 1 when the server closes fd (EOF or reset) within ms. */
static int closed_within(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    char c;
    return recv(fd, &c, 1, 0) <= 0;
}

static void test_connections_per_address_are_limited(void **state) {
    (void)state;
    srv_fixture *f = su_start("tiny", per_ip_2);
    int a = httpc_connect(f->port), b = httpc_connect(f->port);
    assert_true(a >= 0 && b >= 0);
    usleep(200000); /* both accepted */
    int c = httpc_connect(f->port); /* the kernel accepts; libmicrohttpd then closes it */
    int cut = c < 0 || closed_within(c, 2000);
    if (c >= 0)
        close(c);
    assert_false(closed_within(a, 100)); /* the first two stay open */
    close(a);
    close(b);
    usleep(200000);
    expect_ok(f, "the per-address limit");
    su_stop(f);
    if (!cut)
        fail_msg("a third connection from 127.0.0.1 stayed open with "
                 "EMB_PROVIDER_MAX_CONNECTIONS_PER_IP=2");
}

/* ---------------------------------------------------------------- slow reader */

static void timeout_2(embp_config *c) {
    c->timeout_s = 2;
}

/* A request for 2048 rows of minilm (~8.6 MB of JSON), then at most 64 kB read every 500 ms
 * (128 kB/s: the whole reply would take over a minute, and the send progresses every read, so
 * libmicrohttpd's idle timer never fires). */
static void test_slow_reader_is_cut_at_the_timeout(void **state) {
    (void)state;
    srv_fixture *f = su_start("minilm", timeout_2);
    json_t *in = json_array();
    for (int i = 0; i < 2048; i++)
        json_array_append_new(in, json_string("slow"));
    json_t *q = json_pack("{s:o}", "input", in);
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 65536; /* no autotuning to MBs: the reply stays on the server's side */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)f->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    send_post(fd, body);
    free(body);
    double t0 = now_s(), first = -1, cut = -1;
    long got = 0;
    while (first < 0 ? now_s() - t0 < 120 : now_s() - t0 - first < 20) {
        static char buf[65536];
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) {
            cut = now_s() - t0;
            break;
        }
        if (first < 0)
            first = now_s() - t0;
        got += k;
        usleep(500000);
    }
    close(fd);
    expect_ok(f, "a slow reader");
    su_stop(f);
    if (cut < 0)
        fail_msg("a client reading 128 kB/s was never cut off (%ld bytes in 20 s after the "
                 "first)", got);
    print_message("slow reader: first byte after %.2f s, cut after %.2f s, %ld bytes read\n",
                  first, cut, got);
    assert_true(got < 8000000); /* cut, not finished */
}

/* ---------------------------------------------------------------- abandoned work */

static void test_work_of_a_client_that_left_is_dropped(void **state) {
    (void)state;
    srv_fixture *f = su_start("minilm", NULL);
    enum { N = 1000 };
    json_t *in = json_array();
    for (int i = 0; i < N; i++)
        json_array_append_new(in, json_string("the quick brown fox jumps over the lazy dog, "
                                              "again and again, for as long as it takes to "
                                              "make this input about fifty tokens long, which "
                                              "it now is, give or take a few words"));
    json_t *q = json_pack("{s:o}", "input", in);
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    int fd = httpc_connect(f->port);
    send_post(fd, body);
    free(body);
    embp_batcher *b = f->models[0].batcher;
    double t0 = now_s();
    while (embp_batcher_queued_tokens(b) == 0 && now_s() - t0 < 20) /* tokenized and queued */
        usleep(2000);
    close(fd); /* the client leaves */
    embp_batcher_stats st, st2;
    do { /* the model goes idle */
        embp_batcher_get_stats(b, &st);
        usleep(300000);
        embp_batcher_get_stats(b, &st2);
    } while ((st.sequences != st2.sequences || embp_batcher_queued_tokens(b) > 0) &&
             now_s() - t0 < 120);
    print_message("abandoned request: %ld of %d sequences ran, idle after %.2f s\n",
                  st2.sequences, N, now_s() - t0);
    expect_ok(f, "an abandoned request");
    su_stop(f);
    if (st2.sequences >= N)
        fail_msg("all %d sequences of a request whose client left were run", N);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_line_is_escaped_in_the_log),
        cmocka_unit_test(test_error_quoting_a_cut_url_is_valid_utf8),
        cmocka_unit_test(test_connections_per_address_are_limited),
        cmocka_unit_test(test_slow_reader_is_cut_at_the_timeout),
        cmocka_unit_test(test_work_of_a_client_that_left_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
