/* Weight quantization, round to nearest at load, and the formats of weights and activations.
 * W is [N, K], row n = output channel, as torch.nn.Linear stores it. The activation quantizer
 * runs per GEMM and so is a kernel: kernels.h's quantize_u8, one per instruction set.
 *
 * Formats (all symmetric, so 0.0 is exact and signs quantize alike):
 *   int8 weights  q[n][k] int8 in [-127, 127], scale[n] fp32 = max_k |W[n][k]| / 127;
 *                 W ~ q * scale. q = round-half-even(W / scale).
 *   int4 weights  per group of g consecutive k (g a power of two, 16..256, dividing K):
 *                 scale[n][k/g] fp16 = fp16(max |W| over the group / 7); q = round-half-even(
 *                 W / scale) in [-7, 7] (computed with the fp16-rounded scale, so the bound below
 *                 holds for what is stored; -8 is left unused to stay symmetric).
 *                 Bytes: row n is K/2 bytes; byte i holds k = 2i in its low nibble and k = 2i+1
 *                 in its high nibble, each as q + 8 (offset binary, 0..15; as ggml's Q4_0).
 *                 Memory: 0.5 + 2/g bytes per weight.
 *   activations   per row (token) m: scale[m] fp32 = max_k |x| / 127, u8 q = round(x / scale)
 *                 + 128 in [1, 255] (zero point 128), so x ~ (q - 128) * scale.
 * Bound for all three: |w - dequant(quant(w))| <= scale / 2 (plus fp32 rounding of w / scale).
 * An all-zero weight row or group gets scale 0 and q = 0 (dequantizes to exact zeros); an
 * activation row's edge cases (all zero, NaN, Inf) are stated with kernels.h's quantize_u8. */
#ifndef EMBP_KERNELS_QUANT_H
#define EMBP_KERNELS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* w is [n, k]; q gets [n, k], scales [n]. Returns EMBP_EINVAL for a non-finite weight (the
 * message names row and column). */
embp_status embp_quant_int8(const float *w, int n, int k, int8_t *q, float *scales,
                            embp_error *err);
void embp_dequant_int8(const int8_t *q, const float *scales, int n, int k, float *w);

/* Checks g: a power of two in 16..256 that divides k (EMBP_ECONFIG naming both). */
embp_status embp_quant_int4_check(int k, int g, embp_error *err);
/* w is [n, k]; q gets n * k / 2 bytes, scales n * (k / g) fp16 values. */
embp_status embp_quant_int4(const float *w, int n, int k, int g, uint8_t *q, uint16_t *scales,
                            embp_error *err);
void embp_dequant_int4(const uint8_t *q, const uint16_t *scales, int n, int k, int g, float *w);
/* The int4 value (-8..7) of column k in a packed row. */
static inline int embp_int4_get(const uint8_t *row, int k) {
    return ((row[k >> 1] >> ((k & 1) * 4)) & 15) - 8;
}

#endif
