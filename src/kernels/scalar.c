/* The scalar kernels: the reference every SIMD table is tested against, and the fallback on a
 * CPU without AVX2. Plain loops with double accumulators where a sum runs over a whole row. */
#include "kernels/kernels.h"

#include <math.h>

#include "core/fp.h"

static void layernorm_scalar(float *x, const float *r, const float *g, const float *b, int T,
                             int C, float eps) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * C;
        if (r)
            for (int c = 0; c < C; c++)
                row[c] += r[(size_t)t * C + c];
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++)
            mean += row[c];
        mean /= C;
        for (int c = 0; c < C; c++) {
            double d = row[c] - mean;
            var += d * d;
        }
        var /= C;
        double rstd = 1.0 / sqrt(var + (double)eps);
        for (int c = 0; c < C; c++)
            row[c] = (float)((row[c] - mean) * rstd) * g[c] + b[c];
    }
}

static void gelu_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440)));
}

static void softmax_scalar(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

/* Row by row: scores s = q_i . k_j * scale (+ bias[j - i]), softmax, out_i = sum_j p_j v_j. */
static void attention_bias_scalar(const float *q, const float *k, const float *v, int stride,
                                  float *out, int out_stride, int L, int D, float scale,
                                  const float *bias, float *scratch) {
    float *s = scratch;
    for (int i = 0; i < L; i++) {
        const float *qi = q + (size_t)i * stride;
        for (int j = 0; j < L; j++) {
            const float *kj = k + (size_t)j * stride;
            double acc = 0.0;
            for (int d = 0; d < D; d++)
                acc += (double)qi[d] * kj[d];
            s[j] = (float)acc * scale;
            if (bias)
                s[j] += bias[j - i];
        }
        softmax_scalar(s, L);
        float *oi = out + (size_t)i * out_stride;
        for (int d = 0; d < D; d++) {
            double acc = 0.0;
            for (int j = 0; j < L; j++)
                acc += (double)s[j] * v[(size_t)j * stride + d];
            oi[d] = (float)acc;
        }
    }
}

static void attention_scalar(const float *q, const float *k, const float *v, int stride,
                             float *out, int out_stride, int L, int D, float scale,
                             float *scratch) {
    attention_bias_scalar(q, k, v, stride, out, out_stride, L, D, scale, NULL, scratch);
}

static float to_bf16(float x) {
    return embp_bf16_to_f32(embp_f32_to_bf16(x));
}

void embp_attention_bf16_ref(const float *q, const float *k, const float *v, int stride,
                             float *out, int out_stride, int L, int D, float scale,
                             float *scratch) {
    if (D % 32) { /* kernels.h: these heads run attention's fp32 numerics */
        attention_scalar(q, k, v, stride, out, out_stride, L, D, scale, scratch);
        return;
    }
    float *s = scratch, c = scale * EMBP_LOG2E;
    for (int i = 0; i < L; i++) {
        const float *qi = q + (size_t)i * stride;
        float mx = -INFINITY;
        for (int j = 0; j < L; j++) {
            const float *kj = k + (size_t)j * stride;
            double acc = 0.0;
            for (int d = 0; d < D; d++)
                acc += (double)to_bf16(qi[d]) * to_bf16(kj[d]);
            s[j] = (float)acc;
            mx = s[j] > mx ? s[j] : mx;
        }
        double sum = 0.0, m = mx * c;
        for (int j = 0; j < L; j++) {
            s[j] = (float)exp2((double)s[j] * c - m);
            sum += s[j];
        }
        float *oi = out + (size_t)i * out_stride;
        for (int d = 0; d < D; d++) {
            double acc = 0.0;
            for (int j = 0; j < L; j++)
                acc += (double)to_bf16(s[j]) * to_bf16(v[(size_t)j * stride + d]);
            oi[d] = (float)(acc / sum);
        }
    }
}

static void f32_to_bf16_scalar(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = embp_f32_to_bf16(x[i]);
}

static void bf16_to_f32_scalar(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = embp_bf16_to_f32(x[i]);
}

static void fp16_to_f32_scalar(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = embp_fp16_to_f32(x[i]);
}

/* kernels.h states the contract; this is its reference. */
static void quantize_u8_scalar(const float *x, int T, int K, uint8_t *q, float *scale) {
    for (int t = 0; t < T; t++) {
        const float *row = x + (size_t)t * K;
        float amax = 0.0f;
        int nan = 0;
        for (int k = 0; k < K; k++) {
            amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax;
            nan |= isnan(row[k]);
        }
        float s = nan ? NAN : amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        scale[t] = s;
        for (int k = 0; k < K; k++) {
            /* Clamp in float first: a NaN (fmaxf takes -127) must not reach the conversion. */
            float v = fminf(fmaxf(row[k] * inv, -127.0f), 127.0f);
            q[(size_t)t * K + k] = (uint8_t)(nearbyintf(v) + 128.0f);
        }
    }
}

static void dequant_s32_scalar(const int32_t *acc, const int32_t *wsum, const float *xs,
                               const float *ws, const float *bias, float *y, int T, int N) {
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)t * N + n;
            float v = (float)(acc[i] - 128 * wsum[n]) * (xs[t] * ws[n]);
            y[i] = bias ? v + bias[n] : v;
        }
}

/* kernels.h's attend4, row by row with double sums. */
static void attend4_scalar(const float *const *q, const float *kt, int Bp, const float *v,
                           int v_stride, int D, float scale, const int *lo, const int *hi,
                           float *m, float *l, float *const *acc, float *P) {
    (void)P;
    for (int r = 0; r < 4; r++) {
        if (lo[r] >= hi[r])
            continue;
        float mx = -INFINITY;
        for (int j = lo[r]; j < hi[r]; j++) {
            double s = 0.0;
            for (int d = 0; d < D; d++)
                s += (double)q[r][d] * kt[(size_t)d * Bp + j];
            P[j] = (float)s * scale;
            mx = P[j] > mx ? P[j] : mx;
        }
        float mn = mx > m[r] ? mx : m[r], corr = expf(m[r] - mn);
        double sum = 0.0;
        for (int j = lo[r]; j < hi[r]; j++) {
            P[j] = expf(P[j] - mn);
            sum += P[j];
        }
        l[r] = l[r] * corr + (float)sum;
        m[r] = mn;
        for (int d = 0; d < D; d++) {
            double a = 0.0;
            for (int j = lo[r]; j < hi[r]; j++)
                a += (double)P[j] * v[(size_t)j * v_stride + d];
            acc[r][d] = acc[r][d] * corr + (float)a;
        }
    }
}

/* clang-format off */
const embp_kernels embp_kernels_scalar = {
    .name        = "scalar",
    .layernorm   = layernorm_scalar,
    .gelu        = gelu_scalar,
    .softmax     = softmax_scalar,
    .attention   = attention_scalar,
    .attention_bias = attention_bias_scalar,
    .attention_bf16 = NULL, /* no bf16 instructions: bf16 plans attend in fp32 */
    .attend4     = attend4_scalar,
    .f32_to_bf16 = f32_to_bf16_scalar,
    .bf16_to_f32 = bf16_to_f32_scalar,
    .fp16_to_f32 = fp16_to_f32_scalar,
    .quantize_u8 = quantize_u8_scalar,
    .dequant_s32 = dequant_s32_scalar,
    .int4        = {&embp_int4_scalar, NULL},
};
/* clang-format on */

const embp_kernels *embp_kernels_pick(const embp_cpu *cpu) {
    if (embp_cpu_has_avx512(cpu)) {
        if (cpu->avx512_bf16)
            return cpu->avx512_vnni ? &embp_kernels_avx512_bf16_vnni : &embp_kernels_avx512_bf16;
        return cpu->avx512_vnni ? &embp_kernels_avx512_vnni : &embp_kernels_avx512;
    }
    if (embp_cpu_has_avx2(cpu))
        return &embp_kernels_avx2;
    return &embp_kernels_scalar;
}
