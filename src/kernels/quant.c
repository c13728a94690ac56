/* Weight quantization (quant.h): the reference for its formats, and the load-time path. */
#include "kernels/quant.h"

#include <math.h>

#include "core/fp.h"

/* Round half to even, as the default FP environment does (and as vcvtps2dq does in SIMD). */
static inline int round_even(float x) {
    return (int)nearbyintf(x);
}

static embp_status check_finite(const float *w, int n, int k, embp_error *err) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            if (!isfinite(w[(size_t)i * k + j]))
                return embp_fail(err, EMBP_EINVAL, "cannot quantize weight [%d, %d] = %g: not "
                                 "finite", i, j, (double)w[(size_t)i * k + j]);
    return EMBP_OK;
}

static float absmax(const float *x, int n) {
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

embp_status embp_quant_int8(const float *w, int n, int k, int8_t *q, float *scales,
                            embp_error *err) {
    embp_status rc = check_finite(w, n, k, err);
    if (rc != EMBP_OK)
        return rc;
    for (int i = 0; i < n; i++) {
        const float *row = w + (size_t)i * k;
        float s = absmax(row, k) / 127.0f;
        scales[i] = s;
        for (int j = 0; j < k; j++) {
            int v = s > 0.0f ? round_even(row[j] / s) : 0;
            q[(size_t)i * k + j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
    return EMBP_OK;
}

void embp_dequant_int8(const int8_t *q, const float *scales, int n, int k, float *w) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            w[(size_t)i * k + j] = (float)q[(size_t)i * k + j] * scales[i];
}

embp_status embp_quant_int4_check(int k, int g, embp_error *err) {
    if (g < 16 || g > 256 || (g & (g - 1)) != 0)
        return embp_fail(err, EMBP_ECONFIG, "quant_group_size=%d: allowed values "
                         "16, 32, 64, 128, 256", g);
    if (k % g != 0)
        return embp_fail(err, EMBP_ECONFIG, "quant_group_size=%d does not divide "
                         "the weight's K = %d; choose a group size that does", g, k);
    return EMBP_OK;
}

/* One group of g weights -> g/2 bytes and one fp16 scale. */
static void quant_group4(const float *w, int g, uint8_t *q, uint16_t *scale) {
    uint16_t h = embp_f32_to_fp16(absmax(w, g) / 7.0f);
    float s = embp_fp16_to_f32(h);
    *scale = h;
    for (int j = 0; j < g; j += 2) {
        int v[2];
        for (int t = 0; t < 2; t++) {
            int r = s > 0.0f ? round_even(w[j + t] / s) : 0;
            v[t] = (r > 7 ? 7 : r < -7 ? -7 : r) + 8;
        }
        q[j / 2] = (uint8_t)(v[0] | (v[1] << 4));
    }
}

embp_status embp_quant_int4(const float *w, int n, int k, int g, uint8_t *q, uint16_t *scales,
                            embp_error *err) {
    embp_status rc = embp_quant_int4_check(k, g, err);
    if (rc == EMBP_OK)
        rc = check_finite(w, n, k, err);
    if (rc != EMBP_OK)
        return rc;
    int ng = k / g;
    for (int i = 0; i < n; i++)
        for (int b = 0; b < ng; b++)
            quant_group4(w + (size_t)i * k + (size_t)b * g, g, q + ((size_t)i * k + (size_t)b * g) / 2,
                         scales + (size_t)i * ng + b);
    return EMBP_OK;
}

void embp_dequant_int4(const uint8_t *q, const uint16_t *scales, int n, int k, int g, float *w) {
    int ng = k / g;
    for (int i = 0; i < n; i++) {
        const uint8_t *row = q + (size_t)i * k / 2;
        for (int j = 0; j < k; j++)
            w[(size_t)i * k + j] =
                (float)embp_int4_get(row, j) * embp_fp16_to_f32(scales[(size_t)i * ng + j / g]);
    }
}
