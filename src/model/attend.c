/* Blocked attention with an online softmax (attend.h). A job is one sequence and one q head; it
 * walks the queries in blocks of BQ rows and, for each, the keys it may see in blocks of BK
 * (transposed once per block into scratch), four query rows at a time through the kernels'
 * attend4. Memory: BK x D + BQ x D floats per thread, not L x L. */
#include "model/attend.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#define BQ 64
#define BK 128

size_t embp_attend_scratch_floats(int D) {
    /* kt (D, BK), P (4, BK), acc (BQ, D), m and l (BQ), a dummy accumulator row (D) */
    return ((size_t)D * BK + 4 * BK + (size_t)BQ * D + 2 * BQ + D + 63) / 16 * 16;
}

/* Keys [*j0, *j1) of an L-token sequence that queries [i0, i1) may see. */
static void key_range(const embp_attend_spec *a, int L, int i0, int i1, int *j0, int *j1) {
    *j0 = a->left >= 0 && i0 - a->left > 0 ? i0 - a->left : 0;
    int hi = a->causal ? i1 : L;
    if (a->right >= 0 && i1 - 1 + a->right + 1 < hi)
        hi = i1 + a->right;
    *j1 = hi < L ? hi : L;
}

/* Queries [i0, i0 + rows) of one sequence (its token 0 at t0) and q head h. */
static void query_block(const embp_kernels *k, const embp_attend_spec *a, int t0, int L, int h,
                        int i0, int rows, float *scr) {
    int D = a->D, g = h / (a->n_q_heads / a->n_kv_heads);
    float *kt = scr, *P = kt + (size_t)D * BK, *acc = P + 4 * BK, *m = acc + (size_t)BQ * D;
    float *l = m + BQ, *dummy = l + BQ;
    for (int r = 0; r < rows; r++)
        m[r] = -INFINITY, l[r] = 0.0f;
    memset(acc, 0, (size_t)rows * D * sizeof(float));
    memset(dummy, 0, (size_t)D * sizeof(float));
    const float *kb = a->k + (size_t)t0 * a->kv_stride + (size_t)g * D;
    const float *vb = a->v + (size_t)t0 * a->kv_stride + (size_t)g * D;
    const float *qb = a->q + (size_t)t0 * a->q_stride + (size_t)h * D;
    int j0, j1;
    key_range(a, L, i0, i0 + rows, &j0, &j1);
    for (int b0 = j0; b0 < j1; b0 += BK) {
        int nk = j1 - b0 < BK ? j1 - b0 : BK, Bp = (nk + 15) / 16 * 16;
        for (int d = 0; d < D; d++) {
            float *row = kt + (size_t)d * Bp;
            for (int j = 0; j < nk; j++)
                row[j] = kb[(size_t)(b0 + j) * a->kv_stride + d];
            for (int j = nk; j < Bp; j++)
                row[j] = 0.0f;
        }
        for (int r0 = 0; r0 < rows; r0 += 4) {
            const float *q[4];
            float *ac[4];
            int lo[4], hi[4];
            for (int r = 0; r < 4; r++) {
                int i = i0 + r0 + r, real = r0 + r < rows;
                int s0, s1;
                key_range(a, L, i, i + 1, &s0, &s1);
                q[r] = qb + (size_t)(real ? i : i0) * a->q_stride;
                ac[r] = real ? acc + (size_t)(r0 + r) * D : dummy;
                lo[r] = real && s0 > b0 ? s0 - b0 : 0;
                hi[r] = !real ? 0 : s1 - b0 < nk ? s1 - b0 : nk;
                if (hi[r] < lo[r])
                    hi[r] = lo[r];
            }
            float *mr = m + r0, *lr = l + r0, mt[4], lt[4];
            if (rows - r0 < 4) { /* the last rows: m and l through a copy of 4 */
                memcpy(mt, mr, (size_t)(rows - r0) * sizeof(float));
                memcpy(lt, lr, (size_t)(rows - r0) * sizeof(float));
                mr = mt, lr = lt;
            }
            k->attend4(q, kt, Bp, vb + (size_t)b0 * a->kv_stride, a->kv_stride, D, a->scale, lo,
                       hi, mr, lr, ac, P);
            if (mr == mt) {
                memcpy(m + r0, mt, (size_t)(rows - r0) * sizeof(float));
                memcpy(l + r0, lt, (size_t)(rows - r0) * sizeof(float));
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        float *o = a->out + (size_t)(t0 + i0 + r) * a->out_stride + (size_t)h * D;
        float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        for (int d = 0; d < D; d++)
            o[d] = acc[(size_t)r * D + d] * inv;
    }
}

void embp_attend(const embp_kernels *k, const embp_attend_spec *a, const int *offsets, int n,
                 float *scratch, int n_threads) {
    size_t per = embp_attend_scratch_floats(a->D);
    int NH = a->n_q_heads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (int job = 0; job < n * NH; job++) {
        int s = job / NH, h = job % NH, t0 = offsets[s], L = offsets[s + 1] - t0;
        float *scr = scratch + (size_t)omp_get_thread_num() * per;
        for (int i0 = 0; i0 < L; i0 += BQ)
            query_block(k, a, t0, L, h, i0, L - i0 < BQ ? L - i0 : BQ, scr);
    }
}
