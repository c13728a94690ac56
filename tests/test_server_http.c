/* HTTP plumbing over real sockets with no model loaded: routes, methods, API key, body limits,
 * slow clients. The model-backed routes are tested in test_server_embed.c. */
#include "srvutil.h"

#include <strings.h>
#include <time.h>

#include "core/cpu.h"
#include "server/routes.h"

typedef srv_fixture fixture;

/* A server without a model, these settings on su_test_config's; cors_origin NULL: the
 * default. */
static fixture *start_with(const char *api_key, long max_bytes, long timeout_s,
                           const char *cors_origin) {
    fixture *f = calloc(1, sizeof *f);
    su_test_config(&f->cfg);
    f->cfg.api_key = api_key;
    f->cfg.max_request_bytes = max_bytes;
    f->cfg.timeout_s = timeout_s;
    if (cors_origin)
        f->cfg.cors_origin = cors_origin;
    su_serve(f);
    return f;
}

static fixture *start(const char *api_key, long max_bytes, long timeout_s) {
    return start_with(api_key, max_bytes, timeout_s, NULL);
}

static void stop(fixture *f) {
    su_stop(f);
}

/* r is an OpenAI error with this status, type, param and code, its message containing needle. */
static void expect_error(httpc_reply *r, int status, const char *param, const char *code,
                         const char *needle) {
    json_t *j = json_loads(r->body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *p = json_string_value(json_object_get(e, "param"));
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *t = json_string_value(json_object_get(e, "type"));
    int ok = r->status == status && msg && strstr(msg, needle) && t &&
             (param ? p && !strcmp(p, param) : json_is_null(json_object_get(e, "param"))) &&
             (code ? c && !strcmp(c, code) : json_is_null(json_object_get(e, "code")));
    if (!ok)
        fail_msg("expected %d param=%s code=%s message with \"%s\"\n got %d: %s", status,
                 param ? param : "null", code ? code : "null", needle, r->status, r->body);
    json_decref(j);
}

/* A request of method to url (with body, or none when NULL) must answer that OpenAI error. */
static void expect_request_error(const fixture *f, const char *method, const char *url,
                                 const char *body, int status, const char *param,
                                 const char *code, const char *needle) {
    httpc_reply r = httpc_request(f->port, method, url, NULL, body, body ? strlen(body) : 0);
    expect_error(&r, status, param, code, needle);
    httpc_free(&r);
}

static void test_health_is_503_loading_until_a_model_is_served(void **state) {
    (void)state;
    fixture *f = start("", 1 << 20, 30);
    expect_request_error(f, "POST", "/v1/embeddings", "{\"input\":\"a\"}", 503, NULL, NULL,
                         "no model is loaded");
    httpc_reply r = httpc_request(f->port, "GET", "/health", NULL, NULL, 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":\"loading\"}");
    httpc_free(&r);
    stop(f);
}

static void test_unknown_route_is_404_and_wrong_method_405_with_allow(void **state) {
    (void)state;
    fixture *f = start("", 1 << 20, 30);
    expect_request_error(f, "GET", "/v2/nothing", NULL, 404, NULL, "unknown_url",
                         "Unknown request URL: GET /v2/nothing");
    expect_request_error(f, "DELETE", "/v1/models", NULL, 405, NULL, "method_not_allowed",
                         "takes GET, not DELETE");
    /* a 405 names the methods the route takes */
    httpc_reply r = httpc_request(f->port, "GET", "/v1/embeddings", NULL, NULL, 0);
    expect_error(&r, 405, NULL, "method_not_allowed", "takes POST, not GET");
    char allow[64];
    assert_true(httpc_header(&r, "Allow", allow, sizeof allow));
    assert_string_equal(allow, "POST");
    httpc_free(&r);
    stop(f);
}

static void test_malformed_body_is_400_before_any_model_is_needed(void **state) {
    (void)state;
    fixture *f = start("", 1 << 20, 30);
    expect_request_error(f, "POST", "/embeddings", "{\"input\": [\"a\", 1]}", 400, "input", NULL,
                         "input[1] must be a string");
    expect_request_error(f, "POST", "/v1/embeddings", "{\"input\":", 400, NULL, NULL,
                         "not valid JSON");
    stop(f);
}

/* Every POST route of the table refuses a body not sent as JSON, as TEI does (axum's Json
 * extractor: 415 for a missing or non-JSON Content-Type; curl -d alone sends a form type), in
 * its family's error shape, and takes the JSON types real clients send (openai's SDKs and
 * huggingface_hub send application/json; test_clients.sh runs them). */
static void test_post_body_not_sent_as_json_is_415(void **state) {
    (void)state;
    fixture *f = start("", 1 << 20, 30);
    static const char *const refused[] = {NULL, "application/x-www-form-urlencoded",
                                          "text/plain", "application/jsonx", "application/",
                                          "json", "application/+json",
                                          "multipart/form-data; boundary=x"};
    static const char *const taken[] = {"application/json", "application/json; charset=utf-8",
                                        "Application/JSON", " application/json ;charset=UTF-8",
                                        "application/vnd.api+json"};
    const char body[] = "{\"input\": \"a\", \"inputs\": \"a\", \"query\": \"q\", \"texts\": "
                        "[\"a\"], \"documents\": [\"a\"], \"ids\": [1]}";
    size_t n, posts = 0;
    const embp_route *rows = embp_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].method, "POST") != 0)
            continue;
        posts++;
        for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
            httpc_reply r = httpc_request_typed(f->port, "POST", rows[i].url, NULL, refused[k],
                                                body, sizeof body - 1);
            json_t *j = json_loads(r.body, 0, NULL);
            const char *msg = json_string_value(
                rows[i].tei ? json_object_get(j, "error")
                            : json_object_get(json_object_get(j, "error"), "message"));
            const char *kind = json_string_value(
                rows[i].tei ? json_object_get(j, "error_type")
                            : json_object_get(json_object_get(j, "error"), "code"));
            if (r.status != 415 || !msg || !strstr(msg, "Content-Type: application/json") ||
                !kind || strcmp(kind, rows[i].tei ? "validation" : "unsupported_media_type"))
                fail_msg("POST %s with Content-Type %s: expected 415 in %s's shape, got %d %s",
                         rows[i].url, refused[k] ? refused[k] : "(none)",
                         rows[i].tei ? "TEI" : "OpenAI", r.status, r.body);
            if (!refused[k] && !strstr(msg, "found none"))
                fail_msg("POST %s without Content-Type: the message should say none was "
                         "sent: %s", rows[i].url, msg);
            json_decref(j);
            httpc_free(&r);
        }
        for (size_t k = 0; k < sizeof taken / sizeof taken[0]; k++) {
            httpc_reply r = httpc_request_typed(f->port, "POST", rows[i].url, NULL, taken[k],
                                                body, sizeof body - 1);
            if (r.status == 415 || r.status < 400) /* no model: a 4xx/5xx of the route itself */
                fail_msg("POST %s with Content-Type %s: expected the route's own answer, got "
                         "%d %s", rows[i].url, taken[k], r.status, r.body);
            httpc_free(&r);
        }
    }
    assert_true(posts >= 9);
    /* the route's own checks still come first: a GET to a POST route is 405, not 415 */
    httpc_reply r = httpc_request_typed(f->port, "GET", "/embed", NULL, "text/plain", NULL, 0);
    assert_int_equal(r.status, 405);
    httpc_free(&r);
    stop(f);
}

static void test_api_key_is_required_except_on_health(void **state) {
    (void)state;
    fixture *f = start("s3cret-key", 1 << 20, 30);
    httpc_reply r = httpc_request(f->port, "GET", "/v1/models", NULL, NULL, 0);
    expect_error(&r, 401, NULL, "invalid_api_key", "didn't provide an API key");
    char www[64];
    assert_true(httpc_header(&r, "WWW-Authenticate", www, sizeof www));
    assert_non_null(strstr(www, "Bearer"));
    httpc_free(&r);
    r = httpc_request(f->port, "GET", "/v1/models", "Authorization: Bearer s3cret-kez\r\n", NULL,
                      0);
    expect_error(&r, 401, NULL, "invalid_api_key", "Incorrect API key");
    assert_null(strstr(r.body, "s3cret")); /* never echo a key back */
    httpc_free(&r);
    r = httpc_request(f->port, "GET", "/v1/models", "Authorization: Bearer s3cret-key-longer\r\n",
                      NULL, 0);
    assert_int_equal(r.status, 401);
    httpc_free(&r);
    r = httpc_request(f->port, "GET", "/v1/models", "Authorization: Bearer s3cret-key\r\n", NULL,
                      0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"object\":\"list\",\"data\":[]}");
    httpc_free(&r);
    r = httpc_request(f->port, "GET", "/health", NULL, NULL, 0);
    assert_int_equal(r.status, 503); /* open, and honest: no model yet */
    httpc_free(&r);
    stop(f);
}

static void test_body_over_limit_is_413_announced_or_chunked(void **state) {
    (void)state;
    fixture *f = start("", 1000, 30);
    char *big = malloc(5000);
    memset(big, ' ', 5000);
    memcpy(big, "{\"input\":\"", 10);
    httpc_reply r = httpc_request(f->port, "POST", "/v1/embeddings", NULL, big, 5000);
    expect_error(&r, 413, NULL, "request_too_large", "larger than 1000 bytes");
    httpc_free(&r);
    /* Chunked: no length up front, so the limit is enforced while reading. */
    int fd = httpc_connect(f->port);
    const char *head = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(httpc_send_all(fd, head, strlen(head)), 0);
    for (int i = 0; i < 5; i++) {
        char chunk[600];
        int n = snprintf(chunk, sizeof chunk, "1f4\r\n%.500s\r\n", big);
        httpc_send_all(fd, chunk, (size_t)n);
    }
    httpc_send_all(fd, "0\r\n\r\n", 5);
    char *raw;
    size_t len = httpc_read_all(fd, &raw, 10000);
    close(fd);
    httpc_parse(raw, len, &r);
    expect_error(&r, 413, NULL, "request_too_large", "EMB_PROVIDER_MAX_REQUEST_BYTES");
    httpc_free(&r);
    free(big);
    stop(f);
}

static void test_slow_client_is_disconnected_after_timeout(void **state) {
    (void)state;
    fixture *f = start("", 1 << 20, 1);
    int fd = httpc_connect(f->port);
    assert_true(fd >= 0);
    httpc_send_all(fd, "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n", 40);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *raw;
    httpc_read_all(fd, &raw, 10000); /* returns when the server closes */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (s > 5.0)
        fail_msg("a half-sent request held its connection %.1f s (timeout 1 s)", s);
    free(raw);
    close(fd);
    stop(f);
}

static void test_info_reports_cpu_features_and_limits(void **state) {
    (void)state;
    fixture *f = start("", 12345, 30);
    httpc_reply r = httpc_request(f->port, "GET", "/info", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    const embp_cpu *cpu = embp_cpu_get();
    char feats[512];
    embp_cpu_features_str(cpu, feats, sizeof feats);
    json_t *jc = json_object_get(json_object_get(j, "embp"), "cpu"); /* TEI's fields on top */
    assert_string_equal(json_string_value(json_object_get(jc, "features")), feats);
    assert_int_equal(json_integer_value(json_object_get(jc, "cores")), cpu->n_cores);
    json_t *lim = json_object_get(json_object_get(j, "embp"), "limits");
    assert_int_equal(json_integer_value(json_object_get(lim, "max_request_bytes")), 12345);
    assert_int_equal(json_integer_value(json_object_get(lim, "max_queue_tokens")), 262144);
    json_decref(j);
    httpc_free(&r);
    stop(f);
}

static void test_cors_is_off_by_default_and_answers_preflight_when_set(void **state) {
    (void)state;
    char v[128];
    fixture *f = start("secret", 1 << 20, 30);
    httpc_reply r = httpc_request(f->port, "GET", "/health", NULL, NULL, 0);
    assert_false(httpc_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    httpc_free(&r);
    r = httpc_request(f->port, "OPTIONS", "/v1/embeddings", NULL, NULL, 0);
    assert_int_equal(r.status, 401); /* no CORS: OPTIONS is just an unauthorized request */
    httpc_free(&r);
    stop(f);

    f = start_with("secret", 1 << 20, 30, "https://app.example");
    r = httpc_request(f->port, "OPTIONS", "/v1/embeddings", NULL, NULL, 0);
    assert_int_equal(r.status, 204); /* preflight carries no key and must not need one */
    assert_true(httpc_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "https://app.example");
    assert_true(httpc_header(&r, "Access-Control-Allow-Headers", v, sizeof v));
    assert_non_null(strstr(v, "Authorization"));
    httpc_free(&r);
    r = httpc_request(f->port, "GET", "/v1/models", NULL, NULL, 0);
    assert_int_equal(r.status, 401); /* the real request still needs the key */
    assert_true(httpc_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    httpc_free(&r);
    stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_is_503_loading_until_a_model_is_served),
        cmocka_unit_test(test_unknown_route_is_404_and_wrong_method_405_with_allow),
        cmocka_unit_test(test_malformed_body_is_400_before_any_model_is_needed),
        cmocka_unit_test(test_post_body_not_sent_as_json_is_415),
        cmocka_unit_test(test_api_key_is_required_except_on_health),
        cmocka_unit_test(test_body_over_limit_is_413_announced_or_chunked),
        cmocka_unit_test(test_slow_client_is_disconnected_after_timeout),
        cmocka_unit_test(test_info_reports_cpu_features_and_limits),
        cmocka_unit_test(test_cors_is_off_by_default_and_answers_preflight_when_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
