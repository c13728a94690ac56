/* Hostile and broken clients against the in-process server (tiny fixture, real sockets): slow
 * senders, clients that vanish mid-body or mid-batch, pipelining, oversize headers and bodies,
 * chunked bodies, bad strings, deep nesting, huge arrays, too many connections. After each
 * case the server must still answer /health and real requests correctly. */
#include "srvutil.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

static srv_fixture *F;
static json_t *peer;
static float expected[8][64]; /* peer texts 0..7, each embedded alone */

static void tweak(embp_config *c) {
    c->timeout_s = 2;
    c->max_request_bytes = 1 << 20;
}

static int setup(void **state) {
    *state = F = su_start("tiny", tweak);
    peer = F->peers[0];
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *text(int i) {
    return json_string_value(json_object_get(json_array_get(peer, (size_t)i), "text"));
}

/* The body of a request embedding text i alone. Free with free(). */
static char *one_text_body(int i) {
    json_t *q = json_pack("{s:s}", "input", text(i));
    char *s = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    return s;
}

/* An embeddings reply body (JSON) holds text i's vector in row `row` (max |diff| <= 1e-5 to
 * the same text's single-request answer; the batch it ran in may differ). */
static int reply_matches(const char *body, int row, int i, char *why, size_t n) {
    json_t *j = json_loads(body, 0, NULL);
    float got[64];
    int d = j ? su_row(j, row, got, 64) : -1;
    json_decref(j);
    if (d != 64) {
        snprintf(why, n, "row %d: not a 64-float embedding: %.200s", row, body);
        return 0;
    }
    for (int k = 0; k < 64; k++)
        if (fabsf(got[k] - expected[i][k]) > 1e-5f) {
            snprintf(why, n, "row %d (text %d) value %d: %.9g, alone %.9g", row, i, k,
                     (double)got[k], (double)expected[i][k]);
            return 0;
        }
    return 1;
}

/* The server answers /health and embeds text 3 correctly. */
static void expect_healthy(const char *after) {
    httpc_reply r = httpc_request(F->port, "GET", "/health", NULL, NULL, 0);
    if (r.status != 200)
        fail_msg("after %s: /health is %d", after, r.status);
    httpc_free(&r);
    char *body = one_text_body(3), why[300];
    r = httpc_request(F->port, "POST", "/v1/embeddings", NULL, body, strlen(body));
    if (r.status != 200 || !reply_matches(r.body, 0, 3, why, sizeof why))
        fail_msg("after %s: embedding got %d: %s", after, r.status, r.status == 200 ? why :
                 r.body);
    httpc_free(&r);
    free(body);
}

static void test_single_request_answers_match_the_peer(void **state) {
    (void)state;
    for (int i = 0; i < 8; i++) {
        char *body = one_text_body(i);
        httpc_reply r = httpc_request(F->port, "POST", "/v1/embeddings", NULL, body, strlen(body));
        assert_int_equal(r.status, 200);
        json_t *j = json_loads(r.body, 0, NULL);
        assert_int_equal(su_row(j, 0, expected[i], 64), 64);
        double want[64];
        su_peer_vec(json_array_get(peer, (size_t)i), want, 64);
        if (tu_cosine(expected[i], want, 64) < 0.99999)
            fail_msg("text %d: cosine %.7f to the peer", i, tu_cosine(expected[i], want, 64));
        json_decref(j);
        httpc_free(&r);
        free(body);
    }
}

/* ---------------------------------------------------------------- slow and vanishing */

typedef struct {
    int port;
    double cut_after; /* seconds until the server closed the connection; -1: never */
    int bytes_sent;
} slow_client;

/* Sends a request's headers one byte a second: each byte resets an idle timer, so only a
 * deadline on the whole request can stop it. */
static void *slowloris(void *p) {
    slow_client *s = p;
    const char *req = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      "\r\nContent-Length: 20\r\n\r\n{\"input\": \"hello\"}  ";
    int fd = httpc_connect(s->port);
    double t0 = now_s();
    s->cut_after = -1;
    for (size_t i = 0; fd >= 0 && i < strlen(req) && now_s() - t0 < 20; i++) {
        if (httpc_send_all(fd, req + i, 1) != 0)
            break;
        s->bytes_sent++;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 1000) > 0) { /* readable: closed (or answered, which is a failure) */
            char c;
            if (recv(fd, &c, 1, 0) <= 0)
                s->cut_after = now_s() - t0;
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_slowloris_is_cut_off_at_the_timeout_while_others_are_answered(void **state) {
    (void)state;
    slow_client s = {.port = F->port};
    pthread_t th;
    pthread_create(&th, NULL, slowloris, &s);
    for (int i = 0; i < 3; i++) { /* others keep being answered meanwhile */
        usleep(300000);
        expect_healthy("a slowloris connected");
    }
    pthread_join(th, NULL);
    if (s.cut_after < 0 || s.cut_after > 4.5)
        fail_msg("a client sending a byte a second was %s (timeout 2 s, %d bytes sent)",
                 s.cut_after < 0 ? "never cut off" : "cut off late", s.bytes_sent);
    print_message("slowloris cut off after %.2f s (%d bytes sent)\n", s.cut_after, s.bytes_sent);
    expect_healthy("a slowloris was cut off");
}

static void test_client_gone_mid_body_leaves_the_server_healthy(void **state) {
    (void)state;
    for (int i = 0; i < 5; i++) {
        int fd = httpc_connect(F->port);
        const char *head = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                           "Content-Type: application/json\r\n\r\n{\"input\": [\"abc";
        httpc_send_all(fd, head, strlen(head));
        usleep(20000);
        close(fd);
    }
    expect_healthy("clients vanished mid-body");
}

typedef struct {
    int port, failures;
    char why[300];
} steady_client;

/* Sends 6 requests of texts 0..7 (rotating) while another client misbehaves. */
static void *steady(void *p) {
    steady_client *c = p;
    for (int r = 0; r < 6; r++) {
        json_t *q = json_pack("{s:[s,s]}", "input", text(r % 8), text((r + 3) % 8));
        char *body = json_dumps(q, JSON_COMPACT);
        httpc_reply rep = httpc_request(c->port, "POST", "/v1/embeddings", NULL, body,
                                        strlen(body));
        if (rep.status != 200) {
            snprintf(c->why, sizeof c->why, "status %d: %.200s", rep.status, rep.body);
            c->failures++;
        } else if (!reply_matches(rep.body, 0, r % 8, c->why, sizeof c->why) ||
                   !reply_matches(rep.body, 1, (r + 3) % 8, c->why, sizeof c->why)) {
            c->failures++;
        }
        httpc_free(&rep);
        free(body);
        json_decref(q);
    }
    return NULL;
}

static void test_client_gone_while_its_batch_runs_others_still_get_answers(void **state) {
    (void)state;
    /* 1500 inputs of the corpus: a request that keeps the worker busy for a while. */
    json_t *in = json_array();
    for (int i = 0; i < 1500; i++)
        json_array_append_new(in, json_string(text(i % 81)));
    json_t *q = json_pack("{s:o}", "input", in);
    char *body = json_dumps(q, JSON_COMPACT);
    steady_client sc = {.port = F->port};
    pthread_t th;
    for (int k = 0; k < 3; k++) {
        int fd = httpc_connect(F->port);
        char head[256];
        int n = snprintf(head, sizeof head, "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                         strlen(body));
        httpc_send_all(fd, head, (size_t)n);
        httpc_send_all(fd, body, strlen(body));
        if (k == 0)
            pthread_create(&th, NULL, steady, &sc);
        usleep(30000); /* tokenized and queued: now vanish */
        close(fd);
    }
    pthread_join(th, NULL);
    if (sc.failures)
        fail_msg("%d of 6 requests failed beside vanishing clients, e.g. %s", sc.failures,
                 sc.why);
    expect_healthy("clients vanished while their batches ran");
    free(body);
    json_decref(q);
}

/* ---------------------------------------------------------------- one connection */

/* Reads one HTTP response with a Content-Length body from fd into r (leftover bytes stay in
 * *carry, *ncarry). Returns 0 on success. */
static int read_one(int fd, char *carry, size_t *ncarry, httpc_reply *r) {
    for (;;) {
        char *sep = memmem(carry, *ncarry, "\r\n\r\n", 4);
        if (sep) {
            size_t hl = (size_t)(sep - carry) + 4;
            const char *cl = strcasestr(carry, "Content-Length:");
            size_t bl = cl && cl < sep ? strtoul(cl + 15, NULL, 10) : 0;
            if (*ncarry >= hl + bl) {
                char *raw = malloc(hl + bl + 1);
                memcpy(raw, carry, hl + bl);
                raw[hl + bl] = '\0';
                httpc_parse(raw, hl + bl, r);
                memmove(carry, carry + hl + bl, *ncarry - hl - bl);
                *ncarry -= hl + bl;
                return 0;
            }
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return -1;
        ssize_t k = recv(fd, carry + *ncarry, 262144 - *ncarry, 0);
        if (k <= 0)
            return -1;
        *ncarry += (size_t)k;
    }
}

static int append_post(char *out, size_t cap, const char *body, int close_after) {
    return snprintf(out, cap, "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/json\r\nContent-Length: %zu\r\n%s\r\n%s", strlen(body),
                    close_after ? "Connection: close\r\n" : "", body);
}

static void test_pipelined_and_keep_alive_requests_share_one_connection(void **state) {
    (void)state;
    char *b0 = one_text_body(0), *b1 = one_text_body(1), *b2 = one_text_body(2);
    char *wire = malloc(65536), *carry = malloc(262144), why[300];
    size_t ncarry = 0;
    int n = append_post(wire, 65536, b0, 0);
    n += append_post(wire + n, 65536 - (size_t)n, b1, 0); /* pipelined: one write, two requests */
    int fd = httpc_connect(F->port);
    assert_int_equal(httpc_send_all(fd, wire, (size_t)n), 0);
    const int want[3] = {0, 1, 2};
    for (int k = 0; k < 3; k++) {
        if (k == 2) { /* keep-alive: a third request after both answers */
            n = append_post(wire, 65536, b2, 1);
            assert_int_equal(httpc_send_all(fd, wire, (size_t)n), 0);
        }
        httpc_reply r;
        if (read_one(fd, carry, &ncarry, &r) != 0)
            fail_msg("response %d on the shared connection never came", k);
        if (r.status != 200 || !reply_matches(r.body, 0, want[k], why, sizeof why))
            fail_msg("response %d: status %d, %s", k, r.status, r.status == 200 ? why : r.body);
        httpc_free(&r);
    }
    close(fd);
    free(wire);
    free(carry);
    free(b0);
    free(b1);
    free(b2);
    expect_healthy("pipelining");
}

/* ---------------------------------------------------------------- oversize and malformed */

static void test_oversize_headers_are_refused_with_431_or_400(void **state) {
    (void)state;
    size_t big = 100000;
    char *req = malloc(big + 256);
    int n = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Filler: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 5);
    int fd = httpc_connect(F->port);
    httpc_send_all(fd, req, (size_t)n + big + 4); /* may fail once the server has refused */
    char *raw;
    size_t len = httpc_read_all(fd, &raw, 5000);
    httpc_reply r;
    httpc_parse(raw, len, &r);
    if (r.status != 431 && r.status != 400 && r.status != 413)
        fail_msg("100 kB of headers got %d (expected 431, 413 or 400): %.200s", r.status,
                 r.head);
    httpc_free(&r);
    close(fd);
    free(req);
    expect_healthy("oversize headers");
}

static void test_oversize_body_is_413_before_it_is_read(void **state) {
    (void)state;
    int fd = httpc_connect(F->port);
    const char *head = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
                       "Content-Type: application/json\r\nConnection: close\r\n\r\n"
                       "{\"input\":\"";
    httpc_send_all(fd, head, strlen(head));
    double t0 = now_s();
    char *raw;
    size_t len = httpc_read_all(fd, &raw, 5000);
    httpc_reply r;
    httpc_parse(raw, len, &r);
    if (r.status != 413 || now_s() - t0 > 3)
        fail_msg("a 50 MB Content-Length got %d after %.1f s: %s", r.status, now_s() - t0,
                 r.body);
    httpc_free(&r);
    close(fd);
    expect_healthy("an oversize body");
}

static void test_chunked_body_gets_the_same_answer(void **state) {
    (void)state;
    char *body = one_text_body(5), why[300];
    size_t len = strlen(body), pos = 0;
    int fd = httpc_connect(F->port);
    const char *head = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    httpc_send_all(fd, head, strlen(head));
    while (pos < len) { /* 7-byte chunks, each its own write */
        size_t k = len - pos < 7 ? len - pos : 7;
        char chunk[32];
        int n = snprintf(chunk, sizeof chunk, "%zx\r\n%.*s\r\n", k, (int)k, body + pos);
        httpc_send_all(fd, chunk, (size_t)n);
        pos += k;
    }
    httpc_send_all(fd, "0\r\n\r\n", 5);
    char *raw;
    size_t n = httpc_read_all(fd, &raw, 10000);
    httpc_reply r;
    httpc_parse(raw, n, &r);
    if (r.status != 200 || !reply_matches(r.body, 0, 5, why, sizeof why))
        fail_msg("chunked request: %d %s", r.status, r.status == 200 ? why : r.body);
    httpc_free(&r);
    close(fd);
    free(body);
}

/* POSTs body (n bytes) and expects 400 whose message contains needle. */
static void expect_400(const char *body, size_t n, const char *needle) {
    httpc_reply r = httpc_request(F->port, "POST", "/v1/embeddings", NULL, body, n);
    if (r.status != 400 || !strstr(r.body, needle))
        fail_msg("expected 400 with \"%s\", got %d: %.300s", needle, r.status, r.body);
    httpc_free(&r);
}

static void test_non_utf8_nul_and_deep_nesting_are_400(void **state) {
    (void)state;
    const char bad_utf8[] = "{\"input\": \"caf\xe9 \xff\xfe\"}";
    expect_400(bad_utf8, sizeof bad_utf8 - 1, "invalid UTF-8");
    const char overlong[] = "{\"input\": \"\xc0\xaf\"}"; /* overlong '/' */
    expect_400(overlong, sizeof overlong - 1, "UTF-8");
    const char nul[] = "{\"input\": [\"ok\", \"a\\u0000b\"]}";
    expect_400(nul, sizeof nul - 1, "NUL");
    const char raw_nul[] = "{\"input\": \"a\0b\"}";
    expect_400(raw_nul, sizeof raw_nul - 1, "not valid JSON");
    size_t depth = 200000;
    char *deep = malloc(depth * 2 + 16);
    size_t k = (size_t)sprintf(deep, "{\"input\":");
    memset(deep + k, '[', depth);
    memset(deep + k + depth, ']', depth);
    deep[k + 2 * depth] = '}';
    double t0 = now_s();
    expect_400(deep, k + 2 * depth + 1, "nests deeper than");
    if (now_s() - t0 > 2)
        fail_msg("200k nested arrays took %.1f s to refuse", now_s() - t0);
    print_message("200k nested arrays refused in %.3f s\n", now_s() - t0);
    free(deep);
    expect_healthy("malformed bodies");
}

/* VmHWM of this process (the server runs in it) in kB, after resetting it to the current RSS
 * when reset is set ("5" to /proc/self/clear_refs): a high-water mark an earlier case raised
 * would hide this case's own peak. -1 when /proc cannot say. */
static long hwm_kb(int reset) {
    if (reset) {
        FILE *c = fopen("/proc/self/clear_refs", "w");
        if (!c || fputs("5", c) < 0 || fclose(c) != 0)
            return -1;
    }
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void test_100k_inputs_are_refused_quickly_in_bounded_memory(void **state) {
    (void)state;
    size_t n = 100000;
    char *body = malloc(n * 4 + 32), *p = body;
    p += sprintf(p, "{\"input\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\"a\"", i ? "," : "");
    p += sprintf(p, "]}");
    long before = hwm_kb(1);
    if (before < 0)
        fail_msg("cannot reset or read VmHWM in /proc/self");
    double t0 = now_s();
    expect_400(body, (size_t)(p - body), "at most 2048 are allowed");
    double s = now_s() - t0;
    long grew = hwm_kb(0) - before;
    /* The body is 400 kB (held by libmicrohttpd and by the request); jansson's 100k strings are
     * ~6 MB more: measured growth 7-10 MB (14 MB under ASan, whose allocator adds redzones and
     * a quarantine). The bound, 16 MB (32 under ASan), fails a server that goes on with the
     * inputs before counting them: a 256-byte buffer per input is 25 MB more (shown by hand). */
    long bound_kb = (getenv("EMBP_TEST_SANITIZER") ? 32 : 16) * 1024;
    if (s > 1.0 || grew > bound_kb)
        fail_msg("100k inputs: refused after %.2f s, peak RSS grew %ld kB", s, grew);
    print_message("100k inputs refused in %.3f s, peak RSS grew %ld kB\n", s, grew);
    free(body);
    expect_healthy("100k inputs");
}

/* The message of the error body r (OpenAI's error.message or TEI's error); NULL if none. */
static const char *error_message(json_t *j) {
    json_t *e = json_object_get(j, "error");
    return json_is_string(e) ? json_string_value(e)
                             : json_string_value(json_object_get(e, "message"));
}

/* The rerank routes read their bodies with the embeddings routes' loader: the same depth and
 * value bounds and the same message (TEI's /rerank as a 422, its status for a 400), before
 * the body is parsed. Before, /v1/rerank parsed 100k values of a field no route reads and then
 * refused the request for want of a reranker, and 200k nested arrays hit jansson's own depth
 * limit (2048) as "not valid JSON". A "\u0000" in a text is refused as /v1/embeddings does. */
static void small_batch_tweak(embp_config *c) {
    c->max_batch_size = 4; /* the loader's bound: 4 * 512 + 64 = 2112 values */
}

static void test_rerank_bodies_are_bounded_as_embeddings_bodies(void **state) {
    (void)state;
    srv_fixture *g = su_start("tiny", small_batch_tweak);
    size_t n = 100000, depth = 200000;
    char *many = malloc(n * 2 + 64), *p = many;
    p += sprintf(p, "{\"query\":\"q\",\"texts\":[\"a\"],\"input\":\"a\",\"extra\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s1", i ? "," : "");
    p += sprintf(p, "]}");
    char *deep = malloc(depth * 2 + 64);
    size_t k = (size_t)sprintf(deep, "{\"query\":\"q\",\"texts\":");
    memset(deep + k, '[', depth);
    memset(deep + k + depth, ']', depth);
    k += 2 * depth;
    deep[k++] = '}';
    const char nul[] = "{\"query\":\"a\\u0000b\",\"texts\":[\"x\"],\"documents\":[\"x\"],"
                       "\"input\":\"a\\u0000b\"}";
    const struct {
        const char *body;
        size_t len;
        const char *needle;
    } cases[] = {{many, (size_t)(p - many), "the body holds more than 2112 values"},
                 {deep, k, "nests deeper than 16 levels"},
                 {nul, sizeof nul - 1, "contains a NUL character"}};
    static const char *const urls[] = {"/v1/embeddings", "/v1/rerank", "/rerank"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char first[512] = "";
        for (size_t u = 0; u < 3; u++) {
            httpc_reply r = httpc_request(g->port, "POST", urls[u], NULL, cases[c].body,
                                          cases[c].len);
            json_t *j = json_loads(r.body, 0, NULL);
            const char *msg = error_message(j);
            int want = u == 2 ? 422 : 400; /* TEI's status for a malformed body */
            if (r.status != want || !msg || !strstr(msg, cases[c].needle))
                fail_msg("%s, case %zu: expected %d with \"%s\", got %d: %.300s", urls[u], c,
                         want, cases[c].needle, r.status, r.body);
            if (u == 0)
                snprintf(first, sizeof first, "%s", msg);
            else if (c < 2 && strcmp(msg, first) != 0) /* the NUL names its field */
                fail_msg("%s, case %zu: \"%s\", where /v1/embeddings says \"%s\"", urls[u], c,
                         msg, first);
            json_decref(j);
            httpc_free(&r);
        }
    }
    free(many);
    free(deep);
    su_stop(g);
}

/* ---------------------------------------------------------------- connection limit */

static void limit_tweak(embp_config *c) {
    c->max_connections = 4;
    c->timeout_s = 30;
}

/* Beyond the limit libmicrohttpd stops accepting: a new connection waits in the kernel's
 * listen backlog (not answered, not crashed) until a slot frees, then it is served. */
static void test_connection_limit_queues_extras_and_recovers(void **state) {
    (void)state;
    srv_fixture *g = su_start("tiny", limit_tweak);
    int held[4];
    for (int i = 0; i < 4; i++) { /* four idle connections fill the limit */
        held[i] = httpc_connect(g->port);
        assert_true(held[i] >= 0);
    }
    usleep(100000);
    int fd = httpc_connect(g->port);
    const char *req = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(httpc_send_all(fd, req, strlen(req)), 0);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 1000) != 0)
        fail_msg("a fifth connection was answered (or dropped) beyond max_connections 4");
    close(held[0]); /* a slot frees: the queued connection is served */
    char *raw;
    size_t len = httpc_read_all(fd, &raw, 5000);
    httpc_reply r;
    httpc_parse(raw, len, &r);
    if (r.status != 200)
        fail_msg("the queued connection got %d once a slot freed", r.status);
    httpc_free(&r);
    close(fd);
    for (int i = 1; i < 4; i++)
        close(held[i]);
    su_stop(g);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_request_answers_match_the_peer),
        cmocka_unit_test(test_slowloris_is_cut_off_at_the_timeout_while_others_are_answered),
        cmocka_unit_test(test_client_gone_mid_body_leaves_the_server_healthy),
        cmocka_unit_test(test_client_gone_while_its_batch_runs_others_still_get_answers),
        cmocka_unit_test(test_pipelined_and_keep_alive_requests_share_one_connection),
        cmocka_unit_test(test_oversize_headers_are_refused_with_431_or_400),
        cmocka_unit_test(test_oversize_body_is_413_before_it_is_read),
        cmocka_unit_test(test_chunked_body_gets_the_same_answer),
        cmocka_unit_test(test_non_utf8_nul_and_deep_nesting_are_400),
        cmocka_unit_test(test_100k_inputs_are_refused_quickly_in_bounded_memory),
        cmocka_unit_test(test_rerank_bodies_are_bounded_as_embeddings_bodies),
        cmocka_unit_test(test_connection_limit_queues_extras_and_recovers),
    };
    return cmocka_run_group_tests(tests, setup, su_group_teardown);
}
