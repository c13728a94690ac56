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

/* Words of two rows, column by column: word c is (a[c], b[c]) for c in [0, 16); one conversion
 * of both rows, then the halves interleaved. */
static inline __m512i bf16_zip(const float *a, const float *b) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i hi = _mm512_add_epi32(lane, _mm512_set1_epi32(16));
    const __m512i idx = _mm512_add_epi32(lane, _mm512_slli_epi32(hi, 16)); /* word c: c, 16 + c */
    __m512bh ab = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(b), _mm512_loadu_ps(a));
    return _mm512_permutexvar_epi16(idx, (__m512i)ab);
}

static inline __m512i bcast32(const void *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

/* r (16 rows of 16 words) becomes its transpose: r[c] word i = old r[i] word c. Words within
 * 128-bit lanes by unpacks, then the lanes by two rounds of lane shuffles. */
static inline __attribute__((always_inline)) void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* r[4i + c], lane l: column 4l + c of rows 4i .. 4i + 3 */
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i u0 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x44);
        __m512i u1 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xEE);
        __m512i u2 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x44);
        __m512i u3 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xEE);
        t[c] = _mm512_shuffle_i32x4(u0, u2, 0x88);
        t[4 + c] = _mm512_shuffle_i32x4(u0, u2, 0xDD);
        t[8 + c] = _mm512_shuffle_i32x4(u1, u3, 0x88);
        t[12 + c] = _mm512_shuffle_i32x4(u1, u3, 0xDD);
    }
    for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

/* Lanes [0, n) of 16, n clamped to [0, 16]. */
static inline __mmask16 first_lanes(int n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* 2^x for x <= 0 (kernels.h's attention_bf16): f = x - floor(x) in [0, 1) by one vreduceps,
 * 2^f by a degree-5 polynomial fitted for the least largest relative error over that range
 * (1.6e-7 in fp32, under vexp's 2e-7), times 2^floor(x) by vscalefps, which underflows to 0
 * without a clamp; lanes outside live are 0. Eight instructions where vexp takes about twenty.
 * (Degree 3's 7.5e-5, one bias the same way in every p, moved enough bf16(p) roundings together
 * to shift an output by 2^-7 at L 512; degree 4's 2.7e-6 moved the bf16 plan off its
 * simulation in test_plan_reference.) */
static inline __m512 exp2_bf16(__m512 x, __mmask16 live) {
    __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_set1_ps(0.00187757541f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.00898934249f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.0558263175f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.240153611f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.693153083f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.99999994f));
    return _mm512_maskz_scalef_ps(live, p, x);
}

/* S (4, Lp) = q_r . k_j over the bf16 pairs for columns [j, j + 16 NV): kb (Dh, 16 NV) words
 * of those keys' pairs (keys_bf16's block), qp (4, Dh) the rows' pairs; mx[r] takes the running
 * max of row r's columns below L. */
static inline __attribute__((always_inline)) void
scores4_bf16(const uint32_t *qp, const uint32_t *kb, int Dh, int Lp, int L, float *S, int j,
             int nv, __m512 mx[4]) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < nv; u++)
            acc[r][u] = _mm512_setzero_ps();
    for (int e = 0; e < Dh; e++) {
        __m512bh kv[4];
        for (int u = 0; u < nv; u++)
            kv[u] = (__m512bh)_mm512_loadu_si512(kb + (size_t)(e * nv + u) * 16);
        for (int u = 0; u < nv; u++)
            IN_REGISTER(kv[u]);
        for (int r = 0; r < 4; r++) {
            __m512bh qv = (__m512bh)bcast32(qp + (size_t)r * Dh + e);
            for (int u = 0; u < nv; u++)
                acc[r][u] = _mm512_dpbf16_ps(acc[r][u], qv, kv[u]);
        }
    }
    for (int u = 0; u < nv; u++) {
        __mmask16 live = first_lanes(L - j - 16 * u);
        for (int r = 0; r < 4; r++) {
            _mm512_storeu_ps(S + (size_t)r * Lp + j + 16 * u, acc[r][u]);
            mx[r] = _mm512_mask_max_ps(mx[r], live, mx[r], acc[r][u]);
        }
    }
}

/* scores4_bf16 for each constant vector count, each a function of its own: inlined into one
 * function with the rest, GCC spilled the k vectors and accumulators to the stack. */
#define SCORES4_BF16_N(nv)                                                                        \
    static __attribute__((noinline)) void scores4_bf16_##nv(                                       \
        const uint32_t *qp, const uint32_t *kb, int Dh, int Lp, int L, float *S, int j,           \
        __m512 mx[4]) {                                                                            \
        scores4_bf16(qp, kb, Dh, Lp, L, S, j, nv, mx);                                             \
    }
SCORES4_BF16_N(1)
SCORES4_BF16_N(2)
SCORES4_BF16_N(3)
SCORES4_BF16_N(4)

/* out rows [0, rows) (stride out_stride), columns [c, c + 16 nv) = inv_r * sum_j bf16(p_rj)
 * bf16(v_j): Pb (4, Lp) bf16 of the exponentials, v2 (Lp / 2, D) words of row pairs' values.
 * Two vectors of columns (D 32) keep two sums per output, over even and odd pairs: 16 chains
 * either way, enough to keep two vdpbf16ps a cycle going at their latency. */
static inline __attribute__((always_inline)) void
weighted4_bf16(const uint16_t *Pb, int Lp, const uint32_t *v2, int D, int npairs,
               const float *inv, float *out, int out_stride, int rows, int c, int nv) {
    int ns = nv == 2 ? 2 : 1; /* sums per output */
    __m512 acc[2][4][4];
    for (int h = 0; h < ns; h++)
        for (int r = 0; r < 4; r++)
            for (int u = 0; u < nv; u++)
                acc[h][r][u] = _mm512_setzero_ps();
    int jp = 0;
    for (; jp + ns <= npairs; jp += ns)
        for (int h = 0; h < ns; h++) {
            __m512bh vv[4];
            for (int u = 0; u < nv; u++)
                vv[u] = (__m512bh)_mm512_loadu_si512(v2 + (size_t)(jp + h) * D + c + 16 * u);
            for (int u = 0; u < nv; u++)
                IN_REGISTER(vv[u]);
            for (int r = 0; r < 4; r++) {
                __m512bh pv = (__m512bh)bcast32(Pb + (size_t)r * Lp + 2 * (jp + h));
                for (int u = 0; u < nv; u++)
                    acc[h][r][u] = _mm512_dpbf16_ps(acc[h][r][u], pv, vv[u]);
            }
        }
    for (; jp < npairs; jp++) {
        __m512bh vv[4];
        for (int u = 0; u < nv; u++)
            vv[u] = (__m512bh)_mm512_loadu_si512(v2 + (size_t)jp * D + c + 16 * u);
        for (int r = 0; r < 4; r++) {
            __m512bh pv = (__m512bh)bcast32(Pb + (size_t)r * Lp + 2 * jp);
            for (int u = 0; u < nv; u++)
                acc[0][r][u] = _mm512_dpbf16_ps(acc[0][r][u], pv, vv[u]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int u = 0; u < nv; u++) {
            __m512 a = ns == 2 ? _mm512_add_ps(acc[0][r][u], acc[1][r][u]) : acc[0][r][u];
            _mm512_storeu_ps(out + (size_t)r * out_stride + c + 16 * u,
                             _mm512_mul_ps(a, _mm512_set1_ps(inv[r])));
        }
}

#define WEIGHTED4_BF16_N(nv)                                                                      \
    static __attribute__((noinline)) void weighted4_bf16_##nv(                                     \
        const uint16_t *Pb, int Lp, const uint32_t *v2, int D, int npairs, const float *inv,      \
        float *out, int out_stride, int rows, int c) {                                             \
        weighted4_bf16(Pb, Lp, v2, D, npairs, inv, out, out_stride, rows, c, nv);                  \
    }
WEIGHTED4_BF16_N(2)
WEIGHTED4_BF16_N(4)

static inline __m512 add_or_max(__m512 a, __m512 b, int add) {
    return add ? _mm512_add_ps(a, b) : _mm512_max_ps(a, b);
}

/* Four rows' horizontal sums (add) or maxima in one tree of shuffles: 128-bit lane r of the
 * result holds row v[r]'s in each of its four floats. A row at a time costs four times the
 * instructions in four dependent chains. */
static inline __m512 reduce4(const __m512 v[4], int add) {
    __m512 a = add_or_max(_mm512_shuffle_f32x4(v[0], v[1], 0x44),
                          _mm512_shuffle_f32x4(v[0], v[1], 0xEE), add);
    __m512 b = add_or_max(_mm512_shuffle_f32x4(v[2], v[3], 0x44),
                          _mm512_shuffle_f32x4(v[2], v[3], 0xEE), add);
    __m512 u = add_or_max(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD), add);
    u = add_or_max(u, _mm512_permute_ps(u, 0x4E), add);
    return add_or_max(u, _mm512_permute_ps(u, 0xB1), add);
}

/* The softmax of four rows of scores S (4, Lp) whose maxima over the columns below L are in
 * mx: Pb (4, Lp) = bf16(p) with p = 2^(c s - c max s), zero past L, and inv[r] = 1 / sum_j p,
 * the rows side by side so that each step has four independent chains. */
static void softmax4_bf16(const float *S, int Lp, int L, float c, const __m512 mx[4],
                          uint16_t *Pb, float inv[4]) {
    __m512 cm = _mm512_mul_ps(reduce4(mx, 0), _mm512_set1_ps(c)), sum[4];
    /* row r's c max in every lane (immediates spelled out: clang wants constants, not 0x55 r) */
    __m512 m[4] = {_mm512_shuffle_f32x4(cm, cm, 0x00), _mm512_shuffle_f32x4(cm, cm, 0x55),
                   _mm512_shuffle_f32x4(cm, cm, 0xAA), _mm512_shuffle_f32x4(cm, cm, 0xFF)};
    for (int r = 0; r < 4; r++)
        sum[r] = _mm512_setzero_ps();
    const __m512 cv = _mm512_set1_ps(c);
    for (int j = 0; j < Lp; j += 16) {
        __mmask16 live = first_lanes(L - j);
        for (int r = 0; r < 4; r++) {
            __m512 x = _mm512_fmsub_ps(_mm512_loadu_ps(S + (size_t)r * Lp + j), cv, m[r]);
            __m512 p = exp2_bf16(x, live);
            sum[r] = _mm512_add_ps(sum[r], p);
            _mm256_storeu_si256((__m256i *)(void *)(Pb + (size_t)r * Lp + j),
                                (__m256i)_mm512_cvtneps_pbh(p));
        }
    }
    __m512 iv = _mm512_div_ps(_mm512_set1_ps(1.0f), reduce4(sum, 1));
    _mm_storeu_ps(inv, _mm512_castps512_ps128(_mm512_permutexvar_ps(
                           _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), iv)));
}

/* k's pairs transposed in blocks of 64 keys (the last one 16, 32 or 48), each block (Dh, its
 * width) words from word Dh j0 on: word (e, j) = k_j's pair e, zero past L. A block is one
 * contiguous run that scores4_bf16 reads front to back (a (Dh, Lp) matrix read 64 columns at a
 * time would stride by Lp words, and at L 512 its rows fall into the same few L1 sets). 16
 * keys by 16 pairs at a time through registers. */
static void keys_bf16(const float *k, int stride, int L, int Dh, int Lp, uint32_t *kt2) {
    for (int j0 = 0; j0 < Lp; j0 += 16) {
        int b0 = j0 / 64 * 64, w = Lp - b0 < 64 ? Lp - b0 : 64;
        uint32_t *kb = kt2 + (size_t)b0 * Dh + (j0 - b0);
        for (int e0 = 0; e0 < Dh; e0 += 16) {
            __m512i r[16];
            for (int i = 0; i < 16; i++)
                r[i] = j0 + i < L ? bf16_pairs(k + (size_t)(j0 + i) * stride + 2 * e0)
                                  : _mm512_setzero_si512();
            transpose16(r);
            for (int e = 0; e < 16; e++)
                _mm512_storeu_si512(kb + (size_t)(e0 + e) * w, r[e]);
        }
    }
}

/* v's row pairs interleaved, v2 (npairs, D) words; a missing second row (L odd) is zero, never
 * garbage times 0. */
static void values_bf16(const float *v, int stride, int L, int D, uint32_t *v2) {
    _Alignas(64) static const float zero[16] = {0};
    for (int jp = 0; jp < (L + 1) / 2; jp++) {
        const float *a = v + (size_t)(2 * jp) * stride;
        const float *b = 2 * jp + 1 < L ? a + stride : NULL;
        for (int c = 0; c < D; c += 16)
            _mm512_storeu_si512(v2 + (size_t)jp * D + c, bf16_zip(a + c, b ? b + c : zero));
    }
}

/* kernels.h's attention_bf16 (its numerics there). Head sizes other than a multiple of 32 run
 * the fp32 kernel. Four query rows at a time: their scores with each row's max, then one pass
 * of 2^(c s - c max) giving the bf16 rows and the fp32 sums, then the weighted values.
 * Scratch: kt2 (Lp, D/2) words (keys_bf16's blocks), v2 (Lp/2, D) words, S (4, Lp) floats, Pb
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
    float *S = (float *)(void *)(v2 + (size_t)Lp / 2 * D);
    uint16_t *Pb = (uint16_t *)(void *)(S + 4 * (size_t)Lp);
    uint32_t *qp = (uint32_t *)(void *)(Pb + 4 * (size_t)Lp);
    float c = scale * EMBP_LOG2E;
    prefetch_head(q, k, v, stride, L, D);
    keys_bf16(k, stride, L, Dh, Lp, kt2);
    values_bf16(v, stride, L, D, v2);
    for (int i0 = 0; i0 < L; i0 += 4) {
        int rows = L - i0 < 4 ? L - i0 : 4;
        for (int r = 0; r < 4; r++) { /* past the last row: repeat it, results unused */
            const float *qi = q + (size_t)(i0 + (r < rows ? r : rows - 1)) * stride;
            for (int e = 0; e < Dh; e += 16)
                _mm512_storeu_si512(qp + (size_t)r * Dh + e, bf16_pairs(qi + 2 * e));
        }
        __m512 mx[4];
        for (int r = 0; r < 4; r++)
            mx[r] = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < Lp; j += 64)
            switch ((Lp - j) / 16) { /* constant counts: the accumulators stay in registers */
            case 1: scores4_bf16_1(qp, kt2 + (size_t)j * Dh, Dh, Lp, L, S, j, mx); break;
            case 2: scores4_bf16_2(qp, kt2 + (size_t)j * Dh, Dh, Lp, L, S, j, mx); break;
            case 3: scores4_bf16_3(qp, kt2 + (size_t)j * Dh, Dh, Lp, L, S, j, mx); break;
            default: scores4_bf16_4(qp, kt2 + (size_t)j * Dh, Dh, Lp, L, S, j, mx); break;
            }
        float inv[4];
        softmax4_bf16(S, Lp, L, c, mx, Pb, inv);
        float *o = out + (size_t)i0 * out_stride;
        for (int col = 0; col < D; col += 64)
            if (D - col >= 64)
                weighted4_bf16_4(Pb, Lp, v2, D, npairs, inv, o, out_stride, rows, col);
            else
                weighted4_bf16_2(Pb, Lp, v2, D, npairs, inv, o, out_stride, rows, col);
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
