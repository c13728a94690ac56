/* Helpers for tests that run the HTTP server (or only its model registry) in-process on an
 * ephemeral port with real models: load/start/stop, POST a JSON value, read embeddings back
 * from float or base64 replies. */
#ifndef EMBP_TESTS_SRVUTIL_H
#define EMBP_TESTS_SRVUTIL_H

#include <math.h>
#include <string.h>

#include "httpc.h"
#include "testutil.h"
#include "runtime/registry.h"
#include "server/server.h"

typedef struct {
    embp_config cfg;
    char paths[4096];
    embp_registry_model *models;
    int n_models;
    embp_server *srv;
    int port;
    /* The rows of <name>.peer.jsonl (tu_fixture_jsonl) of each model named by a fixture name,
     * in the list's order; NULL for a folder path. */
    json_t *peers[8];
} srv_fixture;

/* The settings of a test server: embp_config_defaults, on 127.0.0.1, any free port, warn log. */
static inline void su_test_config(embp_config *c) {
    embp_config_defaults(c);
    c->host = "127.0.0.1";
    c->port = 0;
    c->log_level = "warn";
}

/* Serves f->models (none: f->n_models 0) with f->cfg; f->port gets the port. */
static inline void su_serve(srv_fixture *f) {
    embp_error err;
    if (embp_server_start(&f->cfg, f->models, f->n_models, &f->srv, &err) != EMBP_OK)
        fail_msg("server start: %s", err.msg);
    f->port = embp_server_port(f->srv);
    assert_true(f->port > 0);
}

/* Loads the comma list of models (fixture names, e.g. "tiny,minilm", or absolute folder paths)
 * into a registry, with cfg tweaked by tweak (may be NULL), without a server: the tests that
 * drive the routes in-process (embp_server_ctx over f->cfg and f->models). */
static inline srv_fixture *su_load(const char *fixtures, void (*tweak)(embp_config *)) {
    srv_fixture *f = calloc(1, sizeof *f);
    char list[1024];
    snprintf(list, sizeof list, "%s", fixtures);
    size_t off = 0, k = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *p = t[0] == '/' ? strdup(t) : tu_fixture("%s", t);
        off += (size_t)snprintf(f->paths + off, sizeof f->paths - off, "%s%s", off ? "," : "", p);
        free(p);
        if (t[0] != '/' && k < sizeof f->peers / sizeof f->peers[0]) {
            char name[256];
            snprintf(name, sizeof name, "%s.peer.jsonl", t);
            f->peers[k] = tu_fixture_jsonl(name);
        }
        k++;
    }
    su_test_config(&f->cfg);
    f->cfg.model_path = f->paths;
    if (tweak)
        tweak(&f->cfg);
    embp_error err;
    if (embp_config_load_models(&f->cfg, ".", 1, &f->models, &f->n_models, &err) != EMBP_OK)
        fail_msg("load %s: %s", f->paths, err.msg);
    return f;
}

/* su_load, then serves the models on 127.0.0.1, any free port (f->port). */
static inline srv_fixture *su_start(const char *fixtures, void (*tweak)(embp_config *)) {
    srv_fixture *f = su_load(fixtures, tweak);
    su_serve(f);
    return f;
}

static inline void su_stop(srv_fixture *f) {
    if (!f)
        return;
    int left = f->srv ? embp_server_stop(f->srv, 10000) : 0;
    embp_registry_free(f->models, f->n_models);
    for (size_t k = 0; k < sizeof f->peers / sizeof f->peers[0]; k++)
        json_decref(f->peers[k]);
    free(f);
    assert_int_equal(left, 0);
}

/* The group teardown of a test whose group setup left its fixture in *state. */
static inline int su_group_teardown(void **state) {
    su_stop(*state);
    return 0;
}

/* GETs path; fails the test unless the answer is 200 with a JSON body, which it returns (free
 * it with json_decref). */
static inline json_t *su_get_json(int port, const char *path) {
    httpc_reply r = httpc_request(port, "GET", path, NULL, NULL, 0);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (r.status != 200 || !j)
        fail_msg("GET %s: expected 200 with JSON, got %d %.300s", path, r.status,
                 r.body ? r.body : "");
    httpc_free(&r);
    return j;
}

/* POSTs v (a JSON value, not consumed) to /v1/embeddings; the reply's body parsed into *out
 * (NULL when not JSON). Returns the status. */
static inline int su_post(int port, const json_t *v, json_t **out, httpc_reply *raw) {
    char *body = json_dumps(v, JSON_COMPACT);
    httpc_reply r = httpc_request(port, "POST", "/v1/embeddings", NULL, body, strlen(body));
    free(body);
    *out = r.body ? json_loads(r.body, 0, NULL) : NULL;
    int st = r.status;
    if (raw)
        *raw = r;
    else
        httpc_free(&r);
    return st;
}

/* Standard base64 (RFC 4648) of s into out (room for strlen(s) / 4 * 3 bytes); returns the
 * byte count, or -1 on a bad character or length. */
static inline long su_base64_decode(const char *s, unsigned char *out) {
    size_t n = strlen(s);
    if (n % 4)
        return -1;
    long k = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            int d = c >= 'A' && c <= 'Z'   ? c - 'A'
                    : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '+'             ? 62
                    : c == '/'             ? 63
                    : c == '=' && j >= 2   ? (pad++, 0)
                                           : -1;
            if (d < 0)
                return -1;
            v = v << 6 | (unsigned)d;
        }
        out[k++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[k++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[k++] = (unsigned char)v;
    }
    return k;
}

/* Row i of an embeddings reply (float list or base64 string) into out (room for max floats).
 * Returns the number of floats, or -1 when the row is missing or malformed. */
static inline int su_row(const json_t *reply, int i, float *out, int max) {
    json_t *row = json_array_get(json_object_get(reply, "data"), (size_t)i);
    json_t *e = json_object_get(row, "embedding");
    if (json_integer_value(json_object_get(row, "index")) != i)
        return -1;
    if (json_is_string(e)) {
        const char *s = json_string_value(e);
        unsigned char *bytes = malloc(strlen(s) / 4 * 3 + 4);
        long nb = su_base64_decode(s, bytes);
        int n = nb >= 0 && nb % 4 == 0 && nb / 4 <= max ? (int)(nb / 4) : -1;
        if (n > 0)
            memcpy(out, bytes, (size_t)n * sizeof(float));
        free(bytes);
        return n;
    }
    int n = (int)json_array_size(e);
    if (!json_is_array(e) || n > max)
        return -1;
    for (int k = 0; k < n; k++)
        out[k] = (float)json_number_value(json_array_get(e, (size_t)k));
    return n;
}

/* The peer's embedding of row (a peer.jsonl line) into out; returns its length. */
static inline int su_peer_vec(const json_t *row, double *out, int max) {
    json_t *e = json_object_get(row, "embedding");
    int n = (int)json_array_size(e);
    for (int k = 0; k < n && k < max; k++)
        out[k] = json_number_value(json_array_get(e, (size_t)k));
    return n;
}

#endif
