/* Pooling of a packed batch's hidden states into one vector per sequence, the
 * sentence-transformers Dense and Normalize modules after it, and matryoshka truncation. */
#ifndef EMBP_RUNTIME_POOLING_H
#define EMBP_RUNTIME_POOLING_H

#include "embp/embp.h"
#include "io/config.h"

/* h is (T, H), sequence s being rows offsets[s] .. offsets[s+1]; out is (n, H). Per sequence,
 * over its own tokens only, leaving out its first skip[s] (the prompt, when the Pooling module
 * has include_prompt false; skip NULL: none), as sentence-transformers masks them: mean, cls
 * (the first row kept), max, lasttoken (the last row), mean_sqrt_len (sum / sqrt(count)) or
 * weightedmean (row p of the sequence weighs p + 1, the prompt's rows keeping their places),
 * accumulated in double. A sequence with no row left gets what sentence-transformers gives:
 * zeros (cls: its first row; max: -inf). */
void embp_pool_rows(embp_pooling mode, const float *h, const int *offsets, const int *skip,
                    int n, int H, float *out);

/* y (n, d->out) = act(x W^T + b) for x (n, d->in): one Dense module, in fp32 weights with
 * double accumulation. W is (out, in) row-major; b may be NULL (bias false). */
void embp_dense_apply(const embp_dense_config *d, const float *W, const float *b, const float *x,
                      int n, float *y);

/* rows (n, dim) -> out (n, dims), 1 <= dims <= dim (out may be rows): when normalize, divide
 * by max(|v|, 1e-12) over all dim values (the Normalize module); keep the first dims; and when
 * normalize and dims < dim, re-normalize those (matryoshka). */
void embp_pool_finish(const float *rows, int n, int dim, int dims, int normalize, float *out);

/* embp_pool_rows then embp_pool_finish without a scratch (no Dense module): out is (n, dims),
 * the norm taken over the pooled values in double. embp_pool: no skip. */
void embp_pool_skip(embp_pooling mode, int normalize, const float *h, const int *offsets,
                    const int *skip, int n, int H, int dims, float *out);
void embp_pool(embp_pooling mode, int normalize, const float *h, const int *offsets, int n, int H,
               int dims, float *out);

/* Matryoshka truncation of finished embeddings, in place: rows is (n, dim) in, (n, d) out (the
 * first d values of each row), re-normalized by max(|v|, 1e-12) when normalize, exactly as
 * embp_pool does for dims < H. The server's `dimensions` and embp_pool both use it. */
void embp_pool_truncate(float *rows, int n, int dim, int d, int normalize);

#endif
