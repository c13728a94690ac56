/* mpnet.h: MPNet (model_type "mpnet", all-mpnet-base-v2), loaded as a BERT under MPNet's tensor
 * names (encoder.layer.N.attention.attn.q/k/v/o, attention.LayerNorm) and run by bert's forward
 * with one addition: a bias by relative position on the attention scores, from the table
 * encoder.relative_attention_bias shared by all layers (T5's bidirectional buckets). */
#ifndef EMBP_MODEL_MPNET_H
#define EMBP_MODEL_MPNET_H

#include "model/bert.h"

/* embp_bert_load's contract, for an MPNet checkpoint (bare or under "mpnet."). */
embp_status embp_mpnet_load(const embp_model_config *cfg, const embp_safetensors *st,
                            const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                            embp_bert **out /* OUT */, embp_error *err);

/* Whether `name` is a tensor embp quantize quantizes (a layer's dense weight). */
int embp_mpnet_dense_weight(const char *name);

/* The row of encoder.relative_attention_bias for key position j - query position i = rel:
 * transformers' MPNetEncoder.relative_position_bucket (32 buckets, max distance 128). */
int embp_mpnet_bucket(int rel);

#endif
