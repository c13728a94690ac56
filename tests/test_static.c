/* The web pages' file server (src/server/static.c) on a live server over a folder made here:
 * files with their type and caching headers, 304 on a matching ETag, hostile paths (traversal
 * raw and percent-encoded, symlinks out of the folder, hidden files, folders, FIFOs, unknown
 * types) all 404 without a byte of what lies outside, the playground switch (POST / stays TEI's
 * embed route) and no API key for the pages. */
#include "srvutil.h"

#include "server/static.h"

#include <sys/stat.h>
#include <unistd.h>

static char *root;   /* the pages' folder */
static char *outside; /* a folder beside it holding the secret */
static const char secret[] = "SECRET-OUTSIDE-THE-WEB-FOLDER";
static int ui_on = 1;
static const char *key = "page-key"; /* the API's: the pages need none */
static srv_fixture *srv;              /* serving root with the playground on */

static void write_at(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tu_write_file(p, text);
}

static void link_at(const char *target, const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(symlink(target, p), 0);
}

static void tweak(embp_config *c) {
    c->ui_dir = root;
    c->ui = ui_on;
    c->api_key = key;
}

static int setup(void **state) {
    (void)state;
    char p[4096];
    root = tu_tmpdir();
    outside = tu_tmpdir();
    write_at(outside, "secret.txt", secret);
    write_at(outside, "secret.js", secret);
    write_at(root, "index.html", "<!doctype html><title>playground</title>");
    write_at(root, "docs.html", "<!doctype html><title>docs</title>");
    write_at(root, "app.js", "console.log('app');\n");
    write_at(root, "style.css", "body{}\n");
    write_at(root, "noext", secret);
    write_at(root, ".hidden.js", secret);
    snprintf(p, sizeof p, "%s/sub", root);
    mkdir(p, 0755);
    write_at(root, "sub/data.json", "{\"a\":1}");
    snprintf(p, sizeof p, "%s/dir.js", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/fifo.js", root);
    assert_int_equal(mkfifo(p, 0644), 0);
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    link_at(p, root, "out.txt");           /* a file symlink out of the folder */
    link_at(outside, root, "outdir");      /* a folder symlink out of it */
    link_at("/dev/null", root, "null.js"); /* a device */
    link_at("app.js", root, "alias.js");   /* within the folder: allowed */
    srv = su_start("tiny", tweak);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    su_stop(srv);
    tu_remove_dir(root);
    tu_remove_dir(outside);
    return 0;
}

static httpc_reply get(int port, const char *url, const char *headers) {
    return httpc_request(port, "GET", url, headers, NULL, 0);
}

static void expect_header(const httpc_reply *r, const char *name, const char *want) {
    char v[512];
    if (!httpc_header(r, name, v, sizeof v))
        fail_msg("no %s header in:\n%s", name, r->head);
    assert_string_equal(v, want);
}

static void test_static_serves_files_with_type_and_cache_headers(void **state) {
    (void)state;
    srv_fixture *f = srv;
    static const struct {
        const char *url, *body, *type;
    } cases[] = {{"/", "<!doctype html><title>playground</title>", "text/html; charset=utf-8"},
                 {"/docs", "<!doctype html><title>docs</title>", "text/html; charset=utf-8"},
                 {"/ui/app.js", "console.log('app');\n", "text/javascript; charset=utf-8"},
                 {"/ui/alias.js", "console.log('app');\n", "text/javascript; charset=utf-8"},
                 {"/ui/style.css", "body{}\n", "text/css; charset=utf-8"},
                 {"/ui/sub/data.json", "{\"a\":1}", "application/json"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        httpc_reply r = get(f->port, cases[i].url, NULL);
        if (r.status != 200)
            fail_msg("GET %s: %d\n%s", cases[i].url, r.status, r.body);
        assert_string_equal(r.body, cases[i].body);
        expect_header(&r, "Content-Type", cases[i].type);
        expect_header(&r, "Cache-Control", "no-cache");
        expect_header(&r, "X-Content-Type-Options", "nosniff");
        char csp[512], etag[64], line[128];
        assert_int_equal(httpc_header(&r, "Content-Security-Policy", csp, sizeof csp),
                         strstr(cases[i].type, "html") != NULL);
        assert_true(httpc_header(&r, "ETag", etag, sizeof etag));
        httpc_free(&r);
        /* the browser's revalidation: the same ETag is a 304 without the body */
        snprintf(line, sizeof line, "If-None-Match: %s\r\n", etag);
        r = get(f->port, cases[i].url, line);
        assert_int_equal(r.status, 304);
        assert_int_equal(r.body_len, 0);
        httpc_free(&r);
        r = get(f->port, cases[i].url, "If-None-Match: \"0-0\"\r\n");
        assert_int_equal(r.status, 200);
        httpc_free(&r);
    }
    httpc_reply r = httpc_request(f->port, "HEAD", "/ui/app.js", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    httpc_free(&r);
}

static void test_static_refuses_hostile_paths(void **state) {
    (void)state;
    srv_fixture *f = srv;
    static const char *const urls[] = {
        "/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/%2E%2E%2Fsecret.txt",
        "/ui/sub/../../secret.txt", "/ui/sub/%2e%2e/%2e%2e/secret.txt", "/ui/./app.js",
        "/ui//etc/passwd", "/ui/%2fetc%2fpasswd", "/ui/%5c..%5csecret.txt", "/ui/.hidden.js",
        "/ui/out.txt", "/ui/outdir/secret.txt", "/ui/outdir/secret.js", "/ui/null.js",
        "/ui/fifo.js", "/ui/dir.js", "/ui/sub", "/ui/sub/", "/ui/", "/ui", "/ui/noext",
        "/ui/noext%00.js", "/ui/app.js%20", "/ui/missing.js", "/docs/", "/index.html",
        "/ui/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.js"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) { /* the key: /ui, /docs/ ... */
        httpc_reply r = get(f->port, urls[i], "Authorization: Bearer page-key\r\n");
        if (r.status != 404 || (r.body && strstr(r.body, secret)))
            fail_msg("GET %s: %d, want 404 without the secret:\n%s", urls[i], r.status, r.body);
        json_t *j = json_loads(r.body, 0, NULL);
        assert_non_null(json_object_get(json_object_get(j, "error"), "message"));
        json_decref(j);
        httpc_free(&r);
    }
    /* a page's name is checked before the disk is touched */
    assert_true(embp_static_safe_name("swagger-ui/swagger-ui-bundle.js"));
    assert_false(embp_static_safe_name("a/../b.js"));
    assert_false(embp_static_safe_name("a\\b.js"));
    assert_false(embp_static_safe_name("a//b.js"));
    assert_false(embp_static_safe_name(""));
}

static void test_static_playground_off_keeps_post_root(void **state) {
    (void)state;
    ui_on = 0, key = "";
    srv_fixture *f = su_start("tiny", tweak);
    ui_on = 1, key = "page-key";
    httpc_reply r = get(f->port, "/", NULL);
    assert_int_equal(r.status, 404); /* not served: the route table's row says why */
    assert_non_null(strstr(r.body, "EMB_PROVIDER_UI=false"));
    httpc_free(&r);
    const char body[] = "{\"inputs\": \"hello world\"}";
    r = httpc_request(f->port, "POST", "/", NULL, body, strlen(body));
    if (r.status != 200)
        fail_msg("POST / (TEI's embed): %d\n%s", r.status, r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_int_equal(json_array_size(json_array_get(j, 0)), 64); /* tiny's hidden size */
    json_decref(j);
    httpc_free(&r);
    r = get(f->port, "/docs", NULL);
    assert_int_equal(r.status, 200);
    httpc_free(&r);
    su_stop(f);
}

static void test_static_pages_need_no_api_key(void **state) {
    (void)state;
    httpc_reply r = get(srv->port, "/", NULL); /* the others above asked with no key either */
    assert_int_equal(r.status, 200);
    httpc_free(&r);
    r = get(srv->port, "/v1/models", NULL);
    assert_int_equal(r.status, 401); /* the API still needs it */
    httpc_free(&r);
    r = get(srv->port, "/v1/models", "Authorization: Bearer page-key\r\n");
    assert_int_equal(r.status, 200);
    httpc_free(&r);
}

static void test_static_without_a_folder_says_where_pages_go(void **state) {
    (void)state;
    embp_config c;
    embp_config_defaults(&c);
    embp_server_ctx x = {.cfg = &c};
    embp_reply r = {0};
    assert_int_equal(embp_static_handle(&x, "GET", "/docs", NULL, &r), 1);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.p, "EMB_PROVIDER_UI_DIR"));
    embp_buf_free(&r.body);
    assert_int_equal(embp_static_handle(&x, "POST", "/", NULL, &r), 0); /* TEI's */
    assert_int_equal(embp_static_handle(&x, "GET", "/v1/models", NULL, &r), 0);
}

/* embp_config_ui_dir: the setting, else <bin>/ui, else <bin>/../share/embp/ui, else "". */
static void test_static_folder_is_found_beside_the_binary(void **state) {
    (void)state;
    embp_config c;
    embp_config_defaults(&c);
    assert_int_equal(c.ui, 1);
    assert_string_equal(c.ui_dir, "");
    char *tree = tu_tmpdir(), p[4096], want[4096], got[4096];
    snprintf(p, sizeof p, "%s/bin", tree);
    mkdir(p, 0755);
    embp_error err;
    assert_int_equal(embp_config_ui_dir(&c, p, got, sizeof got, &err), EMBP_OK);
    assert_string_equal(got, "");
    snprintf(want, sizeof want, "%s/share", tree);
    mkdir(want, 0755);
    snprintf(want, sizeof want, "%s/share/embp", tree);
    mkdir(want, 0755);
    snprintf(want, sizeof want, "%s/share/embp/ui", tree);
    mkdir(want, 0755);
    snprintf(want, sizeof want, "%s/bin/../share/embp/ui", tree);
    assert_int_equal(embp_config_ui_dir(&c, p, got, sizeof got, &err), EMBP_OK);
    assert_string_equal(got, want);
    snprintf(want, sizeof want, "%s/bin/ui", tree);
    mkdir(want, 0755);
    assert_int_equal(embp_config_ui_dir(&c, p, got, sizeof got, &err), EMBP_OK);
    assert_string_equal(got, want);
    /* the setting wins; one that is no folder stops the server, naming it */
    snprintf(p, sizeof p, "%s/share/embp/ui", tree);
    c.ui_dir = p;
    assert_int_equal(embp_config_ui_dir(&c, want, got, sizeof got, &err), EMBP_OK);
    assert_string_equal(got, p);
    c.ui_dir = "/nonexistent-embp-ui";
    assert_int_equal(embp_config_ui_dir(&c, want, got, sizeof got, &err), EMBP_ECONFIG);
    assert_non_null(strstr(err.msg, "EMB_PROVIDER_UI_DIR=/nonexistent-embp-ui"));
    tu_remove_dir(tree);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_serves_files_with_type_and_cache_headers),
        cmocka_unit_test(test_static_refuses_hostile_paths),
        cmocka_unit_test(test_static_playground_off_keeps_post_root),
        cmocka_unit_test(test_static_pages_need_no_api_key),
        cmocka_unit_test(test_static_without_a_folder_says_where_pages_go),
        cmocka_unit_test(test_static_folder_is_found_beside_the_binary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
