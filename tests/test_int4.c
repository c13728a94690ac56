/* tests/test_int4.c: every int4 GEMM variant against the scalar reference, and the scalar
 * references against an fp64 matmul of the dequantized weights, over odd shapes. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/fp.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

/* Two fp32 sums of the same K terms in different orders differ by at most 2 K u sum|terms|
 * (u = 2^-24, Higham's gamma_K for each); the int32 group dots are exact in both. */
#define SUM_TOL(k) (2.0 * (k) * ldexp(1.0, -24))
/* bf16 keeps 8 significant bits: |bf16(a) - a| <= 2^-8 |a| (round to nearest). */
#define BF16_REL ldexp(1.0, -8)

typedef struct {
    int m, k, n, g;
} shape;

/* M = 1, 3, 17; K a multiple of the group; N not a multiple of 16 or 32 (the register block).
 * {200, 320, 40} is past the AVX2 kernel's 256-value K slice, with a partial tile and a partial
 * panel; the next two span AVX-512 bf16 jobs (96 rows, 8-row blocks, 2-panel blocks) with
 * partial row blocks and the largest group; K 48 leaves 16 values of k past the bf16 kernel's
 * 32-wide packing of A; M 1543 has rows enough for the AVX-512 and AVX2 kernels to split them
 * over two threads (each converting and running its own rows, a partial job and a partial tile
 * at the end of each); K 768 is past the bf16 kernel's 512-value K blocks. */
static const shape shapes[] = {{1, 64, 40, 32},   {3, 96, 17, 32},   {17, 256, 33, 32},
                               {3, 128, 50, 64},  {17, 64, 16, 16},  {5, 512, 70, 128},
                               {200, 320, 40, 32}, {101, 128, 100, 32}, {13, 512, 64, 256},
                               {9, 48, 20, 16},   {1543, 320, 40, 32},
                               {21, 768, 36, 256}};

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * ldexp(1.0, -52) - 1.0);
}

typedef struct {
    shape s;
    float *a, *w, *wd, *bias; /* A [m,k], W [n,k], dequantized W, bias [n] */
    uint8_t *q;
    uint16_t *sc;
} problem;

static void problem_make(problem *p, shape s) {
    p->s = s;
    p->a = malloc(sizeof(float) * s.m * s.k);
    p->w = malloc(sizeof(float) * s.n * s.k);
    p->wd = malloc(sizeof(float) * s.n * s.k);
    p->bias = malloc(sizeof(float) * s.n);
    p->q = malloc((size_t)s.n * s.k / 2);
    p->sc = malloc(sizeof(uint16_t) * s.n * (s.k / s.g));
    for (int i = 0; i < s.m * s.k; i++)
        p->a[i] = 3.0f * frand() * (i % 7 == 0 ? 4.0f : 1.0f); /* some larger channels */
    for (int i = 0; i < s.n * s.k; i++)
        p->w[i] = 0.05f * frand();
    for (int i = 0; i < s.n; i++)
        p->bias[i] = frand();
    embp_error err;
    assert_int_equal(embp_quant_int4(p->w, s.n, s.k, s.g, p->q, p->sc, &err), EMBP_OK);
    embp_dequant_int4(p->q, p->sc, s.n, s.k, s.g, p->wd);
}

static void problem_free(problem *p) {
    free(p->a), free(p->w), free(p->wd), free(p->bias), free(p->q), free(p->sc);
}

static float *run_post(const embp_int4_kernel *kern, const problem *p, embp_post_fn post) {
    embp_int4_weights w;
    embp_error err;
    assert_int_equal(embp_int4_pack(kern, p->q, p->sc, p->s.n, p->s.k, p->s.g, &w, &err), EMBP_OK);
    float *c = malloc(sizeof(float) * p->s.m * p->s.n);
    assert_int_equal(embp_int4_gemm(kern, &w, p->a, p->s.m, p->bias, post, c, NULL, &err),
                     EMBP_OK);
    embp_int4_weights_free(&w);
    return c;
}

static float *run(const embp_int4_kernel *kern, const problem *p) {
    return run_post(kern, p, NULL);
}

/* sum_k |a[i][k] * wd[j][k]|: the scale every error bound here is relative to. */
static double abs_sum(const problem *p, int i, int j) {
    double s = 0.0;
    for (int k = 0; k < p->s.k; k++)
        s += fabs((double)p->a[(size_t)i * p->s.k + k] * p->wd[(size_t)j * p->s.k + k]);
    return s;
}

/* Checks |got - want| <= tol_rel * abs_sum + tiny for every element; prints the worst. */
static void check(const problem *p, const float *got, const double *want, double tol_rel,
                  double tol_abs, const char *what) {
    double worst = 0.0, worst_ratio = 0.0;
    int wi = 0, wj = 0;
    for (int i = 0; i < p->s.m; i++)
        for (int j = 0; j < p->s.n; j++) {
            double d = fabs(got[(size_t)i * p->s.n + j] - want[(size_t)i * p->s.n + j]);
            double bound = tol_rel * abs_sum(p, i, j) + tol_abs;
            if (!(d / bound <= worst_ratio) && !isnan(worst_ratio)) /* a NaN is kept */
                worst_ratio = d / bound, worst = d, wi = i, wj = j;
        }
    if (!(worst_ratio <= 1.0))
        fail_msg("%s M=%d K=%d N=%d g=%d: C[%d][%d] got %.9g want %.9g, |diff| %.3g exceeds the "
                 "bound by %.2fx", what, p->s.m, p->s.k, p->s.n, p->s.g, wi, wj,
                 (double)got[(size_t)wi * p->s.n + wj], want[(size_t)wi * p->s.n + wj], worst,
                 worst_ratio);
}

/* bias + A x Wd^T in fp64, A as given (fp32). */
static double *exact(const problem *p) {
    double *c = malloc(sizeof(double) * p->s.m * p->s.n);
    for (int i = 0; i < p->s.m; i++)
        for (int j = 0; j < p->s.n; j++) {
            double s = p->bias[j];
            for (int k = 0; k < p->s.k; k++)
                s += (double)p->a[(size_t)i * p->s.k + k] * p->wd[(size_t)j * p->s.k + k];
            c[(size_t)i * p->s.n + j] = s;
        }
    return c;
}

static double *widen(const float *c, int n) {
    double *d = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++)
        d[i] = c[i];
    return d;
}

static void test_scalar_bf16_reference_equals_fp64_matmul_within_bf16_rounding(void **state) {
    (void)state;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        problem p;
        problem_make(&p, shapes[t]);
        float *c = run(&embp_int4_scalar, &p);
        double *want = exact(&p);
        /* A rounded to bf16 (2^-8 relative) plus fp32 sums; 1e-6 covers adding the bias. */
        check(&p, c, want, BF16_REL + SUM_TOL(p.s.k), 1e-6, "scalar bf16 vs fp64");
        free(c), free(want);
        problem_free(&p);
    }
}

static void test_scalar_int8_reference_equals_fp64_matmul_within_activation_rounding(void **st) {
    (void)st;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        problem p;
        problem_make(&p, shapes[t]);
        float *c = run(&embp_int4_scalar_int8, &p);
        double *want = exact(&p);
        /* Each activation moves by at most sa/2 = max|a_row| / 254: relative to |a| that is
         * unbounded for small a, so bound by max|a_row| / 254 * sum|w| per row instead. */
        for (int i = 0; i < p.s.m; i++) {
            double amax = 0.0;
            for (int k = 0; k < p.s.k; k++)
                amax = fmax(amax, fabs(p.a[(size_t)i * p.s.k + k]));
            for (int j = 0; j < p.s.n; j++) {
                double wsum = 0.0;
                for (int k = 0; k < p.s.k; k++)
                    wsum += fabs(p.wd[(size_t)j * p.s.k + k]);
                double bound = amax / 254.0 * wsum * (1.0 + 1e-5) +
                               SUM_TOL(p.s.k) * abs_sum(&p, i, j) + 1e-6;
                double got = c[(size_t)i * p.s.n + j], w = want[(size_t)i * p.s.n + j];
                if (!(fabs(got - w) <= bound))
                    fail_msg("scalar int8 M=%d K=%d N=%d: C[%d][%d] got %.9g want %.9g bound %.3g",
                             p.s.m, p.s.k, p.s.n, i, j, got, w, bound);
            }
        }
        free(c), free(want);
        problem_free(&p);
    }
}

/* kern against its scalar reference on every shape (its path runs only where the CPU has it). */
static void variant_matches_reference(const embp_int4_kernel *kern) {
    const embp_int4_kernel *ref = kern->int8_compute ? &embp_int4_scalar_int8 : &embp_int4_scalar;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        problem p;
        problem_make(&p, shapes[t]);
        float *c = run(kern, &p), *r = run(ref, &p);
        double *want = widen(r, p.s.m * p.s.n);
        /* Same numerics, other summation order; 1.1 covers |bf16(a)| or |qa sa| vs |a|. */
        check(&p, c, want, 1.1 * SUM_TOL(p.s.k), 1e-6, kern->name);
        free(c), free(r), free(want);
        problem_free(&p);
    }
}

/* The fused GELU (post) of kern: every value of C gets it exactly once, after the bias: the
 * same bytes as the kernel without it followed by GELU over all of C. The scalar table's GELU is
 * elementwise in one code path, so however a kernel cuts its rows the bytes must match. */
static void variant_applies_post_once(const embp_int4_kernel *kern) {
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        problem p;
        problem_make(&p, shapes[t]);
        float *fused = run_post(kern, &p, embp_kernels_scalar.gelu), *c = run(kern, &p);
        embp_kernels_scalar.gelu(c, (size_t)p.s.m * p.s.n);
        for (int i = 0; i < p.s.m * p.s.n; i++)
            if (memcmp(&fused[i], &c[i], sizeof(float)))
                fail_msg("%s M=%d K=%d N=%d: GELU fused gives C[%d][%d] %.9g, after the GEMM "
                         "%.9g", kern->name, p.s.m, p.s.k, p.s.n, i / p.s.n, i % p.s.n,
                         (double)fused[i], (double)c[i]);
        free(fused), free(c);
        problem_free(&p);
    }
}

static void test_scalar_references_apply_gelu_once(void **state) {
    (void)state;
    variant_applies_post_once(&embp_int4_scalar);
    variant_applies_post_once(&embp_int4_scalar_int8);
}

static void test_avx512_bf16_kernel_equals_scalar_reference(void **state) {
    (void)state;
    variant_matches_reference(&embp_int4_avx512_bf16);
    variant_applies_post_once(&embp_int4_avx512_bf16);
}

static void test_avx512_vnni_kernel_equals_scalar_int8_reference(void **state) {
    (void)state;
    variant_matches_reference(&embp_int4_avx512_vnni);
    variant_applies_post_once(&embp_int4_avx512_vnni);
}

static void test_avx2_kernel_equals_scalar_reference(void **state) {
    (void)state;
    variant_matches_reference(&embp_int4_avx2);
    variant_applies_post_once(&embp_int4_avx2);
}

static void test_pick_follows_cpu_features(void **state) {
    (void)state;
    const embp_cpu *base = embp_cpu_get();
    embp_cpu c;
    embp_error err;
    assert_string_equal(embp_kernels_pick(base)->int4[0]->name, "avx512_bf16");
    assert_string_equal(embp_kernels_pick(base)->int4[1]->name, "avx512_vnni");
    assert_int_equal(embp_cpu_mask(base, "-avx512_bf16", &c, &err), EMBP_OK);
    assert_string_equal(embp_kernels_pick(&c)->int4[0]->name, "avx2");
    assert_int_equal(embp_cpu_mask(base, "-avx512_vnni", &c, &err), EMBP_OK);
    assert_null(embp_kernels_pick(&c)->int4[1]);
    assert_int_equal(embp_cpu_mask(base, "scalar", &c, &err), EMBP_OK);
    assert_string_equal(embp_kernels_pick(&c)->int4[0]->name, "scalar");
}

static void test_gemm_rejects_weights_packed_for_another_kernel(void **state) {
    (void)state;
    problem p;
    problem_make(&p, shapes[0]);
    embp_int4_weights w;
    embp_error err;
    assert_int_equal(embp_int4_pack(&embp_int4_avx512_bf16, p.q, p.sc, p.s.n, p.s.k, p.s.g, &w,
                                    &err), EMBP_OK);
    float c[40];
    assert_int_equal(embp_int4_gemm(&embp_int4_scalar, &w, p.a, 1, NULL, NULL, c, NULL, &err),
                     EMBP_EINVAL);
    assert_non_null(strstr(err.msg, "scalar"));
    embp_int4_weights_free(&w);
    assert_int_equal(embp_int4_pack(&embp_int4_scalar, p.q, p.sc, p.s.n, p.s.k, 48, &w, &err),
                     EMBP_ECONFIG);
    assert_non_null(strstr(err.msg, "quant_group_size=48"));
    problem_free(&p);
}

/* embp_int4_dequant_bf16 (int4.h) against quant.h's own dequantization rounded to bf16 here,
 * word by word in oneDNN's BA16a16b2a order, over every shape (partial panels, every group
 * size); the padding columns of the last panel are 0, and a panel range writes only its own
 * panels. */
static void test_avx512_bf16_dequant_matches_rounded_weights(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        problem p;
        problem_make(&p, shapes[i]);
        int n = p.s.n, k = p.s.k, np = (n + 15) / 16;
        embp_int4_weights w;
        embp_error err;
        assert_int_equal(embp_int4_pack(&embp_int4_avx512_bf16, p.q, p.sc, n, k, p.s.g, &w, &err),
                         EMBP_OK);
        size_t words = (size_t)np * 16 * k;
        uint16_t *out = malloc(words * 2);
        memset(out, 0xff, words * 2);
        embp_int4_dequant_bf16(&w, 1, np, out);
        for (size_t v = 0; v < (size_t)16 * k; v++)
            if (out[v] != 0xffff)
                fail_msg("shape %zu: panels 1.. wrote panel 0's word %zu", i, v);
        embp_int4_dequant_bf16(&w, 0, 1, out);
        for (int col = 0; col < np * 16; col++)
            for (int kk = 0; kk < k; kk++) {
                int pnl = col / 16, j = 2 * (col % 16) + (kk & 1);
                uint16_t got = out[((size_t)pnl * (k / 2) + kk / 2) * 32 + j];
                uint16_t want = col < n ? embp_f32_to_bf16(p.wd[(size_t)col * k + kk]) : 0;
                if (got != want)
                    fail_msg("shape %zu (n %d k %d g %d): column %d k %d: bf16 0x%04x, want 0x%04x",
                             i, n, k, p.s.g, col, kk, got, want);
            }
        free(out);
        embp_int4_weights_free(&w);
        problem_free(&p);
    }
}

static const char *missing_bf16_and_vnni(void) {
    const char *why = tu_missing_avx512_bf16();
    return why ? why : tu_missing_avx512_vnni();
}

int main(int argc, char **argv) {
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_scalar_bf16_reference_equals_fp64_matmul_within_bf16_rounding),
        cmocka_unit_test(test_scalar_int8_reference_equals_fp64_matmul_within_activation_rounding),
        cmocka_unit_test(test_gemm_rejects_weights_packed_for_another_kernel),
        cmocka_unit_test(test_scalar_references_apply_gelu_once),
    };
    const struct CMUnitTest avx512_bf16[] = {
        cmocka_unit_test(test_avx512_bf16_kernel_equals_scalar_reference),
        cmocka_unit_test(test_avx512_bf16_dequant_matches_rounded_weights),
    };
    const struct CMUnitTest avx512_vnni[] = {
        cmocka_unit_test(test_avx512_vnni_kernel_equals_scalar_int8_reference),
    };
    const struct CMUnitTest avx2[] = {cmocka_unit_test(test_avx2_kernel_equals_scalar_reference)};
    const struct CMUnitTest pick[] = {cmocka_unit_test(test_pick_follows_cpu_features)};
    const tu_path paths[] = {
        TU_ALWAYS(always),
        TU_PATH("avx512_bf16", avx512_bf16, tu_missing_avx512_bf16),
        TU_PATH("avx512_vnni", avx512_vnni, tu_missing_avx512_vnni),
        TU_PATH("avx2", avx2, tu_missing_avx2),
        TU_PATH("pick_avx512", pick, missing_bf16_and_vnni),
    };
    return tu_run_paths(argc, argv, paths, sizeof paths / sizeof paths[0]);
}
