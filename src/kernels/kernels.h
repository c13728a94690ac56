/* kernels.h: every compute kernel embp calls, one table per instruction-set level; the one
 * place that chooses code by CPU features. T packed tokens, C hidden, L sequence length, D head
 * size (llm.c's letters). The fp32/bf16/int8 GEMMs run on oneDNN (kernels/matmul.h, which takes
 * its activation conversions from this table); the int4 GEMMs are embp's own (kernels/int4.h),
 * reached through this table. Kernels never see a request or a model: rows and sizes only.
 */
#ifndef EMBP_KERNELS_KERNELS_H
#define EMBP_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"
#include "kernels/int4.h"

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
    /* attention with an additive bias by relative distance before the softmax (T5's and
     * MPNet's relative positions): score(i, j) = q_i . k_j * scale + bias[j - i]. bias points
     * at distance 0 and is read at j - i in -(L - 1) .. Lp - 1, Lp = L rounded up to 16. */
    void (*attention_bias)(const float *q, const float *k, const float *v, int stride,
                           float *out, int out_stride, int L, int D, float scale,
                           const float *bias, float *scratch);
    /* attention with its two products in bf16 (vdpbf16ps), for plans that compute in bf16 or int8;
     * NULL where the CPU lacks AVX512_BF16. Same arguments and scratch as attention; q, k and
     * v are rounded to bf16 (nearest even), s_ij = sum_d q_id k_jd summed in fp32, p_ij =
     * 2^(c s_ij - m_i) with c = scale * EMBP_LOG2E and m_i = c max_j s_ij in fp32 (the scores
     * in log2 units; c s - m in one rounding), 2^x to a relative 2e-7 (as attention's exp),
     * out_i = (sum_j bf16(p_ij) v_j) / sum_j p_ij.
     * A head size that is not a multiple of 32 runs attention's fp32 numerics.
     * embp_attention_bf16_ref is its scalar twin (tests only). */
    void (*attention_bf16)(const float *q, const float *k, const float *v, int stride,
                           float *out, int out_stride, int L, int D, float scale,
                           float *scratch);
    /* One step of online-softmax attention (model/attend.c runs the blocks): up to 4 query rows
     * q[r] (D) against a block of keys given transposed, kt (D, Bp; Bp a multiple of 16, zero
     * past the block's keys), with values v (row j at v + j * v_stride). Row r sees the block's
     * keys [lo[r], hi[r]) (none when lo >= hi: the row is left as it was). With s_j = scale
     * q . k_j, its running max m[r], sum l[r] and unnormalized output acc[r] (D) become
     *   m' = max(m, max_j s_j), l' = l e^(m - m') + sum_j e^(s_j - m'),
     *   acc' = acc e^(m - m') + sum_j e^(s_j - m') v_j;
     * out = acc / l after the last block. Start from m = -inf, l = 0, acc = 0. P: scratch
     * (4, Bp). */
    void (*attend4)(const float *const *q, const float *kt, int Bp, const float *v, int v_stride,
                    int D, float scale, const int *lo, const int *hi, float *m, float *l,
                    float *const *acc, float *P);

    /* Row conversions of n values. */
    void (*f32_to_bf16)(const float *x, uint16_t *y, size_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, size_t n);
    void (*fp16_to_f32)(const uint16_t *x, float *y, size_t n);

    /* The one u8 activation quantizer, per token (row), for every int8 GEMM (oneDNN's and the
     * int4 ones). x is (T, K); q gets (T, K) u8 with zero point 128, scale (T), so that
     * x ~ (q - 128) * scale[t]:
     *   scale[t] = max_k |x[t][k]| / 127, q = round_half_even(clamp(x * (1 / scale), +-127)) + 128,
     *   so q is in [1, 255] and |x - (q - 128) scale| <= scale / 2 (plus fp32 rounding).
     *   All-zero row: scale 1, every q 128 (dequantizes to exact zeros).
     *   A row holding a NaN: scale NaN and every q 1; a row holding an Inf (no NaN): scale Inf,
     *   q 1 at each Inf and 128 elsewhere. Either way the row's GEMM results come out non-finite
     *   (never a plausible number) and no float-to-int conversion sees a value out of range.
     * Every table gives identical bytes and scales (tests/test_act_quant.c). */
    void (*quantize_u8)(const float *x, int T, int K, uint8_t *q, float *scale);
    /* acc is (T, N) int32 = sum_k qx[t,k] * qw[k,n] with qx carrying a +128 zero point; writes
     * y = (acc - 128 * wsum[n]) * xs[t] * ws[n] + bias[n] (bias may be NULL). */
    void (*dequant_s32)(const int32_t *acc, const int32_t *wsum, const float *xs,
                        const float *ws, const float *bias, float *y, int T, int N);

    /* The int4 GEMM (int4.h) this CPU runs fastest, by numerics: int4[0] bf16, int4[1] int8
     * (NULL where none can: int8 numerics need AVX-512 VNNI; the scalar int8 reference
     * embp_int4_scalar_int8 is for tests and never in a table). */
    const embp_int4_kernel *int4[2];
} embp_kernels;

/* Floats of scratch one attention call needs: K transposed (D, Lp) plus four score rows, with
 * Lp = L rounded up to 16 so the SIMD tables run whole vectors over the padding; attention_bf16
 * keeps K's and V's bf16 pairs (D Lp), four fp32 and four bf16 score rows and four q rows of
 * pairs. */
static inline size_t embp_attn_scratch_floats(int L, int D) {
    size_t lp = ((size_t)L + 15) / 16 * 16;
    return (size_t)D * lp + 6 * lp + 2 * (size_t)D + 16;
}

/* log2(e) in fp32: attention_bf16 scales its scores by scale * EMBP_LOG2E. */
#define EMBP_LOG2E 1.44269504088896341f

/* attention_bf16's numerics (kernels.h) in scalar code with fp64 sums and an exact 2^x;
 * scratch holds L floats. */
void embp_attention_bf16_ref(const float *q, const float *k, const float *v, int stride,
                             float *out, int out_stride, int L, int D, float scale,
                             float *scratch);

/* The best table the CPU can run; called once at model load. Never NULL. */
const embp_kernels *embp_kernels_pick(const embp_cpu *cpu);

/* The reference, always built; the SIMD tables exist on x86-64 builds. The AVX-512 tables share
 * one SIMD body and differ in their int4 kernels: with AVX512_BF16 and/or AVX512_VNNI. */
extern const embp_kernels embp_kernels_scalar;
extern const embp_kernels embp_kernels_avx2;
extern const embp_kernels embp_kernels_avx512;
extern const embp_kernels embp_kernels_avx512_bf16;
extern const embp_kernels embp_kernels_avx512_vnni;
extern const embp_kernels embp_kernels_avx512_bf16_vnni;

#endif
