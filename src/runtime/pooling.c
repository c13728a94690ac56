/* Pooling, normalization and matryoshka truncation, matching sentence-transformers. */
#include "runtime/pooling.h"

#include <math.h>
#include <string.h>

/* Column j pooled over rows [t0, t1) of h (row stride H). */
static double pool_column(embp_pooling mode, const float *h, int t0, int t1, int H, int j) {
    switch (mode) {
    case EMBP_POOLING_CLS:
        return h[(size_t)t0 * H + j];
    case EMBP_POOLING_LASTTOKEN:
        return h[(size_t)(t1 - 1) * H + j];
    case EMBP_POOLING_MAX: {
        double m = -INFINITY;
        for (int t = t0; t < t1; t++)
            m = h[(size_t)t * H + j] > m ? h[(size_t)t * H + j] : m;
        return m;
    }
    case EMBP_POOLING_MEAN_SQRT_LEN:
    case EMBP_POOLING_MEAN:
    default: {
        double s = 0.0;
        for (int t = t0; t < t1; t++)
            s += h[(size_t)t * H + j];
        return mode == EMBP_POOLING_MEAN ? s / (t1 - t0) : s / sqrt((double)(t1 - t0));
    }
    }
}

/* v (n) /= max(|v|, 1e-12), as torch.nn.functional.normalize. */
static void l2_normalize(float *v, int n, double normsq) {
    double norm = sqrt(normsq);
    norm = norm > 1e-12 ? norm : 1e-12;
    for (int j = 0; j < n; j++)
        v[j] = (float)(v[j] / norm);
}

/* v (d), a normalized vector's first d values, back to unit length (matryoshka). */
static void renormalize(float *v, int d) {
    double s = 0.0;
    for (int j = 0; j < d; j++)
        s += (double)v[j] * v[j];
    l2_normalize(v, d, s);
}

static void pool_one(embp_pooling mode, int normalize, const float *h, int t0, int t1, int H,
                     int dims, float *out) {
    double normsq = 0.0;
    for (int j = 0; j < H; j++) {
        double v = pool_column(mode, h, t0, t1, H, j);
        normsq += v * v;
        if (j < dims)
            out[j] = (float)v;
    }
    if (!normalize)
        return;
    l2_normalize(out, dims, normsq); /* the full vector's norm: the Normalize module */
    if (dims < H)
        renormalize(out, dims);
}

void embp_pool(embp_pooling mode, int normalize, const float *h, const int *offsets, int n, int H,
               int dims, float *out) {
#pragma omp parallel for schedule(static)
    for (int s = 0; s < n; s++)
        pool_one(mode, normalize, h, offsets[s], offsets[s + 1], H, dims, out + (size_t)s * dims);
}

void embp_pool_truncate(float *rows, int n, int dim, int d, int normalize) {
    if (d >= dim)
        return;
    for (int i = 0; i < n; i++) {
        float *dst = rows + (size_t)i * (size_t)d;
        memmove(dst, rows + (size_t)i * (size_t)dim, (size_t)d * sizeof(float));
        if (normalize)
            renormalize(dst, d);
    }
}
