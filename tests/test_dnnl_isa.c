/* EMBP_CPU_FEATURES caps oneDNN too: with the mask one level below this CPU (avx2 on an AVX-512
 * machine, scalar on an AVX2 one), oneDNN's own answers, its effective ISA and the
 * implementation it picks for a matmul, name no instruction set above the mask, and the
 * matmul still agrees with a float64 one written here. The CPU is read with the compiler's
 * __builtin_cpu_supports, not embp's probe, so the level chosen does not depend on the code
 * under test. Its own binary: the mask is process-wide and read once. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "kernels/matmul.h"

static const char *g_mask;      /* the level set: "avx2" or "scalar" */
static const char *g_forbidden; /* what oneDNN's implementation name must not contain */
static dnnl_cpu_isa_t g_isa;    /* oneDNN's level for the mask */

static void test_mask_caps_onednn_effective_isa(void **state) {
    (void)state;
    embp_mm_engine *e = NULL;
    embp_error err;
    const embp_cpu *cpu = embp_cpu_get();
    assert_string_equal(getenv("EMBP_CPU_FEATURES"), g_mask);
    assert_true(cpu->masked[0] != '\0');
    assert_int_equal(embp_mm_engine_create(embp_kernels_pick(cpu), 64, &e, &err), EMBP_OK);
    dnnl_cpu_isa_t eff = dnnl_get_effective_cpu_isa();
    print_message("mask %s: oneDNN effective ISA 0x%x, expected 0x%x\n", g_mask, (unsigned)eff,
                  (unsigned)g_isa);
    assert_int_equal(eff, g_isa);
    embp_mm_engine_free(e);
}

static void test_masked_matmul_uses_no_wider_kernel_and_stays_exact(void **state) {
    (void)state;
    enum { M = 16, K = 384, N = 384 };
    embp_mm_engine *e = NULL;
    embp_linear *l = NULL;
    embp_error err;
    float *x = embp_malloc_aligned((size_t)embp_mm_bucket(M) * K * sizeof(float));
    float *y = embp_malloc_aligned((size_t)embp_mm_bucket(M) * N * sizeof(float));
    float *w = malloc((size_t)N * K * sizeof(float));
    uint32_t r = 3;
    for (int i = 0; i < M * K; i++, r = r * 1664525u + 1013904223u)
        x[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < N * K; i++, r = r * 1664525u + 1013904223u)
        w[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 0.1f;
    assert_int_equal(embp_mm_engine_create(embp_kernels_pick(embp_cpu_get()), M, &e, &err),
                     EMBP_OK);
    assert_int_equal(embp_linear_create(e, w, NULL, K, N, EMBP_MM_F32, 0, &l, &err), EMBP_OK);
    const char *impl = embp_linear_impl(l, M);
    print_message("mask %s: oneDNN matmul implementation \"%s\"\n", g_mask, impl);
    assert_true(impl[0] != '\0');
    assert_null(strstr(impl, g_forbidden));
    assert_int_equal(embp_linear_forward(l, x, M, y, &err), EMBP_OK);
    double worst = 0.0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double a = 0.0;
            for (int k = 0; k < K; k++)
                a += (double)x[m * K + k] * w[n * K + k];
            double d = fabs(a - y[m * N + n]);
            worst = !(d <= worst) ? d : worst; /* a NaN sticks */
        }
    print_message("max |diff| to float64: %.3g\n", worst);
    assert_true(worst <= 2e-5);
    embp_linear_free(l);
    embp_mm_engine_free(e);
    embp_free_aligned(x);
    embp_free_aligned(y);
    free(w);
}

int main(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        g_mask = "avx2", g_forbidden = "avx512", g_isa = dnnl_cpu_isa_avx2;
    } else if (__builtin_cpu_supports("avx2")) {
        g_mask = "scalar", g_forbidden = "avx", g_isa = dnnl_cpu_isa_sse41;
    } else {
        printf("SKIP: no AVX2 on this CPU, so no lower level to mask it down to\n");
        return 77;
    }
    setenv("EMBP_CPU_FEATURES", g_mask, 1); /* before anything reads the probe */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_caps_onednn_effective_isa),
        cmocka_unit_test(test_masked_matmul_uses_no_wider_kernel_and_stays_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
