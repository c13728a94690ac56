/* Run with EMBP_CPU_FEATURES=scalar (set by CMake): the CPU probe then reports no AVX2 or
 * AVX-512, as a baseline x86-64 machine would. Every precision must still load, fall back where
 * it must with its reason, stay close to fp32, and strict mode must refuse the fallbacks. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

static embp_status load(const char *precision, int strict, embp_model **m, embp_error *err) {
    char *dir = tu_fixture("minilm");
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.precision = tu_precision(precision);
    o.strict = strict;
    embp_status s = embp_model_load(dir, &o, m, err);
    free(dir);
    return s;
}

static double worst_cosine(embp_model *a, embp_model *b) {
    const char *t[] = {"fallbacks still embed", "A man is eating food.", "日本語の文章"};
    float x[3 * 384], y[3 * 384];
    double yd[384], worst = 1.0;
    embp_error err;
    assert_int_equal(embp_embed_texts(a, t, NULL, 3, 0, 1, x, &err), EMBP_OK);
    assert_int_equal(embp_embed_texts(b, t, NULL, 3, 0, 1, y, &err), EMBP_OK);
    for (int s = 0; s < 3; s++) {
        for (int j = 0; j < 384; j++)
            yd[j] = y[s * 384 + j];
        double c = tu_cosine(x + s * 384, yd, 384);
        worst = tu_worst_min(worst, c);
    }
    return worst;
}

static void test_mask_is_in_effect(void **state) {
    (void)state;
    const embp_cpu *cpu = embp_cpu_get();
    const char *mask = getenv("EMBP_CPU_FEATURES");
    assert_non_null(mask);
    assert_string_equal(mask, "scalar");
    assert_false(cpu->avx2);
    assert_false(cpu->avx512f);
}

static void test_each_precision_falls_back_with_reason_and_stays_close(void **state) {
    (void)state;
    embp_model *ref, *m;
    embp_error err;
    assert_int_equal(load("fp32", 0, &ref, &err), EMBP_OK);
    const struct {
        const char *precision, *storage, *compute, *reason;
        double bound;
    } cases[] = {
        {"int8", "fp32", "fp32", "compute int8 needs AVX512_VNNI or AVX-VNNI", 0.999999},
        {"bf16", "bf16", "fp32", "compute bf16 needs AVX512_BF16", 0.99999},
        {"int4", "int4", "bf16", "the scalar path runs it", 0.995},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(load(cases[i].precision, 0, &m, &err), EMBP_OK);
        embp_model_info info;
        embp_model_get_info(m, &info);
        double w = worst_cosine(m, ref);
        print_message("scalar CPU, %s -> %s/%s, worst cosine %.6f: %s\n", cases[i].precision,
                      info.storage, info.compute, w, info.plan_reason);
        assert_string_equal(info.storage, cases[i].storage);
        assert_string_equal(info.compute, cases[i].compute);
        assert_non_null(strstr(info.plan_reason, cases[i].reason));
        assert_true(w >= cases[i].bound);
        embp_model_free(m);
    }
    embp_model_free(ref);
}

static void test_strict_mode_refuses_a_compute_fallback(void **state) {
    (void)state;
    embp_model *m = (embp_model *)1;
    embp_error err;
    assert_int_equal(load("int8", 1, &m, &err), EMBP_EDEVICE);
    assert_null(m);
    assert_non_null(strstr(err.msg, "AVX512_VNNI"));
    assert_int_equal(load("bf16", 1, &m, &err), EMBP_EDEVICE);
    assert_non_null(strstr(err.msg, "AVX512_BF16"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_is_in_effect),
        cmocka_unit_test(test_each_precision_falls_back_with_reason_and_stays_close),
        cmocka_unit_test(test_strict_mode_refuses_a_compute_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
