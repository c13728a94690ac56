/* AVX-512 activation quantization (quant.h): the same bytes as embp_quant_act_u8_scalar. */
#include <immintrin.h>

#include "kernels/quant.h"

/* One row of k floats: absmax, then q = clamp(round_even(x * (1 / s)), -127, 127) + 128. */
static void quant_row(const float *x, int k, uint8_t *q, float *scale) {
    __m512 amax = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= k; j += 16)
        amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    if (j < k) {
        __mmask16 t = (__mmask16)((1u << (k - j)) - 1);
        amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(t, x + j)));
    }
    float s = _mm512_reduce_max_ps(amax) / 127.0f;
    float inv = s > 0.0f ? 1.0f / s : 0.0f;
    *scale = s;
    const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f),
                 hi = _mm512_set1_ps(127.0f);
    const __m512i zp = _mm512_set1_epi32(128);
    for (j = 0; j < k; j += 16) {
        int left = k - j;
        __mmask16 t = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(t, x + j), vinv);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi); /* max(NaN, lo) = lo, as fmaxf */
        __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(v), zp); /* MXCSR: half to even */
        _mm_mask_storeu_epi8(q + j, t, _mm512_cvtepi32_epi8(r));
    }
}

void embp_quant_act_u8_avx512(const float *x, int m, int k, uint8_t *q, float *scales) {
    for (int i = 0; i < m; i++)
        quant_row(x + (size_t)i * k, k, q + (size_t)i * k, scales + i);
}
