/* Each SIMD kernel table against the scalar reference (and the scalar one against values
 * worked by hand), with named tolerances. Each table is a path of its own (tests/testutil.h):
 * Skipped, with the reason, where the CPU cannot run it. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/fp.h"
#include "kernels/kernels.h"

/* clang-format off */
#define LAYERNORM_TOL 2e-5  /* abs, outputs O(1): fp32 sums of 384 terms in another order */
#define GELU_TOL      1.2e-6 /* abs over [-10, 10]: 9.7e-7 measured (simd_body.h erf)     */
#define SOFTMAX_TOL   1e-6  /* abs on probabilities: polynomial exp ~2e-7 relative         */
#define ATTN_TOL      1e-5  /* abs on outputs O(1)                                          */
#define DEQUANT_TOL   1e-6  /* relative                                                     */
/* clang-format on */

static uint32_t rng_state = 12345;
static float frand(float lo, float hi) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(rng_state >> 8) / 16777216.0f;
}
static float *rand_vec(size_t n, float lo, float hi) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand(lo, hi);
    return v;
}

/* The SIMD table a case checks: its cmocka initial state (see main: one path per table). */
static const embp_kernels *table(void **state) {
    return (const embp_kernels *)(uintptr_t)*state;
}

/* Fails naming the kernel, the index and both values when |a - b| > tol * (rel ? |b| : 1). */
static void expect_close(const char *what, const char *k, const float *a, const float *b,
                         size_t n, double tol, int rel) {
    for (size_t i = 0; i < n; i++) {
        double lim = rel ? tol * fabs((double)b[i]) + 1e-30 : tol;
        if (!(fabs((double)a[i] - b[i]) <= lim))
            fail_msg("%s (%s): index %zu: got %.9g, scalar %.9g, |diff| %.3g > %.3g", what, k, i,
                     (double)a[i], (double)b[i], fabs((double)a[i] - b[i]), lim);
    }
}

static void test_scalar_gelu_and_softmax_match_hand_values(void **state) {
    (void)state;
    float g[3] = {1.0f, -1.0f, 0.0f};
    embp_kernels_scalar.gelu(g, 3);
    /* 0.5 x (1 + erf(x / sqrt 2)): x = 1 gives 0.8413447460685429, x = -1 -0.1586552539314571 */
    assert_true(fabs(g[0] - 0.8413447460685429) < 1e-7);
    assert_true(fabs(g[1] + 0.1586552539314571) < 1e-7);
    assert_true(g[2] == 0.0f);
    float s[2] = {0.0f, logf(3.0f)}; /* exp: 1 and 3, so 1/4 and 3/4 */
    embp_kernels_scalar.softmax(s, 2);
    assert_true(fabs(s[0] - 0.25) < 1e-7 && fabs(s[1] - 0.75) < 1e-7);
}

static void test_scalar_layernorm_matches_hand_values(void **state) {
    (void)state;
    /* Row (1, 2, 3, 4) + residual (1, 1, 1, 1): mean 3.5, var 1.25; gain 2, bias 1. */
    float x[4] = {1, 2, 3, 4}, r[4] = {1, 1, 1, 1}, g[4] = {2, 2, 2, 2}, b[4] = {1, 1, 1, 1};
    embp_kernels_scalar.layernorm(x, r, g, b, 1, 4, 0.0f);
    for (int i = 0; i < 4; i++) {
        double want = (i + 2 - 3.5) / sqrt(1.25) * 2 + 1;
        if (!(fabs(x[i] - want) <= 1e-6))
            fail_msg("layernorm[%d]: got %.9g, want %.9g", i, (double)x[i], want);
    }
}

static void test_simd_layernorm_with_residual_matches_scalar(void **state) {
    const embp_kernels *t = table(state);
    int Cs[] = {64, 384, 37};
    for (int ci = 0; ci < 3; ci++) {
        int T = 5, C = Cs[ci];
        float *x = rand_vec((size_t)T * C, 90.0f, 110.0f); /* a large mean: the one-pass trap */
        float *r = rand_vec((size_t)T * C, -1.0f, 1.0f);
        float *g = rand_vec((size_t)C, 0.5f, 2.0f), *b = rand_vec((size_t)C, -1.0f, 1.0f);
        float *ref = malloc((size_t)T * C * sizeof *ref), *got = malloc((size_t)T * C * 4);
        for (int with_r = 0; with_r < 2; with_r++) {
            memcpy(ref, x, (size_t)T * C * 4);
            embp_kernels_scalar.layernorm(ref, with_r ? r : NULL, g, b, T, C, 1e-12f);
            memcpy(got, x, (size_t)T * C * 4);
            t->layernorm(got, with_r ? r : NULL, g, b, T, C, 1e-12f);
            expect_close("layernorm", t->name, got, ref, (size_t)T * C, LAYERNORM_TOL, 0);
        }
        free(x), free(r), free(g), free(b), free(ref), free(got);
    }
}

static void test_simd_gelu_matches_scalar(void **state) {
    const embp_kernels *t = table(state);
    size_t n = 4001; /* odd: runs the scalar tail */
    float *x = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);
    memcpy(ref, x, n * 4);
    embp_kernels_scalar.gelu(ref, n);
    memcpy(got, x, n * 4);
    t->gelu(got, n);
    expect_close("gelu", t->name, got, ref, n, GELU_TOL, 0);
    free(x), free(ref), free(got);
}

static void test_simd_softmax_matches_scalar(void **state) {
    const embp_kernels *t = table(state);
    int ns[] = {1, 7, 16, 129, 512};
    for (int i = 0; i < 5; i++) {
        int n = ns[i];
        float *x = rand_vec((size_t)n, -30.0f, 30.0f), *ref = malloc((size_t)n * 4);
        float *got = malloc((size_t)n * 4);
        memcpy(ref, x, (size_t)n * 4);
        embp_kernels_scalar.softmax(ref, n);
        memcpy(got, x, (size_t)n * 4);
        t->softmax(got, n);
        expect_close("softmax", t->name, got, ref, (size_t)n, SOFTMAX_TOL, 0);
        free(x), free(ref), free(got);
    }
}

static void test_scalar_attention_of_one_token_returns_its_value(void **state) {
    (void)state;
    float qkv[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, -1, 0.5f, 2, -3}, out[4], scratch[128];
    embp_kernels_scalar.attention(qkv, qkv + 4, qkv + 8, 12, out, 4, 1, 4, 0.5f, scratch);
    for (int d = 0; d < 4; d++)
        assert_true(out[d] == qkv[8 + d]);
}

/* A bias of 0 at distance 0 and -1e30 elsewhere leaves each row attending to itself only: out
 * is v, row for row; read at j - i in -(L - 1) .. Lp - 1 as kernels.h says (padding NaN, never
 * reaching a result). */
static void test_attention_bias_of_distance_zero_returns_each_value(void **state) {
    const embp_kernels *t = table(state);
    enum { L = 5, D = 16, LP = 16 };
    float *qkv = rand_vec((size_t)L * 3 * D, -2.0f, 2.0f), out[L * D];
    float dist[(L - 1) + LP], *bias = dist + (L - 1), *scr = malloc(embp_attn_scratch_floats(L, D) * 4);
    for (int d = -(L - 1); d < LP; d++)
        bias[d] = d == 0 ? 0.0f : d < L ? -1e30f : NAN;
    t->attention_bias(qkv, qkv + D, qkv + 2 * D, 3 * D, out, D, L, D, 0.25f, bias, scr);
    for (int i = 0; i < L; i++)
        for (int d = 0; d < D; d++)
            assert_float_equal(out[i * D + d], qkv[i * 3 * D + 2 * D + d], 1e-6f);
    free(qkv), free(scr);
}

/* Q, K, V interleaved as in the fused QKV rows: (L, 3 * D) with a head at column 0. */
static void test_simd_attention_matches_scalar(void **state) {
    const embp_kernels *t = table(state);
    int Ls[] = {1, 5, 17, 80, 128}, Ds[] = {16, 32, 24}; /* 80: 64 score columns, then 16 */
    for (int li = 0; li < 5; li++)
        for (int di = 0; di < 3; di++) {
            int L = Ls[li], D = Ds[di], stride = 3 * D;
            float *qkv = rand_vec((size_t)L * stride, -2.0f, 2.0f);
            float *ref = malloc((size_t)L * D * 4), *got = malloc((size_t)L * D * 4);
            float *scr = malloc(embp_attn_scratch_floats(L, D) * 4);
            float scale = 1.0f / sqrtf((float)D);
            embp_kernels_scalar.attention(qkv, qkv + D, qkv + 2 * D, stride, ref, D, L, D, scale,
                                          scr);
            t->attention(qkv, qkv + D, qkv + 2 * D, stride, got, D, L, D, scale, scr);
            char what[64];
            snprintf(what, sizeof what, "attention L=%d D=%d", L, D);
            expect_close(what, t->name, got, ref, (size_t)L * D, ATTN_TOL, 0);
            /* with a bias by distance (MPNet's relative positions), as big as the scores */
            int Lp = (L + 15) / 16 * 16;
            float *dist = rand_vec((size_t)(L - 1 + Lp), -3.0f, 3.0f), *bias = dist + L - 1;
            embp_kernels_scalar.attention_bias(qkv, qkv + D, qkv + 2 * D, stride, ref, D, L, D,
                                               scale, bias, scr);
            t->attention_bias(qkv, qkv + D, qkv + 2 * D, stride, got, D, L, D, scale, bias, scr);
            snprintf(what, sizeof what, "attention_bias L=%d D=%d", L, D);
            expect_close(what, t->name, got, ref, (size_t)L * D, ATTN_TOL, 0);
            free(qkv), free(ref), free(got), free(scr), free(dist);
        }
}

/* One head over (L, 3D) random rows in [-amp, amp]: got from the kernel, ref from reference;
 * returns the largest and the mean |got - ref|. */
typedef void (*attn_fn)(const float *, const float *, const float *, int, float *, int, int, int,
                        float, float *);
static void attn_diff(attn_fn kernel, attn_fn reference, int L, int D, float amp, double *max,
                      double *mean) {
    int stride = 3 * D;
    float *qkv = rand_vec((size_t)L * stride, -amp, amp);
    float *ref = malloc((size_t)L * D * 4), *got = malloc((size_t)L * D * 4);
    float *scr = malloc(embp_attn_scratch_floats(L, D) * 4);
    float scale = 1.0f / sqrtf((float)D);
    reference(qkv, qkv + D, qkv + 2 * D, stride, ref, D, L, D, scale, scr);
    kernel(qkv, qkv + D, qkv + 2 * D, stride, got, D, L, D, scale, scr);
    *max = *mean = 0.0;
    for (int i = 0; i < L * D; i++) {
        double d = fabs((double)got[i] - ref[i]);
        *max = d > *max || isnan(d) ? d : *max;
        *mean += d / (L * D);
    }
    free(qkv), free(ref), free(got), free(scr);
}

/* attention_bf16 against its scalar twin: the same roundings, sums in another order (fp32 vs
 * fp64) and 2^x by a polynomial (3e-7 relative) where the twin's is exact. An exponential a few
 * ulps apart can round to the neighbouring bf16 (2^-8 relative) and move an output by up to 2^-8
 * of max |v| = 2, so that bounds each element; such roundings are rare, so the mean is held
 * 2000x tighter (measured: at most 6e-7): a 2^x off by 1e-5 relative (a polynomial of lower
 * degree or a wrong coefficient) moves it past that at several shapes, and a wrong pairing,
 * transposition or scale misses both bounds by orders of magnitude. The lengths cover each
 * count of 16-column score vectors past the 64-column steps (80: 1, 33: 3, 200: 1 after 3
 * steps) and odd lengths (a value row pair of one); D = 96 and 128 run two column chunks;
 * D = 24 runs the fp32 kernel (kernels.h). */
#define ATTN_BF16_TOL (2.0 * 0.00390625)
static void test_attention_bf16_matches_its_scalar_twin(void **state) {
    (void)state;
    const embp_kernels *t = &embp_kernels_avx512_bf16;
    assert_non_null(t->attention_bf16);
    assert_null(embp_kernels_avx512.attention_bf16); /* no vdpbf16ps, no bf16 attention */
    int Ls[] = {1, 5, 17, 33, 80, 128, 200}, Ds[] = {32, 64, 96, 128, 24};
    for (int li = 0; li < 7; li++)
        for (int di = 0; di < 5; di++) {
            double max, mean;
            attn_diff(t->attention_bf16, embp_attention_bf16_ref, Ls[li], Ds[di], 2.0f, &max,
                      &mean);
            if (!(max <= ATTN_BF16_TOL && mean <= ATTN_BF16_TOL / 2000))
                fail_msg("attention_bf16 L=%d D=%d vs its scalar twin: max |diff| %.3g (bound "
                         "%.3g), mean %.3g (bound %.3g)", Ls[li], Ds[di], max, ATTN_BF16_TOL,
                         mean, ATTN_BF16_TOL / 2000);
        }
}

/* The twin is attention: against the fp32 scalar attention, inputs in [-1, 1], it moves each
 * output by what rounding q, k, v and the exponentials to bf16 does (a few 2^-9 of |v|). */
static void test_attention_bf16_twin_is_attention_within_bf16_rounding(void **state) {
    (void)state;
    int Ls[] = {17, 128}, Ds[] = {32, 64};
    for (int li = 0; li < 2; li++)
        for (int di = 0; di < 2; di++) {
            double max, mean;
            attn_diff(embp_attention_bf16_ref, embp_kernels_scalar.attention, Ls[li], Ds[di],
                      1.0f, &max, &mean);
            if (!(max <= 0.01 && mean <= 0.002 && max > 0.0))
                fail_msg("bf16 attention twin L=%d D=%d vs fp32: max |diff| %.3g, mean %.3g "
                         "(want nonzero, <= 0.01 and <= 0.002)", Ls[li], Ds[di], max, mean);
        }
}

/* Every fp16 bit pattern; bf16 of random and special floats: bit-exact with the scalar, except
 * that hardware quiets a signaling NaN (still a NaN). */
static void test_simd_conversions_match_scalar_bit_for_bit(void **state) {
    const embp_kernels *t = table(state);
    size_t n = 65536;
    uint16_t *h = malloc(n * 2), *ref16 = malloc(n * 2), *got16 = malloc(n * 2);
    float *ref = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        h[i] = (uint16_t)i;
    float *x = rand_vec(n, -1e4f, 1e4f);
    float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, 3.0e38f, 1.00390625f};
    memcpy(x, specials, sizeof specials);
    embp_kernels_scalar.fp16_to_f32(h, ref, n);
    t->fp16_to_f32(h, got, n);
    for (size_t i = 0; i < n; i++)
        if (memcmp(&ref[i], &got[i], 4) != 0 && !(isnan(ref[i]) && isnan(got[i])))
            fail_msg("fp16_to_f32 (%s): 0x%04zx: got %g, scalar %g", t->name, i,
                     (double)got[i], (double)ref[i]);
    embp_kernels_scalar.f32_to_bf16(x, ref16, n);
    t->f32_to_bf16(x, got16, n);
    for (size_t i = 0; i < n; i++)
        if (ref16[i] != got16[i])
            fail_msg("f32_to_bf16 (%s): %g: got 0x%04x, scalar 0x%04x", t->name,
                     (double)x[i], got16[i], ref16[i]);
    embp_kernels_scalar.bf16_to_f32(h, ref, n);
    t->bf16_to_f32(h, got, n);
    assert_memory_equal(ref, got, n * 4);
    free(h), free(ref16), free(got16), free(ref), free(got), free(x);
}

static void test_simd_quantize_and_dequant_match_scalar(void **state) {
    const embp_kernels *t = table(state);
    int T = 7, K = 70, N = 37;
    float *x = rand_vec((size_t)T * K, -3.0f, 3.0f);
    memset(x, 0, (size_t)K * 4); /* a zero row: scale 1, every value 128 */
    uint8_t *qr = malloc((size_t)T * K), *qg = malloc((size_t)T * K);
    float sr[7], sg[7];
    int32_t *acc = malloc((size_t)T * N * 4), *wsum = malloc((size_t)N * 4);
    float *ws = rand_vec((size_t)N, 0.001f, 0.01f), *bias = rand_vec((size_t)N, -1, 1);
    float *yr = malloc((size_t)T * N * 4), *yg = malloc((size_t)T * N * 4);
    for (int i = 0; i < T * N; i++)
        acc[i] = (int32_t)frand(-200000.0f, 200000.0f);
    for (int i = 0; i < N; i++)
        wsum[i] = (int32_t)frand(-2000.0f, 2000.0f);
    embp_kernels_scalar.quantize_u8(x, T, K, qr, sr);
    assert_true(sr[0] == 1.0f && qr[0] == 128);
    embp_kernels_scalar.dequant_s32(acc, wsum, sr, ws, bias, yr, T, N);
    t->quantize_u8(x, T, K, qg, sg);
    assert_memory_equal(sr, sg, sizeof sr);
    assert_memory_equal(qr, qg, (size_t)T * K);
    t->dequant_s32(acc, wsum, sr, ws, bias, yg, T, N);
    expect_close("dequant_s32", t->name, yg, yr, (size_t)T * N, DEQUANT_TOL, 1);
    free(x), free(qr), free(qg), free(acc), free(wsum), free(ws), free(bias), free(yr), free(yg);
}

static void test_pick_follows_the_cpu_mask(void **state) {
    (void)state;
    embp_cpu c;
    embp_error err;
    assert_int_equal(embp_cpu_mask(embp_cpu_get_unmasked(), "scalar", &c, &err), EMBP_OK);
    assert_string_equal(embp_kernels_pick(&c)->name, "scalar");
    if (embp_cpu_has_avx2(embp_cpu_get_unmasked())) {
        assert_int_equal(embp_cpu_mask(embp_cpu_get_unmasked(), "avx2", &c, &err), EMBP_OK);
        assert_string_equal(embp_kernels_pick(&c)->name, "avx2");
    }
}

#define SIMD_CASES(t)                                                                              \
    {                                                                                              \
        cmocka_unit_test_prestate(test_simd_layernorm_with_residual_matches_scalar, (void *)(uintptr_t)(t)),  \
            cmocka_unit_test_prestate(test_simd_gelu_matches_scalar, (void *)(uintptr_t)(t)),                 \
            cmocka_unit_test_prestate(test_simd_softmax_matches_scalar, (void *)(uintptr_t)(t)),              \
            cmocka_unit_test_prestate(test_simd_attention_matches_scalar, (void *)(uintptr_t)(t)),            \
            cmocka_unit_test_prestate(test_attention_bias_of_distance_zero_returns_each_value, (void *)(uintptr_t)(t)), \
            cmocka_unit_test_prestate(test_simd_conversions_match_scalar_bit_for_bit, (void *)(uintptr_t)(t)), \
            cmocka_unit_test_prestate(test_simd_quantize_and_dequant_match_scalar, (void *)(uintptr_t)(t)),   \
    }

int main(int argc, char **argv) {
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_scalar_gelu_and_softmax_match_hand_values),
        cmocka_unit_test(test_scalar_layernorm_matches_hand_values),
        cmocka_unit_test(test_scalar_attention_of_one_token_returns_its_value),
        cmocka_unit_test_prestate(test_attention_bias_of_distance_zero_returns_each_value,
                                  (void *)(uintptr_t)&embp_kernels_scalar),
        cmocka_unit_test(test_pick_follows_the_cpu_mask),
        cmocka_unit_test(test_attention_bf16_twin_is_attention_within_bf16_rounding),
    };
    const struct CMUnitTest avx512_bf16[] = {
        cmocka_unit_test(test_attention_bf16_matches_its_scalar_twin),
    };
    /* Each SIMD table is its own path: on a CPU without AVX-512 the avx512 table shows as
     * Skipped in ctest, not left out. */
    const struct CMUnitTest avx2[] = SIMD_CASES(&embp_kernels_avx2);
    const struct CMUnitTest avx512[] = SIMD_CASES(&embp_kernels_avx512);
    const tu_path paths[] = {
        TU_ALWAYS(always),
        TU_PATH("avx2", avx2, tu_missing_avx2),
        TU_PATH("avx512", avx512, tu_missing_avx512),
        TU_PATH("avx512_bf16", avx512_bf16, tu_missing_avx512_bf16),
    };
    return tu_run_paths(argc, argv, paths, sizeof paths / sizeof paths[0]);
}
