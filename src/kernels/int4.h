/* The int4 GEMM: C[M, N] (fp32) = A[M, K] (fp32) x W[N, K]^T + bias, W group-wise int4 as
 * quant.h stores it (weights stay int4 in memory). Two numerics, one per compute precision:
 *   bf16: C[m][n] = bias[n] + sum_g s[n][g] * sum_{k in g} bf16(A[m][k]) * q[n][k]
 *         (q is exact in bf16; each group sums in fp32, then its fp16 scale, as fp32, applies).
 *   int8: A per row to u8 (quant.h, scale sa[m]); C[m][n] = bias[n] + sa[m] * sum_g s[n][g] *
 *         int32(sum_{k in g} (qa[m][k] - 128) * q[n][k]).
 * Variants: "avx512_bf16" (vdpbf16ps), "avx512_vnni" (vpdpbusd), "avx2" and "scalar" (bf16
 * numerics in fp32 FMA; scalar also int8); kernels.h's table names the one a CPU runs. The int8
 * numerics quantize A with kernels.h's quantize_u8.
 *
 * Packed layouts (embp_int4_pack, once at load), so the inner loop streams one panel of 16
 * output columns along K:
 *   ROWS  (scalar): quant.h's own format, unchanged.
 *   PANEL8 (avx2): panel p (columns 8p..8p+7), k: 4 bytes at q + (p * K + k) * 4, nibble j
 *         (bits 4j..4j+3, little endian) = column 8p + j; scales fp16 [panel][group][8]. The
 *         avx2 kernel multiplies q by its scale while unpacking (exact in fp32: 4 x 11 bits)
 *         and sums bf16(A) x (q s) per k, the same terms in another order.
 *   BF16  (avx512_bf16): panel p (columns 16p..16p+15), chunk c (k = 4c..4c+3) is 32 bytes at
 *         q + (p * K/4 + c) * 32; byte j holds column 16p + j/2, k = 4c + (j&1) in its low
 *         nibble and k = 4c + 2 + (j&1) in its high nibble. Zero-extended to 32 words and split
 *         into low and high nibbles, each word pair is one (k, k+1) pair of one column: the
 *         operand order vdpbf16ps wants after a table lookup nibble -> bf16.
 *   VNNI  (avx512_vnni): the same chunks, byte j holds s8 operand byte j (column j/4, k = 4c +
 *         j%4) in its low nibble and operand byte j + 32 in its high nibble.
 * Both panel layouts keep scales as fp16 [panel][group][16] and pad N up to 16 with zero
 * columns; VNNI adds comp[panel][group][16] = 128 * sum_k q (the zero point's share). */
#ifndef EMBP_KERNELS_INT4_H
#define EMBP_KERNELS_INT4_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/status.h"

typedef enum {
    EMBP_INT4_LAYOUT_ROWS,
    EMBP_INT4_LAYOUT_BF16,
    EMBP_INT4_LAYOUT_VNNI,
    EMBP_INT4_LAYOUT_PANEL8
} embp_int4_layout;

/* Packed weights, owned: free with embp_int4_weights_free. */
typedef struct {
    int n, k, group_size;
    embp_int4_layout layout;
    uint8_t *q;       /* nibbles, in layout's order */
    uint16_t *scales; /* fp16 */
    int32_t *comp;    /* VNNI only, else NULL */
    size_t bytes;     /* memory held by q, scales, comp */
} embp_int4_weights;

/* An elementwise function run in place on n values (GELU): the kernels apply it to C after the
 * bias, on runs of a row's values while they are in cache, so it must not care how a row is cut. */
typedef void (*embp_post_fn)(float *x, size_t n);

typedef struct {
    const char *name;     /* "avx512_bf16", "avx512_vnni", "avx2", "scalar", "scalar_int8" */
    int int8_compute;     /* 1: int8 numerics, 0: bf16 numerics */
    embp_int4_layout layout;
    /* a is [m, k], c is [m, n], bias is [n] or NULL, post (GELU) or NULL; scratch holds
     * scratch_bytes(m, k). */
    void (*gemm)(const embp_int4_weights *w, const float *a, int m, const float *bias,
                 embp_post_fn post, float *c, void *scratch);
    size_t (*scratch_bytes)(int m, int k);
} embp_int4_kernel;

/* clang-format off */
extern const embp_int4_kernel embp_int4_scalar;      /* bf16 numerics: the reference */
extern const embp_int4_kernel embp_int4_scalar_int8; /* int8 numerics: the reference */
extern const embp_int4_kernel embp_int4_avx2;
extern const embp_int4_kernel embp_int4_avx512_bf16;
extern const embp_int4_kernel embp_int4_avx512_vnni;
/* clang-format on */

/* Packs quant.h int4 weights q [n, k/2 bytes], scales [n, k/g] for kernel into *out. */
embp_status embp_int4_pack(const embp_int4_kernel *kernel, const uint8_t *q,
                           const uint16_t *scales, int n, int k, int g,
                           embp_int4_weights *out /* OUT */, embp_error *err);
void embp_int4_weights_free(embp_int4_weights *w); /* NULL and zeroed structs are fine */

/* Runs kernel; scratch may be NULL (then allocated here, EMBP_ENOMEM if that fails). */
embp_status embp_int4_gemm(const embp_int4_kernel *kernel, const embp_int4_weights *w,
                           const float *a, int m, const float *bias, embp_post_fn post,
                           float *c, void *scratch, embp_error *err);

/* BF16-packed weights (layout BF16, an AVX-512 BF16 CPU) dequantized for oneDNN's bf16 matmul:
 * panels [p0, p1) of 16 output columns, w[k][n] = bf16(q[n][k] * s[n][k / g]) (q s exact in
 * fp32, rounded to nearest even; padding columns 0), written in oneDNN's BA16a16b2a order for
 * the (K, N) weights: panel p's k pair kp is the 32 words at out + (p * K/2 + kp) * 32, word j
 * = column 16p + j/2, k = 2 kp + (j & 1). out holds ceil(N / 16) * 16 * K words. */
void embp_int4_dequant_bf16(const embp_int4_weights *w, int p0, int p1, uint16_t *out);

#endif
