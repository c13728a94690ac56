/* bert.h: BERT encoder weights and the forward pass over packed tokens.
 * A batch is T = sum of the sequences' lengths rows of hidden size H, no padding: the dense
 * layers are one GEMM over (T, H); attention runs per sequence and head over its own length.
 * Pooling is not here (runtime/pooling.h).
 */
#ifndef EMBP_MODEL_BERT_H
#define EMBP_MODEL_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/matmul.h"
#include "precision/plan.h"

/* How the dense layers' weights are rounded before packing: to what a storage precision keeps
 * (bf16 or fp16 storage computed in fp32 is rounded, then held as fp32), or not at all. */
typedef enum { EMBP_ROUND_NONE, EMBP_ROUND_BF16, EMBP_ROUND_FP16 } embp_weight_round;

/* How the word-embedding table (the largest tensor of a small encoder: 47 MB of MiniLM's 87
 * in fp32) sits in memory: it is only gathered, one row per token, so any storage costs a
 * conversion of H values per token. int8 is per row (vocabulary entry), symmetric, fp32 scale:
 * kernels/quant.h's int8 with the table as a [V, H] matrix. */
typedef enum { EMBP_TABLE_F32, EMBP_TABLE_BF16, EMBP_TABLE_FP16, EMBP_TABLE_INT8 } embp_table_format;

/* The loader's view of an embp_plan (precision/plan.h resolves it; bert_load.c derives this
 * from it, so no caller builds one). The dense layers' weights are rounded as `round` says, then packed for `compute`: oneDNN for fp32, bf16 and
 * int8; embp's int4 kernels for EMBP_MM_INT4_* (group `group_size`). The word-embedding table
 * is kept as `table` says; position embeddings, LayerNorm and biases stay fp32. `storage` is
 * what memory holds, for reports. */
typedef struct {
    embp_mm_type storage;
    embp_mm_type compute;
    int group_size;          /* int4 only */
    embp_weight_round round;
    embp_table_format table;
} embp_bert_precision;

/* The loader's view of a resolved plan (NULL: fp32): which kernels, how to round the weights;
 * every family's loader derives its precision this way. */
void embp_bert_precision_of(const embp_plan *p, embp_bert_precision *out /* OUT */);
/* Rounds n weights to what bf16 or fp16 storage keeps (nearest even), in place. */
void embp_round_weights(float *w, size_t n, embp_weight_round r);

typedef struct embp_bert embp_bert;

/* Builds the encoder from st's tensors, named as cfg says (cfg->tensor_prefix, e.g. "bert.",
 * is tried first, then no prefix). Every tensor's dtype (F32, F16 or BF16) and shape are checked
 * against cfg: errors name the tensor and the expected and found shapes. Dense weights quantized
 * ahead by embp quantize (I8 or U8 with "_scale" tensors, docs/QUANTIZED_FORMAT.md) are taken as
 * they are when the plan's compute runs them, else dequantized. The plan (precision/plan.h)
 * says how the dense weights are rounded and packed and how the word table is held.
 * Allocates the forward's scratch for max_tokens packed tokens and sequences of up to max_len
 * tokens. n_threads: the OpenMP threads a forward uses (0: one per core). plan may be NULL for
 * fp32. st is only read, but must outlive b: a word table the plan keeps in the file's format
 * (fp32 from F32, bf16 from BF16, ...) is used in place from its mapping. */
embp_status embp_bert_load(const embp_model_config *cfg, const embp_safetensors *st,
                           const embp_plan *plan, int max_tokens, int max_len,
                           int n_threads, embp_bert **out /* OUT */, embp_error *err);
void embp_bert_free(embp_bert *b); /* NULL is fine */

/* ids are n sequences concatenated, sequence i being ids[offsets[i] .. offsets[i+1]);
 * offsets[0] = 0, each length in 1..max_len, T = offsets[n] <= max_tokens, each id in
 * [0, vocab). types (NULL: all 0) gives each id's token type, in [0, type_vocab_size) (a
 * model without token types, type_vocab_size 0, ignores them). *hidden gets the last layer's states (T, H), pointing into b's scratch: valid
 * until the next forward. Never allocates. Calls on one b must not overlap. */
embp_status embp_bert_forward(embp_bert *b, const int32_t *ids, const int32_t *types,
                              const int *offsets, int n, const float **hidden /* OUT */,
                              embp_error *err);

/* 1 when tensor `name` is one of the dense layers' weights (QKV, attention output, FFN), the
 * tensors embp quantize quantizes; embeddings, LayerNorm and biases are not. */
int embp_bert_dense_weight(const char *name);

/* Adds each later forward's per-op wall time to p (kernels/prof.h), for bench_forward --profile;
 * NULL stops. p must outlive its use. */
void embp_bert_set_prof(embp_bert *b, embp_prof *p);

/* The GEMM primitives of every row bucket up to `tokens` (kernels/matmul.h's
 * embp_mm_engine_prepare): a warm-up without forward passes. */
embp_status embp_bert_prepare(embp_bert *b, int tokens, embp_error *err);

size_t embp_bert_weight_bytes(const embp_bert *b); /* packed weights + fp32 tables */
int embp_bert_max_tokens(const embp_bert *b);
const char *embp_bert_kernels_name(const embp_bert *b); /* "avx512", "avx2", "scalar" */
/* The int4 kernel variant the dense layers run ("avx2", "avx512_bf16", ...), or "". */
const char *embp_bert_int4_kernel(const embp_bert *b);

#endif
