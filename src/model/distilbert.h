/* distilbert.h: DistilBERT, loaded as a BERT under DistilBERT's tensor names (transformer.layer.N.
 * attention.q_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm) and run by bert's forward. */
#ifndef EMBP_MODEL_DISTILBERT_H
#define EMBP_MODEL_DISTILBERT_H

#include "model/bert.h"

/* embp_bert_load's contract, for a DistilBERT checkpoint (bare or under "distilbert."). */
embp_status embp_distilbert_load(const embp_model_config *cfg, const embp_safetensors *st,
                                 const embp_plan *plan, int max_tokens, int max_len,
                                 int n_threads, embp_bert **out /* OUT */, embp_error *err);

/* Whether `name` is a tensor embp quantize quantizes (a layer's dense weight). */
int embp_distilbert_dense_weight(const char *name);

#endif
