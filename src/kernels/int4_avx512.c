/* AVX-512 int4 GEMM kernels (int4.h): bf16 numerics with vdpbf16ps, int8 with vpdpbusd.
 * Both walk two 16-column panels at a time (32 columns) over MR rows of A, keep a per-group
 * accumulator and a total in registers, and split panel pairs across OpenMP threads. */
#include <immintrin.h>
#include <string.h>

#include "core/fp.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"

#define MR 4 /* rows of A per register block: 2 x MR group sums + 2 x MR totals in zmm */

/* ---------------------------------------------------------------- bf16 (vdpbf16ps) */

static size_t scratch_bf16(int m, int k) {
    return (size_t)m * k * sizeof(uint16_t) + 64;
}

/* a is [m, k] fp32 -> ab [m, k] bf16, round to nearest even (vcvtne2ps2bf16). */
static void to_bf16(const float *a, int m, int k, uint16_t *ab) {
    size_t n = (size_t)m * k, i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(a + i));
        _mm512_storeu_si512(ab + i, (__m512i)v);
    }
    for (; i < n; i++)
        ab[i] = embp_f32_to_bf16(a[i]);
}

/* The 16 nibble values as bf16 words: nibble u -> bf16(u - 8), repeated for 32 lanes. */
static __m512i nibble_lut(void) {
    uint16_t t[32];
    for (int u = 0; u < 32; u++) {
        float f = (float)((u & 15) - 8);
        uint32_t b;
        memcpy(&b, &f, 4);
        t[u] = (uint16_t)(b >> 16); /* small integers are exact in bf16 */
    }
    return _mm512_loadu_si512(t);
}

/* Rows [i0, i0 + mr) x panels p, p + np - 1 (np is 1 or 2); mr is a constant after inlining. */
static inline __attribute__((always_inline)) void
block_bf16(const embp_int4_weights *w, const uint16_t *ab, int i0, int mr, int p, int np,
           const float *bias, float *c, __m512i lut) {
    int k = w->k, g = w->group_size, ng = k / g, n = w->n;
    __m512 acc[MR][2], gacc[MR][2];
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const __m512i lo4 = _mm512_set1_epi16(15);
    for (int b = 0; b < ng; b++) {
        for (int r = 0; r < MR; r++)
            gacc[r][0] = gacc[r][1] = _mm512_setzero_ps();
        for (int kk = b * g; kk < (b + 1) * g; kk += 4) {
            __m512i wl[2], wh[2];
            for (int t = 0; t < np; t++) {
                const uint8_t *src = w->q + ((size_t)(p + t) * (k / 4) + kk / 4) * 32;
                __m512i x = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)src));
                wl[t] = _mm512_permutexvar_epi16(_mm512_and_si512(x, lo4), lut);
                wh[t] = _mm512_permutexvar_epi16(_mm512_srli_epi16(x, 4), lut);
            }
            for (int r = 0; r < mr; r++) {
                const uint16_t *ar = ab + (size_t)(i0 + r) * k + kk;
                int32_t a01, a23;
                memcpy(&a01, ar, 4);
                memcpy(&a23, ar + 2, 4);
                __m512bh v01 = (__m512bh)_mm512_set1_epi32(a01);
                __m512bh v23 = (__m512bh)_mm512_set1_epi32(a23);
                for (int t = 0; t < np; t++) {
                    gacc[r][t] = _mm512_dpbf16_ps(gacc[r][t], v01, (__m512bh)wl[t]);
                    gacc[r][t] = _mm512_dpbf16_ps(gacc[r][t], v23, (__m512bh)wh[t]);
                }
            }
        }
        for (int t = 0; t < np; t++) {
            const uint16_t *s = w->scales + ((size_t)(p + t) * ng + b) * 16;
            __m512 sc = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)s));
            for (int r = 0; r < mr; r++)
                acc[r][t] = _mm512_fmadd_ps(gacc[r][t], sc, acc[r][t]);
        }
    }
    for (int t = 0; t < np; t++) {
        int col = (p + t) * 16, left = n - col;
        __mmask16 msk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        __m512 bv = bias ? _mm512_maskz_loadu_ps(msk, bias + col) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++)
            _mm512_mask_storeu_ps(c + (size_t)(i0 + r) * n + col, msk, _mm512_add_ps(acc[r][t], bv));
    }
}

/* One panel pair (or the last single panel) over all rows of A. */
static void panels_bf16(const embp_int4_weights *w, const uint16_t *ab, int m, int p, int np,
                        const float *bias, float *c, __m512i lut) {
    int i = 0;
    for (; i + MR <= m; i += MR)
        block_bf16(w, ab, i, MR, p, np, bias, c, lut);
    for (; i < m; i++)
        block_bf16(w, ab, i, 1, p, np, bias, c, lut);
}

static void gemm_bf16(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      float *c, void *scratch) {
    uint16_t *ab = scratch;
    to_bf16(a, m, w->k, ab);
    int np = (w->n + 15) / 16, npairs = (np + 1) / 2;
    __m512i lut = nibble_lut();
#pragma omp parallel for schedule(static) if ((size_t)m * w->n * w->k > (1u << 18))
    for (int pp = 0; pp < npairs; pp++) {
        int p = 2 * pp;
        if (p + 1 < np)
            panels_bf16(w, ab, m, p, 2, bias, c, lut);
        else
            panels_bf16(w, ab, m, p, 1, bias, c, lut);
    }
}

const embp_int4_kernel embp_int4_avx512_bf16 = {"avx512_bf16", 0, EMBP_INT4_LAYOUT_BF16,
                                                gemm_bf16, scratch_bf16};

/* ---------------------------------------------------------------- int8 (vpdpbusd) */

static size_t scratch_vnni(int m, int k) {
    return (((size_t)m * k + 63) & ~(size_t)63) + (size_t)m * sizeof(float) + 64;
}

/* 32 packed bytes -> 64 s8 operand bytes (int4.h VNNI layout): low nibbles, then high. */
static inline __m512i unpack_s8(const uint8_t *src) {
    __m256i y = _mm256_load_si256((const __m256i *)src);
    __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(y), _mm256_srli_epi16(y, 4), 1);
    return _mm512_sub_epi8(_mm512_and_si512(x, _mm512_set1_epi8(15)), _mm512_set1_epi8(8));
}

static inline __attribute__((always_inline)) void
block_vnni(const embp_int4_weights *w, const uint8_t *qa, const float *sa, int i0, int mr, int p,
           int np, const float *bias, float *c) {
    int k = w->k, g = w->group_size, ng = k / g, n = w->n;
    __m512 acc[MR][2];
    __m512i gacc[MR][2];
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int b = 0; b < ng; b++) {
        for (int r = 0; r < MR; r++)
            gacc[r][0] = gacc[r][1] = _mm512_setzero_si512();
        for (int kk = b * g; kk < (b + 1) * g; kk += 4) {
            __m512i wv[2];
            for (int t = 0; t < np; t++)
                wv[t] = unpack_s8(w->q + ((size_t)(p + t) * (k / 4) + kk / 4) * 32);
            for (int r = 0; r < mr; r++) {
                int32_t a4;
                memcpy(&a4, qa + (size_t)(i0 + r) * k + kk, 4);
                __m512i av = _mm512_set1_epi32(a4);
                for (int t = 0; t < np; t++)
                    gacc[r][t] = _mm512_dpbusd_epi32(gacc[r][t], av, wv[t]);
            }
        }
        for (int t = 0; t < np; t++) {
            size_t at = ((size_t)(p + t) * ng + b) * 16;
            __m512 sc = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(w->scales + at)));
            __m512i comp = _mm512_load_si512(w->comp + at);
            for (int r = 0; r < mr; r++)
                acc[r][t] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(_mm512_sub_epi32(gacc[r][t], comp)), sc, acc[r][t]);
        }
    }
    for (int t = 0; t < np; t++) {
        int col = (p + t) * 16, left = n - col;
        __mmask16 msk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        __m512 bv = bias ? _mm512_maskz_loadu_ps(msk, bias + col) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++) {
            __m512 v = _mm512_add_ps(_mm512_mul_ps(acc[r][t], _mm512_set1_ps(sa[i0 + r])), bv);
            _mm512_mask_storeu_ps(c + (size_t)(i0 + r) * n + col, msk, v);
        }
    }
}

static void panels_vnni(const embp_int4_weights *w, const uint8_t *qa, const float *sa, int m,
                        int p, int np, const float *bias, float *c) {
    int i = 0;
    for (; i + MR <= m; i += MR)
        block_vnni(w, qa, sa, i, MR, p, np, bias, c);
    for (; i < m; i++)
        block_vnni(w, qa, sa, i, 1, p, np, bias, c);
}

static void gemm_vnni(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      float *c, void *scratch) {
    uint8_t *qa = scratch;
    float *sa = (float *)(void *)(qa + (((size_t)m * w->k + 63) & ~(size_t)63));
    embp_kernels_avx512.quantize_u8(a, m, w->k, qa, sa);
    int np = (w->n + 15) / 16, npairs = (np + 1) / 2;
#pragma omp parallel for schedule(static) if ((size_t)m * w->n * w->k > (1u << 18))
    for (int pp = 0; pp < npairs; pp++) {
        int p = 2 * pp;
        if (p + 1 < np)
            panels_vnni(w, qa, sa, m, p, 2, bias, c);
        else
            panels_vnni(w, qa, sa, m, p, 1, bias, c);
    }
}

const embp_int4_kernel embp_int4_avx512_vnni = {"avx512_vnni", 1, EMBP_INT4_LAYOUT_VNNI,
                                                gemm_vnni, scratch_vnni};
