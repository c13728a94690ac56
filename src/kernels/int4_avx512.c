/* AVX-512 int4 GEMM kernels (int4.h): bf16 numerics with vdpbf16ps, int8 with vpdpbusd.
 * bf16: jobs of 96 rows (each thread its own rows, converting a job's rows of A just before
 * running them), each K block's weights unpacked once per job into L1 and read by 8 x 2
 * register blocks of group sums (below).
 * int8: two 16-column panels at a time over 4 rows of A, a per-group accumulator and a total in
 * registers, panel pairs split across the threads. */
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "core/fp.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"

/* ---------------------------------------------------------------- bf16 (vdpbf16ps) */

/* Register block: MR rows of A x NR panels (16 columns each): 16 group sums in zmm (vdpbf16ps
 * has latency 6 and two pipes on this EPYC: 12 independent chains reach 92% of its issue rate,
 * 16 reach all of it), NR weight vectors and a broadcast. At each group's end its sums are
 * scaled into the block's totals, which the compiler keeps in registers or a 1 KiB buffer in
 * L1. (4 x 3 with sums and totals in registers, 12 chains, ran at 0.69-0.80x oneDNN bf16's
 * time in bench_int4 --cpu-time; 8 x 3, 24 chains, was slower still: 0.62-0.80x.) The
 * weights of a K block (KB values of k x NR panels, 32 KiB) are unpacked to bf16 once per job
 * (MB rows of A) into a buffer in L1, and every MR-row block of the job reads them there. One
 * block covers K 384 (blocks of 256 split it in two, each block's totals going through C:
 * 0.75x -> 0.82x oneDNN's time at K 384 N 384). */
#define AT 4         /* rows per tile of packed A */
#define MR (2 * AT)  /* rows of A per register block: two tiles */
#define NR 2
#define MB (12 * MR) /* rows of A per job */
#define KB 512       /* k per block: a multiple of every group quant.h allows */
/* A in bf16, packed in tiles of AT rows: tile i's k pair kp (k = 2 kp, 2 kp + 1) of row r is the
 * 32-bit word ap[(i * k/2 + kp) * AT + r], so a register block reads its rows' pairs from two
 * pointers (rows past m in the last tile are never read). */
static size_t scratch_bf16(int m, int k) {
    return (size_t)(m + AT - 1) / AT * AT * k * sizeof(uint16_t) + 64;
}

/* 32 values of k from each of a tile's 4 rows (row stride k) as bf16 pairs, transposed to the
 * tile's order: 16 k pairs x 4 rows, 64 words at dst. */
static inline void tile_pairs32(const float *row0, size_t k, uint32_t *dst) {
    __m512i R[4];
    for (int r = 0; r < 4; r++) {
        const float *x = row0 + r * k;
        R[r] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(x));
    }
    /* 4 x 4 transposes of words in each 128-bit lane, then of the lanes */
    __m512i a = _mm512_unpacklo_epi32(R[0], R[1]), b = _mm512_unpackhi_epi32(R[0], R[1]);
    __m512i c = _mm512_unpacklo_epi32(R[2], R[3]), d = _mm512_unpackhi_epi32(R[2], R[3]);
    __m512i t0 = _mm512_unpacklo_epi64(a, c), t1 = _mm512_unpackhi_epi64(a, c);
    __m512i t2 = _mm512_unpacklo_epi64(b, d), t3 = _mm512_unpackhi_epi64(b, d);
    __m512i u0 = _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(1, 0, 1, 0));
    __m512i u1 = _mm512_shuffle_i32x4(t2, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m512i u2 = _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));
    __m512i u3 = _mm512_shuffle_i32x4(t2, t3, _MM_SHUFFLE(3, 2, 3, 2));
    _mm512_storeu_si512(dst, _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(dst + 16, _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_storeu_si512(dst + 32, _mm512_shuffle_i32x4(u2, u3, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(dst + 48, _mm512_shuffle_i32x4(u2, u3, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Rows [r0, r1) of a [m, k] fp32 into ap, round to nearest even (vcvtne2ps2bf16 and its scalar
 * twin give the same bits); r0 is a multiple of AT, k is even (a multiple of the group). */
static void to_bf16(const float *a, int k, int r0, int r1, uint32_t *ap) {
    int i = r0;
    for (; i + AT <= r1; i += AT) { /* whole tiles, 32 values of k at a time */
        uint32_t *dst = ap + (size_t)(i / AT) * (k / 2) * AT;
        int kk = 0;
        for (; kk + 32 <= k; kk += 32)
            tile_pairs32(a + (size_t)i * k + kk, (size_t)k, dst + (size_t)kk / 2 * AT);
        for (; kk < k; kk += 2)
            for (int r = 0; r < AT; r++) {
                const float *x = a + (size_t)(i + r) * k + kk;
                dst[(size_t)kk / 2 * AT + r] = (uint32_t)embp_f32_to_bf16(x[0]) |
                                               (uint32_t)embp_f32_to_bf16(x[1]) << 16;
            }
    }
    for (; i < r1; i++) { /* the last, partial tile */
        uint32_t *dst = ap + (size_t)(i / AT) * (k / 2) * AT + i % AT;
        for (int kk = 0; kk < k; kk += 2)
            dst[(size_t)kk / 2 * AT] = (uint32_t)embp_f32_to_bf16(a[(size_t)i * k + kk]) |
                                       (uint32_t)embp_f32_to_bf16(a[(size_t)i * k + kk + 1]) << 16;
    }
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

/* k in [k0, k0 + kb) of panels p .. p + np - 1 to bf16 operands: buf[kp * NR + t] is panel
 * p + t's k pair kp of the block (k = k0 + 2 kp, + 1), word pairs by column as vdpbf16ps takes
 * them. */
static void unpack_block(const embp_int4_weights *w, int p, int np, int k0, int kb, __m512i lut,
                         __m512i *buf) {
    int k = w->k;
    const __m512i lo4 = _mm512_set1_epi16(15);
    for (int c = 0; c < kb / 4; c++)
        for (int t = 0; t < np; t++) {
            const uint8_t *src = w->q + ((size_t)(p + t) * (k / 4) + (size_t)k0 / 4 + c) * 32;
            __m512i x = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)src));
            buf[(2 * c) * NR + t] = _mm512_permutexvar_epi16(_mm512_and_si512(x, lo4), lut);
            buf[(2 * c + 1) * NR + t] = _mm512_permutexvar_epi16(_mm512_srli_epi16(x, 4), lut);
        }
}

/* Rows [i0, i0 + mr) x panels p .. p + np - 1 over the K block [k0, k0 + kb): the totals start
 * at 0 (first block) or from C; each group's sums over its k pairs (each lane's pairs in k
 * order, as the scalar reference's group_sum) are added times the group's scale, in group
 * order; C gets the totals, plus bias after the last block. The same operations in the same
 * order per value as the scalar reference's numerics (int4.h). mr and np are constants after
 * inlining. */
static inline __attribute__((always_inline)) void
block_bf16(const embp_int4_weights *w, const uint32_t *ap, int i0, int mr, int p, int np, int k0,
           int kb, const __m512i *buf, const float *bias, float *c) {
    int k = w->k, g = w->group_size, ng = k / g, n = w->n, first = k0 == 0, last = k0 + kb == k;
    _Alignas(64) float tot[MR][NR][16];
    __m512 gacc[MR][NR];
    __mmask16 msk[NR];
    for (int t = 0; t < np; t++) {
        int col = 16 * (p + t), left = n - col;
        msk[t] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        for (int r = 0; r < mr; r++)
            _mm512_store_ps(tot[r][t],
                            first ? _mm512_setzero_ps()
                                  : _mm512_maskz_loadu_ps(msk[t], c + (size_t)(i0 + r) * n + col));
    }
    /* the block's two tiles of A (the second only read when mr > AT) */
    const uint32_t *t0 = ap + (size_t)(i0 / AT) * (k / 2) * AT, *t1 = t0 + (size_t)(k / 2) * AT;
    for (int b = k0 / g; b < (k0 + kb) / g; b++) {
        for (int r = 0; r < mr; r++)
            for (int t = 0; t < np; t++)
                gacc[r][t] = _mm512_setzero_ps();
        const uint32_t *a0 = t0 + (size_t)b * g / 2 * AT, *a1 = t1 + (size_t)b * g / 2 * AT;
        const __m512i *bb = buf + (size_t)(b * g - k0) / 2 * NR;
        for (int kp = 0; kp < g / 2; kp++) {
            __m512i wv[NR];
            for (int t = 0; t < np; t++) {
                wv[t] = bb[kp * NR + t];
                __asm__("" : "+v"(wv[t])); /* one load per weight vector, not one per row */
            }
            for (int r = 0; r < mr; r++) {
                uint32_t pair = r < AT ? a0[kp * AT + r] : a1[kp * AT + r - AT];
                __m512bh av = (__m512bh)_mm512_set1_epi32((int32_t)pair);
                for (int t = 0; t < np; t++)
                    gacc[r][t] = _mm512_dpbf16_ps(gacc[r][t], av, (__m512bh)wv[t]);
            }
        }
        for (int t = 0; t < np; t++) {
            const uint16_t *s = w->scales + ((size_t)(p + t) * ng + b) * 16;
            __m512 sc = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)s));
            for (int r = 0; r < mr; r++)
                _mm512_store_ps(tot[r][t],
                                _mm512_fmadd_ps(gacc[r][t], sc, _mm512_load_ps(tot[r][t])));
        }
    }
    for (int t = 0; t < np; t++) {
        int col = (p + t) * 16;
        __m512 bv = bias && last ? _mm512_maskz_loadu_ps(msk[t], bias + col) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++) {
            __m512 v = _mm512_load_ps(tot[r][t]);
            _mm512_mask_storeu_ps(c + (size_t)(i0 + r) * n + col, msk[t],
                                  last ? _mm512_add_ps(v, bv) : v);
        }
    }
}

/* block_bf16 with mr in 1..MR and np in 1..NR as constants. */
#define BLOCK_NP(mr)                                                                           \
    switch (np) {                                                                              \
    case 1: block_bf16(w, ap, i0, mr, p, 1, k0, kb, buf, bias, c); break;                      \
    default: block_bf16(w, ap, i0, mr, p, NR, k0, kb, buf, bias, c); break;                    \
    }
static void block_any(const embp_int4_weights *w, const uint32_t *ap, int i0, int mr, int p,
                      int np, int k0, int kb, const __m512i *buf, const float *bias, float *c) {
    switch (mr) {
    /* clang-format off */
    case 1: BLOCK_NP(1) break;
    case 2: BLOCK_NP(2) break;
    case 3: BLOCK_NP(3) break;
    case 4: BLOCK_NP(4) break;
    case 5: BLOCK_NP(5) break;
    case 6: BLOCK_NP(6) break;
    case 7: BLOCK_NP(7) break;
    default: BLOCK_NP(MR) break;
    /* clang-format on */
    }
}
#undef BLOCK_NP

/* One job: rows [r0, r1) x panels [p0, p1), NR panels at a time, K block by K block; post on
 * each row of a finished block (MR rows at a time, in cache). */
static void job_bf16(const embp_int4_weights *w, const uint32_t *ap, int r0, int r1, int p0,
                     int p1, const float *bias, embp_post_fn post, float *c, __m512i lut,
                     __m512i *buf) {
    for (int p = p0; p < p1; p += NR) {
        int np = p1 - p < NR ? p1 - p : NR, col = 16 * p;
        int cols = w->n - col < 16 * np ? w->n - col : 16 * np;
        for (int k0 = 0; k0 < w->k; k0 += KB) {
            int kb = w->k - k0 < KB ? w->k - k0 : KB;
            unpack_block(w, p, np, k0, kb, lut, buf);
            for (int i = r0; i < r1; i += MR) {
                int mr = r1 - i < MR ? r1 - i : MR;
                block_any(w, ap, i, mr, p, np, k0, kb, buf, bias, c);
                for (int r = 0; post && k0 + kb == w->k && r < mr; r++)
                    post(c + (size_t)(i + r) * w->n + col, (size_t)cols);
            }
        }
    }
}

/* A to bf16 and the jobs in one parallel region. With rows enough for two jobs a thread,
 * each thread takes an equal run of rows (whole tiles) in jobs of MB rows x every panel, and
 * converts each job's rows just before running it, so they are still in L2 (converting all of
 * A first sent it through L3 or memory and back: at K 1536 that pass was ~14% of the GEMM's
 * time); no barrier, and the rows split evenly (whole jobs split over the threads left one
 * thread a job more: 22 against 21 at M 4096). A short batch converts split over the threads,
 * waits at one barrier, and splits jobs of MB rows x NR panels over the threads. */
static void gemm_bf16(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      embp_post_fn post, float *c, void *scratch) {
    uint32_t *ap = scratch;
    int np = (w->n + 15) / 16, nmb = (m + MB - 1) / MB;
    __m512i lut = nibble_lut();
#pragma omp parallel if ((size_t)m * w->n * w->k > (1u << 18))
    {
        __m512i buf[KB / 2 * NR];
        int nt = omp_get_num_threads(), me = omp_get_thread_num();
        int per = ((m + nt - 1) / nt + AT - 1) / AT * AT; /* whole tiles of A per thread */
        int r0 = me * per < m ? me * per : m, r1 = r0 + per < m ? r0 + per : m;
        if (nmb >= 2 * nt) {
            for (int i = r0; i < r1; i += MB) {
                int i1 = r1 - i < MB ? r1 : i + MB;
                to_bf16(a, w->k, i, i1, ap);
                job_bf16(w, ap, i, i1, 0, np, bias, post, c, lut, buf);
            }
        } else {
            int ncb = (np + NR - 1) / NR;
            to_bf16(a, w->k, r0, r1, ap);
#pragma omp barrier
#pragma omp for schedule(static)
            for (int j = 0; j < ncb * nmb; j++) {
                int cb = j / nmb, mb = j % nmb, i1 = (mb + 1) * MB < m ? (mb + 1) * MB : m;
                int p1 = (cb + 1) * NR < np ? (cb + 1) * NR : np;
                job_bf16(w, ap, mb * MB, i1, cb * NR, p1, bias, post, c, lut, buf);
            }
        }
    }
}

/* Panels [p0, p1) as bf16(q s) in oneDNN's BA16a16b2a (int4.h): a chunk's 32 bytes give two k
 * pairs of 16 columns, word j of a pair being column j/2 (the packed order, so no shuffle but
 * the scales'), q s exact in fp32 (4 x 11 bits) and rounded once, to nearest even. */
void embp_int4_dequant_bf16(const embp_int4_weights *w, int p0, int p1, uint16_t *out) {
    int k = w->k, g = w->group_size, ng = k / g;
    const __m512i lo4 = _mm512_set1_epi16(15), eight = _mm512_set1_epi32(8);
    const __m512i dup0 = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i dup1 = _mm512_add_epi32(dup0, eight);
    for (int p = p0; p < p1; p++)
        for (int b = 0; b < ng; b++) {
            __m512 s = _mm512_cvtph_ps(
                _mm256_load_si256((const __m256i *)(w->scales + ((size_t)p * ng + b) * 16)));
            __m512 s0 = _mm512_permutexvar_ps(dup0, s), s1 = _mm512_permutexvar_ps(dup1, s);
            for (int c = b * g / 4; c < (b + 1) * g / 4; c++) {
                size_t at = (size_t)p * (k / 4) + c;
                const __m256i *src = (const __m256i *)(w->q + at * 32);
                __m512i x = _mm512_cvtepu8_epi16(_mm256_load_si256(src));
                __m512i half[2] = {_mm512_and_si512(x, lo4), _mm512_srli_epi16(x, 4)};
                for (int h = 0; h < 2; h++) {
                    __m512i v0 = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(half[h]));
                    __m512i v1 = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(half[h], 1));
                    __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v0, eight)), s0);
                    __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v1, eight)), s1);
                    _mm512_storeu_si512(out + (at * 2 + h) * 32,
                                        (__m512i)_mm512_cvtne2ps_pbh(f1, f0));
                }
            }
        }
}

const embp_int4_kernel embp_int4_avx512_bf16 = {"avx512_bf16", 0, EMBP_INT4_LAYOUT_BF16,
                                                gemm_bf16, scratch_bf16};
#undef AT
#undef MR
#undef NR
#undef MB
#undef KB

#define MR 4 /* rows of A per register block: 2 x MR group sums + 2 x MR totals in zmm */

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
                        int p, int np, const float *bias, embp_post_fn post, float *c) {
    int i = 0, col = 16 * p, cols = w->n - col < 16 * np ? w->n - col : 16 * np;
    for (; i + MR <= m; i += MR) {
        block_vnni(w, qa, sa, i, MR, p, np, bias, c);
        for (int r = 0; post && r < MR; r++) /* the block, still in cache */
            post(c + (size_t)(i + r) * w->n + col, (size_t)cols);
    }
    for (; i < m; i++) {
        block_vnni(w, qa, sa, i, 1, p, np, bias, c);
        if (post)
            post(c + (size_t)i * w->n + col, (size_t)cols);
    }
}

static void gemm_vnni(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      embp_post_fn post, float *c, void *scratch) {
    uint8_t *qa = scratch;
    float *sa = (float *)(void *)(qa + (((size_t)m * w->k + 63) & ~(size_t)63));
    embp_kernels_avx512.quantize_u8(a, m, w->k, qa, sa);
    int np = (w->n + 15) / 16, npairs = (np + 1) / 2;
#pragma omp parallel for schedule(static) if ((size_t)m * w->n * w->k > (1u << 18))
    for (int pp = 0; pp < npairs; pp++) {
        int p = 2 * pp;
        if (p + 1 < np)
            panels_vnni(w, qa, sa, m, p, 2, bias, post, c);
        else
            panels_vnni(w, qa, sa, m, p, 1, bias, post, c);
    }
}

const embp_int4_kernel embp_int4_avx512_vnni = {"avx512_vnni", 1, EMBP_INT4_LAYOUT_VNNI,
                                                gemm_vnni, scratch_vnni};
