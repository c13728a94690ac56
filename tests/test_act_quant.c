/* The u8 activation quantizer (kernels.h quantize_u8), the one every int8 GEMM uses: hand-worked
 * bytes (half to even, zero point 128), the all-zero row, NaN and Inf rows as kernels.h states
 * them, for every table this CPU runs, and identical bytes across tables at vector and tail
 * positions. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

/* The tables this CPU runs; prints the ones it cannot. */
static int tables(const embp_kernels **out) {
    const embp_cpu *cpu = embp_cpu_get_unmasked();
    int n = 0;
    out[n++] = &embp_kernels_scalar;
    if (embp_cpu_has_avx2(cpu))
        out[n++] = &embp_kernels_avx2;
    else
        print_message("# not run here: the avx2 table (no AVX2)\n");
    if (embp_cpu_has_avx512(cpu))
        out[n++] = &embp_kernels_avx512;
    else
        print_message("# not run here: the avx512 table (no AVX-512)\n");
    return n;
}

/* Row 0 worked by hand: max |x| = 254 so scale = 2 exactly and x / 2 is exact; half to even
 * gives 63.5 -> 64, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (and -254 -> -127). Row 1 all zero. */
static void test_quantize_u8_matches_hand_bytes_and_zero_row(void **state) {
    (void)state;
    enum { K = 20 };
    float x[2 * K] = {127.0f, -254.0f, 63.5f, 0.0f, 1.0f, 3.0f, 5.0f, -5.0f};
    const uint8_t want[8] = {192, 1, 160, 128, 128, 130, 130, 126};
    const embp_kernels *ks[3];
    int nk = tables(ks);
    for (int t = 0; t < nk; t++) {
        uint8_t q[2 * K];
        float s[2];
        ks[t]->quantize_u8(x, 2, K, q, s);
        print_message("%s: scale %g, zero-row scale %g\n", ks[t]->name, (double)s[0],
                      (double)s[1]);
        assert_true(s[0] == 2.0f);
        assert_memory_equal(q, want, sizeof want);
        for (int k = 8; k < K; k++)
            assert_int_equal(q[k], 128);
        assert_true(s[1] == 1.0f);
        for (int k = 0; k < K; k++)
            assert_int_equal(q[K + k], 128);
    }
}

/* A NaN anywhere in a row (in a vector or in the tail) makes its scale NaN and every byte 1;
 * an Inf makes the scale Inf, its own byte 1 and the finite ones 128. */
static void test_quantize_u8_nan_and_inf_rows_give_non_finite_scales(void **state) {
    (void)state;
    enum { T = 4, K = 37 };
    float x[T * K];
    for (int i = 0; i < T * K; i++)
        x[i] = (float)(i % 7) - 3.0f;
    x[0 * K + 5] = NAN;       /* in the first vector */
    x[1 * K + 35] = NAN;      /* in the tail for 8 and 16 lanes */
    x[2 * K + 9] = INFINITY;  /* in a vector */
    x[3 * K + 36] = -INFINITY; /* in the tail */
    const embp_kernels *ks[3];
    int nk = tables(ks);
    for (int t = 0; t < nk; t++) {
        uint8_t q[T * K];
        float s[T];
        ks[t]->quantize_u8(x, T, K, q, s);
        print_message("%s: scales %g %g %g %g\n", ks[t]->name, (double)s[0], (double)s[1],
                      (double)s[2], (double)s[3]);
        assert_true(isnan(s[0]) && isnan(s[1]));
        assert_true(isinf(s[2]) && isinf(s[3]) && s[2] > 0.0f && s[3] > 0.0f);
        for (int k = 0; k < K; k++) {
            assert_int_equal(q[0 * K + k], 1);
            assert_int_equal(q[1 * K + k], 1);
            assert_int_equal(q[2 * K + k], k == 9 ? 1 : 128);
            assert_int_equal(q[3 * K + k], k == 36 ? 1 : 128);
        }
    }
}

/* Random rows of every length 1..70 with a few exact ties: every table the same bytes and
 * scales as the scalar reference, and each value within half a step. */
static void test_quantize_u8_tables_agree_and_round_trip(void **state) {
    (void)state;
    const embp_kernels *ks[3];
    int nk = tables(ks);
    if (nk == 1) {
        print_message("# only the scalar table runs here: nothing to compare\n");
        return;
    }
    uint32_t r = 11;
    for (int K = 1; K <= 70; K++) {
        enum { T = 3 };
        float x[T * 70], s0[T], s1[T];
        uint8_t q0[T * 70], q1[T * 70];
        for (int i = 0; i < T * K; i++, r = r * 1664525u + 1013904223u)
            x[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 8.0f;
        x[0] = 127.0f * 0.5f, x[1 % K] = -127.0f; /* scale 1 on row 0 with a tie at 63.5 */
        embp_kernels_scalar.quantize_u8(x, T, K, q0, s0);
        for (int i = 0; i < T; i++)
            for (int k = 0; k < K; k++) {
                double d = ((int)q0[i * K + k] - 128) * (double)s0[i] - x[i * K + k];
                if (fabs(d) > s0[i] / 2.0 * (1.0 + 1e-6))
                    fail_msg("K %d x[%d][%d] = %.9g -> q %d scale %.9g", K, i, k,
                             (double)x[i * K + k], q0[i * K + k], (double)s0[i]);
            }
        for (int t = 1; t < nk; t++) {
            ks[t]->quantize_u8(x, T, K, q1, s1);
            for (int i = 0; i < T * K; i++)
                if (q0[i] != q1[i])
                    fail_msg("K %d element %d (x = %.9g): scalar %d %s %d", K, i, (double)x[i],
                             q0[i], ks[t]->name, q1[i]);
            assert_memory_equal(s0, s1, sizeof s0);
        }
    }
}

TU_MAIN(cmocka_unit_test(test_quantize_u8_matches_hand_bytes_and_zero_row),
        cmocka_unit_test(test_quantize_u8_nan_and_inf_rows_give_non_finite_scales),
        cmocka_unit_test(test_quantize_u8_tables_agree_and_round_trip))
