/* Pooling of a packed batch's hidden states into one vector per sequence, then the
 * sentence-transformers Normalize module and matryoshka truncation. */
#ifndef EMBP_RUNTIME_POOLING_H
#define EMBP_RUNTIME_POOLING_H

#include "embp/embp.h"

/* h is (T, H), sequence s being rows offsets[s] .. offsets[s+1]; out is (n, dims) with
 * 1 <= dims <= H. Per sequence, over its own tokens only: mean, cls (first row), max, lasttoken
 * (last row) or mean_sqrt_len (sum / sqrt(len)), accumulated in double as the peer does. Then,
 * when normalize: divide by max(|v|, 1e-12) over all H values; keep the first dims; and when
 * normalize and dims < H, re-normalize those (matryoshka). */
void embp_pool(embp_pooling mode, int normalize, const float *h, const int *offsets, int n, int H,
               int dims, float *out);

/* Matryoshka truncation of finished embeddings, in place: rows is (n, dim) in, (n, d) out (the
 * first d values of each row), re-normalized by max(|v|, 1e-12) when normalize, exactly as
 * embp_pool does for dims < H. The server's `dimensions` and embp_pool both use it. */
void embp_pool_truncate(float *rows, int n, int dim, int d, int normalize);

#endif
