/* POST /v1/embeddings end to end over real sockets: the server runs in-process on a free port
 * with the tiny and minilm fixtures served at once, and every answer is checked against the
 * ONNX Runtime peer (build/fixtures/<m>.peer.jsonl) or against another of its own answers. */
#include "srvutil.h"

#include <pthread.h>

#define MAXD 1024

static srv_fixture *F;
static json_t *peer_tiny, *peer_minilm;

static int setup(void **state) {
    *state = F = su_start("tiny,minilm", NULL);
    peer_tiny = F->peers[0];
    peer_minilm = F->peers[1];
    return 0;
}

static json_t *peer_of(const char *model) {
    return strcmp(model, "tiny") == 0 ? peer_tiny : peer_minilm;
}

static const char *peer_text(const json_t *peer, int i) {
    return json_string_value(json_object_get(json_array_get(peer, (size_t)i), "text"));
}

/* {"model": model, "input": [texts first .. first+count), ...} with encoding (NULL: none). */
static json_t *texts_request(const char *model, const json_t *peer, int first, int count,
                             const char *encoding) {
    json_t *in = json_array();
    for (int i = first; i < first + count; i++)
        json_array_append_new(in, json_string(peer_text(peer, i)));
    json_t *q = json_pack("{s:o}", "input", in);
    if (model)
        json_object_set_new(q, "model", json_string(model));
    if (encoding)
        json_object_set_new(q, "encoding_format", json_string(encoding));
    return q;
}

/* Posts q, expects 200 and returns the parsed reply (the caller decrefs). */
static json_t *post_ok(const json_t *q) {
    json_t *reply;
    httpc_reply raw;
    int st = su_post(F->port, q, &reply, &raw);
    if (st != 200 || !reply)
        fail_msg("expected 200, got %d: %.400s", st, raw.body ? raw.body : "");
    httpc_free(&raw);
    return reply;
}

/* Posts q and expects an OpenAI error with status, code (NULL: JSON null) and param, its
 * message containing needle. */
static void post_error(const json_t *q, int status, const char *code, const char *param,
                       const char *needle) {
    json_t *reply;
    httpc_reply raw;
    int st = su_post(F->port, q, &reply, &raw);
    json_t *e = json_object_get(reply, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *p = json_string_value(json_object_get(e, "param"));
    const char *m = json_string_value(json_object_get(e, "message"));
    int code_ok = code ? c && !strcmp(c, code) : json_is_null(json_object_get(e, "code"));
    if (st != status || !code_ok || !p || strcmp(p, param) || !m || !strstr(m, needle))
        fail_msg("expected %d code=%s param=%s message with \"%s\"\n got %d: %.400s", status,
                 code ? code : "null", param, needle, st, raw.body ? raw.body : "");
    json_decref(reply);
    httpc_free(&raw);
}

/* ---------------------------------------------------------------- against the peer */

/* Row i of reply against the peer's row first + i: cosine >= 0.99999, max |diff| <= 1e-4. */
static void expect_peer_row(const json_t *reply, const json_t *peer, int first, int i,
                            const char *label) {
    float got[MAXD];
    double want[MAXD];
    int n = su_row(reply, i, got, MAXD);
    int m = su_peer_vec(json_array_get(peer, (size_t)(first + i)), want, MAXD);
    if (n != m)
        fail_msg("%s row %d: %d values, the peer has %d", label, i, n, m);
    double cos = tu_cosine(got, want, n), md = tu_maxdiff(got, want, n);
    if (!(cos >= 0.99999 && md <= 1e-4))
        fail_msg("%s row %d (%.60s): cosine %.7f max|diff| %.3g\n embp %.6f %.6f %.6f\n peer "
                 "%.6f %.6f %.6f", label, i, peer_text(peer, first + i), cos, md,
                 (double)got[0], (double)got[1], (double)got[2], want[0], want[1], want[2]);
}

static long peer_tokens(const json_t *peer, int first, int count) {
    long t = 0;
    for (int i = first; i < first + count; i++)
        t += (long)json_array_size(json_object_get(json_array_get(peer, (size_t)i), "input_ids"));
    return t;
}

static void test_each_served_model_answers_under_its_name_with_the_peers_vectors(void **state) {
    (void)state;
    const char *names[] = {"tiny", "minilm"};
    for (int k = 0; k < 2; k++) {
        json_t *peer = peer_of(names[k]);
        int n = (int)json_array_size(peer);
        json_t *q = texts_request(names[k], peer, 0, n, "float");
        json_t *reply = post_ok(q);
        assert_string_equal(json_string_value(json_object_get(reply, "model")), names[k]);
        assert_int_equal(json_array_size(json_object_get(reply, "data")), n);
        for (int i = 0; i < n; i++)
            expect_peer_row(reply, peer, 0, i, names[k]);
        json_t *usage = json_object_get(reply, "usage");
        long want = peer_tokens(peer, 0, n);
        if (json_integer_value(json_object_get(usage, "prompt_tokens")) != want)
            fail_msg("%s: usage.prompt_tokens %lld, the peer's input_ids sum to %ld", names[k],
                     (long long)json_integer_value(json_object_get(usage, "prompt_tokens")),
                     want);
        json_decref(reply);
        json_decref(q);
    }
}

static void test_base64_decodes_to_exactly_the_float_values(void **state) {
    (void)state;
    json_t *qf = texts_request("minilm", peer_minilm, 0, 16, "float");
    json_t *qb = texts_request("minilm", peer_minilm, 0, 16, "base64");
    json_t *rf = post_ok(qf), *rb = post_ok(qb);
    for (int i = 0; i < 16; i++) {
        float a[MAXD], b[MAXD];
        int na = su_row(rf, i, a, MAXD), nb = su_row(rb, i, b, MAXD);
        assert_int_equal(na, 384);
        assert_int_equal(nb, 384);
        for (int j = 0; j < na; j++)
            if (memcmp(&a[j], &b[j], sizeof(float)) != 0)
                fail_msg("row %d value %d: float %.9g, base64 %.9g", i, j, (double)a[j],
                         (double)b[j]);
        expect_peer_row(rb, peer_minilm, 0, i, "base64");
    }
    json_decref(rf);
    json_decref(rb);
    json_decref(qf);
    json_decref(qb);
}

static void test_dimensions_keeps_the_first_n_values_renormalized(void **state) {
    (void)state;
    const int d = 16;
    json_t *q = texts_request("tiny", peer_tiny, 0, 8, "float");
    json_t *full = post_ok(q);
    json_object_set_new(q, "dimensions", json_integer(d));
    json_t *cut = post_ok(q);
    for (int i = 0; i < 8; i++) {
        float a[MAXD], b[MAXD];
        double peer[MAXD];
        su_row(full, i, a, MAXD);
        assert_int_equal(su_row(cut, i, b, MAXD), d);
        su_peer_vec(json_array_get(peer_tiny, (size_t)i), peer, MAXD);
        double ss = 0, norm = 0;
        for (int j = 0; j < d; j++)
            ss += (double)a[j] * a[j];
        for (int j = 0; j < d; j++) {
            double want = a[j] / sqrt(ss);
            norm += (double)b[j] * b[j];
            if (!(fabs(b[j] - want) <= 1e-6))
                fail_msg("row %d value %d: dimensions=%d gave %.9g, full row re-normalized "
                         "%.9g", i, j, d, (double)b[j], want);
        }
        assert_true(fabs(norm - 1.0) < 1e-5);
        double cos = tu_cosine(b, peer, d); /* cosine is blind to the peer's missing scale */
        if (!(cos >= 0.99999))
            fail_msg("row %d: first %d values have cosine %.7f to the peer's", i, d, cos);
    }
    json_object_set_new(q, "dimensions", json_integer(65));
    post_error(q, 400, NULL, "dimensions", "have 64");
    json_decref(full);
    json_decref(cut);
    json_decref(q);
}

static void test_token_id_inputs_give_the_same_vectors_as_their_texts(void **state) {
    (void)state;
    json_t *qt = texts_request("minilm", peer_minilm, 0, 12, "float");
    json_t *ids = json_array();
    for (int i = 0; i < 12; i++)
        json_array_append(ids, json_object_get(json_array_get(peer_minilm, (size_t)i),
                                               "input_ids"));
    json_t *qi = json_pack("{s:s, s:o, s:s}", "model", "minilm", "input", ids,
                           "encoding_format", "float");
    json_t *rt = post_ok(qt), *ri = post_ok(qi);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ri, "usage"),
                                                        "prompt_tokens")),
                     peer_tokens(peer_minilm, 0, 12));
    /* Same sequences in the same single batch: the same sums in the same order. */
    for (int i = 0; i < 12; i++) {
        float a[MAXD], b[MAXD];
        int n = su_row(rt, i, a, MAXD);
        assert_int_equal(su_row(ri, i, b, MAXD), n);
        for (int j = 0; j < n; j++)
            if (fabsf(a[j] - b[j]) > 1e-6f)
                fail_msg("row %d value %d: text %.9g, ids %.9g", i, j, (double)a[j],
                         (double)b[j]);
    }
    /* One flat array of ids is one input. */
    json_t *q1 = json_pack("{s:s, s:O}", "model", "minilm", "input",
                           json_object_get(json_array_get(peer_minilm, 0), "input_ids"));
    json_t *r1 = post_ok(q1);
    assert_int_equal(json_array_size(json_object_get(r1, "data")), 1);
    expect_peer_row(r1, peer_minilm, 0, 0, "flat ids");
    json_decref(r1);
    json_decref(q1);
    json_decref(rt);
    json_decref(ri);
    json_decref(qt);
    json_decref(qi);
}

/* ---------------------------------------------------------------- errors */

static void test_unknown_model_is_404_model_not_found(void **state) {
    (void)state;
    json_t *q = json_pack("{s:s, s:s}", "model", "text-embedding-3-small", "input", "hello");
    post_error(q, 404, "model_not_found", "model", "'text-embedding-3-small' does not exist");
    json_decref(q);
}

/* Row 55 of the corpus is ~1500 characters: more tokens than either model takes. */
static void test_long_input_without_truncate_is_context_length_exceeded(void **state) {
    (void)state;
    json_t *q = texts_request("tiny", peer_tiny, 55, 1, "float");
    json_object_set_new(q, "truncate", json_false());
    post_error(q, 400, "context_length_exceeded", "input", "takes at most 128");
    json_object_set_new(q, "truncate", json_true());
    json_t *reply = post_ok(q);
    expect_peer_row(reply, peer_tiny, 55, 0, "truncated"); /* the peer truncates too */
    json_decref(reply);
    json_decref(q);
}

static void test_models_route_lists_both_with_their_embp_objects(void **state) {
    (void)state;
    json_t *j = su_get_json(F->port, "/v1/models");
    json_t *data = json_object_get(j, "data");
    if (json_array_size(data) != 2)
        fail_msg("expected 2 models, got %zu", json_array_size(data));
    const struct {
        const char *id;
        int dim, max_seq_len;
    } want[] = {{"tiny", 64, 128}, {"minilm", 384, 256}};
    for (int k = 0; k < 2; k++) {
        json_t *m = json_array_get(data, (size_t)k), *e = json_object_get(m, "embp");
        assert_string_equal(json_string_value(json_object_get(m, "id")), want[k].id);
        assert_string_equal(json_string_value(json_object_get(m, "object")), "model");
        assert_int_equal(json_integer_value(json_object_get(e, "dim")), want[k].dim);
        assert_int_equal(json_integer_value(json_object_get(e, "max_seq_len")),
                         want[k].max_seq_len);
        assert_string_equal(json_string_value(json_object_get(e, "pooling")), "mean");
        assert_true(json_is_true(json_object_get(e, "normalize")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(e, "precision"),
                                                              "storage")), "fp32");
    }
    json_decref(j);
    /* No "model": the first one configured answers. */
    json_t *q = json_pack("{s:s}", "input", peer_text(peer_tiny, 3));
    json_t *reply = post_ok(q);
    assert_string_equal(json_string_value(json_object_get(reply, "model")), "tiny");
    json_decref(reply);
    json_decref(q);
}

/* ---------------------------------------------------------------- concurrency */

enum { N_THREADS = 8, N_REQS = 5, PER_REQ = 4, N_TEXTS = 24 };

typedef struct {
    int t, failures;
    float (*alone)[384];
    char msg[256];
} worker_arg;

/* Sends N_REQS requests of PER_REQ texts each and compares every row with that text's
 * single-request answer. Batches mix with the other threads' requests, so the GEMM's M and its
 * summation order differ: max |diff| <= 1e-5, not bit equality (see test_batcher.c). */
static void *client(void *p) {
    worker_arg *w = p;
    for (int r = 0; r < N_REQS; r++) {
        int pick[PER_REQ];
        json_t *in = json_array();
        for (int k = 0; k < PER_REQ; k++) {
            pick[k] = (w->t * 5 + r * 3 + k * 7) % N_TEXTS;
            json_array_append_new(in, json_string(peer_text(peer_minilm, pick[k])));
        }
        json_t *q = json_pack("{s:s, s:o}", "model", "minilm", "input", in), *reply;
        int st = su_post(F->port, q, &reply, NULL);
        json_decref(q);
        for (int k = 0; st == 200 && k < PER_REQ; k++) {
            float got[MAXD];
            int n = su_row(reply, k, got, MAXD);
            for (int j = 0; j < 384; j++)
                if (n != 384 || fabsf(got[j] - w->alone[pick[k]][j]) > 1e-5f) {
                    snprintf(w->msg, sizeof w->msg, "req %d row %d (text %d) value %d: %.9g, "
                             "alone %.9g", r, k, pick[k], j, n == 384 ? (double)got[j] : -1.0,
                             (double)w->alone[pick[k]][j]);
                    w->failures++;
                    break;
                }
        }
        if (st != 200) {
            snprintf(w->msg, sizeof w->msg, "req %d: status %d", r, st);
            w->failures++;
        }
        json_decref(reply);
    }
    return NULL;
}

static void test_concurrent_clients_get_their_single_request_answers(void **state) {
    (void)state;
    float(*alone)[384] = calloc(N_TEXTS, sizeof *alone);
    for (int i = 0; i < N_TEXTS; i++) {
        json_t *q = json_pack("{s:s, s:s}", "model", "minilm", "input", peer_text(peer_minilm, i));
        json_t *reply = post_ok(q);
        assert_int_equal(su_row(reply, 0, alone[i], 384), 384);
        json_decref(reply);
        json_decref(q);
    }
    pthread_t th[N_THREADS];
    worker_arg w[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (worker_arg){.t = t, .alone = alone};
        pthread_create(&th[t], NULL, client, &w[t]);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    free(alone);
    for (int t = 0; t < N_THREADS; t++)
        if (w[t].failures)
            fail_msg("thread %d: %d failures, e.g. %s", t, w[t].failures, w[t].msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_served_model_answers_under_its_name_with_the_peers_vectors),
        cmocka_unit_test(test_base64_decodes_to_exactly_the_float_values),
        cmocka_unit_test(test_dimensions_keeps_the_first_n_values_renormalized),
        cmocka_unit_test(test_token_id_inputs_give_the_same_vectors_as_their_texts),
        cmocka_unit_test(test_unknown_model_is_404_model_not_found),
        cmocka_unit_test(test_long_input_without_truncate_is_context_length_exceeded),
        cmocka_unit_test(test_models_route_lists_both_with_their_embp_objects),
        cmocka_unit_test(test_concurrent_clients_get_their_single_request_answers),
    };
    return cmocka_run_group_tests(tests, setup, su_group_teardown);
}
