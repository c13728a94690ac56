/* rope.h: rotary position embeddings (RoPE), the one copy every rotary family uses (NomicBERT,
 * ModernBERT, Qwen3, ...). Hugging Face's "rotate_half" layout (GPT-NeoX, Llama, Qwen,
 * ModernBERT, nomic-bert with rotary_emb_interleaved false): the first `dim` features of a head
 * are two halves, and for i < dim/2, with angle a = pos * inv_freq[i],
 *
 *     y[i]         = x[i] cos a - x[i + dim/2] sin a
 *     y[i + dim/2] = x[i + dim/2] cos a + x[i] sin a
 *
 * Features past `dim` (partial rotary, rotary_emb_fraction < 1) pass through. The table is
 * computed in float32 the way transformers computes it (inv_freq = 1 / theta^(2i/dim) in float32,
 * angle = pos * inv_freq as a float32 product), so embp rotates by the same rounded angles as
 * the oracle even at position 8191.
 *
 *     embp_rope r;
 *     embp_rope_init(&r, 64, 10000.0, max_len, &err);
 *     embp_rope_apply(&r, q_row, pos, n_heads, head_stride);   // every head of one token
 *     embp_rope_free(&r);
 */
#ifndef EMBP_MODEL_ROPE_H
#define EMBP_MODEL_ROPE_H

#include "core/status.h"

typedef struct {
    int dim;     /* rotated features per head (even) */
    int max_pos; /* positions 0..max_pos-1 have a row */
    float *cos;  /* (max_pos, dim/2) */
    float *sin;  /* (max_pos, dim/2) */
} embp_rope;

/* A table for positions 0..max_pos-1; EMBP_EINVAL if dim is odd or < 2, theta <= 0 or
 * max_pos < 1; EMBP_ENOMEM. */
embp_status embp_rope_init(embp_rope *r, int dim, double theta, int max_pos, embp_error *err);

/* Rotates the first r->dim features of n_heads heads of one token at position pos (0 <= pos <
 * max_pos, the caller's to check); head h starts at x + h * head_stride. */
void embp_rope_apply(const embp_rope *r, float *x, int pos, int n_heads, int head_stride);

void embp_rope_free(embp_rope *r);

#endif
