/* AVX2 int4 GEMM (int4.h, bf16 numerics in fp32 FMA): the path for CPUs without AVX512_BF16.
 * A is rounded to bf16 once into scratch (kept as fp32). Per block of 16 output columns and
 * KC values of K, the weights are unpacked once, times their scales, into a 16 KB buffer that
 * stays in L1, and every row of A runs over it in a 6 x 16 register tile (12 accumulators). */
#include <immintrin.h>
#include <string.h>

#include "core/fp.h"
#include "kernels/int4.h"

#define KC 256 /* K per unpacked block: KC x 16 floats = 16 KB */
#define MR 6
#define MB 192 /* rows of A per sweep: 192 x KC floats = 192 KB */

static size_t scratch_avx2(int m, int k) {
    return (size_t)m * k * sizeof(float) + 64;
}

/* buf[kk][0..16) = q * scale for k = k0 + kk, columns of panels p and p + 1 (PANEL8). */
static void unpack_block(const embp_int4_weights *w, int p, int k0, int kc, float *buf) {
    int k = w->k, g = w->group_size, ng = k / g, np = (w->n + 7) / 8;
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i lo4 = _mm256_set1_epi32(15), eight = _mm256_set1_epi32(8);
    for (int t = 0; t < 2; t++) {
        if (p + t >= np) { /* past the last panel: zero columns */
            for (int kk = 0; kk < kc; kk++)
                _mm256_store_ps(buf + kk * 16 + 8 * t, _mm256_setzero_ps());
            continue;
        }
        const uint8_t *src = w->q + ((size_t)(p + t) * k + k0) * 4;
        for (int kk = 0; kk < kc; kk += g < kc ? g : kc) {
            int b = (k0 + kk) / g;
            const uint16_t *s = w->scales + ((size_t)(p + t) * ng + b) * 8;
            __m256 sc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)s));
            int end = kk + (g < kc ? g : kc);
            for (int j = kk; j < end; j++) {
                int32_t v;
                memcpy(&v, src + (size_t)j * 4, 4);
                __m256i x = _mm256_srlv_epi32(_mm256_set1_epi32(v), shifts);
                x = _mm256_sub_epi32(_mm256_and_si256(x, lo4), eight);
                _mm256_store_ps(buf + j * 16 + 8 * t, _mm256_mul_ps(_mm256_cvtepi32_ps(x), sc));
            }
        }
    }
}

/* C rows [i0, i0 + mr) x 16 columns from col (mask for the last block) += A x buf, or = when
 * first; adds bias when last. mr is a constant after inlining. */
static inline __attribute__((always_inline)) void
tile(const float *ab, int k, int i0, int mr, int k0, int kc, const float *buf, float *c, int n,
     int col, __m256i m0, __m256i m1, int first, const float *bias) {
    __m256 acc[MR][2];
    for (int r = 0; r < mr; r++) {
        float *cr = c + (size_t)(i0 + r) * n + col;
        acc[r][0] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(cr, m0);
        acc[r][1] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(cr + 8, m1);
    }
    for (int kk = 0; kk < kc; kk++) {
        __m256 b0 = _mm256_load_ps(buf + kk * 16), b1 = _mm256_load_ps(buf + kk * 16 + 8);
        for (int r = 0; r < mr; r++) {
            __m256 a = _mm256_broadcast_ss(ab + (size_t)(i0 + r) * k + k0 + kk);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + (size_t)(i0 + r) * n + col;
        if (bias) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_maskload_ps(bias + col, m0));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_maskload_ps(bias + col + 8, m1));
        }
        _mm256_maskstore_ps(cr, m0, acc[r][0]);
        _mm256_maskstore_ps(cr + 8, m1, acc[r][1]);
    }
}

/* Lanes < left set (left clamped to 0..8). */
static __m256i lane_mask(int left) {
    left = left < 0 ? 0 : left > 8 ? 8 : left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Rows [i0, i0 + mb) x columns [16 bp, 16 bp + 16) x K slice [k0, k0 + kc). */
static void block(const embp_int4_weights *w, const float *ab, int i0, int mb, int k0, int kc,
                  int bp, const float *bias, float *c, float *buf) {
    int k = w->k, n = w->n, col = 16 * bp, first = k0 == 0, i = i0, end = i0 + mb;
    __m256i m0 = lane_mask(n - col), m1 = lane_mask(n - col - 8);
    const float *bs = k0 + kc == k ? bias : NULL;
    unpack_block(w, 2 * bp, k0, kc, buf);
    for (; i + MR <= end; i += MR)
        tile(ab, k, i, MR, k0, kc, buf, c, n, col, m0, m1, first, bs);
    switch (end - i) { /* constant mr for each remainder, so the tile stays in registers */
    case 5: tile(ab, k, i, 5, k0, kc, buf, c, n, col, m0, m1, first, bs); break;
    case 4: tile(ab, k, i, 4, k0, kc, buf, c, n, col, m0, m1, first, bs); break;
    case 3: tile(ab, k, i, 3, k0, kc, buf, c, n, col, m0, m1, first, bs); break;
    case 2: tile(ab, k, i, 2, k0, kc, buf, c, n, col, m0, m1, first, bs); break;
    case 1: tile(ab, k, i, 1, k0, kc, buf, c, n, col, m0, m1, first, bs); break;
    default: break;
    }
}

/* Loops: MB rows x KC of K (a 192 KB slice of A that stays in L2) outside, column blocks split
 * across threads inside, so A is read once per column sweep instead of once per column block
 * (which at M = 4096 cost more than the arithmetic). Weights unpack once per MB rows. */
static void gemm_avx2(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      float *c, void *scratch) {
    float *ab = scratch;
    for (size_t i = 0; i < (size_t)m * w->k; i++)
        ab[i] = embp_bf16_to_f32(embp_f32_to_bf16(a[i]));
    int nb = (w->n + 15) / 16, k = w->k;
#pragma omp parallel if ((size_t)m * w->n * w->k > (1u << 18))
    {
        _Alignas(32) float buf[KC * 16];
        for (int i0 = 0; i0 < m; i0 += MB)
            for (int k0 = 0; k0 < k; k0 += KC) {
                int mb = m - i0 < MB ? m - i0 : MB, kc = k - k0 < KC ? k - k0 : KC;
#pragma omp for schedule(static)
                for (int bp = 0; bp < nb; bp++)
                    block(w, ab, i0, mb, k0, kc, bp, bias, c, buf);
            }
    }
}

const embp_int4_kernel embp_int4_avx2 = {"avx2", 0, EMBP_INT4_LAYOUT_PANEL8, gemm_avx2,
                                         scratch_avx2};
