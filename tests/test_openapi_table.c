/* GET /openapi.json (src/server/openapi.c) against the route table it is built from and the
 * server that serves it, no model loaded: the table and the document both ways (every routed
 * path and method documented, every documented one routed), the API key's scheme following the
 * table's open routes, the settings filled in, and each documented operation answering, over a
 * real socket, a status its document lists in the body shape of its family. The document
 * against a live server with a model, and its OpenAPI validity, are tests/test_openapi.sh's
 * (openapi-spec-validator and schemathesis, from PyPI). */
#include "testutil.h"

#include <ctype.h>
#include <strings.h>

#include "httpc.h"
#include "core/alloc.h"
#include "server/openapi.h"
#include "server/routes.h"
#include "server/server.h"

static json_t *build(const char *api_key, long max_batch_size) {
    embp_config cfg;
    embp_config_defaults(&cfg);
    cfg.api_key = api_key;
    cfg.max_batch_size = max_batch_size;
    embp_error err;
    size_t len = 0;
    char *text = embp_openapi_build(&cfg, &len, &err);
    if (!text)
        fail_msg("embp_openapi_build: %s", err.msg);
    assert_int_equal(strlen(text), len);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        fail_msg("the document is not JSON: %s at column %d", je.text, je.column);
    embp_free(text);
    return doc;
}

static void lower(const char *s, char *out, size_t size) {
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

/* The operation of doc for a table row, or NULL. */
static json_t *op_of(json_t *doc, const embp_route *row) {
    char m[16];
    lower(row->method, m, sizeof m);
    return json_object_get(json_object_get(json_object_get(doc, "paths"), row->url), m);
}

static void test_every_routed_path_and_method_is_documented_and_every_documented_one_routed(
    void **state) {
    (void)state;
    json_t *doc = build("", 16);
    size_t n;
    const embp_route *rows = embp_route_table(&n);
    assert_true(n >= 16); /* the OpenAI, TEI, rerank and operations routes of issue 16 */
    json_t *ids = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(doc, &rows[i]);
        if (!op)
            fail_msg("routed %s %s is not in the document", rows[i].method, rows[i].url);
        const char *id = json_string_value(json_object_get(op, "operationId"));
        assert_non_null(id);
        if (json_object_get(ids, id))
            fail_msg("operationId %s is not unique (%s)", id, rows[i].url);
        json_object_set_new(ids, id, json_true());
        /* every route's own and shared errors, in its family's shape */
        json_t *resp = json_object_get(op, "responses");
        const char *family = rows[i].tei ? "#/components/schemas/TEIError"
                                         : "#/components/schemas/OpenAIError";
        static const char *const shared[] = {"405", "413", "500"};
        for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++) {
            json_t *ref = json_object_get(json_object_get(json_object_get(json_object_get(
                json_object_get(resp, shared[k]), "content"), "application/json"), "schema"),
                "$ref");
            if (!json_is_string(ref) || strcmp(json_string_value(ref), family) != 0)
                fail_msg("%s %s: response %s is not %s", rows[i].method, rows[i].url,
                         shared[k], family);
        }
        assert_non_null(json_object_get(resp, "200"));
    }
    /* and back: every documented path and method is a row */
    const char *path;
    json_t *item;
    size_t documented = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            int routed = 0;
            for (size_t i = 0; i < n; i++)
                routed |= !strcmp(rows[i].url, path) && !strcasecmp(rows[i].method, method);
            if (!routed)
                fail_msg("documented %s %s is not routed", method, path);
            documented++;
        }
    }
    assert_int_equal(documented, n);
    json_decref(ids);
    json_decref(doc);
}

static void test_api_key_scheme_guards_every_route_but_the_open_ones(void **state) {
    (void)state;
    json_t *keyed = build("k", 16), *open = build("", 16);
    size_t n;
    const embp_route *rows = embp_route_table(&n);
    json_t *sec = json_object_get(keyed, "security");
    assert_int_equal(json_array_size(sec), 1);
    assert_non_null(json_object_get(json_array_get(sec, 0), "bearer"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
                            json_object_get(keyed, "components"), "securitySchemes"), "bearer"),
                                                          "scheme")),
                        "bearer");
    assert_null(json_object_get(open, "security"));
    int n_open = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(keyed, &rows[i]);
        json_t *own = json_object_get(op, "security");
        int has_401 = json_object_get(json_object_get(op, "responses"), "401") != NULL;
        if (rows[i].open) { /* /health, /openapi.json: an empty requirement lifts the key */
            n_open++;
            const char *text = json_string_value(json_object_get(op, "description"));
            if (!json_is_array(own) || json_array_size(own) != 0 || has_401 || !text ||
                !strstr(text, "No API key needed."))
                fail_msg("%s %s is open but the document asks a key", rows[i].method,
                         rows[i].url);
        } else if (own || !has_401) {
            fail_msg("%s %s needs the key but the document does not say so", rows[i].method,
                     rows[i].url);
        }
        /* without a key configured, nothing is guarded */
        json_t *op0 = op_of(open, &rows[i]);
        assert_null(json_object_get(op0, "security"));
        assert_null(json_object_get(json_object_get(op0, "responses"), "401"));
    }
    assert_int_equal(n_open, 4); /* with the web pages, GET / and GET /docs (server/static.c) */
    /* the prose names the open routes from the same table */
    const char *info = json_string_value(json_object_get(json_object_get(keyed, "info"),
                                                         "description"));
    assert_non_null(strstr(info, "Open routes (no key): GET /health, GET /openapi.json, GET /, GET /docs."));
    json_decref(keyed);
    json_decref(open);
}

/* 1 when a string value under v starts with '$' (a setting left unfilled). */
static int has_placeholder(json_t *v) {
    if (json_is_string(v))
        return json_string_value(v)[0] == '$';
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v))
        json_array_foreach(v, i, x) if (has_placeholder(x)) return 1;
    if (json_is_object(v))
        json_object_foreach(v, k, x) if (has_placeholder(x)) return 1;
    return 0;
}

static void test_limits_are_the_server_settings(void **state) {
    (void)state;
    json_t *doc = build("", 7);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(schemas, "Texts"),
                                                        "maxItems")),
                     7);
    json_t *sim = json_object_get(json_object_get(json_object_get(doc, "paths"), "/similarity"),
                                  "post");
    json_t *sentences = json_object_get(json_object_get(json_object_get(json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(sim, "requestBody"),
        "content"), "application/json"), "schema"), "properties"), "inputs"), "properties"),
        "sentences");
    assert_int_equal(json_integer_value(json_object_get(sentences, "maxItems")), 6);
    assert_false(has_placeholder(doc));
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_decref(doc);
}

/* ---------------------------------------------------------------- over a real socket */

typedef struct {
    embp_config cfg;
    embp_server *srv;
    int port;
} fixture;

static fixture *start(const char *api_key) {
    fixture *f = calloc(1, sizeof *f);
    embp_config_defaults(&f->cfg);
    f->cfg.host = "127.0.0.1";
    f->cfg.port = 0;
    f->cfg.api_key = api_key;
    f->cfg.log_level = "warn";
    embp_error err;
    if (embp_server_start(&f->cfg, NULL, 0, &f->srv, &err) != EMBP_OK)
        fail_msg("server start: %s", err.msg);
    f->port = embp_server_port(f->srv);
    return f;
}

static void stop(fixture *f) {
    assert_int_equal(embp_server_stop(f->srv, 5000), 0);
    free(f);
}

static void test_served_document_needs_no_key_and_is_the_built_one(void **state) {
    (void)state;
    fixture *f = start("sekret");
    httpc_reply r = httpc_request(f->port, "GET", "/openapi.json", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    char v[128];
    assert_true(httpc_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    size_t len;
    embp_error err;
    char *built = embp_openapi_build(&f->cfg, &len, &err);
    assert_non_null(built);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, built, len);
    embp_free(built);
    httpc_free(&r);
    r = httpc_request(f->port, "POST", "/openapi.json", NULL, "{}", 2);
    assert_int_equal(r.status, 405);
    assert_true(httpc_header(&r, "Allow", v, sizeof v));
    assert_string_equal(v, "GET");
    httpc_free(&r);
    r = httpc_request(f->port, "GET", "/v1/models", NULL, NULL, 0); /* the key still guards */
    assert_int_equal(r.status, 401);
    httpc_free(&r);
    stop(f);
}

/* body is an error in the shape of its family (tei: {"error", "error_type"}, else OpenAI's). */
static void expect_error_shape(const char *route, const httpc_reply *r, int tei) {
    json_t *j = json_loads(r->body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    int ok = tei ? json_is_string(e) && json_is_string(json_object_get(j, "error_type"))
                 : json_is_string(json_object_get(e, "message")) &&
                       json_is_string(json_object_get(e, "type")) &&
                       json_object_get(e, "param") && json_object_get(e, "code");
    if (!ok)
        fail_msg("%s answered %d in neither its documented shape (%s): %s", route, r->status,
                 tei ? "TEI" : "OpenAI", r->body);
    json_decref(j);
}

/* Each documented operation, sent a body it must refuse ("[", for POST) and then nothing at all
 * without the key, answers a status its responses list, errors in its family's shape. */
static void test_each_operation_answers_documented_statuses_without_a_model(void **state) {
    (void)state;
    fixture *f = start("sekret");
    size_t len;
    embp_error err;
    char *text = embp_openapi_build(&f->cfg, &len, &err);
    json_t *doc = json_loadb(text, len, 0, NULL);
    embp_free(text);
    size_t n;
    const embp_route *rows = embp_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *responses = json_object_get(op_of(doc, &rows[i]), "responses");
        int post = !strcmp(rows[i].method, "POST");
        for (int keyed = 1; keyed >= 0; keyed--) {
            httpc_reply r = httpc_request(f->port, rows[i].method, rows[i].url,
                                          keyed ? "Authorization: Bearer sekret\r\n" : NULL,
                                          post ? "[" : NULL, post ? 1 : 0);
            char status[8];
            snprintf(status, sizeof status, "%d", r.status);
            if (!json_object_get(responses, status))
                fail_msg("%s %s (%s key) answered %d, not documented: %s", rows[i].method,
                         rows[i].url, keyed ? "with the" : "without a", r.status, r.body);
            if (!keyed && !rows[i].open)
                assert_int_equal(r.status, 401);
            if (r.status >= 400 && strcmp(rows[i].url, "/health") != 0)
                expect_error_shape(rows[i].url, &r, rows[i].tei);
            httpc_free(&r);
        }
    }
    json_decref(doc);
    stop(f);
}

/* ---------------------------------------------------------------- found by schemathesis */

/* GET /info's json_pack format had one "s:n" where "router" takes "s:s": "router" came out
 * null, the string "embp" became the key of a null that "embp" later overwrote, and "sha" and
 * "docker_label" (TEI's Info fields, null here) were never written. */
static void test_info_names_its_router_and_writes_tei_null_fields(void **state) {
    (void)state;
    fixture *f = start("");
    httpc_reply r = httpc_request(f->port, "GET", "/info", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    const char *router = json_string_value(json_object_get(j, "router"));
    if (!router || strcmp(router, "embp") != 0)
        fail_msg("/info's router is not \"embp\": %s", r.body);
    static const char *const nulls[] = {"model_sha", "max_batch_requests", "sha",
                                        "docker_label"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (!json_is_null(json_object_get(j, nulls[i])))
            fail_msg("/info lacks \"%s\": null: %s", nulls[i], r.body);
    assert_true(json_is_object(json_object_get(j, "embp")));
    json_decref(j);
    httpc_free(&r);
    stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_every_routed_path_and_method_is_documented_and_every_documented_one_routed),
        cmocka_unit_test(test_api_key_scheme_guards_every_route_but_the_open_ones),
        cmocka_unit_test(test_limits_are_the_server_settings),
        cmocka_unit_test(test_served_document_needs_no_key_and_is_the_built_one),
        cmocka_unit_test(test_each_operation_answers_documented_statuses_without_a_model),
        cmocka_unit_test(test_info_names_its_router_and_writes_tei_null_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
