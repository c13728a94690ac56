/* The SIMD kernels written once with GCC vector extensions, included by avx2.c (VW 8) and
 * avx512.c (VW 16), each compiled with its own -m flags. The includer defines VW and names the
 * tables; the few operations vector extensions lack (fp16 loads, broadcast, FMA, one-instruction
 * min/max and rounding) are the one width-specific part, below. Not a public header: include it
 * from those two files only. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/fp.h"

typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef uint32_t vu __attribute__((vector_size(VW * 4)));
typedef uint16_t vh __attribute__((vector_size(VW * 2)));
typedef uint8_t vb __attribute__((vector_size(VW)));

/* VW fp16 values to fp32 (F16C / vcvtph2ps); a broadcast (an intrinsic: (vf){0} + x is a real
 * scalar add, since 0 + -0 is +0); a * b + c in one rounding (ISO C mode compiles with
 * -ffp-contract=off, so plain a * b + c would never become an FMA). */
#if VW == 16
#define SIMD(op)          _mm512_##op
#define SIMD_LOAD_HALF(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define SIMD_INT          __m512i
#else
#define SIMD(op)          _mm256_##op
#define SIMD_LOAD_HALF(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define SIMD_INT          __m256i
#endif
static inline vf cvt_ph(const uint16_t *p) {
    return (vf)SIMD(cvtph_ps)(SIMD_LOAD_HALF(p));
}
static inline vf splat(float x) {
    return (vf)SIMD(set1_ps)(x);
}
static inline vf fmadd(vf a, vf b, vf c) {
    return (vf)SIMD(fmadd_ps)(a, b, c);
}
/* Lane-wise a > b ? a : b and a < b ? a : b, one instruction each: vmaxps/vminps return
 * their second operand unless the first is greater (smaller), NaNs and zeros of either sign
 * included, which is exactly the comparison's answer. The signed int32 max; v rounded to int32
 * as the FP environment rounds (half to even). */
static inline vf vmax(vf a, vf b) {
    return (vf)SIMD(max_ps)(a, b);
}
static inline vf vmin(vf a, vf b) {
    return (vf)SIMD(min_ps)(a, b);
}
static inline vi imax(vi a, vi b) {
    return (vi)SIMD(max_epi32)((SIMD_INT)a, (SIMD_INT)b);
}
static inline vi round_i(vf v) {
    return (vi)SIMD(cvtps_epi32)(v);
}
/* p * 2^n for integral n (as floats) in [-126, 127]: vscalefps at AVX-512; at AVX2, 2^n built
 * in the exponent bits (a normal float for those n) times p. One rounding either way, so both
 * give the same bits. */
static inline vf ldexp_n(vf p, vf n) {
#if VW == 16
    return (vf)_mm512_scalef_ps(p, n);
#else
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * (vf)e;
#endif
}

/* ---------------------------------------------------------------- vector helpers */

static inline vf ld(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st(float *p, vf v) {
    memcpy(p, &v, sizeof v);
}
static inline vf vabs(vf a) {
    return (vf)((vi)a & ((vi){0} + 0x7fffffff));
}
static inline float hsum(vf v) {
    float s = 0.0f;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}
static inline float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < VW; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* exp(x) for x in [-87, 88] (clamped outside), relative error ~2e-7: x = n ln2 + r, Cephes'
 * degree-5 polynomial for exp(r), times 2^n (ldexp_n; n in [-126, 127] after the clamp).
 * Rounding to nearest uses the 1.5 * 2^23 trick, which vector extensions have no floor for. */
static inline vf vexp(vf x) {
    const float magic = 12582912.0f;
    x = vmin(vmax(x, splat(-87.0f)), splat(88.0f));
    vf t = x * 1.44269504088896341f + magic;
    vf n = t - magic;
    vf r = x - n * 0.693359375f + n * 2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = fmadd(p, r, splat(1.3981999507e-3f));
    p = fmadd(p, r, splat(8.3334519073e-3f));
    p = fmadd(p, r, splat(4.1665795894e-2f));
    p = fmadd(p, r, splat(1.6666665459e-1f));
    p = fmadd(p, r, splat(5.0000001201e-1f));
    p = fmadd(p, r * r, r + 1.0f);
    return ldexp_n(p, n);
}

/* erf(x) = x P(x^2) / Q(x^2) for |x| <= 3.95 (past it erf rounds to +-1 in fp32; the clamp
 * gives that), P and Q of degrees 6 and 5 fitted to fp64 erf for this file (the fit's own error
 * 2e-9; fp32 rounding makes it ~3e-7 near +-1). No exp and no select: GELU ran 2.5x faster
 * than with Abramowitz and Stegun 7.1.26 and exp (0.93 -> 0.38 ns a value, one core), and
 * GELU's max abs error over [-10, 10] against fp64 went from 4.7e-7 to 9.7e-7. */
static inline vf verf(vf x) {
    x = vmin(vmax(x, splat(-3.95f)), splat(3.95f));
    vf z = x * x;
    vf p = splat(-1.3356330264002736e-08f);
    p = fmadd(p, z, splat(4.72022399535324e-06f));
    p = fmadd(p, z, splat(3.8037894574753347e-04f));
    p = fmadd(p, z, splat(3.8318899336617644e-03f));
    p = fmadd(p, z, splat(5.427859022931305e-02f));
    p = fmadd(p, z, splat(1.8469511786717382e-01f));
    p = fmadd(p, z, splat(1.1283791861551147f));
    vf q = splat(6.343336615165663e-05f);
    q = fmadd(q, z, splat(1.3048678578206384e-03f));
    q = fmadd(q, z, splat(1.5430629417214875e-02f));
    q = fmadd(q, z, splat(1.1377391814461815e-01f));
    q = fmadd(q, z, splat(4.970153550558766e-01f));
    q = fmadd(q, z, splat(1.0f));
    return x * p / q;
}

/* ---------------------------------------------------------------- row kernels */

static float row_mean(const float *x, int C) {
    vf acc = {0};
    int c = 0;
    for (; c + VW <= C; c += VW)
        acc += ld(x + c);
    float s = hsum(acc);
    for (; c < C; c++)
        s += x[c];
    return s / (float)C;
}

static float row_var(const float *x, int C, float mean) {
    vf acc = {0};
    int c = 0;
    for (; c + VW <= C; c += VW) {
        vf d = ld(x + c) - mean;
        acc += d * d;
    }
    float s = hsum(acc);
    for (; c < C; c++)
        s += (x[c] - mean) * (x[c] - mean);
    return s / (float)C;
}

/* x is (T, C), r (T, C) or NULL, g and b (C): x = LN(x + r). Two passes over the row. */
static void layernorm_simd(float *x, const float *r, const float *g, const float *b, int T,
                           int C, float eps) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * C;
        int c = 0;
        if (r) {
            const float *rr = r + (size_t)t * C;
            for (; c + VW <= C; c += VW)
                st(row + c, ld(row + c) + ld(rr + c));
            for (; c < C; c++)
                row[c] += rr[c];
        }
        float mean = row_mean(row, C);
        float rstd = 1.0f / sqrtf(row_var(row, C, mean) + eps);
        for (c = 0; c + VW <= C; c += VW)
            st(row + c, (ld(row + c) - mean) * rstd * ld(g + c) + ld(b + c));
        for (; c < C; c++)
            row[c] = (row[c] - mean) * rstd * g[c] + b[c];
    }
}

static void gelu_simd(float *x, size_t n) {
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vf h = ld(x + i) * 0.5f; /* x (1 + erf) / 2 as h + h erf */
        st(x + i, fmadd(h, verf(ld(x + i) * 0.70710678118654752f), h));
    }
    for (; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static float row_max(const float *x, int n) {
    vf m = splat(-INFINITY);
    int i = 0;
    for (; i + VW <= n; i += VW)
        m = vmax(m, ld(x + i));
    float mx = hmax(m);
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* x becomes exp(x - mx); returns the sum. */
static float exp_shift(float *x, int n, float mx) {
    int i;
    vf acc = {0};
    for (i = 0; i + VW <= n; i += VW) {
        vf e = vexp(ld(x + i) - mx);
        st(x + i, e);
        acc += e;
    }
    float s = hsum(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - mx);
        s += x[i];
    }
    return s;
}

/* Softmax without the final division: x becomes exp(x - max); returns the sum. */
static float softmax_exp(float *x, int n) {
    return exp_shift(x, n, row_max(x, n));
}

static void softmax_simd(float *x, int n) {
    float inv = 1.0f / softmax_exp(x, n);
    int i = 0;
    for (; i + VW <= n; i += VW)
        st(x + i, ld(x + i) * inv);
    for (; i < n; i++)
        x[i] *= inv;
}

/* ---------------------------------------------------------------- attention */

/* Asks for every line of one head's q, k and v rows at once (k and v into L1, read first; q
 * into L2). In a forward pass the fused QKV rows are 3 H floats apart (4.6 KB at MiniLM's H,
 * 9.2 at base's) and mostly not in cache: read row by row, each line's miss waited for the
 * ones before it (bench_forward --threads 1, MiniLM bf16: attention 36.4 -> 33.3 CPU ms). */
static void prefetch_head(const float *q, const float *k, const float *v, int stride, int L,
                          int D) {
    for (int j = 0; j < L; j++)
        for (int d = 0; d < D; d += 16) {
            _mm_prefetch((const char *)(k + (size_t)j * stride + d), _MM_HINT_T0);
            _mm_prefetch((const char *)(v + (size_t)j * stride + d), _MM_HINT_T0);
            _mm_prefetch((const char *)(q + (size_t)j * stride + d), _MM_HINT_T1);
        }
}

/* kt = k transposed: (D, Lp), zero in the padding columns L..Lp. */
static void transpose_k(const float *k, int stride, int L, int D, int Lp, float *kt) {
    for (int d = 0; d < D; d++) {
        float *row = kt + (size_t)d * Lp;
        for (int j = 0; j < L; j++)
            row[j] = k[(size_t)j * stride + d];
        for (int j = L; j < Lp; j++)
            row[j] = 0.0f;
    }
}

/* x stays in a register: GCC would otherwise fold its load into each of its uses (four FMAs),
 * four times the loads the products need. */
#define IN_REGISTER(x) __asm__("" : "+v"(x))

/* acc[r][u] = sum_x a[r][x] * b[x * b_stride + u VW ..] for x in [0, n) in order, r < 4, u < NV:
 * each loaded b vector feeds four FMAs and each broadcast a value NV, over 4 NV independent
 * chains. attention's two products (scores4_cols, weighted4_cols) are both this. */
static inline __attribute__((always_inline)) void
outer4(const float *const *a, const float *b, size_t b_stride, int n, int nv, vf acc[4][4]) {
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < nv; u++)
            acc[r][u] = splat(0.0f);
    for (int x = 0; x < n; x++) {
        vf bv[4];
        for (int u = 0; u < nv; u++) {
            bv[u] = ld(b + (size_t)x * b_stride + u * VW);
            IN_REGISTER(bv[u]);
        }
        for (int r = 0; r < 4; r++) {
            vf av = splat(a[r][x]);
            for (int u = 0; u < nv; u++)
                acc[r][u] = fmadd(av, bv[u], acc[r][u]);
        }
    }
}

/* Four query rows at a time: P (4, Lp) = scale * q_r . kt (D, Lp) [+ b_r] for columns [j, j +
 * NV VW). Whole vectors run over the zero padding. b (or NULL) holds each row's bias row (its
 * column 0 at b[r][0]). */
static inline __attribute__((always_inline)) void
scores4_cols(const float *const *q, const float *kt, int D, int Lp, float scale,
             const float *const *b, float *P, int j, int nv) {
    vf acc[4][4];
    outer4(q, kt + j, (size_t)Lp, D, nv, acc);
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < nv; u++) {
            vf s = acc[r][u] * scale;
            st(P + (size_t)r * Lp + j + u * VW, b ? s + ld(b[r] + j + u * VW) : s);
        }
}

/* scores4_cols over all Lp columns: 64 at a time at AVX-512 (16 accumulators of its 32
 * registers), 16 at AVX2 (8 of its 16), then one vector at a time. Each score is the same
 * chain of FMAs over d whatever the step, so the step never changes a bit. */
#define SCORE_VECS (VW == 16 ? 4 : 2)
static void scores4(const float *const *q, const float *kt, int D, int Lp, float scale,
                    const float *const *b, float *P) {
    int j = 0;
    for (; j + SCORE_VECS * VW <= Lp; j += SCORE_VECS * VW)
        scores4_cols(q, kt, D, Lp, scale, b, P, j, SCORE_VECS);
    for (; j < Lp; j += VW)
        scores4_cols(q, kt, D, Lp, scale, b, P, j, 1);
}

/* Rows [0, rows) of out (row stride out_stride), columns [c, c + NC VW) = inv_r * sum_j
 * P[r][j] v[j][c..], j in order. */
static inline __attribute__((always_inline)) void
weighted4_cols(const float *P, int Lp, const float *v, int stride, int L, int c, int nc,
               const float *inv, float *out, int out_stride, int rows) {
    const float *p[4] = {P, P + Lp, P + 2 * (size_t)Lp, P + 3 * (size_t)Lp};
    vf acc[4][4];
    outer4(p, v + c, (size_t)stride, L, nc, acc);
    for (int r = 0; r < rows; r++)
        for (int u = 0; u < nc; u++)
            st(out + (size_t)r * out_stride + c + u * VW, acc[r][u] * inv[r]);
}

/* Rows i0 .. i0 + rows - 1 of out (row stride out_stride) from P (4, Lp): 64 columns at a time
 * at AVX-512, 16 at AVX2 (as scores4), then a vector, then column by column. The sum over j is
 * in the same order whatever the step, so the step never changes a bit. */
static void weighted4(const float *P, int Lp, const float *v, int stride, int L, int D,
                      const float *inv, float *out, int out_stride, int rows) {
    int c = 0;
    for (; c + SCORE_VECS * VW <= D; c += SCORE_VECS * VW)
        weighted4_cols(P, Lp, v, stride, L, c, SCORE_VECS, inv, out, out_stride, rows);
    for (; c + 2 * VW <= D; c += 2 * VW)
        weighted4_cols(P, Lp, v, stride, L, c, 2, inv, out, out_stride, rows);
    for (; c + VW <= D; c += VW)
        weighted4_cols(P, Lp, v, stride, L, c, 1, inv, out, out_stride, rows);
    for (; c < D; c++)
        for (int r = 0; r < rows; r++) {
            float a = 0.0f;
            for (int j = 0; j < L; j++)
                a += P[(size_t)r * Lp + j] * v[(size_t)j * stride + c];
            out[(size_t)r * out_stride + c] = a * inv[r];
        }
}

/* bias (or NULL): kernels.h's attention_bias, by distance j - i from bias[0]. */
static void attention_bias_simd(const float *q, const float *k, const float *v, int stride,
                                float *out, int out_stride, int L, int D, float scale,
                                const float *bias, float *scratch) {
    int Lp = (L + 15) / 16 * 16;
    float *kt = scratch, *P = scratch + (size_t)D * Lp;
    prefetch_head(q, k, v, stride, L, D);
    transpose_k(k, stride, L, D, Lp, kt);
    for (int i0 = 0; i0 < L; i0 += 4) {
        int rows = L - i0 < 4 ? L - i0 : 4;
        const float *qr[4], *br[4];
        float inv[4];
        for (int r = 0; r < 4; r++) { /* past the last row: repeat it, results unused */
            int i = i0 + (r < rows ? r : rows - 1);
            qr[r] = q + (size_t)i * stride;
            br[r] = bias ? bias - i : NULL;
        }
        scores4(qr, kt, D, Lp, scale, bias ? br : NULL, P);
        for (int r = 0; r < 4; r++)
            inv[r] = 1.0f / softmax_exp(P + (size_t)r * Lp, L);
        weighted4(P, Lp, v, stride, L, D, inv, out + (size_t)i0 * out_stride, out_stride, rows);
    }
}

static void attention_simd(const float *q, const float *k, const float *v, int stride,
                           float *out, int out_stride, int L, int D, float scale,
                           float *scratch) {
    attention_bias_simd(q, k, v, stride, out, out_stride, L, D, scale, NULL, scratch);
}

/* kernels.h's attend4: scores4 for the block, then each row's online-softmax step, then the
 * weighted values added to the rescaled accumulators, one vector of columns at a time. */
static void attend4_simd(const float *const *q, const float *kt, int Bp, const float *v,
                         int v_stride, int D, float scale, const int *lo, const int *hi, float *m,
                         float *l, float *const *acc, float *P) {
    scores4(q, kt, D, Bp, scale, NULL, P);
    float corr[4];
    int jlo = Bp, jhi = 0;
    for (int r = 0; r < 4; r++) {
        float *p = P + (size_t)r * Bp;
        int a = lo[r], b = hi[r] > a ? hi[r] : a;
        corr[r] = 1.0f;
        memset(p, 0, (size_t)a * sizeof(float));
        memset(p + b, 0, (size_t)(Bp - b) * sizeof(float));
        if (a == b)
            continue;
        float mx = row_max(p + a, b - a), mn = mx > m[r] ? mx : m[r];
        corr[r] = expf(m[r] - mn); /* 0 on the first block (m = -inf) */
        l[r] = l[r] * corr[r] + exp_shift(p + a, b - a, mn);
        m[r] = mn;
        jlo = a < jlo ? a : jlo;
        jhi = b > jhi ? b : jhi;
    }
    int c = 0;
    for (; c + VW <= D; c += VW) {
        vf o[4];
        for (int r = 0; r < 4; r++)
            o[r] = ld(acc[r] + c) * corr[r];
        for (int j = jlo; j < jhi; j++) {
            vf vv = ld(v + (size_t)j * v_stride + c);
            for (int r = 0; r < 4; r++)
                o[r] = fmadd(splat(P[(size_t)r * Bp + j]), vv, o[r]);
        }
        for (int r = 0; r < 4; r++)
            st(acc[r] + c, o[r]);
    }
    for (; c < D; c++)
        for (int r = 0; r < 4; r++) {
            float a = acc[r][c] * corr[r];
            for (int j = jlo; j < jhi; j++)
                a += P[(size_t)r * Bp + j] * v[(size_t)j * v_stride + c];
            acc[r][c] = a;
        }
}

/* ---------------------------------------------------------------- conversions */

static void f32_to_bf16_simd(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vu u;
        memcpy(&u, x + i, sizeof u);
        vu nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);
        vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        r = (r & ~nan) | (((u >> 16) | 0x40u) & nan);
        vh h = __builtin_convertvector(r, vh);
        memcpy(y + i, &h, sizeof h);
    }
    for (; i < n; i++)
        y[i] = embp_f32_to_bf16(x[i]);
}

static void bf16_to_f32_simd(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vh h;
        memcpy(&h, x + i, sizeof h);
        vu u = __builtin_convertvector(h, vu) << 16;
        memcpy(y + i, &u, sizeof u);
    }
    for (; i < n; i++)
        y[i] = embp_bf16_to_f32(x[i]);
}

static void fp16_to_f32_simd(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + VW <= n; i += VW)
        st(y + i, cvt_ph(x + i));
    for (; i < n; i++)
        y[i] = embp_fp16_to_f32(x[i]);
}

/* ---------------------------------------------------------------- int8 GEMM edges */

/* kernels.h states the contract; the same bytes as quantize_u8_scalar, in few instructions (it
 * runs over every int8 GEMM's input: ~66M values a MiniLM 32 x 128 pass). The max is taken
 * over |x|'s bits as integers, which order as the magnitudes do and put a NaN above Inf, so one
 * integer max finds both; the clamped values (|v| <= 127) are rounded by one conversion. */
static void quantize_u8_simd(const float *x, int T, int K, uint8_t *q, float *scale) {
    for (int t = 0; t < T; t++) {
        const float *row = x + (size_t)t * K;
        uint8_t *qr = q + (size_t)t * K;
        vi m = {0};
        int k = 0;
        for (; k + VW <= K; k += VW) {
            vi v;
            memcpy(&v, row + k, sizeof v);
            m = imax(m, v & 0x7fffffff);
        }
        int32_t bits = 0;
        for (int i = 0; i < VW; i++)
            bits = m[i] > bits ? m[i] : bits;
        float amax;
        memcpy(&amax, &bits, sizeof amax);
        int any_nan = bits > 0x7f800000;
        for (; k < K; k++) {
            amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax;
            any_nan |= isnan(row[k]);
        }
        float s = any_nan ? NAN : amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        scale[t] = s;
        for (k = 0; k + VW <= K; k += VW) {
            vf v = vmin(vmax(ld(row + k) * inv, splat(-127.0f)), splat(127.0f)); /* NaN: -127 */
            vb b = __builtin_convertvector(round_i(v) + 128, vb);
            memcpy(qr + k, &b, sizeof b);
        }
        for (; k < K; k++) {
            float v = fminf(fmaxf(row[k] * inv, -127.0f), 127.0f);
            qr[k] = (uint8_t)(nearbyintf(v) + 128.0f);
        }
    }
}

static void dequant_s32_simd(const int32_t *acc, const int32_t *wsum, const float *xs,
                             const float *ws, const float *bias, float *y, int T, int N) {
    for (int t = 0; t < T; t++) {
        const int32_t *a = acc + (size_t)t * N;
        float *yr = y + (size_t)t * N;
        int n = 0;
        for (; n + VW <= N; n += VW) {
            vi av, wv;
            memcpy(&av, a + n, sizeof av);
            memcpy(&wv, wsum + n, sizeof wv);
            vf v = __builtin_convertvector(av - 128 * wv, vf) * (xs[t] * ld(ws + n));
            st(yr + n, bias ? v + ld(bias + n) : v);
        }
        for (; n < N; n++) {
            float v = (float)(a[n] - 128 * wsum[n]) * (xs[t] * ws[n]);
            yr[n] = bias ? v + bias[n] : v;
        }
    }
}

/* clang-format off */
#define EMBP_SIMD_TABLE(NAME, INT4_BF16, INT4_INT8, ATTN_BF16) { \
    .name        = NAME,                 \
    .layernorm   = layernorm_simd,       \
    .gelu        = gelu_simd,            \
    .softmax     = softmax_simd,         \
    .attention   = attention_simd,       \
    .attention_bias = attention_bias_simd, \
    .attention_bf16 = ATTN_BF16,         \
    .attend4     = attend4_simd,         \
    .f32_to_bf16 = f32_to_bf16_simd,     \
    .bf16_to_f32 = bf16_to_f32_simd,     \
    .fp16_to_f32 = fp16_to_f32_simd,     \
    .quantize_u8 = quantize_u8_simd,     \
    .dequant_s32 = dequant_s32_simd,     \
    .int4        = {INT4_BF16, INT4_INT8}, \
}
/* clang-format on */
