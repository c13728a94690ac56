/* rotenc.h: the rotary encoders, ModernBERT (model_type "modernbert") and NomicBERT
 * ("nomic_bert"): bidirectional encoders with rotary positions (model/rope.h), a fused QKV, a
 * gated MLP (GeGLU, SwiGLU) and no absolute positions. One forward runs both recipes; what
 * differs is data read from config.json (io/config.c) and a table of tensor names:
 *
 *              norm                 attention                        MLP
 *   modernbert pre, no bias,        global (rope_theta) every        GeGLU, Wi = [input; gate]
 *              final_norm, layer 0  global_every layers, else +-window
 *              without attn_norm    (rope_theta_local)
 *   nomic_bert post, with bias,     global                           SwiGLU, silu(fc12) * fc11
 *              token type 0 added
 *
 * The contract of each function is bert.h's of the same name (arch.h calls them). */
#ifndef EMBP_MODEL_ROTENC_H
#define EMBP_MODEL_ROTENC_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/prof.h"
#include "precision/plan.h"

typedef struct embp_rotenc embp_rotenc;

/* cfg->model_type says which family (EMBP_EUNSUPPORTED for another). */
embp_status embp_rotenc_load(const embp_model_config *cfg, const embp_safetensors *st,
                             const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                             embp_rotenc **out /* OUT */, embp_error *err);
void embp_rotenc_free(embp_rotenc *r); /* NULL is fine */
embp_status embp_rotenc_forward(embp_rotenc *r, const int32_t *ids, const int32_t *types,
                                const int *offsets, int n, const float **hidden /* OUT */,
                                embp_error *err);
size_t embp_rotenc_weight_bytes(const embp_rotenc *r);
const char *embp_rotenc_kernels_name(const embp_rotenc *r);
void embp_rotenc_set_prof(embp_rotenc *r, embp_prof *p);
embp_status embp_rotenc_prepare(embp_rotenc *r, int tokens, embp_error *err); /* bert.h's */

/* The tensors embp quantize quantizes: the dense layers' weights of each family. */
int embp_modernbert_dense_weight(const char *name);
int embp_nomicbert_dense_weight(const char *name);

#endif
