/* The AVX-512 kernel tables: simd_body.h at 16 lanes, fp16 through vcvtph2ps; one table per
 * int4 kernel set the CPU may run (kernels.h); the tables with AVX512_BF16 add attention with
 * its two products on vdpbf16ps (attention_bf16). */
#include "kernels/kernels.h"

#define VW 16
#include "kernels/simd_body.h"

/* ---------------------------------------------------------------- attention in bf16 */

/* 32-bit words of bf16 pairs: word e of a row is (x[2e], x[2e + 1]), the even value in the low
 * half, as vdpbf16ps pairs its operands; 16 words from x (32 values), round to nearest even. */
static inline __m512i bf16_pairs(const float *x) {
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(x));
}

/* Words of two rows, column by column: word c is (a[c], b[c]) for c in [0, 16). */
static inline __m512i bf16_zip(const float *a, const float *b) {
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(a)));
    __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(b)));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

static inline __m512i bcast32(const void *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

/* P (4, Lp) = scale * q_r . k_j over the bf16 pairs: kt2 (D/2, Lp) words of k's pairs, qp[r]
 * row r's pairs; NV vectors (16 columns each) from column j. */
static inline __attribute__((always_inline)) void
scores4_bf16(const uint32_t *const *qp, const uint32_t *kt2, int Dh, int Lp, float scale,
             float *P, int j, int nv) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < nv; u++)
            acc[r][u] = _mm512_setzero_ps();
    for (int e = 0; e < Dh; e++) {
        __m512bh kv[4];
        for (int u = 0; u < nv; u++)
            kv[u] = (__m512bh)_mm512_loadu_si512(kt2 + (size_t)e * Lp + j + 16 * u);
        for (int r = 0; r < 4; r++) {
            __m512bh qv = (__m512bh)bcast32(qp[r] + e);
            for (int u = 0; u < nv; u++)
                acc[r][u] = _mm512_dpbf16_ps(acc[r][u], qv, kv[u]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < nv; u++)
            _mm512_storeu_ps(P + (size_t)r * Lp + j + 16 * u,
                             _mm512_mul_ps(acc[r][u], _mm512_set1_ps(scale)));
}

/* out rows [0, rows) (stride out_stride), columns [c, c + 16 nv) = inv_r * sum_j bf16(p_rj)
 * bf16(v_j): Pb (4, Lp) bf16 of the exponentials, v2 (Lp / 2, D) words of row pairs' values. */
static inline __attribute__((always_inline)) void
weighted4_bf16(const uint16_t *Pb, int Lp, const uint32_t *v2, int D, int npairs,
               const float *inv, float *out, int out_stride, int rows, int c, int nv) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < nv; u++)
            acc[r][u] = _mm512_setzero_ps();
    for (int jp = 0; jp < npairs; jp++) {
        __m512bh vv[4];
        for (int u = 0; u < nv; u++)
            vv[u] = (__m512bh)_mm512_loadu_si512(v2 + (size_t)jp * D + c + 16 * u);
        for (int r = 0; r < 4; r++) {
            __m512bh pv = (__m512bh)bcast32(Pb + (size_t)r * Lp + 2 * jp);
            for (int u = 0; u < nv; u++)
                acc[r][u] = _mm512_dpbf16_ps(acc[r][u], pv, vv[u]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int u = 0; u < nv; u++)
            _mm512_storeu_ps(out + (size_t)r * out_stride + c + 16 * u,
                             _mm512_mul_ps(acc[r][u], _mm512_set1_ps(inv[r])));
}

/* kernels.h's attention_bf16 (its numerics there). Head sizes other than a multiple of 32 run
 * the fp32 kernel. Scratch: kt2 (D/2, Lp) words, v2 (Lp/2, D) words, P (4, Lp) floats, Pb
 * (4, Lp) bf16, q pairs (4, D/2) words: embp_attn_scratch_floats. */
static void attention_bf16_avx512(const float *q, const float *k, const float *v, int stride,
                                  float *out, int out_stride, int L, int D, float scale,
                                  float *scratch) {
    if (D % 32) {
        attention_simd(q, k, v, stride, out, out_stride, L, D, scale, scratch);
        return;
    }
    int Lp = (L + 15) / 16 * 16, Dh = D / 2, npairs = (L + 1) / 2;
    uint32_t *kt2 = (uint32_t *)(void *)scratch, *v2 = kt2 + (size_t)Dh * Lp;
    float *P = (float *)(void *)(v2 + (size_t)Lp / 2 * D);
    uint16_t *Pb = (uint16_t *)(void *)(P + 4 * (size_t)Lp);
    uint32_t *qbuf = (uint32_t *)(void *)(Pb + 4 * (size_t)Lp);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    /* k's pairs transposed: word (e, j) = k_j's pair e; zero past L */
    for (int j = 0; j < Lp; j++)
        for (int e = 0; e < Dh; e += 16) {
            __m512i w = j < L ? bf16_pairs(k + (size_t)j * stride + 2 * e) : _mm512_setzero_si512();
            __m512i at = _mm512_mullo_epi32(_mm512_add_epi32(lanes, _mm512_set1_epi32(e)),
                                            _mm512_set1_epi32(Lp));
            _mm512_i32scatter_epi32(kt2 + j, at, w, 4);
        }
    /* v's row pairs interleaved; a missing second row (L odd) is zero, never garbage times 0 */
    _Alignas(64) static const float zero[16] = {0};
    for (int jp = 0; jp < npairs; jp++) {
        const float *a = v + (size_t)(2 * jp) * stride;
        const float *b = 2 * jp + 1 < L ? a + stride : NULL;
        for (int c = 0; c < D; c += 16)
            _mm512_storeu_si512(v2 + (size_t)jp * D + c, bf16_zip(a + c, b ? b + c : zero));
    }
    for (int i0 = 0; i0 < L; i0 += 4) {
        int rows = L - i0 < 4 ? L - i0 : 4;
        const uint32_t *qp[4];
        float inv[4];
        for (int r = 0; r < 4; r++) { /* past the last row: repeat it, results unused */
            int i = i0 + (r < rows ? r : rows - 1);
            uint32_t *dst = qbuf + (size_t)r * Dh;
            for (int e = 0; e < Dh; e += 16)
                _mm512_storeu_si512(dst + e, bf16_pairs(q + (size_t)i * stride + 2 * e));
            qp[r] = dst;
        }
        int j = 0;
        for (; j + 64 <= Lp; j += 64)
            scores4_bf16(qp, kt2, Dh, Lp, scale, P, j, 4);
        for (; j < Lp; j += 16)
            scores4_bf16(qp, kt2, Dh, Lp, scale, P, j, 1);
        for (int r = 0; r < 4; r++) {
            float *p = P + (size_t)r * Lp;
            inv[r] = 1.0f / softmax_exp(p, L);
            for (int c = 0; c < Lp; c += 16) { /* bf16 of the exponentials, zero past L */
                __mmask16 live = _mm512_cmplt_epi32_mask(_mm512_add_epi32(lanes,
                                                         _mm512_set1_epi32(c)),
                                                         _mm512_set1_epi32(L));
                __m512 x = _mm512_maskz_loadu_ps(live, p + c);
                _mm256_storeu_si256((__m256i *)(void *)(Pb + (size_t)r * Lp + c),
                                    (__m256i)_mm512_cvtneps_pbh(x));
            }
        }
        float *o = out + (size_t)i0 * out_stride;
        int c = 0;
        for (; c + 64 <= D; c += 64)
            weighted4_bf16(Pb, Lp, v2, D, npairs, inv, o, out_stride, rows, c, 4);
        for (; c < D; c += 16)
            weighted4_bf16(Pb, Lp, v2, D, npairs, inv, o, out_stride, rows, c, 1);
    }
}

/* clang-format off */
const embp_kernels embp_kernels_avx512           = EMBP_SIMD_TABLE("avx512", &embp_int4_avx2, NULL,
                                                                   NULL);
const embp_kernels embp_kernels_avx512_bf16      = EMBP_SIMD_TABLE("avx512", &embp_int4_avx512_bf16,
                                                                   NULL, attention_bf16_avx512);
const embp_kernels embp_kernels_avx512_vnni      = EMBP_SIMD_TABLE("avx512", &embp_int4_avx2,
                                                                   &embp_int4_avx512_vnni, NULL);
const embp_kernels embp_kernels_avx512_bf16_vnni = EMBP_SIMD_TABLE("avx512", &embp_int4_avx512_bf16,
                                                                   &embp_int4_avx512_vnni,
                                                                   attention_bf16_avx512);
/* clang-format on */
