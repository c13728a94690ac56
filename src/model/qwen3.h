/* qwen3.h: the Qwen3 decoder as an embedder (model_type "qwen3", Qwen3-Embedding): token
 * embeddings, pre-norm layers of RMSNorm, causal grouped-query attention with per-head RMSNorm
 * on q and k and rotary positions, a SwiGLU MLP, a final RMSNorm; the last layer's states go to
 * pooling (last token, the <|endoftext|> the tokenizer appends). Same contract as bert.h's
 * functions of the same names (model/arch.h's table calls them). */
#ifndef EMBP_MODEL_QWEN3_H
#define EMBP_MODEL_QWEN3_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/prof.h"
#include "precision/plan.h"

typedef struct embp_qwen3 embp_qwen3;

/* Tensors as Qwen3Model saves them ("layers.0.self_attn.q_proj.weight", ...), or under
 * "model." (Qwen3ForCausalLM; its lm_head is not read: an embedder never projects to the
 * vocabulary, so tie_word_embeddings does not matter). */
embp_status embp_qwen3_load(const embp_model_config *cfg, const embp_safetensors *st,
                            const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                            embp_qwen3 **out /* OUT */, embp_error *err);
void embp_qwen3_free(embp_qwen3 *m); /* NULL is fine */
embp_status embp_qwen3_forward(embp_qwen3 *m, const int32_t *ids, const int *offsets, int n,
                               const float **hidden /* OUT */, embp_error *err);
/* 1 for the projections' weights (q/k/v/o, gate/up/down), the tensors embp quantize quantizes. */
int embp_qwen3_dense_weight(const char *name);
size_t embp_qwen3_weight_bytes(const embp_qwen3 *m);
const char *embp_qwen3_kernels_name(const embp_qwen3 *m);
void embp_qwen3_set_prof(embp_qwen3 *m, embp_prof *p);
embp_status embp_qwen3_prepare(embp_qwen3 *m, int tokens, embp_error *err); /* bert.h's */

#endif
