/* The SIMD kernels written once with GCC vector extensions, included by avx2.c (VW 8) and
 * avx512.c (VW 16), each compiled with its own -m flags. The includer defines VW, a vf/vi/vu
 * vector typedef of VW lanes, cvt_ph(const uint16_t *) -> vf, and names the table. Not a
 * public header: include it from those two files only. */
#include <math.h>
#include <string.h>

#include "core/fp.h"

/* ---------------------------------------------------------------- vector helpers */

static inline vf ld(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st(float *p, vf v) {
    memcpy(p, &v, sizeof v);
}
static inline vf splat(float x) {
    return (vf){0} + x;
}
/* Lane-wise select by mask m (all ones or zero per lane): m ? a : b. */
static inline vf sel(vi m, vf a, vf b) {
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}
static inline vf vmax(vf a, vf b) {
    return sel((vi)(a > b), a, b);
}
static inline vf vmin(vf a, vf b) {
    return sel((vi)(a < b), a, b);
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
 * degree-5 polynomial for exp(r), 2^n built in the exponent bits. Rounding to nearest uses the
 * 1.5 * 2^23 trick, which vector extensions have no floor for. */
static inline vf vexp(vf x) {
    const float magic = 12582912.0f;
    x = vmin(vmax(x, splat(-87.0f)), splat(88.0f));
    vf t = x * 1.44269504088896341f + magic;
    vf n = t - magic;
    vf r = x - n * 0.693359375f + n * 2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    vi e = ((vi)t - (vi){0} - 0x4B400000 + 127) << 23;
    return p * (vf)e;
}

/* erf(x) by Abramowitz and Stegun 7.1.26 (absolute error <= 1.5e-7). */
static inline vf verf(vf x) {
    vf a = vabs(x);
    vf t = 1.0f / (1.0f + 0.3275911f * a);
    vf y = splat(1.061405429f);
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    y = 1.0f - y * t * vexp(-a * a);
    vi sign = (vi)x & ((vi){0} + (int32_t)0x80000000u);
    return (vf)((vi)y | sign);
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
        vf v = ld(x + i);
        st(x + i, 0.5f * v * (1.0f + verf(v * 0.70710678118654752f)));
    }
    for (; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* Softmax without the final division: x becomes exp(x - max); returns the sum. */
static float softmax_exp(float *x, int n) {
    vf m = splat(-INFINITY);
    int i = 0;
    for (; i + VW <= n; i += VW)
        m = vmax(m, ld(x + i));
    float mx = hmax(m);
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
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

static void softmax_simd(float *x, int n) {
    float inv = 1.0f / softmax_exp(x, n);
    int i = 0;
    for (; i + VW <= n; i += VW)
        st(x + i, ld(x + i) * inv);
    for (; i < n; i++)
        x[i] *= inv;
}

/* ---------------------------------------------------------------- attention */

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

/* s (Lp) = scale * q (D) . kt (D, Lp), whole vectors over the padding. */
static void scores_row(const float *q, const float *kt, int D, int Lp, float scale, float *s) {
    for (int j = 0; j < Lp; j += VW) {
        vf a0 = {0}, a1 = {0};
        int d = 0;
        for (; d + 2 <= D; d += 2) {
            a0 += q[d] * ld(kt + (size_t)d * Lp + j);
            a1 += q[d + 1] * ld(kt + (size_t)(d + 1) * Lp + j);
        }
        for (; d < D; d++)
            a0 += q[d] * ld(kt + (size_t)d * Lp + j);
        st(s + j, (a0 + a1) * scale);
    }
}

/* o (D) = inv * sum_j p[j] v[j] over L rows of v (row stride stride); four accumulators per
 * vector of D so the FMA chains overlap. */
static void weighted_rows(const float *p, const float *v, int stride, int L, int D, float inv,
                          float *o) {
    int c = 0;
    for (; c + VW <= D; c += VW) {
        vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        int j = 0;
        for (; j + 4 <= L; j += 4) {
            a0 += p[j] * ld(v + (size_t)j * stride + c);
            a1 += p[j + 1] * ld(v + (size_t)(j + 1) * stride + c);
            a2 += p[j + 2] * ld(v + (size_t)(j + 2) * stride + c);
            a3 += p[j + 3] * ld(v + (size_t)(j + 3) * stride + c);
        }
        for (; j < L; j++)
            a0 += p[j] * ld(v + (size_t)j * stride + c);
        st(o + c, ((a0 + a1) + (a2 + a3)) * inv);
    }
    for (; c < D; c++) {
        float a = 0.0f;
        for (int j = 0; j < L; j++)
            a += p[j] * v[(size_t)j * stride + c];
        o[c] = a * inv;
    }
}

static void attention_simd(const float *q, const float *k, const float *v, int stride,
                           float *out, int out_stride, int L, int D, float scale,
                           float *scratch) {
    int Lp = (L + 15) / 16 * 16;
    float *kt = scratch, *s = scratch + (size_t)D * Lp;
    transpose_k(k, stride, L, D, Lp, kt);
    for (int i = 0; i < L; i++) {
        scores_row(q + (size_t)i * stride, kt, D, Lp, scale, s);
        float inv = 1.0f / softmax_exp(s, L);
        weighted_rows(s, v, stride, L, D, inv, out + (size_t)i * out_stride);
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

static void quantize_u8_simd(const float *x, uint8_t *q, float *scale, int T, int K) {
    const float magic = 12582912.0f;
    for (int t = 0; t < T; t++) {
        const float *row = x + (size_t)t * K;
        uint8_t *qr = q + (size_t)t * K;
        vf m = {0};
        int k = 0;
        for (; k + VW <= K; k += VW)
            m = vmax(m, vabs(ld(row + k)));
        float amax = hmax(m);
        for (; k < K; k++)
            amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax;
        float s = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        scale[t] = s;
        for (k = 0; k + VW <= K; k += VW) {
            vf r = (ld(row + k) * inv + magic) - magic + 128.0f;
            r = vmin(vmax(r, splat(0.0f)), splat(255.0f));
            vb b = __builtin_convertvector(__builtin_convertvector(r, vi), vb);
            memcpy(qr + k, &b, sizeof b);
        }
        for (; k < K; k++) {
            float r = nearbyintf(row[k] * inv) + 128.0f;
            qr[k] = (uint8_t)(r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);
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
#define EMBP_SIMD_TABLE(NAME) {          \
    .name        = NAME,                 \
    .layernorm   = layernorm_simd,       \
    .gelu        = gelu_simd,            \
    .softmax     = softmax_simd,         \
    .attention   = attention_simd,       \
    .f32_to_bf16 = f32_to_bf16_simd,     \
    .bf16_to_f32 = bf16_to_f32_simd,     \
    .fp16_to_f32 = fp16_to_f32_simd,     \
    .quantize_u8 = quantize_u8_simd,     \
    .dequant_s32 = dequant_s32_simd,     \
}
/* clang-format on */
