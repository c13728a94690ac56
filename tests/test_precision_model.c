/* Every storage/compute pair this CPU runs, loaded through embp_model_load, against fp32 of the
 * same folder on the fixture sentences; configuration errors at load; precedence; fidelity and
 * auto. Bounds sit just below what was measured (printed on every run); the fixtures have
 * random weights, so the figures say the code is right, not what a trained model keeps. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const texts[] = {
    "Hello world", "A man is eating food.", "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors so that similar meanings land close together.",
    "café naïve résumé Zürich", "日本語の文章も正しく分割されるべきです。",
    "numbers 12345 3.14159 and dates 2026-11-25", "What is the capital of France?",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "tab\tseparated\twords and  double  spaces"};
#define N_TEXTS 10

static embp_model *load_with(const char *fixture, const embp_load_opts *o) {
    char *dir = tu_fixture("%s", fixture);
    embp_model *m = NULL;
    embp_error err;
    if (embp_model_load(dir, o, &m, &err) != EMBP_OK)
        fail_msg("load %s: %s", dir, err.msg);
    free(dir);
    return m;
}

static embp_model *load_precision(const char *fixture, const char *storage, const char *compute) {
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.storage = tu_precision(storage);
    o.compute = tu_precision(compute);
    return load_with(fixture, &o);
}

/* Worst and mean cosine of m's vectors to ref's over the texts. */
static void compare(embp_model *m, embp_model *ref, double *worst, double *mean) {
    float a[N_TEXTS * 384], b[N_TEXTS * 384];
    double bd[384];
    embp_error err;
    assert_int_equal(embp_embed_texts(m, texts, NULL, N_TEXTS, 0, 1, a, &err), EMBP_OK);
    assert_int_equal(embp_embed_texts(ref, texts, NULL, N_TEXTS, 0, 1, b, &err), EMBP_OK);
    *worst = 1.0, *mean = 0.0;
    for (int s = 0; s < N_TEXTS; s++) {
        for (int j = 0; j < 384; j++)
            bd[j] = b[s * 384 + j];
        double c = tu_cosine(a + s * 384, bd, 384);
        *worst = tu_worst_min(*worst, c);
        *mean += c / N_TEXTS;
    }
}

static void check_pair(const char *fixture, const char *storage, const char *compute,
                       const char *want_storage, double bound, double max_weight_ratio) {
    embp_model *ref = load_precision(fixture, "fp32", "fp32");
    embp_model *m = load_precision(fixture, storage, compute);
    embp_model_info ri, mi;
    embp_model_get_info(ref, &ri);
    embp_model_get_info(m, &mi);
    assert_string_equal(mi.storage, want_storage);
    assert_string_equal(mi.accumulation, "fp32");
    double worst, mean;
    compare(m, ref, &worst, &mean);
    double ratio = (double)mi.weight_bytes / (double)ri.weight_bytes;
    printf("%-16s %s/%s -> %s/%s: mean cosine %.6f, worst %.6f, weights %.1f MiB (%.2f x fp32)%s%s\n",
           fixture, storage, compute, mi.storage, mi.compute, mean, worst,
           (double)mi.weight_bytes / (1 << 20), ratio, *mi.plan_reason ? "; " : "",
           mi.plan_reason);
    if (!(worst >= bound))
        fail_msg("%s %s/%s: worst cosine %.6f below %.6f", fixture, storage, compute, worst, bound);
    assert_true(ratio <= max_weight_ratio);
    embp_model_free(m);
    embp_model_free(ref);
}

/* The issue asks bf16 >= 0.999, int8 >= 0.99, int4 >= 0.98; measured worst cosine on these
 * fixtures (2026-11-25, AVX2): fp16 1.000000, bf16 0.999999, int8 (7-bit weights) 0.999912,
 * int4/bf16 0.996666; the bounds below sit just under those. */
static void test_each_pair_stays_close_to_fp32(void **state) {
    (void)state;
    const char *fx[] = {"minilm", "minilm_outliers"};
    for (int f = 0; f < 2; f++) {
        check_pair(fx[f], "fp16", "fp32", "fp16", 0.99999, 1.0);
        check_pair(fx[f], "bf16", "fp32", "bf16", 0.99999, 1.0);
        check_pair(fx[f], "int8", "int8", "int8", 0.9998, 0.7);
        check_pair(fx[f], "int4", "bf16", "int4", 0.995, 0.65);
    }
}

/* The dense layers alone: int4 holds them in <= 0.3 x their fp32 bytes (0.5625 / 4 = 0.14 with
 * group 32); the total above also counts the fp32 embedding tables, which stay fp32. */
static void test_int4_weights_take_under_a_third_of_fp32(void **state) {
    (void)state;
    embp_model *ref = load_precision("minilm", "fp32", "fp32");
    embp_model *q = load_precision("minilm", "int4", "bf16");
    embp_model_info ri, qi;
    embp_model_get_info(ref, &ri);
    embp_model_get_info(q, &qi);
    /* By hand, int4 plan: dense weights 0.5 B + one fp16 scale per 32; word table int8 per row
     * (1 B + a fp32 scale per row); position table, LayerNorms and biases fp32. */
    double H = ri.hidden, I = ri.intermediate, L = ri.layers, V = ri.vocab_size,
           P = ri.max_position;
    double dense = L * (4 * H * H + 2 * H * I), small = L * (3 * H + H + I + H + 4 * H) + 2 * H;
    double want = dense * (0.5 + 2.0 / 32) + V * H + 4 * V + 4 * (P * H + small);
    printf("weights: fp32 %.1f MiB, int4 %.1f MiB (%.3f x; by hand %.1f MiB)\n",
           ri.weight_bytes / 1048576.0, qi.weight_bytes / 1048576.0,
           (double)qi.weight_bytes / (double)ri.weight_bytes, want / 1048576.0);
    assert_true(fabs((double)qi.weight_bytes - want) <= 0.01 * want);
    assert_true((double)qi.weight_bytes <= 0.3 * (double)ri.weight_bytes);
    assert_int_equal(qi.quant_group_size, 32);
    embp_model_free(q);
    embp_model_free(ref);
}

static void expect_load_error(embp_load_opts *o, embp_status code, const char *needle) {
    char *dir = tu_fixture("tiny");
    embp_model *m = (embp_model *)1;
    embp_error err;
    embp_status s = embp_model_load(dir, o, &m, &err);
    if (s != code || !strstr(err.msg, needle) || m)
        fail_msg("expected %d with '%s', got %d: %s", code, needle, s, s ? err.msg : "");
    free(dir);
}

/* The library takes typed options: a value out of range names the embp_load_opts field (the
 * command line's settings table names its variables: test_plan.c, test_server_config.c). */
static void test_configuration_errors_at_load_name_the_field(void **state) {
    (void)state;
    embp_load_opts o[8];
    for (int i = 0; i < 8; i++)
        embp_load_opts_init(&o[i]);
    embp_precision_override none = {"tiny", EMBP_PRECISION_UNSET, EMBP_PRECISION_UNSET,
                                    EMBP_PRECISION_UNSET, 0};
    o[0].precision = (embp_precision)99;
    o[1].compute = EMBP_PRECISION_INT4; /* not a compute format */
    o[2].quantization_method = (embp_quant_method)3;
    o[3].quant_group_size = 48;
    o[4].precision = EMBP_PRECISION_INT4, o[4].enable_quantization = 0;
    o[5].precision_overrides = &none, o[5].n_precision_overrides = 1;
    o[6].fidelity_floor_mean = 1.5;
    o[7].storage = EMBP_PRECISION_INT8, o[7].compute = EMBP_PRECISION_BF16;
    static const char *const needle[8] = {
        "embp_load_opts.precision = 99", "embp_load_opts.compute = int4",
        "embp_load_opts.quantization_method = 3", "embp_load_opts.quant_group_size = 48",
        "enable_quantization=0", "precision_overrides[0] (model \"tiny\")",
        "embp_load_opts.fidelity_floor_mean = 1.5", "is not a pair embp runs"};
    for (int i = 0; i < 8; i++)
        expect_load_error(&o[i], EMBP_ECONFIG, needle[i]);
}

static void test_override_for_this_model_beats_explicit_and_global(void **state) {
    (void)state;
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.precision = EMBP_PRECISION_BF16;
    o.storage = EMBP_PRECISION_FP16;
    o.compute = EMBP_PRECISION_FP32;
    embp_precision_override ov[] = {
        {"other", EMBP_PRECISION_FP32, EMBP_PRECISION_UNSET, EMBP_PRECISION_UNSET, 0},
        {"minilm", EMBP_PRECISION_UNSET, EMBP_PRECISION_INT4, EMBP_PRECISION_BF16, 64}};
    o.precision_overrides = ov, o.n_precision_overrides = 2;
    embp_model *m = load_with("minilm", &o);
    embp_model_info i;
    embp_model_get_info(m, &i);
    assert_string_equal(i.storage, "int4");
    assert_int_equal(i.quant_group_size, 64);
    embp_model_free(m);
    ov[0].precision = EMBP_PRECISION_INT8; /* not this model: explicit wins over global */
    o.n_precision_overrides = 1;
    m = load_with("minilm", &o);
    embp_model_get_info(m, &i);
    assert_string_equal(i.storage, "fp16");
    assert_string_equal(i.compute, "fp32");
    embp_model_free(m);
    o.storage = o.compute = EMBP_PRECISION_UNSET; /* global shorthand last */
    m = load_with("minilm", &o);
    embp_model_get_info(m, &i);
    assert_string_equal(i.storage, "bf16");
    embp_model_free(m);
    m = load_with("minilm", NULL); /* nothing asked: fp32, no reasons */
    embp_model_get_info(m, &i);
    assert_string_equal(i.storage, "fp32");
    assert_string_equal(i.compute, "fp32");
    assert_string_equal(i.plan_reason, "");
    assert_true(isnan(i.fidelity_mean));
    embp_model_free(m);
}

static void test_fidelity_is_measured_cached_and_gates_auto(void **state) {
    (void)state;
    char *cache = tu_tmpdir();
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.precision = EMBP_PRECISION_INT4;
    o.measure_fidelity = 1;
    o.fidelity_cache_dir = cache;
    embp_model *m = load_with("minilm", &o);
    embp_model_info i;
    embp_model_get_info(m, &i);
    printf("int4 fidelity on the probe set: mean %.6f, min %.6f\n", i.fidelity_mean,
           i.fidelity_min);
    assert_true(i.fidelity_mean > 0.99 && i.fidelity_mean <= 1.0);
    assert_true(i.fidelity_min <= i.fidelity_mean);
    assert_non_null(strstr(i.plan_desc, "fidelity to fp32"));
    double mean = i.fidelity_mean;
    embp_model_free(m);
    char path[1024];
    snprintf(path, sizeof path, "%s/fidelity.json", cache);
    size_t len;
    char *text = tu_read_file(path, &len);
    assert_non_null(text); /* measured once, cached */
    assert_non_null(strstr(text, "int4"));
    free(text);
    m = load_with("minilm", &o); /* from the cache: the same figure */
    embp_model_get_info(m, &i);
    assert_true(i.fidelity_mean == mean);
    embp_model_free(m);

    embp_load_opts_init(&o); /* auto with an impossible floor: fp32 */
    o.precision = EMBP_PRECISION_AUTO;
    o.fidelity_floor_mean = o.fidelity_floor_min = 1.0;
    o.fidelity_cache_dir = cache;
    m = load_with("minilm", &o);
    embp_model_get_info(m, &i);
    assert_string_equal(i.storage, "fp32");
    assert_string_equal(i.requested, "auto");
    embp_model_free(m);
    o.fidelity_floor_mean = 0.99, o.fidelity_floor_min = 0.98; /* the fastest plan meets it */
    m = load_with("minilm", &o);
    embp_model_get_info(m, &i);
    printf("auto picked %s/%s (fidelity mean %.6f, min %.6f)\n", i.storage, i.compute,
           i.fidelity_mean, i.fidelity_min);
    assert_string_not_equal(i.storage, "fp32");
    assert_true(i.fidelity_mean >= 0.99 && i.fidelity_min >= 0.98);
    embp_model_free(m);
    tu_remove_dir(cache);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_pair_stays_close_to_fp32),
        cmocka_unit_test(test_int4_weights_take_under_a_third_of_fp32),
        cmocka_unit_test(test_configuration_errors_at_load_name_the_field),
        cmocka_unit_test(test_override_for_this_model_beats_explicit_and_global),
        cmocka_unit_test(test_fidelity_is_measured_cached_and_gates_auto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
