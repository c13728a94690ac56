/* The BERT forward + pooling against the two references on every fixture: the ONNX Runtime
 * peer (<m>.peer.jsonl) and the float64 numpy forward (<m>.ref.jsonl), from the peer's ids.
 * Also: batching does not change results, and broken weight files give errors naming the tensor. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "model/bert.h"
#include "runtime/pooling.h"

/* clang-format off */
#define COS_MIN       0.99999  /* per sentence, vs each reference                        */
#define MAXDIFF_MAX   1e-4     /* per sentence, max |diff|                                */
#define BATCH_TOL     1e-5     /* one mixed batch vs one sentence at a time               */
/* clang-format on */

typedef struct {
    embp_model_config cfg;
    embp_bert *bert;
    embp_safetensors *st; /* outlives bert: the word table may be read from it in place */
    int n, T, *offsets;
    int32_t *ids;
    json_t *peer, *ref;
} fixture;

static void load_fixture(const char *name, fixture *f) {
    char *dir = tu_fixture("%s", name), *pp = tu_fixture("%s.peer.jsonl", name);
    char *rp = tu_fixture("%s.ref.jsonl", name);
    embp_error err = {0};
    memset(f, 0, sizeof *f);
    if (embp_config_load(dir, &f->cfg, &err) || embp_st_open_dir(dir, &f->st, &err) ||
        embp_bert_load(&f->cfg, f->st, NULL, 16384, f->cfg.max_seq_len, 0, &f->bert, &err))
        fail_msg("%s: %s", dir, err.msg);
    f->peer = tu_read_jsonl(pp);
    f->ref = tu_read_jsonl(rp);
    f->n = (int)json_array_size(f->peer);
    f->offsets = calloc((size_t)f->n + 1, sizeof(int));
    for (int i = 0; i < f->n; i++)
        f->offsets[i + 1] = f->offsets[i] + (int)json_array_size(
                                json_object_get(json_array_get(f->peer, i), "input_ids"));
    f->T = f->offsets[f->n];
    f->ids = malloc((size_t)f->T * sizeof(int32_t));
    for (int i = 0; i < f->n; i++) {
        json_t *a = json_object_get(json_array_get(f->peer, i), "input_ids");
        for (size_t j = 0; j < json_array_size(a); j++)
            f->ids[f->offsets[i] + (int)j] = (int32_t)json_integer_value(json_array_get(a, j));
    }
    free(dir), free(pp), free(rp);
}

static void free_fixture(fixture *f) {
    embp_bert_free(f->bert);
    embp_st_close(f->st);
    json_decref(f->peer);
    json_decref(f->ref);
    free(f->offsets), free(f->ids);
}

/* out (n, H): the fixture's sentences embedded as one packed batch. */
static float *embed_batch(fixture *f, int first, int count) {
    int H = f->cfg.hidden;
    float *out = malloc((size_t)count * H * sizeof(float));
    int *off = malloc((size_t)(count + 1) * sizeof(int));
    for (int i = 0; i <= count; i++)
        off[i] = f->offsets[first + i] - f->offsets[first];
    const float *hidden = NULL;
    embp_error err = {0};
    if (embp_bert_forward(f->bert, f->ids + f->offsets[first], NULL, off, count, &hidden, &err))
        fail_msg("forward: %s", err.msg);
    embp_pool(f->cfg.pooling, f->cfg.normalize, hidden, off, count, H, H, out);
    free(off);
    return out;
}

static double *json_vec(json_t *row, int H) {
    json_t *e = json_object_get(row, "embedding");
    if ((int)json_array_size(e) != H)
        fail_msg("reference embedding has %zu values, expected %d", json_array_size(e), H);
    double *v = malloc((size_t)H * sizeof *v);
    for (int j = 0; j < H; j++)
        v[j] = json_real_value(json_array_get(e, j));
    return v;
}

/* Every sentence against one reference; prints the worst. */
static void compare(const char *model, const char *which, json_t *refs, const float *got, int n,
                    int H) {
    double worst_cos = 1.0, worst_diff = 0.0;
    int wc = 0, wd = 0;
    for (int i = 0; i < n; i++) {
        double *want = json_vec(json_array_get(refs, i), H);
        double c = tu_cosine(got + (size_t)i * H, want, H), d = tu_maxdiff(got + (size_t)i * H, want, H);
        if (!(c >= worst_cos) && !isnan(worst_cos))
            worst_cos = c, wc = i;
        if (!(d <= worst_diff) && !isnan(worst_diff))
            worst_diff = d, wd = i;
        free(want);
    }
    print_message("%-10s vs %-5s: %d sentences, worst cosine %.8f (#%d), worst max|diff| %.2e "
                  "(#%d)\n", model, which, n, worst_cos, wc, worst_diff, wd);
    if (!(worst_cos >= COS_MIN && worst_diff <= MAXDIFF_MAX))
        fail_msg("%s vs %s: sentence %d \"%s\": cosine %.8f (min %g); sentence %d \"%s\": max "
                 "|diff| %.3g (max %g)", model, which, wc,
                 json_string_value(json_object_get(json_array_get(refs, wc), "text")), worst_cos,
                 COS_MIN, wd, json_string_value(json_object_get(json_array_get(refs, wd), "text")),
                 worst_diff, MAXDIFF_MAX);
}

static void check_model(const char *name) {
    fixture f;
    load_fixture(name, &f);
    int H = f.cfg.hidden;
    float *batch = embed_batch(&f, 0, f.n);
    compare(name, "peer", f.peer, batch, f.n, H);
    compare(name, "numpy", f.ref, batch, f.n, H);
    double worst = 0.0;
    for (int i = 0; i < f.n; i++) {
        float *one = embed_batch(&f, i, 1);
        for (int j = 0; j < H; j++) {
            double d = fabs(one[j] - batch[(size_t)i * H + j]);
            worst = tu_worst_max(worst, d);
            if (!(d <= BATCH_TOL))
                fail_msg("%s: sentence %d value %d: alone %.9g, in the batch %.9g", name, i, j,
                         (double)one[j], (double)batch[(size_t)i * H + j]);
        }
        free(one);
    }
    print_message("%-10s alone vs batched: max |diff| %.2e\n", name, worst);
    free(batch);
    free_fixture(&f);
}

/* One case per fixture of tests/make_fixtures.sh (TU_CASE: *state is its name). */
static void test_fixture_matches_references(void **state) {
    check_model(*state);
}
#define FIXTURE_CASE(name, fixture) TU_CASE(name, test_fixture_matches_references, fixture)

/* ---------------------------------------------------------------- broken folders */

/* A copy of the tiny fixture in a temp dir: config.json with "hidden_size": 64 replaced by
 * `hidden` (when not NULL); the tensors without `drop`; `retype` written as I32. */
static char *broken_copy(const char *hidden, const char *drop, const char *retype) {
    char *src = tu_fixture("tiny"), *dir = tu_tmpdir(), path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", src);
    char *cfg = tu_read_file(path, &len);
    assert_non_null(cfg);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *fp = fopen(path, "w");
    char *at = hidden ? strstr(cfg, "\"hidden_size\": 64") : NULL;
    if (at) {
        fwrite(cfg, 1, (size_t)(at - cfg), fp);
        fprintf(fp, "\"hidden_size\": %s%s", hidden, at + strlen("\"hidden_size\": 64"));
    } else {
        fputs(cfg, fp);
    }
    fclose(fp);
    embp_safetensors *st = NULL;
    embp_error err = {0};
    assert_int_equal(embp_st_open_dir(src, &st, &err), EMBP_OK);
    int n = embp_st_count(st), k = 0;
    embp_st_write_tensor *ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        const embp_st_tensor *t = embp_st_at(st, i);
        if (drop && strcmp(t->name, drop) == 0)
            continue;
        ts[k] = (embp_st_write_tensor){t->name, t->dtype, t->n_dims, {0}, t->data};
        memcpy(ts[k].shape, t->shape, sizeof t->shape);
        if (retype && strcmp(t->name, retype) == 0)
            ts[k].dtype = EMBP_DT_I32;
        k++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (embp_st_write(path, ts, k, NULL, NULL, 0, &err))
        fail_msg("writing %s: %s", path, err.msg);
    embp_st_close(st);
    free(ts), free(cfg), free(src);
    return dir;
}

static void remove_copy(char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    remove(dir);
    free(dir);
}

static embp_status load_dir(const char *dir, embp_error *err) {
    embp_model_config cfg;
    embp_safetensors *st = NULL;
    embp_bert *b = NULL;
    embp_status rc = embp_config_load(dir, &cfg, err);
    if (rc == EMBP_OK && (rc = embp_st_open_dir(dir, &st, err)) == EMBP_OK)
        rc = embp_bert_load(&cfg, st, NULL, 1024, cfg.max_seq_len, 1, &b, err);
    embp_bert_free(b);
    embp_st_close(st);
    return rc;
}

static void expect_load_error(const char *dir, embp_status code, const char *const *needles) {
    embp_error err = {0};
    embp_status rc = load_dir(dir, &err);
    print_message("error: %s\n", err.msg);
    if (rc != code)
        fail_msg("status %s, expected %s (%s)", embp_status_str(rc), embp_status_str(code), err.msg);
    for (; *needles; needles++)
        if (!strstr(err.msg, *needles))
            fail_msg("message \"%s\" does not name \"%s\"", err.msg, *needles);
}

static void test_config_hidden_96_names_tensor_and_both_shapes(void **s) {
    (void)s;
    char *dir = broken_copy("96", NULL, NULL);
    const char *needles[] = {"embeddings.word_embeddings.weight", "[145, 64]", "[145, 96]", NULL};
    expect_load_error(dir, EMBP_EFORMAT, needles);
    remove_copy(dir);
}

static void test_missing_tensor_is_named(void **s) {
    (void)s;
    char *dir = broken_copy(NULL, "encoder.layer.1.output.dense.bias", NULL);
    const char *needles[] = {"encoder.layer.1.output.dense.bias", "missing", NULL};
    expect_load_error(dir, EMBP_EFORMAT, needles);
    remove_copy(dir);
}

static void test_integer_dtype_is_named(void **s) {
    (void)s;
    char *dir = broken_copy(NULL, NULL, "encoder.layer.0.output.LayerNorm.weight");
    const char *needles[] = {"encoder.layer.0.output.LayerNorm.weight", "I32", NULL};
    expect_load_error(dir, EMBP_EFORMAT, needles);
    remove_copy(dir);
}

/* Every allocation of a load failing in turn: ENOMEM each time, and (under ASan) no leak. */
static void test_failed_allocations_in_load_are_enomem(void **s) {
    (void)s;
    char *dir = tu_fixture("tiny");
    embp_model_config cfg;
    embp_safetensors *st = NULL;
    embp_error err = {0};
    assert_int_equal(embp_config_load(dir, &cfg, &err), EMBP_OK);
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_OK);
    for (long n = 0;; n++) {
        embp_bert *b = NULL;
        embp_alloc_fail_after(n);
        embp_status rc = embp_bert_load(&cfg, st, NULL, 256, cfg.max_seq_len, 1, &b, &err);
        embp_alloc_fail_after(-1);
        embp_bert_free(b);
        if (rc == EMBP_OK)
            break;
        if (rc != EMBP_ENOMEM)
            fail_msg("allocation %ld failing gave %s: %s", n, embp_status_str(rc), err.msg);
    }
    embp_st_close(st);
    free(dir);
}

static void test_forward_rejects_bad_ids_and_lengths(void **s) {
    (void)s;
    fixture f;
    load_fixture("tiny", &f);
    const float *h;
    embp_error err = {0};
    int32_t ids[3] = {2, 145, 3};
    int off[2] = {0, 3};
    assert_int_equal(embp_bert_forward(f.bert, ids, NULL, off, 1, &h, &err), EMBP_EINVAL);
    assert_non_null(strstr(err.msg, "145"));
    int off0[2] = {0, 0};
    assert_int_equal(embp_bert_forward(f.bert, ids, NULL, off0, 1, &h, &err), EMBP_EINVAL);
    free_fixture(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FIXTURE_CASE("test_tiny_mean_matches_references", "tiny"),
        FIXTURE_CASE("test_tiny_cls_matches_references", "tiny_cls"),
        FIXTURE_CASE("test_tiny_max_unnormalized_matches_references", "tiny_max"),
        FIXTURE_CASE("test_tiny_lasttoken_matches_references", "tiny_last"),
        FIXTURE_CASE("test_tiny_mean_sqrt_len_matches_references", "tiny_sqrt"),
        FIXTURE_CASE("test_tiny_f16_weights_match_references", "tiny_f16"),
        FIXTURE_CASE("test_tiny_bf16_weights_match_references", "tiny_bf16"),
        FIXTURE_CASE("test_minilm_shape_matches_references", "minilm"),
        cmocka_unit_test(test_config_hidden_96_names_tensor_and_both_shapes),
        cmocka_unit_test(test_missing_tensor_is_named),
        cmocka_unit_test(test_integer_dtype_is_named),
        cmocka_unit_test(test_failed_allocations_in_load_are_enomem),
        cmocka_unit_test(test_forward_rejects_bad_ids_and_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
