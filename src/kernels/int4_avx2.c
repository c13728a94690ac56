/* AVX2 int4 GEMM (int4.h, bf16 numerics in fp32 FMA): the path for CPUs without AVX512_BF16.
 * A is rounded to bf16 into scratch (kept as fp32; gemm_avx2 says when and by which thread),
 * packed 6 rows interleaved per k so the 6 broadcasts of a k step read one 24-byte run
 * instead of 6 rows K floats apart. Per block of 16 output columns and KC values of K, the
 * weights are unpacked once, times their scales, into a 16 KB buffer that stays in L1, and
 * every row of A runs over it in a 6 x 16 register tile (12 accumulators). Packing A and
 * plain stores for whole panels took M = 4096 from 142-150 to 158-177 GFLOP/s (bench_int4,
 * 2-core AVX2 EPYC). */
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "core/fp.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"

#define KC 256 /* K per unpacked block: KC x 16 floats = 16 KB */
#define MB 384 /* rows of A per sweep (a multiple of 6): 384 x KC floats = 384 KB, in L2 */

/* ---------------------------------------------------------------- the register tile */

#define MR 6

/* Tiles [t0, t1) of the m rows of a (m, k), values of k in [k0, k1) (k0 a multiple of 64),
 * each value rounded to bf16, as tiles of 6 rows: tile t's k-th column is the 6 floats at
 * dst + (t * k + kk) * 6 (rows past m are 0). The rounding is the AVX2 table's f32_to_bf16 on
 * 64 values of a row at a time; then the 6 rows interleave. */
static void pack_a(const float *a, int m, int k, int t0, int t1, int k0, int k1, float *dst) {
    uint16_t h[MR][64];
    for (int t = t0; t < t1; t++) {
        float *d = dst + (size_t)t * k * MR;
        int rows = m - t * MR < MR ? m - t * MR : MR;
        for (int c0 = k0; c0 < k1; c0 += 64) {
            int kc = k1 - c0 < 64 ? k1 - c0 : 64;
            for (int r = 0; r < MR; r++)
                if (r < rows)
                    embp_kernels_avx2.f32_to_bf16(a + (size_t)(t * MR + r) * k + c0, h[r],
                                                  (size_t)kc);
                else
                    memset(h[r], 0, sizeof h[r]);
            for (int kk = 0; kk < kc; kk++)
                for (int r = 0; r < MR; r++)
                    d[(size_t)(c0 + kk) * MR + r] = embp_bf16_to_f32(h[r][kk]);
        }
    }
}

/* C rows [0, mr) (row stride ldc) x 16 columns += A x b, or = when first; adds bias (pointing
 * at the tile's first column) when not NULL (the last slice of K). ap: the tile's packed A at
 * the slice's first k. full: all 16 columns exist, so C and bias move with plain loads and
 * stores; else masks m0, m1 cover the last panel (masked stores are slow on AMD: ~15% of a
 * slice if every tile used them). mr and full are constants after inlining. */
static inline __attribute__((always_inline)) void tile(int mr, int full, int kc, const float *ap,
                                                       const float *b, float *c, size_t ldc,
                                                       __m256i m0, __m256i m1, int first,
                                                       const float *bias) {
#define TILE_LD(p, m) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m))
    __m256 acc[MR][2];
    for (int r = 0; r < mr; r++) {
        acc[r][0] = first ? _mm256_setzero_ps() : TILE_LD(c + r * ldc, m0);
        acc[r][1] = first ? _mm256_setzero_ps() : TILE_LD(c + r * ldc + 8, m1);
    }
    for (int kk = 0; kk < kc; kk++) {
        __m256 b0 = _mm256_load_ps(b + kk * 16), b1 = _mm256_load_ps(b + kk * 16 + 8);
        for (int r = 0; r < mr; r++) {
            __m256 x = _mm256_broadcast_ss(ap + kk * MR + r);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        if (bias) {
            acc[r][0] = _mm256_add_ps(acc[r][0], TILE_LD(bias, m0));
            acc[r][1] = _mm256_add_ps(acc[r][1], TILE_LD(bias + 8, m1));
        }
        if (full) {
            _mm256_storeu_ps(c + r * ldc, acc[r][0]);
            _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
        } else {
            _mm256_maskstore_ps(c + r * ldc, m0, acc[r][0]);
            _mm256_maskstore_ps(c + r * ldc + 8, m1, acc[r][1]);
        }
    }
#undef TILE_LD
}

/* Lanes < left set (left clamped to 0..8). */
static inline __m256i lane_mask(int left) {
    left = left < 0 ? 0 : left > 8 ? 8 : left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* tile_rows for one value of full (a constant after inlining). */
static inline __attribute__((always_inline)) void
tile_rows_full(int full, int mb, int kc, const float *ap, size_t tile_stride, const float *b,
               float *c, size_t ldc, __m256i m0, __m256i m1, int first, const float *bias) {
    int i = 0;
    for (; i + MR <= mb; i += MR, ap += tile_stride)
        tile(MR, full, kc, ap, b, c + i * ldc, ldc, m0, m1, first, bias);
    c += i * ldc;
    switch (mb - i) { /* constant mr for each remainder, so the tile stays in registers */
    /* clang-format off */
    case 5: tile(5, full, kc, ap, b, c, ldc, m0, m1, first, bias); break;
    case 4: tile(4, full, kc, ap, b, c, ldc, m0, m1, first, bias); break;
    case 3: tile(3, full, kc, ap, b, c, ldc, m0, m1, first, bias); break;
    case 2: tile(2, full, kc, ap, b, c, ldc, m0, m1, first, bias); break;
    case 1: tile(1, full, kc, ap, b, c, ldc, m0, m1, first, bias); break;
    default: break;
    /* clang-format on */
    }
}

/* mb rows of C from c (row stride n, the 16 columns from col of n in all) over one K slice of
 * kc: ap holds the rows' packed A tiles tile_stride apart, b the slice's panel (kc x 16). Whole
 * tiles, then one tile of the remaining rows. bias: the whole (n) bias, or NULL. */
static inline void tile_rows(int mb, int kc, const float *ap, size_t tile_stride, const float *b,
                             float *c, int n, int col, int first, const float *bias) {
    __m256i m0 = lane_mask(n - col), m1 = lane_mask(n - col - 8);
    const float *bs = bias ? bias + col : NULL;
    if (n - col >= 16)
        tile_rows_full(1, mb, kc, ap, tile_stride, b, c + col, (size_t)n, m0, m1, first, bs);
    else
        tile_rows_full(0, mb, kc, ap, tile_stride, b, c + col, (size_t)n, m0, m1, first, bs);
}

/* ---------------------------------------------------------------- the int4 GEMM */

static size_t scratch_avx2(int m, int k) {
    return (size_t)(m + MR - 1) / MR * MR * k * sizeof(float) + 64;
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

/* Rows [i0, i0 + mb) x columns [16 bp, 16 bp + 16) x K slice [k0, k0 + kc). */
static void block(const embp_int4_weights *w, const float *ab, int i0, int mb, int k0, int kc,
                  int bp, const float *bias, embp_post_fn post, float *c, float *buf) {
    size_t tile_stride = (size_t)w->k * MR;
    unpack_block(w, 2 * bp, k0, kc, buf);
    tile_rows(mb, kc, ab + (size_t)(i0 / MR) * tile_stride + (size_t)k0 * MR, tile_stride, buf,
              c + (size_t)i0 * w->n, w->n, 16 * bp, k0 == 0, k0 + kc == w->k ? bias : NULL);
    int cols = w->n - 16 * bp < 16 ? w->n - 16 * bp : 16;
    for (int r = 0; post && k0 + kc == w->k && r < mb; r++) /* the tile, still in cache */
        post(c + (size_t)(i0 + r) * w->n + 16 * bp, (size_t)cols);
}

/* Rows [i0, i1) (i0 a multiple of MR) x column blocks [b0, b1): slices of MB rows x KC of K
 * (a 384 KB slice of A that stays in L2) outside, the column blocks inside, so A is read once
 * per column sweep instead of once per column block (which at M = 4096 cost more than the
 * arithmetic). Weights unpack once per MB rows (192 rows, unpacking twice as often, took 2-4%
 * more time). pack: each slice of A is packed by this thread just before its column sweep, so
 * the sweep reads it from L2 (else A is packed already). */
static void sweep(const embp_int4_weights *w, const float *a, int m, int i0, int i1, int b0,
                  int b1, int pack, const float *bias, embp_post_fn post, float *c, float *ab,
                  float *buf) {
    int k = w->k;
    for (; i0 < i1; i0 += MB) {
        int mb = i1 - i0 < MB ? i1 - i0 : MB;
        for (int k0 = 0; k0 < k; k0 += KC) {
            int kc = k - k0 < KC ? k - k0 : KC;
            if (pack)
                pack_a(a, m, k, i0 / MR, (i0 + mb + MR - 1) / MR, k0, k0 + kc, ab);
            for (int bp = b0; bp < b1; bp++)
                block(w, ab, i0, mb, k0, kc, bp, bias, post, c, buf);
        }
    }
}

/* One parallel region. With rows enough for two sweeps a thread, each thread takes an equal run
 * of rows (whole tiles) and every column block, packing each slice of its rows just before
 * using it: no barrier at all. A short batch packs A by tiles split over the threads, waits at
 * one barrier, then gives each thread its own contiguous run of column blocks over all rows.
 * (The packing ran on one thread before, and an `omp for` per MB x KC slice put 44-132
 * barriers in a 4096-row GEMM.) */
static void gemm_avx2(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      embp_post_fn post, float *c, void *scratch) {
    float *ab = scratch;
    int nb = (w->n + 15) / 16, ntile = (m + MR - 1) / MR, nmb = (m + MB - 1) / MB;
#pragma omp parallel if ((size_t)m * w->n * w->k > (1u << 18))
    {
        _Alignas(32) float buf[KC * 16];
        int nt = omp_get_num_threads(), me = omp_get_thread_num();
        if (nmb >= 2 * nt) {
            int per = ((m + nt - 1) / nt + MR - 1) / MR * MR; /* whole tiles per thread */
            int r0 = me * per < m ? me * per : m, r1 = r0 + per < m ? r0 + per : m;
            sweep(w, a, m, r0, r1, 0, nb, 1, bias, post, c, ab, buf);
        } else {
            pack_a(a, m, w->k, ntile * me / nt, ntile * (me + 1) / nt, 0, w->k, ab);
#pragma omp barrier
            sweep(w, a, m, 0, m, nb * me / nt, nb * (me + 1) / nt, 0, bias, post, c, ab, buf);
        }
    }
}

const embp_int4_kernel embp_int4_avx2 = {"avx2", 0, EMBP_INT4_LAYOUT_PANEL8, gemm_avx2,
                                         scratch_avx2};
