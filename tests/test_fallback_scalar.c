/* Run with EMBP_CPU_FEATURES=scalar (set by CMake): the CPU probe then reports no AVX2 or
 * AVX-512, as a baseline x86-64 machine would. Every precision must still load, fall back where
 * it must with its reason, and give the ONNX Runtime peer's vectors (fixtures' minilm.peer.jsonl,
 * texts through embp's own tokenizer) within its plan's bound; strict mode must refuse the
 * fallbacks. The mask caps embp's kernels and oneDNN's ISA (kernels/matmul.c). */
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

/* Worst cosine and max |diff| of m's vectors to the peer's over the fixture's first N_SENT
 * sentences, embedded in one call (all 81 take ~2 minutes on the scalar path under ASan;
 * test_model checks every one against the peer on the full CPU). */
enum { N_SENT = 20 };
static void against_peer(embp_model *m, double *worst_cos, double *worst_diff) {
    char *path = tu_fixture("minilm.peer.jsonl");
    json_t *rows = tu_read_jsonl(path);
    assert_true(json_array_size(rows) >= N_SENT);
    const char *texts[N_SENT];
    size_t lens[N_SENT];
    for (int i = 0; i < N_SENT; i++) {
        json_t *t = json_object_get(json_array_get(rows, (size_t)i), "text");
        texts[i] = json_string_value(t), lens[i] = json_string_length(t);
    }
    float v[N_SENT * 384];
    double want[384];
    embp_error err;
    if (embp_embed_texts(m, texts, lens, N_SENT, 0, 1, v, &err) != EMBP_OK)
        fail_msg("%s", err.msg);
    *worst_cos = 1.0, *worst_diff = 0.0;
    for (int i = 0; i < N_SENT; i++) {
        json_t *e = json_object_get(json_array_get(rows, (size_t)i), "embedding");
        assert_int_equal(json_array_size(e), 384);
        for (int j = 0; j < 384; j++)
            want[j] = json_real_value(json_array_get(e, (size_t)j));
        *worst_cos = tu_worst_min(*worst_cos, tu_cosine(v + i * 384, want, 384));
        *worst_diff = tu_worst_max(*worst_diff, tu_maxdiff(v + i * 384, want, 384));
    }
    json_decref(rows);
    free(path);
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

/* Bounds against the peer: fp32 as test_model's (cosine 0.99999, max |diff| 1e-4); int8
 * falls back to fp32 entirely; bf16 storage rounds weights (1 - cos ~1e-6 on this fixture);
 * int4 as test_precision_model's int4 bound (0.995). */
static void test_each_precision_falls_back_with_reason_and_matches_the_peer(void **state) {
    (void)state;
    embp_model *m;
    embp_error err;
    const struct {
        const char *precision, *storage, *compute, *reason;
        double cos_min, diff_max;
    } cases[] = {
        {"fp32", "fp32", "fp32", "", 0.99999, 1e-4},
        {"int8", "fp32", "fp32", "compute int8 needs AVX512_VNNI or AVX-VNNI", 0.99999, 1e-4},
        {"bf16", "bf16", "fp32", "compute bf16 needs AVX512_BF16", 0.99999, 1.0},
        {"int4", "int4", "bf16", "the scalar path runs it", 0.995, 1.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(load(cases[i].precision, 0, &m, &err), EMBP_OK);
        embp_model_info info;
        embp_model_get_info(m, &info);
        double c, d;
        against_peer(m, &c, &d);
        print_message("scalar CPU, %s -> %s/%s, vs the peer: worst cosine %.7f, max |diff| %.2e; "
                      "%s\n", cases[i].precision, info.storage, info.compute, c, d,
                      info.plan_reason);
        assert_string_equal(info.storage, cases[i].storage);
        assert_string_equal(info.compute, cases[i].compute);
        assert_non_null(strstr(info.plan_reason, cases[i].reason));
        if (!(c >= cases[i].cos_min && d <= cases[i].diff_max))
            fail_msg("scalar CPU %s: worst cosine to the peer %.7f (min %g), max |diff| %.3g "
                     "(max %g)", cases[i].precision, c, cases[i].cos_min, d, cases[i].diff_max);
        embp_model_free(m);
    }
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

TU_MAIN(cmocka_unit_test(test_mask_is_in_effect),
        cmocka_unit_test(test_each_precision_falls_back_with_reason_and_matches_the_peer),
        cmocka_unit_test(test_strict_mode_refuses_a_compute_fallback))
