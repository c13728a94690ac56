/* The public model API (include/embp/embp.h) on the fixtures: texts end to end against the ONNX
 * Runtime peer, splitting into passes, matryoshka dims, input errors, info, int8/bf16 plans. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "runtime/model.h"

/* clang-format off */
#define COS_MIN       0.99999  /* per sentence vs the peer, fp32                    */
#define MAXDIFF_MAX   1e-4     /* per sentence max |diff| vs the peer, fp32         */
#define SPLIT_TOL     1e-5     /* several forward passes vs one                      */
#define INT8_COS_MIN  0.999    /* int8 compute vs fp32 (fixture: random weights)     */
#define BF16_COS_MIN  0.9999   /* bf16 compute vs fp32                               */
/* clang-format on */

static embp_model *load(const char *fixture, const embp_load_opts *o) {
    char *dir = tu_fixture("%s", fixture);
    embp_model *m = NULL;
    embp_error err = {0};
    if (embp_model_load(dir, o, &m, &err) != EMBP_OK)
        fail_msg("load %s: %s", dir, err.msg);
    free(dir);
    return m;
}

typedef struct {
    json_t *rows;
    int n, *lens;
    int32_t **ids;
} peer_ids;

static peer_ids read_peer(const char *fixture) {
    char *p = tu_fixture("%s.peer.jsonl", fixture);
    peer_ids r = {tu_read_jsonl(p), 0, NULL, NULL};
    r.n = (int)json_array_size(r.rows);
    r.lens = malloc((size_t)r.n * sizeof(int));
    r.ids = malloc((size_t)r.n * sizeof(int32_t *));
    for (int i = 0; i < r.n; i++) {
        json_t *a = json_object_get(json_array_get(r.rows, i), "input_ids");
        r.lens[i] = (int)json_array_size(a);
        r.ids[i] = malloc((size_t)r.lens[i] * sizeof(int32_t));
        for (int j = 0; j < r.lens[i]; j++)
            r.ids[i][j] = (int32_t)json_integer_value(json_array_get(a, (size_t)j));
    }
    free(p);
    return r;
}

static void free_peer(peer_ids *r) {
    for (int i = 0; i < r->n; i++)
        free(r->ids[i]);
    free(r->ids), free(r->lens);
    json_decref(r->rows);
}

static float *embed_ids(embp_model *m, const peer_ids *p, int dims, int width) {
    float *out = malloc((size_t)p->n * width * sizeof(float));
    embp_error err = {0};
    if (embp_embed_tokens(m, (const int32_t *const *)p->ids, p->lens, p->n, dims, out, &err))
        fail_msg("embed_tokens: %s", err.msg);
    return out;
}

/* Texts (with their exact bytes, NULs included) through embp_embed_texts vs the peer. */
static void check_texts_end_to_end(const char *fixture) {
    embp_model *m = load(fixture, NULL);
    peer_ids p = read_peer(fixture);
    embp_model_info info;
    embp_model_get_info(m, &info);
    const char **texts = malloc((size_t)p.n * sizeof *texts);
    size_t *lens = malloc((size_t)p.n * sizeof *lens);
    for (int i = 0; i < p.n; i++) {
        json_t *t = json_object_get(json_array_get(p.rows, i), "text");
        texts[i] = json_string_value(t);
        lens[i] = json_string_length(t);
    }
    float *out = malloc((size_t)p.n * info.dim * sizeof(float));
    embp_error err = {0};
    if (embp_embed_texts(m, texts, lens, p.n, 0, 1, out, &err))
        fail_msg("embed_texts: %s", err.msg);
    double wc = 1.0, wd = 0.0;
    for (int i = 0; i < p.n; i++) {
        json_t *e = json_object_get(json_array_get(p.rows, i), "embedding");
        double *want = malloc((size_t)info.dim * sizeof *want);
        for (int j = 0; j < info.dim; j++)
            want[j] = json_real_value(json_array_get(e, (size_t)j));
        double c = tu_cosine(out + (size_t)i * info.dim, want, info.dim);
        double d = tu_maxdiff(out + (size_t)i * info.dim, want, info.dim);
        if (!(c >= COS_MIN && d <= MAXDIFF_MAX))
            fail_msg("%s text %d \"%s\": cosine %.8f (min %g), max |diff| %.3g (max %g)", fixture,
                     i, texts[i], c, COS_MIN, d, MAXDIFF_MAX);
        wc = tu_worst_min(wc, c);
        wd = tu_worst_max(wd, d);
        free(want);
    }
    print_message("%s texts end to end vs peer: %d texts, worst cosine %.8f, max |diff| %.2e\n",
                  fixture, p.n, wc, wd);
    free(out), free(texts), free(lens);
    free_peer(&p);
    embp_model_free(m);
}

static void test_tiny_texts_end_to_end_match_peer(void **s) {
    (void)s;
    check_texts_end_to_end("tiny");
}

static void test_minilm_texts_end_to_end_match_peer(void **s) {
    (void)s;
    check_texts_end_to_end("minilm");
}

/* max_batch_tokens 128 splits the 1975 tokens into many passes: same vectors as one pass. */
static void test_small_token_budget_splits_into_passes_with_same_result(void **s) {
    (void)s;
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.max_batch_tokens = 128;
    embp_model *one = load("tiny", NULL), *many = load("tiny", &o);
    peer_ids p = read_peer("tiny");
    float *a = embed_ids(one, &p, 0, 64), *b = embed_ids(many, &p, 0, 64);
    for (int i = 0; i < p.n * 64; i++)
        if (!(fabs(a[i] - b[i]) <= SPLIT_TOL))
            fail_msg("sentence %d value %d: one pass %.9g, split %.9g", i / 64, i % 64,
                     (double)a[i], (double)b[i]);
    free(a), free(b);
    free_peer(&p);
    embp_model_free(one);
    embp_model_free(many);
}

/* dims N: the first N values of the full vector, re-normalized by hand when the model
 * normalizes (tiny), untouched when it does not (tiny_max). */
static void check_dims(const char *fixture, int normalizes) {
    embp_model *m = load(fixture, NULL);
    peer_ids p = read_peer(fixture);
    int N = 16;
    float *full = embed_ids(m, &p, 0, 64), *cut = embed_ids(m, &p, N, N);
    for (int i = 0; i < p.n; i++) {
        double ss = 0.0;
        for (int j = 0; j < N; j++)
            ss += (double)full[i * 64 + j] * full[i * 64 + j];
        double scale = normalizes ? 1.0 / sqrt(ss) : 1.0;
        for (int j = 0; j < N; j++) {
            double want = full[i * 64 + j] * scale;
            if (!(fabs(cut[i * N + j] - want) <= 1e-6))
                fail_msg("%s sentence %d dim %d: dims=%d gives %.9g, by hand %.9g", fixture, i, j,
                         N, (double)cut[i * N + j], want);
        }
    }
    free(full), free(cut);
    free_peer(&p);
    embp_model_free(m);
}

static void test_dims_renormalizes_prefix_when_model_normalizes(void **s) {
    (void)s;
    check_dims("tiny", 1);
}

static void test_dims_keeps_prefix_when_model_does_not_normalize(void **s) {
    (void)s;
    check_dims("tiny_max", 0);
}

static void test_id_outside_vocab_names_input_and_id(void **s) {
    (void)s;
    embp_model *m = load("tiny", NULL);
    int32_t a[3] = {2, 5, 3}, b[3] = {2, 145, 3};
    const int32_t *ids[2] = {a, b};
    int lens[2] = {3, 3};
    float out[2 * 64];
    embp_error err = {0};
    assert_int_equal(embp_embed_tokens(m, ids, lens, 2, 0, out, &err), EMBP_EINVAL);
    print_message("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "input 1"));
    assert_non_null(strstr(err.msg, "145"));
    lens[0] = 0;
    assert_int_equal(embp_embed_tokens(m, ids, lens, 2, 0, out, &err), EMBP_EINVAL);
    lens[0] = 3;
    assert_int_equal(embp_embed_tokens(m, ids, lens, 1, 65, out, &err), EMBP_EINVAL);
    embp_model_free(m);
}

static void test_too_long_text_is_etoolong_unless_truncated(void **s) {
    (void)s;
    embp_model *m = load("tiny", NULL);
    char text[4000] = "";
    for (int i = 0; i < 300; i++)
        strcat(text, "hello ");
    int32_t ids[512];
    int n = 0, full = 0;
    embp_error err = {0};
    assert_int_equal(embp_tokenize(m, text, strlen(text), 0, ids, 512, &n, &full, &err),
                     EMBP_ETOOLONG);
    print_message("error: %s\n", err.msg);
    char want[64];
    snprintf(want, sizeof want, "%d tokens", full);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "128"));
    assert_int_equal(embp_tokenize(m, text, strlen(text), 1, ids, 512, &n, &full, &err), EMBP_OK);
    assert_int_equal(n, 128);
    assert_true(full > 128);
    const char *texts[1] = {text};
    float out[64];
    assert_int_equal(embp_embed_texts(m, texts, NULL, 1, 0, 0, out, &err), EMBP_ETOOLONG);
    assert_int_equal(embp_embed_texts(m, texts, NULL, 1, 0, 1, out, &err), EMBP_OK);
    embp_model_free(m);
}

static void test_info_describes_the_folder(void **s) {
    (void)s;
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.name = "my-model";
    embp_model *a = load("tiny_cls", NULL), *b = load("minilm", &o);
    embp_model_info ia, ib;
    embp_model_get_info(a, &ia);
    embp_model_get_info(b, &ib);
    assert_string_equal(ia.name, "tiny_cls");
    assert_string_equal(ib.name, "my-model");
    /* A Hugging Face cache snapshot is named by its repository, not by its commit folder. */
    char *tmp = tu_tmpdir(), *fx = tu_fixture("tiny_cls"), cmd[4096], snap[1024];
    const char *repos[][2] = {{"models--org--tiny-cls", "tiny-cls"}, {"models--solo", "solo"}};
    for (int k = 0; k < 2; k++) {
        snprintf(snap, sizeof snap, "%s/hub/%s/snapshots/0123abcd", tmp, repos[k][0]);
        snprintf(cmd, sizeof cmd, "mkdir -p %s && rmdir %s && ln -s %s %s", snap, snap, fx, snap);
        assert_int_equal(system(cmd), 0);
        embp_model *c = NULL;
        embp_error err;
        if (embp_model_load(snap, NULL, &c, &err) != EMBP_OK)
            fail_msg("load %s: %s", snap, err.msg);
        embp_model_info ic;
        embp_model_get_info(c, &ic);
        assert_string_equal(ic.name, repos[k][1]);
        embp_model_free(c);
    }
    tu_remove_dir(tmp);
    free(fx);
    assert_string_equal(embp_pooling_str(ia.pooling), "cls");
    assert_int_equal(ib.dim, 384);
    assert_int_equal(ib.layers, 6);
    assert_int_equal(ib.max_seq_len, 256);
    assert_string_equal(ib.storage, "fp32");
    assert_string_equal(ib.compute, "fp32");
    assert_string_equal(ib.accumulation, "fp32");
    assert_string_equal(ib.plan_reason, "");
    assert_true(ib.weight_bytes > 22u * 1000 * 1000 && ib.weight_bytes < 100u * 1000 * 1000);
    assert_non_null(embp_token_str(b, 101));
    assert_null(embp_token_str(b, 1 << 30));
    embp_model_free(a);
    embp_model_free(b);
}

static void test_missing_folder_is_an_error_with_null_model(void **s) {
    (void)s;
    embp_model *m = (embp_model *)&m;
    embp_error err = {0};
    assert_int_not_equal(embp_model_load("/nonexistent/embp-model", NULL, &m, &err), EMBP_OK);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent/embp-model"));
}

/* A NaN weight is refused at load (naming the tensor); finite weights that overflow in the
 * forward pass are refused per call: word row 5 and the token-type row each get 3e38 at
 * dimension 0, finite apiece, so their sum is +inf in every token with id 5 and LayerNorm makes
 * it NaN. Only inputs holding id 5 are affected; the error names the model and the input. */
static void test_non_finite_forward_output_is_an_error_naming_model_and_input(void **s) {
    (void)s;
    const char *names[] = {"embeddings.word_embeddings.weight",
                           "embeddings.token_type_embeddings.weight"};
    long at[] = {5 * 64, 0};
    float nan_val[] = {NAN}, big[] = {3e38f, 3e38f};
    char *dir = tu_fixture_copy_with_values("tiny", names, at, nan_val, 1);
    embp_model *m = (embp_model *)1;
    embp_error err = {0};
    assert_int_not_equal(embp_model_load(dir, NULL, &m, &err), EMBP_OK);
    print_message("NaN weight at load: %s\n", err.msg);
    assert_null(m);
    assert_non_null(strstr(err.msg, "embeddings.word_embeddings.weight"));
    tu_remove_dir(dir);

    dir = tu_fixture_copy_with_values("tiny", names, at, big, 2);
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.name = "overflowing";
    if (embp_model_load(dir, &o, &m, &err) != EMBP_OK)
        fail_msg("finite weights must load: %s", err.msg);
    int32_t a[3] = {2, 7, 3}, b[4] = {2, 9, 5, 3};
    const int32_t *ids[2] = {a, b};
    int lens[2] = {3, 4};
    float out[2 * 64];
    assert_int_equal(embp_embed_tokens(m, ids, lens, 1, 0, out, &err), EMBP_OK); /* no id 5 */
    for (int j = 0; j < 64; j++)
        assert_true(isfinite(out[j]));
    assert_int_equal(embp_embed_tokens(m, ids, lens, 2, 0, out, &err), EMBP_EINTERNAL);
    print_message("overflow in the forward pass: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "model 'overflowing'"));
    assert_non_null(strstr(err.msg, "input 1 (4 tokens)"));
    const char *texts[1] = {"Hello world"}; /* ids 2 136 137 3: unaffected, even after a failure */
    assert_int_equal(embp_embed_texts(m, texts, NULL, 1, 0, 1, out, &err), EMBP_OK);
    embp_model_free(m);
    tu_remove_dir(dir);
}

/* A lower-precision plan vs the fp32 model on the MiniLM-shaped fixture, by cosine. */
static void check_plan(const char *precision, double cos_min) {
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.precision = tu_precision(precision);
    embp_model *f = load("minilm", NULL), *q = load("minilm", &o);
    embp_model_info info;
    embp_model_get_info(q, &info);
    assert_string_equal(info.compute, precision);
    peer_ids p = read_peer("minilm");
    float *a = embed_ids(f, &p, 0, 384), *b = embed_ids(q, &p, 0, 384);
    double worst = 1.0, mean = 0.0;
    for (int i = 0; i < p.n; i++) {
        double *v = malloc(384 * sizeof *v);
        for (int j = 0; j < 384; j++)
            v[j] = a[i * 384 + j];
        double c = tu_cosine(b + (size_t)i * 384, v, 384);
        worst = tu_worst_min(worst, c);
        mean += c / p.n;
        free(v);
    }
    print_message("minilm %s vs fp32: mean cosine %.6f, worst %.6f (random weights: says the "
                  "code is right, not what a trained model keeps)\n", precision, mean, worst);
    if (!(worst >= cos_min))
        fail_msg("minilm %s vs fp32: worst cosine %.6f below %g", precision, worst, cos_min);
    free(a), free(b);
    free_peer(&p);
    embp_model_free(f);
    embp_model_free(q);
}

static void test_int8_plan_stays_close_to_fp32(void **s) {
    (void)s;
    check_plan("int8", INT8_COS_MIN);
}

static void test_bf16_plan_stays_close_to_fp32(void **s) {
    (void)s;
    check_plan("bf16", BF16_COS_MIN);
}

int main(int argc, char **argv) {
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_tiny_texts_end_to_end_match_peer),
        cmocka_unit_test(test_minilm_texts_end_to_end_match_peer),
        cmocka_unit_test(test_small_token_budget_splits_into_passes_with_same_result),
        cmocka_unit_test(test_dims_renormalizes_prefix_when_model_normalizes),
        cmocka_unit_test(test_dims_keeps_prefix_when_model_does_not_normalize),
        cmocka_unit_test(test_id_outside_vocab_names_input_and_id),
        cmocka_unit_test(test_too_long_text_is_etoolong_unless_truncated),
        cmocka_unit_test(test_info_describes_the_folder),
        cmocka_unit_test(test_missing_folder_is_an_error_with_null_model),
        cmocka_unit_test(test_non_finite_forward_output_is_an_error_naming_model_and_input),
        cmocka_unit_test(test_int8_plan_stays_close_to_fp32),
    };
    const struct CMUnitTest bf16[] = {cmocka_unit_test(test_bf16_plan_stays_close_to_fp32)};
    const tu_path paths[] = {
        TU_ALWAYS(always),
        TU_PATH("avx512_bf16", bf16, tu_missing_avx512_bf16),
    };
    return tu_run_paths(argc, argv, paths, sizeof paths / sizeof paths[0]);
}
