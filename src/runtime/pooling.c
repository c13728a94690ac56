/* Pooling, the Dense and Normalize modules and matryoshka truncation, matching
 * sentence-transformers (Pooling._forward_padded, Dense.forward, F.normalize). */
#include "runtime/pooling.h"

#include <math.h>
#include <string.h>

/* Column j pooled over the rows [t0 + k, t1) of a sequence starting at row t0 (row stride H):
 * its first k rows (the prompt) left out, as sentence-transformers zeroes their mask. */
static double pool_column(embp_pooling mode, const float *h, int t0, int k, int t1, int H,
                          int j) {
    int from = t0 + k;
    switch (mode) {
    case EMBP_POOLING_CLS: /* the first row the mask keeps; argmax of an all-zero mask is 0 */
        return h[(size_t)(from < t1 ? from : t0) * H + j];
    case EMBP_POOLING_LASTTOKEN:
        return from < t1 ? h[(size_t)(t1 - 1) * H + j] : 0.0;
    case EMBP_POOLING_MAX: {
        double m = -INFINITY;
        for (int t = from; t < t1; t++)
            m = h[(size_t)t * H + j] > m ? h[(size_t)t * H + j] : m;
        return m;
    }
    case EMBP_POOLING_WEIGHTEDMEAN: { /* weights are positions in the sequence, from 1 */
        double s = 0.0, w = 0.0;
        for (int t = from; t < t1; t++) {
            s += (double)(t - t0 + 1) * h[(size_t)t * H + j];
            w += t - t0 + 1;
        }
        return s / (w > 1e-9 ? w : 1e-9);
    }
    case EMBP_POOLING_MEAN_SQRT_LEN:
    case EMBP_POOLING_MEAN:
    default: {
        double s = 0.0, count = t1 > from ? t1 - from : 1e-9; /* ST clamps the count at 1e-9 */
        for (int t = from; t < t1; t++)
            s += h[(size_t)t * H + j];
        return mode == EMBP_POOLING_MEAN ? s / count : s / sqrt(count);
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

/* The finishing of one vector v (dim) into out (dims): see embp_pool_finish. */
static void finish_one(const float *v, int dim, int dims, int normalize, float *out) {
    double normsq = 0.0;
    for (int j = 0; j < dim; j++)
        normsq += (double)v[j] * v[j];
    memmove(out, v, (size_t)dims * sizeof *out);
    if (!normalize)
        return;
    l2_normalize(out, dims, normsq); /* the full vector's norm: the Normalize module */
    if (dims < dim)
        renormalize(out, dims);
}

void embp_pool_rows(embp_pooling mode, const float *h, const int *offsets, const int *skip,
                    int n, int H, float *out) {
#pragma omp parallel for schedule(static)
    for (int s = 0; s < n; s++)
        for (int j = 0; j < H; j++)
            out[(size_t)s * H + j] = (float)pool_column(mode, h, offsets[s], skip ? skip[s] : 0,
                                                        offsets[s + 1], H, j);
}

static float activate(embp_activation a, double x) {
    switch (a) {
    case EMBP_ACT_TANH:
        return (float)tanh(x);
    case EMBP_ACT_RELU:
        return x > 0 ? (float)x : 0.0f;
    case EMBP_ACT_SIGMOID:
        return (float)(1.0 / (1.0 + exp(-x)));
    case EMBP_ACT_GELU:
        return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    case EMBP_ACT_IDENTITY:
    default:
        return (float)x;
    }
}

/* Plain loops: a Dense layer is one (n x in) by (in x out) product per batch, ~1% of a BERT
 * layer's work; kept fp32 and exact rather than through the precision plan's kernels. */
void embp_dense_apply(const embp_dense_config *d, const float *W, const float *b, const float *x,
                      int n, float *y) {
#pragma omp parallel for schedule(static) collapse(2)
    for (int s = 0; s < n; s++)
        for (int o = 0; o < d->out; o++) {
            const float *w = W + (size_t)o * d->in, *v = x + (size_t)s * d->in;
            double acc = b ? b[o] : 0.0;
            for (int k = 0; k < d->in; k++)
                acc += (double)w[k] * v[k];
            y[(size_t)s * d->out + o] = activate(d->act, acc);
        }
}

void embp_pool_finish(const float *rows, int n, int dim, int dims, int normalize, float *out) {
    for (int i = 0; i < n; i++) /* in order: out may be rows, row i never overtakes row i */
        finish_one(rows + (size_t)i * dim, dim, dims, normalize, out + (size_t)i * dims);
}

void embp_pool_skip(embp_pooling mode, int normalize, const float *h, const int *offsets,
                    const int *skip, int n, int H, int dims, float *out) {
#pragma omp parallel for schedule(static)
    for (int s = 0; s < n; s++) {
        float *o = out + (size_t)s * dims;
        double normsq = 0.0;
        for (int j = 0; j < H; j++) {
            double v = pool_column(mode, h, offsets[s], skip ? skip[s] : 0, offsets[s + 1], H, j);
            normsq += v * v;
            if (j < dims)
                o[j] = (float)v;
        }
        if (normalize) {
            l2_normalize(o, dims, normsq);
            if (dims < H)
                renormalize(o, dims);
        }
    }
}

void embp_pool(embp_pooling mode, int normalize, const float *h, const int *offsets, int n, int H,
               int dims, float *out) {
    embp_pool_skip(mode, normalize, h, offsets, NULL, n, H, dims, out);
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
