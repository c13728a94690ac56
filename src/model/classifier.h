/* classifier.h: the sequence-classification head of a cross-encoder (a reranker), on top of
 * any encoder of the architecture table: transformers' *ForSequenceClassification reads the
 * first token's last hidden state (BERT's [CLS], RoBERTa's <s>), runs one dense layer with an
 * activation, then a linear layer to num_labels logits. The head is the family's, its tensors
 * beside the encoder's in the same file:
 *
 *   bert                        bert.pooler.dense (H, H) + tanh, classifier (L, H)
 *   roberta, xlm-roberta,       classifier.dense (H, H) + tanh, classifier.out_proj (L, H)
 *   camembert
 *   distilbert                  pre_classifier (H, H) + ReLU, classifier (L, H)
 *
 * Dropout is identity at inference. The head's weights stay fp32 whatever the plan (two
 * matrix-vector products per sequence: a 768-wide head is under 1% of a 12-layer pass); the
 * encoder under it runs every precision plan. */
#ifndef EMBP_MODEL_CLASSIFIER_H
#define EMBP_MODEL_CLASSIFIER_H

#include "core/status.h"
#include "io/config.h"
#include "io/safetensors.h"

typedef struct embp_classifier embp_classifier;

/* The head cfg describes (cfg->num_labels > 0), from st's tensors (tried under
 * cfg->tensor_prefix, then without). EMBP_EUNSUPPORTED names the architecture when its family
 * has no head here; EMBP_EFORMAT names a missing or misshapen tensor. st is only read. */
embp_status embp_classifier_load(const embp_model_config *cfg, const embp_safetensors *st,
                                 embp_classifier **out /* OUT */, embp_error *err);
void embp_classifier_free(embp_classifier *c); /* NULL is fine */

/* logits (n, num_labels) of the n sequences whose last hidden states (T, H) the encoder
 * wrote, sequence i starting at row offsets[i]. Uses c's scratch: calls on one c must not
 * overlap (as the encoder's forward). */
void embp_classifier_apply(embp_classifier *c, const float *hidden, const int *offsets, int n,
                           float *logits);

int embp_classifier_labels(const embp_classifier *c);
size_t embp_classifier_weight_bytes(const embp_classifier *c);

#endif
