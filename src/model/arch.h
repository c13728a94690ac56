/* arch.h: the architecture seam. A model family is a recipe of parts, and one table entry per
 * family says which parts it uses and which functions build and run it. runtime/ only ever
 * calls a family through its entry, so a new family (an encoder with rotary positions, a
 * decoder embedder with causal GQA attention and SwiGLU) is a table entry plus the parts it
 * lacks, not a copy of bert.c and not a change to runtime/.
 *
 *     const embp_arch *a = embp_arch_find(&cfg, &err);   // by config.json model_type
 *     embp_encoder *e;
 *     a->load(&cfg, st, &plan, max_tokens, max_len, n_threads, &e, &err);
 *     a->forward(e, ids, types, offsets, n, &hidden, &err); // (T, H) states for pooling
 *     a->free(e);
 *
 * Today the table has bert (model/bert.c), and the RoBERTa family, DistilBERT and MPNet sharing
 * its functions (DistilBERT and MPNet load with renamed tensors, model/distilbert.c and
 * model/mpnet.c, MPNet adding its relative position bias for bert's forward), the rotary
 * encoders ModernBERT and NomicBERT (model/rotenc.c, on bert's core), and the decoders:
 * qwen3 (model/qwen3.c, with rope.c and attend.c as separate parts) and qwen2, mistral, llama
 * sharing its functions. The first family with another
 * recipe is when a part moves out of bert.c into a file of its own (model/norm.c, model/rope.c,
 * ...) that both entries call; docs/ARCHITECTURE.md, "Adding a model architecture", is the
 * recipe. */
#ifndef EMBP_MODEL_ARCH_H
#define EMBP_MODEL_ARCH_H

#include "core/status.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/prof.h"
#include "precision/plan.h"

/* ---------------------------------------------------------------- the parts */

typedef enum {
    EMBP_POS_ABSOLUTE, /* learned position table added to the token embeddings (BERT) */
    EMBP_POS_RELATIVE, /* a bias per relative distance added to the attention scores (T5) */
    EMBP_POS_ROTARY,   /* q and k rotated by position (RoPE: nomic-bert, Qwen, Llama) */
} embp_arch_pos;

typedef enum {
    EMBP_NORM_LAYER, /* LayerNorm: mean and variance, gain and bias */
    EMBP_NORM_RMS,   /* RMSNorm: root mean square, gain only */
} embp_arch_norm;

typedef enum {
    EMBP_NORM_POST, /* x = norm(x + f(x)) (BERT) */
    EMBP_NORM_PRE,  /* x = x + f(norm(x)) (decoders, modern encoders) */
} embp_arch_norm_at;

typedef enum {
    EMBP_ATTN_BIDIRECTIONAL, /* every token sees its whole sequence (encoders) */
    EMBP_ATTN_CAUSAL,        /* token t sees 0..t (decoder embedders) */
} embp_arch_mask;

typedef enum {
    EMBP_HEADS_MHA, /* as many k/v heads as q heads */
    EMBP_HEADS_GQA, /* fewer k/v heads, each shared by a group of q heads */
} embp_arch_heads;

typedef enum {
    EMBP_MLP_GELU,   /* down(gelu(up(x))) */
    EMBP_MLP_GEGLU,  /* down(gelu(gate(x)) * up(x)) */
    EMBP_MLP_SWIGLU, /* down(silu(gate(x)) * up(x)) */
} embp_arch_mlp;

/* The recipe of one family. window 0: full attention; > 0: each token sees the window tokens
 * before it (and after, when bidirectional). pos_after_pad 0: a sequence's positions count
 * from 0 (every family but one); 1: from config.json's pad_token_id + 1, a pad token taking row
 * pad_token_id (fairseq's layout, the RoBERTa family), so max_seq_len is max_position_embeddings
 * - pad_token_id - 1 (runtime/folder.c applies it). Pooling is not here: it is the folder's
 * (1_Pooling/config.json) and runtime/pooling.c's. */
typedef struct {
    embp_arch_pos pos;
    embp_arch_norm norm;
    embp_arch_norm_at norm_at;
    embp_arch_mask mask;
    int window;
    embp_arch_heads heads;
    embp_arch_mlp mlp;
    int pos_after_pad;
} embp_arch_recipe;

/* ---------------------------------------------------------------- the table */

typedef struct embp_encoder embp_encoder; /* a family's weights and scratch, opaque */

typedef struct {
    const char *name;       /* "bert" */
    const char *model_type; /* config.json "model_type" that selects it */
    embp_arch_recipe recipe;
    /* The family's functions; the contract of each is bert.h's of the same name. */
    embp_status (*load)(const embp_model_config *cfg, const embp_safetensors *st,
                        const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                        embp_encoder **out, embp_error *err);
    /* types: each id's token type (a pair's second sequence is type 1 in BERT), NULL: all 0 */
    embp_status (*forward)(embp_encoder *e, const int32_t *ids, const int32_t *types,
                           const int *offsets, int n, const float **hidden, embp_error *err);
    void (*free)(embp_encoder *e);
    size_t (*weight_bytes)(const embp_encoder *e);
    const char *(*kernels_name)(const embp_encoder *e);
    int (*dense_weight)(const char *tensor_name); /* the tensors embp quantize quantizes */
    void (*set_prof)(embp_encoder *e, embp_prof *p); /* per-op profile (kernels/prof.h) */
    /* Makes what forwards of up to `tokens` rows need (each GEMM row bucket's primitive) without
     * running them: embp_mm_engine_prepare on the family's engine, after one forward. */
    embp_status (*prepare)(embp_encoder *e, int tokens, embp_error *err);
} embp_arch;

/* The family cfg names (model_type; "" is bert, the sentence-transformers default), or NULL
 * with EMBP_EUNSUPPORTED naming the model_type and the families there are. */
const embp_arch *embp_arch_find(const embp_model_config *cfg, embp_error *err);

/* The batch every family's forward checks first: n >= 1 sequences by offsets (offsets[0] 0,
 * each 1..max_len tokens, max_tokens in all), each id in [0, vocab); EMBP_EINVAL naming the
 * sequence or token otherwise. */
embp_status embp_check_batch(const int32_t *ids, const int *offsets, int n, int max_len,
                             int max_tokens, int vocab, embp_error *err);

#endif
