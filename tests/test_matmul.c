/* The oneDNN matmul wrapper against a float64 matmul written here: f32 exactly, bf16 and int8
 * against the same float64 matmul of the values they round to (so the test sees wiring, not
 * rounding), and both against the f32 result by cosine. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/fp.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include <oneapi/dnnl/dnnl.h>

/* clang-format off */
#define F32_TOL        2e-5  /* abs, outputs O(1), K <= 1536: fp32 sums in another order      */
#define EMULATED_TOL   2e-5  /* abs: bf16/int8 results vs float64 over the same rounded values */
#define BF16_COS_MIN   0.9999
#define INT8_COS_MIN   0.999
/* clang-format on */

static uint32_t rng = 7;
static float frand(float lo, float hi) {
    rng = rng * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(rng >> 8) / 16777216.0f;
}

typedef struct {
    int M, K, N;
    float *x, *w, *b; /* x (bucket(M), K), w (N, K) torch layout, b (N) */
} problem;

static problem make_problem(int M, int K, int N) {
    problem p = {M, K, N, NULL, NULL, NULL};
    int Mb = embp_mm_bucket(M);
    p.x = calloc((size_t)Mb * K, 4);
    p.w = malloc((size_t)N * K * 4);
    p.b = malloc((size_t)N * 4);
    for (size_t i = 0; i < (size_t)M * K; i++)
        p.x[i] = frand(-1, 1);
    for (size_t i = 0; i < (size_t)N * K; i++)
        p.w[i] = frand(-0.08f, 0.08f);
    for (int i = 0; i < N; i++)
        p.b[i] = frand(-0.5f, 0.5f);
    return p;
}
static void free_problem(problem *p) {
    free(p->x), free(p->w), free(p->b);
}

/* y = x w^T + b (+ GELU) in float64 from given x and w (both as float arrays). */
static double *ref_matmul(const float *x, const float *w, const float *b, int M, int K, int N,
                          int gelu) {
    double *y = malloc((size_t)M * N * sizeof *y);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double a = b ? b[n] : 0.0;
            for (int k = 0; k < K; k++)
                a += (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
            y[(size_t)m * N + n] = gelu ? 0.5 * a * (1.0 + erf(a / sqrt(2.0))) : a;
        }
    return y;
}

static float *run(embp_mm_engine *e, const problem *p, embp_mm_type t, int gelu) {
    embp_linear *l = NULL;
    embp_error err = {0};
    float *y = malloc((size_t)embp_mm_bucket(p->M) * p->N * 4);
    if (embp_linear_create(e, p->w, p->b, p->K, p->N, t, gelu, &l, &err) != EMBP_OK)
        fail_msg("linear_create %s: %s", embp_mm_type_str(t), err.msg);
    if (embp_linear_forward(l, p->x, p->M, y, &err) != EMBP_OK)
        fail_msg("linear_forward %s M=%d: %s", embp_mm_type_str(t), p->M, err.msg);
    const char *impl = embp_linear_impl(l, p->M);
    if (strstr(impl, "ref"))
        fail_msg("%s M=%d K=%d N=%d runs oneDNN's reference kernel %s", embp_mm_type_str(t), p->M,
                 p->K, p->N, impl);
    embp_linear_free(l);
    return y;
}

static void expect_near(const char *what, const float *got, const double *want, int M, int N,
                        double tol) {
    double worst = 0.0;
    int wi = 0;
    for (int i = 0; i < M * N; i++) {
        double d = fabs(got[i] - want[i]);
        if (!(d <= worst))
            worst = d, wi = i;
    }
    if (!(worst <= tol))
        fail_msg("%s: max |diff| %.3g > %.3g at row %d col %d: got %.9g, want %.9g", what, worst,
                 tol, wi / N, wi % N, (double)got[wi], want[wi]);
}

static double min_row_cosine(const float *a, const float *b, int M, int N) {
    double worst = 1.0;
    for (int m = 0; m < M; m++) {
        double ab = 0, aa = 0, bb = 0;
        for (int n = 0; n < N; n++) {
            double u = a[(size_t)m * N + n], v = b[(size_t)m * N + n];
            ab += u * v, aa += u * u, bb += v * v;
        }
        double c = isfinite(ab) && isfinite(aa) && isfinite(bb) ? ab / sqrt(aa * bb) : NAN;
        worst = tu_worst_min(worst, c);
    }
    return worst;
}

static embp_mm_engine *engine(int max_m) {
    embp_mm_engine *e = NULL;
    embp_error err;
    if (embp_mm_engine_create(embp_kernels_pick(embp_cpu_get()), max_m, &e, &err) != EMBP_OK)
        fail_msg("engine: %s", err.msg);
    return e;
}

static void test_f32_matches_float64_for_every_bucket_kind(void **state) {
    (void)state;
    embp_mm_engine *e = engine(3000);
    int Ms[] = {1, 5, 16, 17, 33, 130, 300, 2100};
    for (int i = 0; i < 8; i++)
        for (int gelu = 0; gelu < 2; gelu++) {
            problem p = make_problem(Ms[i], 384, i == 7 ? 64 : 1152);
            double *want = ref_matmul(p.x, p.w, p.b, p.M, p.K, p.N, gelu);
            float *got = run(e, &p, EMBP_MM_F32, gelu);
            char what[64];
            snprintf(what, sizeof what, "f32 M=%d gelu=%d", p.M, gelu);
            expect_near(what, got, want, p.M, p.N, F32_TOL);
            free(want), free(got), free_problem(&p);
        }
    embp_mm_engine_free(e);
}

static void test_bf16_matches_float64_of_bf16_rounded_inputs(void **state) {
    (void)state;
    embp_mm_engine *e = engine(256);
    problem p = make_problem(77, 384, 1536);
    size_t nx = (size_t)p.M * p.K, nw = (size_t)p.N * p.K;
    float *xr = malloc(nx * 4), *wr = malloc(nw * 4);
    for (size_t i = 0; i < nx; i++)
        xr[i] = embp_bf16_to_f32(embp_f32_to_bf16(p.x[i]));
    for (size_t i = 0; i < nw; i++)
        wr[i] = embp_bf16_to_f32(embp_f32_to_bf16(p.w[i]));
    double *want = ref_matmul(xr, wr, p.b, p.M, p.K, p.N, 1);
    float *got = run(e, &p, EMBP_MM_BF16, 1), *f32 = run(e, &p, EMBP_MM_F32, 1);
    expect_near("bf16 vs float64 of rounded inputs", got, want, p.M, p.N, EMULATED_TOL);
    double c = min_row_cosine(got, f32, p.M, p.N);
    print_message("bf16 vs f32: worst row cosine %.7f\n", c);
    assert_true(c >= BF16_COS_MIN);
    free(xr), free(wr), free(want), free(got), free(f32), free_problem(&p);
    embp_mm_engine_free(e);
}

/* The int8 path by hand: w quantized per row (max |w| / 127, or / 63 without VNNI, where
 * oneDNN's int16 pair sums would saturate), x per row with zero point 128. */
/* M 45: one oneDNN call; M 700: two (int8 runs 512 rows a call, matmul.c's INT8_CHUNK). */
static void int8_matches_float64(int M) {
    embp_mm_engine *e = engine(M);
    problem p = make_problem(M, 384, 1152);
    size_t nx = (size_t)p.M * p.K, nw = (size_t)p.N * p.K;
    float *xr = malloc(nx * 4), *wr = malloc(nw * 4);
    const embp_cpu *cpu = embp_cpu_get();
    float wq = cpu->avx512_vnni || cpu->avx_vnni ? 127.0f : 63.0f;
    for (int n = 0; n < p.N; n++) {
        float a = 0, *row = p.w + (size_t)n * p.K;
        for (int k = 0; k < p.K; k++)
            a = fmaxf(a, fabsf(row[k]));
        /* quant.h's int8 (scale max/127, the format embp quantize stores), then, without
         * VNNI, requantized into -63..63: q7 = round(q8 f), scale / f with f = 63 / max |q8| */
        float s = a / 127.0f, q8max = 0;
        for (int k = 0; k < p.K; k++)
            q8max = fmaxf(q8max, fabsf(nearbyintf(row[k] / s)));
        float f = q8max > wq ? wq / q8max : 1.0f;
        for (int k = 0; k < p.K; k++)
            wr[(size_t)n * p.K + k] = nearbyintf(nearbyintf(row[k] / s) * f) * (s / f);
    }
    for (int m = 0; m < p.M; m++) {
        float a = 0, *row = p.x + (size_t)m * p.K;
        for (int k = 0; k < p.K; k++)
            a = fmaxf(a, fabsf(row[k]));
        float s = a / 127.0f, inv = 1.0f / s;
        for (int k = 0; k < p.K; k++)
            xr[(size_t)m * p.K + k] = nearbyintf(row[k] * inv) * s;
    }
    for (int gelu = 0; gelu < 2; gelu++) {
        double *want = ref_matmul(xr, wr, p.b, p.M, p.K, p.N, gelu);
        float *got = run(e, &p, EMBP_MM_INT8, gelu), *f32 = run(e, &p, EMBP_MM_F32, gelu);
        expect_near("int8 vs float64 of quantized inputs", got, want, p.M, p.N, EMULATED_TOL);
        double c = min_row_cosine(got, f32, p.M, p.N);
        print_message("int8 vs f32 (gelu %d): worst row cosine %.7f\n", gelu, c);
        assert_true(c >= INT8_COS_MIN);
        free(want), free(got), free(f32);
    }
    free(xr), free(wr), free_problem(&p);
    embp_mm_engine_free(e);
}

static void test_int8_matches_float64_of_quantized_inputs(void **state) {
    (void)state;
    int8_matches_float64(45);
    int8_matches_float64(700);
}

/* A pair chained (embp_linear_forward_chain: int8 quantizes, bf16 converts, the first's result
 * for the second in its epilogue) gives the same bytes as two plain calls, on the threaded path
 * (M 600: for int8 two oneDNN calls, of 512 and 88 rows) and the single-thread one (M 5), and
 * leaves the first's y unwritten (the second never reads it). */
static void test_chained_pair_matches_two_calls(void **state) {
    (void)state;
    embp_mm_type types[2] = {EMBP_MM_INT8, EMBP_MM_BF16};
    int Ms[2] = {600, 5}, ran = 0;
    for (int t = 0; t < 2; t++) {
        if (types[t] == EMBP_MM_BF16 && !embp_cpu_get()->avx512_bf16)
            continue;
        for (int i = 0; i < 2; i++) {
            int M = Ms[i], Mb = embp_mm_bucket(M);
            embp_mm_engine *e = engine(M);
            problem a = make_problem(M, 384, 1536), b = make_problem(M, 1536, 384);
            embp_linear *la = NULL, *lb = NULL;
            embp_error err = {0};
            assert_int_equal(embp_linear_create(e, a.w, a.b, 384, 1536, types[t], 1, &la, &err),
                             EMBP_OK);
            assert_int_equal(embp_linear_create(e, b.w, b.b, 1536, 384, types[t], 0, &lb, &err),
                             EMBP_OK);
            float *y = calloc((size_t)Mb * 1536, 4), *y2 = calloc((size_t)Mb * 1536, 4);
            float *z = calloc((size_t)Mb * 384, 4), *z2 = calloc((size_t)Mb * 384, 4);
            assert_int_equal(embp_linear_forward(la, a.x, M, y, &err), EMBP_OK);
            assert_int_equal(embp_linear_forward(lb, y, M, z, &err), EMBP_OK);
            assert_int_equal(embp_linear_forward_chain(la, a.x, M, y2, lb, &err), EMBP_OK);
            assert_int_equal(embp_linear_forward(lb, y2, M, z2, &err), EMBP_OK);
            assert_memory_equal(z, z2, (size_t)M * 384 * 4);
            for (size_t v = 0; v < (size_t)Mb * 1536; v++)
                if (y2[v] != 0.0f)
                    fail_msg("%s M %d: the chained y was written at %zu", embp_mm_type_str(types[t]),
                             M, v);
            ran++;
            free(y), free(y2), free(z), free(z2);
            embp_linear_free(la), embp_linear_free(lb);
            free_problem(&a), free_problem(&b);
            embp_mm_engine_free(e);
        }
    }
    assert_true(ran >= 2);
}

/* oneDNN 2.6 has bf16 matmul only from AVX-512 on: elsewhere the error names the type. */
static void test_bf16_without_avx512_is_edevice(void **state) {
    (void)state;
    embp_mm_engine *e = engine(16);
    problem p = make_problem(1, 32, 16);
    embp_linear *l = NULL;
    embp_error err = {0};
    assert_int_equal(embp_linear_create(e, p.w, p.b, 32, 16, EMBP_MM_BF16, 0, &l, &err),
                     EMBP_EDEVICE);
    assert_null(l);
    assert_non_null(strstr(err.msg, "bf16"));
    free_problem(&p);
    embp_mm_engine_free(e);
}

static void test_m_outside_the_engine_is_einval(void **state) {
    (void)state;
    embp_mm_engine *e = engine(32);
    problem p = make_problem(1, 16, 8);
    embp_linear *l = NULL;
    embp_error err = {0};
    assert_int_equal(embp_linear_create(e, p.w, p.b, 16, 8, EMBP_MM_F32, 0, &l, &err), EMBP_OK);
    float y[64 * 8];
    assert_int_equal(embp_linear_forward(l, p.x, 0, y, &err), EMBP_EINVAL);
    assert_int_equal(embp_linear_forward(l, p.x, 33, y, &err), EMBP_EINVAL);
    assert_non_null(strstr(err.msg, "33"));
    embp_linear_free(l);
    assert_int_equal(embp_linear_create(e, p.w, p.b, 0, 8, EMBP_MM_F32, 0, &l, &err), EMBP_EINVAL);
    assert_null(l);
    /* int4 types have their own constructor: this one made int8 linears of them before */
    assert_int_equal(embp_linear_create(e, p.w, p.b, 16, 8, EMBP_MM_INT4_BF16, 0, &l, &err),
                     EMBP_EINVAL);
    assert_null(l);
    assert_non_null(strstr(err.msg, "embp_linear_create_int4"));
    free_problem(&p);
    embp_mm_engine_free(e);
}

static void test_failed_allocation_in_create_is_enomem_without_leak(void **state) {
    (void)state;
    embp_mm_engine *e = engine(64);
    problem p = make_problem(3, 64, 48);
    for (long n = 0;; n++) {
        embp_linear *l = NULL;
        embp_error err = {0};
        embp_alloc_fail_after(n);
        embp_status rc = embp_linear_create(e, p.w, p.b, 64, 48, EMBP_MM_INT8, 1, &l, &err);
        embp_alloc_fail_after(-1);
        embp_linear_free(l);
        if (rc == EMBP_OK)
            break;
        assert_int_equal(rc, EMBP_ENOMEM);
        assert_null(l);
    }
    free_problem(&p);
    embp_mm_engine_free(e);
}

static void test_peak_gflops_is_measured(void **state) {
    (void)state;
    embp_error err = {0};
    double g = embp_mm_peak_gflops(EMBP_MM_F32, 256, 256, 256, 0.05, &err);
    print_message("f32 256^3 GEMM: %.1f GFLOP/s\n", g);
    assert_true(g > 0.0);
}

/* The refusal path exists only where oneDNN lacks AVX-512: embp's CPU view (masked by
 * EMBP_CPU_FEATURES) and oneDNN's effective ISA, which the first engine caps to the mask
 * (matmul.c), must agree. */
static const char *has_avx512f(void) {
    if (embp_cpu_get()->avx512f)
        return "this CPU has AVX-512F: oneDNN runs bf16 here, the refusal is for CPUs without it";
    embp_mm_engine_free(engine(1)); /* applies the cap before oneDNN is asked */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core)
        return "EMBP_CPU_FEATURES masks AVX-512F but oneDNN's effective ISA still has it, so "
               "oneDNN runs bf16: the refusal cannot be seen";
    return NULL;
}

/* A linear on weights in place (a mapped file's tensor, read where it is: not copied, not
 * packed) computes what the packed one does, against the same float64 matmul; after
 * embp_mm_engine_prepare every bucket's primitive exists (made without a forward) and is not
 * oneDNN's reference kernel; int8 in place is refused. */
static void test_f32_in_place_matches_float64_and_prepares(void **state) {
    (void)state;
    embp_mm_engine *e = engine(300);
    problem p = make_problem(300, 384, 1152);
    embp_linear *l = NULL, *packed = NULL;
    embp_error err = {0};
    assert_int_equal(embp_linear_create_in_place(e, p.w, EMBP_MM_F32, p.b, p.K, p.N, 1, &l, &err),
                     EMBP_OK);
    assert_int_equal(embp_linear_create(e, p.w, p.b, p.K, p.N, EMBP_MM_F32, 1, &packed, &err),
                     EMBP_OK);
    assert_int_equal(embp_mm_engine_prepare(e, 300, &err), EMBP_OK);
    for (int M = 1; M <= 300; M = embp_mm_bucket(M + 1)) {
        const char *impl[2] = {embp_linear_impl(l, M), embp_linear_impl(packed, M)};
        for (int i = 0; i < 2; i++)
            if (!*impl[i] || strstr(impl[i], "ref"))
                fail_msg("%s M=%d: prepared primitive '%s'", i ? "packed" : "in place", M,
                         impl[i]);
    }
    int Ms[] = {1, 17, 300};
    for (int i = 0; i < 3; i++) {
        problem q = p;
        q.M = Ms[i];
        double *want = ref_matmul(q.x, q.w, q.b, q.M, q.K, q.N, 1);
        float *got = malloc((size_t)embp_mm_bucket(q.M) * q.N * 4);
        assert_int_equal(embp_linear_forward(l, q.x, q.M, got, &err), EMBP_OK);
        char what[64];
        snprintf(what, sizeof what, "f32 in place M=%d", q.M);
        expect_near(what, got, want, q.M, q.N, F32_TOL);
        free(want), free(got);
    }
    embp_linear *bad = NULL;
    assert_int_equal(embp_linear_create_in_place(e, p.w, EMBP_MM_INT8, p.b, p.K, p.N, 0, &bad,
                                                 &err), EMBP_EINVAL);
    assert_null(bad);
    embp_linear_free(l);
    embp_linear_free(packed);
    free_problem(&p);
    embp_mm_engine_free(e);
}

/* bf16 weights in place (a BF16 file's tensor) against the float64 matmul of the bf16 values. */
static void test_bf16_in_place_matches_float64_of_bf16_rounded_inputs(void **state) {
    (void)state;
    embp_mm_engine *e = engine(256);
    problem p = make_problem(77, 384, 1536);
    size_t nx = (size_t)p.M * p.K, nw = (size_t)p.N * p.K;
    float *xr = malloc(nx * 4), *wr = malloc(nw * 4);
    uint16_t *wb = malloc(nw * 2);
    for (size_t i = 0; i < nx; i++)
        xr[i] = embp_bf16_to_f32(embp_f32_to_bf16(p.x[i]));
    for (size_t i = 0; i < nw; i++)
        wb[i] = embp_f32_to_bf16(p.w[i]), wr[i] = embp_bf16_to_f32(wb[i]);
    double *want = ref_matmul(xr, wr, p.b, p.M, p.K, p.N, 0);
    embp_linear *l = NULL;
    embp_error err = {0};
    float *got = malloc((size_t)embp_mm_bucket(p.M) * p.N * 4);
    assert_int_equal(embp_linear_create_in_place(e, wb, EMBP_MM_BF16, p.b, p.K, p.N, 0, &l, &err),
                     EMBP_OK);
    assert_int_equal(embp_linear_forward(l, p.x, p.M, got, &err), EMBP_OK);
    expect_near("bf16 in place vs float64 of rounded inputs", got, want, p.M, p.N, EMULATED_TOL);
    embp_linear_free(l);
    free(xr), free(wr), free(wb), free(want), free(got), free_problem(&p);
    embp_mm_engine_free(e);
}

/* int4/bf16 (group 32) on both of its paths (matmul.h): below 512 rows the int4 kernel, the
 * products of bf16(x) and q s exact; from 512 rows oneDNN's bf16 matmul on the weights
 * dequantized to bf16(q s). Each against float64 over its own rounded values (N 1000: a
 * partial 16-column panel), and the two references apart by far more than the tolerance, so
 * a path with the other's numerics fails. Chained into a second int4 linear (ffn-in into
 * ffn-out) the pair gives the bytes of two plain calls. */
static void test_int4_bf16_paths_match_their_numerics(void **state) {
    (void)state;
    int K = 384, N = 1000, g = 32, Ms[2] = {300, 600};
    embp_mm_engine *e = engine(600);
    problem p = make_problem(600, K, N);
    size_t nx = (size_t)p.M * K, nw = (size_t)N * K;
    uint8_t *q = malloc(nw / 2);
    uint16_t *sc = malloc(nw / g * 2);
    float *xr = malloc(nx * 4), *wq = malloc(nw * 4), *wb = malloc(nw * 4);
    embp_error err = {0};
    assert_int_equal(embp_quant_int4(p.w, N, K, g, q, sc, &err), EMBP_OK);
    embp_dequant_int4(q, sc, N, K, g, wq);
    for (size_t i = 0; i < nx; i++)
        xr[i] = embp_bf16_to_f32(embp_f32_to_bf16(p.x[i]));
    for (size_t i = 0; i < nw; i++)
        wb[i] = embp_bf16_to_f32(embp_f32_to_bf16(wq[i]));
    double *want[2] = {ref_matmul(xr, wq, p.b, p.M, K, N, 1),
                       ref_matmul(xr, wb, p.b, p.M, K, N, 1)};
    double apart = 0.0;
    for (size_t i = 0; i < (size_t)p.M * N; i++)
        apart = fmax(apart, fabs(want[0][i] - want[1][i]));
    print_message("int4/bf16: the two paths' references differ by up to %.3g\n", apart);
    assert_true(apart > 10 * EMULATED_TOL);
    embp_linear *l = NULL;
    const char *kname = NULL;
    assert_int_equal(embp_linear_create_int4_q(e, q, sc, p.b, K, N, g, EMBP_MM_INT4_BF16, 1, &l,
                                               &kname, &err),
                     EMBP_OK);
    print_message("int4/bf16 kernel: %s; at 600 rows %s\n", kname, embp_linear_impl(l, 600));
    assert_string_equal(embp_linear_impl(l, 300), "avx512_bf16");
    assert_true(strncmp(embp_linear_impl(l, 600), "brg", 3) == 0);
    float *y = malloc((size_t)embp_mm_bucket(p.M) * N * 4);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(embp_linear_forward(l, p.x, Ms[i], y, &err), EMBP_OK);
        char what[64];
        snprintf(what, sizeof what, "int4/bf16 M=%d", Ms[i]);
        expect_near(what, y, want[i], Ms[i], N, EMULATED_TOL);
    }
    embp_linear_free(l);
    free(y), free(q), free(sc), free(xr), free(wq), free(wb);
    free(want[0]), free(want[1]), free_problem(&p);
    /* ffn-in into ffn-out, both int4, at each path's M; chained on oneDNN, y stays unwritten */
    problem a = make_problem(600, 384, 1536), b = make_problem(600, 1536, 384);
    embp_linear *la = NULL, *lb = NULL;
    assert_int_equal(embp_linear_create_int4(e, a.w, a.b, 384, 1536, g, EMBP_MM_INT4_BF16, 1, &la,
                                             NULL, &err),
                     EMBP_OK);
    assert_int_equal(embp_linear_create_int4(e, b.w, b.b, 1536, 384, g, EMBP_MM_INT4_BF16, 0, &lb,
                                             NULL, &err),
                     EMBP_OK);
    size_t Mb = (size_t)embp_mm_bucket(600);
    float *h = malloc(Mb * 1536 * 4), *h2 = malloc(Mb * 1536 * 4);
    float *z = malloc(Mb * 384 * 4), *z2 = malloc(Mb * 384 * 4);
    for (int i = 0; i < 2; i++) {
        int M = Ms[i];
        assert_int_equal(embp_linear_forward(la, a.x, M, h, &err), EMBP_OK);
        assert_int_equal(embp_linear_forward(lb, h, M, z, &err), EMBP_OK);
        memset(h2, 0, Mb * 1536 * 4);
        assert_int_equal(embp_linear_forward_chain(la, a.x, M, h2, lb, &err), EMBP_OK);
        assert_int_equal(embp_linear_forward(lb, h2, M, z2, &err), EMBP_OK);
        assert_memory_equal(z, z2, (size_t)M * 384 * 4);
        size_t written = 0;
        for (size_t v = 0; v < (size_t)M * 1536; v++)
            written += h2[v] != 0.0f;
        if (M >= 512 ? written != 0 : written == 0)
            fail_msg("int4 chain M %d: %zu values of y written", M, written);
    }
    embp_linear_free(la), embp_linear_free(lb);
    free(h), free(h2), free(z), free(z2), free_problem(&a), free_problem(&b);
    embp_mm_engine_free(e);
}

int main(int argc, char **argv) {
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_f32_matches_float64_for_every_bucket_kind),
        cmocka_unit_test(test_int8_matches_float64_of_quantized_inputs),
        cmocka_unit_test(test_chained_pair_matches_two_calls),
        cmocka_unit_test(test_m_outside_the_engine_is_einval),
        cmocka_unit_test(test_failed_allocation_in_create_is_enomem_without_leak),
        cmocka_unit_test(test_peak_gflops_is_measured),
        cmocka_unit_test(test_f32_in_place_matches_float64_and_prepares),
    };
    const struct CMUnitTest bf16[] = {
        cmocka_unit_test(test_bf16_matches_float64_of_bf16_rounded_inputs),
        cmocka_unit_test(test_bf16_in_place_matches_float64_of_bf16_rounded_inputs),
        cmocka_unit_test(test_int4_bf16_paths_match_their_numerics)};
    const struct CMUnitTest no_avx512[] = {cmocka_unit_test(test_bf16_without_avx512_is_edevice)};
    const tu_path paths[] = {
        TU_ALWAYS(always),
        TU_PATH("avx512_bf16", bf16, tu_missing_avx512_bf16),
        TU_PATH("bf16_refused_without_avx512", no_avx512, has_avx512f),
    };
    return tu_run_paths(argc, argv, paths, sizeof paths / sizeof paths[0]);
}
