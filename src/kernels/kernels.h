/* kernels.h: every compute kernel embp calls outside the GEMMs, one table per instruction set.
 * T packed tokens, C hidden, L sequence length, D head size (llm.c's letters). The GEMMs live in
 * kernels/matmul.h (oneDNN). Kernels never see a request or a model: rows and sizes only.
 */
#ifndef EMBP_KERNELS_KERNELS_H
#define EMBP_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"

typedef struct {
    const char *name; /* "avx512", "avx2", "scalar" */

    /* x is (T, C), r is (T, C) or NULL, g and b are (C): x = LayerNorm(x + r) row by row.
     * Two passes (mean, then squared deviations) over the summed row. */
    void (*layernorm)(float *x, const float *r, const float *g, const float *b, int T, int C,
                      float eps);
    /* Exact erf GELU in place: x * 0.5 * (1 + erf(x / sqrt(2))). */
    void (*gelu)(float *x, size_t n);
    /* Softmax of one row of n values in place (max-subtracted). */
    void (*softmax)(float *x, int n);
    /* One sequence, one head. q, k, v are (L, D) with row strides q_stride etc. (they point into
     * the fused QKV rows); out is (L, D) with row stride out_stride. out = softmax(q k^T * scale)
     * v. scratch holds at least embp_attn_scratch_floats(L, D) floats. */
    void (*attention)(const float *q, const float *k, const float *v, int stride, float *out,
                      int out_stride, int L, int D, float scale, float *scratch);

    /* Row conversions of n values. */
    void (*f32_to_bf16)(const float *x, uint16_t *y, size_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, size_t n);
    void (*fp16_to_f32)(const uint16_t *x, float *y, size_t n);

    /* x is (T, K) row stride K: q = clamp(round(x / s) + 128) as u8 with s = max|row| / 127 per
     * row written to scale[t] (a zero row gets s = 1). For the int8 GEMM's activations. */
    void (*quantize_u8)(const float *x, uint8_t *q, float *scale, int T, int K);
    /* acc is (T, N) int32 = sum_k qx[t,k] * qw[k,n] with qx carrying a +128 zero point; writes
     * y = (acc - 128 * wsum[n]) * xs[t] * ws[n] + bias[n] (bias may be NULL). */
    void (*dequant_s32)(const int32_t *acc, const int32_t *wsum, const float *xs,
                        const float *ws, const float *bias, float *y, int T, int N);
} embp_kernels;

/* Floats of scratch one attention call needs: K transposed (D, Lp) plus four score rows, with
 * Lp = L rounded up to 16 so the SIMD tables run whole vectors over the padding. */
static inline size_t embp_attn_scratch_floats(int L, int D) {
    size_t lp = ((size_t)L + 15) / 16 * 16;
    return (size_t)D * lp + 4 * lp + 16;
}

/* The best table the CPU can run; called once at model load. Never NULL. */
const embp_kernels *embp_kernels_pick(const embp_cpu *cpu);

/* The reference, always built; the SIMD tables exist on x86-64 builds. */
extern const embp_kernels embp_kernels_scalar;
extern const embp_kernels embp_kernels_avx2;
extern const embp_kernels embp_kernels_avx512;

#endif
