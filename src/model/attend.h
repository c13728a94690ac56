/* attend.h: attention over packed sequences in key blocks with a running (online) softmax, so
 * its scratch is a few blocks per thread whatever the length: an 8,192-token input never holds
 * an n x n score matrix. For every family whose attention is softmax(q k^T scale + mask) v:
 * causal or bidirectional, full or a window of positions, as many k/v heads as q heads (MHA) or
 * fewer, each shared by a group of q heads (GQA).
 *
 *     embp_attend_spec a = {.D = 128, .n_q_heads = 16, .n_kv_heads = 8, .q = qkv, .k = qkv + 2048,
 *                           .v = qkv + 3072, .q_stride = 4096, .kv_stride = 4096, .out = ctx,
 *                           .out_stride = 2048, .scale = 1 / sqrtf(128), .causal = 1,
 *                           .left = -1, .right = -1};
 *     embp_attend(k, &a, offsets, n, scratch, n_threads);
 *
 * Head h of token t: q + t * q_stride + h * D (likewise k, v with kv head h / (n_q / n_kv),
 * out with q head h). Token i of a sequence sees token j of the same sequence when
 * i - left <= j <= i + right (left or right < 0: no bound on that side) and, if causal, j <= i:
 * Qwen3/Mistral's sliding window W is causal with left = W - 1; ModernBERT's local attention of
 * width w is left = right = w / 2. */
#ifndef EMBP_MODEL_ATTEND_H
#define EMBP_MODEL_ATTEND_H

#include <stddef.h>

#include "kernels/kernels.h"

typedef struct {
    int D, n_q_heads, n_kv_heads; /* n_q_heads a multiple of n_kv_heads */
    const float *q, *k, *v;       /* packed tokens' rows */
    int q_stride, kv_stride;      /* floats between two tokens' rows */
    float *out;
    int out_stride;
    float scale;                  /* usually 1 / sqrt(D) */
    int causal;
    int left, right;              /* the window; < 0: unbounded */
} embp_attend_spec;

/* Floats of scratch one thread needs for head size D (embp_attend takes n_threads of them). */
size_t embp_attend_scratch_floats(int D);

/* out for every sequence, head and token; sequence s is tokens offsets[s] .. offsets[s+1]-1.
 * Runs on the calling OpenMP team (n_threads, each with its own embp_attend_scratch_floats
 * slice of scratch). */
void embp_attend(const embp_kernels *k, const embp_attend_spec *a, const int *offsets, int n,
                 float *scratch, int n_threads);

#endif
