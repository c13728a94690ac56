/* The architecture table (arch.h). Each entry adapts a family's typed functions (bert.h) to the
 * table's opaque encoder; the casts are the whole adapter, so runtime/ calls a family at the
 * cost of one indirect call per forward. */
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

#include "model/bert.h"
#include "model/distilbert.h"
#include "model/mpnet.h"
#include "model/qwen3.h"
#include "model/rotenc.h"

static embp_status bert_load(const embp_model_config *cfg, const embp_safetensors *st,
                             const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                             embp_encoder **out, embp_error *err) {
    return embp_bert_load(cfg, st, plan, max_tokens, max_len, n_threads, (embp_bert **)out, err);
}

static embp_status bert_forward(embp_encoder *e, const int32_t *ids, const int32_t *types,
                                const int *offsets, int n, const float **hidden, embp_error *err) {
    return embp_bert_forward((embp_bert *)e, ids, types, offsets, n, hidden, err);
}

static embp_status distilbert_load(const embp_model_config *cfg, const embp_safetensors *st,
                                   const embp_plan *plan, int max_tokens, int max_len,
                                   int n_threads, embp_encoder **out, embp_error *err) {
    return embp_distilbert_load(cfg, st, plan, max_tokens, max_len, n_threads, (embp_bert **)out,
                                err);
}

static embp_status mpnet_load(const embp_model_config *cfg, const embp_safetensors *st,
                              const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                              embp_encoder **out, embp_error *err) {
    return embp_mpnet_load(cfg, st, plan, max_tokens, max_len, n_threads, (embp_bert **)out, err);
}

static void bert_free(embp_encoder *e) {
    embp_bert_free((embp_bert *)e);
}

static size_t bert_weight_bytes(const embp_encoder *e) {
    return embp_bert_weight_bytes((const embp_bert *)e);
}

static const char *bert_kernels_name(const embp_encoder *e) {
    return embp_bert_kernels_name((const embp_bert *)e);
}

static void bert_set_prof(embp_encoder *e, embp_prof *p) {
    embp_bert_set_prof((embp_bert *)e, p);
}

static embp_status bert_prepare(embp_encoder *e, int tokens, embp_error *err) {
    return embp_bert_prepare((embp_bert *)e, tokens, err);
}

static embp_status rotenc_load(const embp_model_config *cfg, const embp_safetensors *st,
                               const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                               embp_encoder **out, embp_error *err) {
    return embp_rotenc_load(cfg, st, plan, max_tokens, max_len, n_threads, (embp_rotenc **)out,
                            err);
}

static embp_status rotenc_forward(embp_encoder *e, const int32_t *ids, const int32_t *types,
                                  const int *offsets, int n, const float **hidden,
                                  embp_error *err) {
    return embp_rotenc_forward((embp_rotenc *)e, ids, types, offsets, n, hidden, err);
}

static void rotenc_free(embp_encoder *e) {
    embp_rotenc_free((embp_rotenc *)e);
}

static size_t rotenc_weight_bytes(const embp_encoder *e) {
    return embp_rotenc_weight_bytes((const embp_rotenc *)e);
}

static const char *rotenc_kernels_name(const embp_encoder *e) {
    return embp_rotenc_kernels_name((const embp_rotenc *)e);
}

static void rotenc_set_prof(embp_encoder *e, embp_prof *p) {
    embp_rotenc_set_prof((embp_rotenc *)e, p);
}

static embp_status rotenc_prepare(embp_encoder *e, int tokens, embp_error *err) {
    return embp_rotenc_prepare((embp_rotenc *)e, tokens, err);
}

/* BERT's recipe; the RoBERTa family (RoBERTa, XLM-RoBERTa, CamemBERT) is BERT's arithmetic with
 * positions from pad_token_id + 1 (its recipe's pos_after_pad) and one token type (config.json's
 * type_vocab_size), so its entries share bert's functions. DistilBERT is BERT's arithmetic
 * without token types under other tensor names: its load renames (model/distilbert.c), its
 * forward is bert's. */
#define BERT_RECIPE                                                                                \
    {EMBP_POS_ABSOLUTE, EMBP_NORM_LAYER, EMBP_NORM_POST, EMBP_ATTN_BIDIRECTIONAL, 0,              \
     EMBP_HEADS_MHA, EMBP_MLP_GELU, 0}
#define ROBERTA_RECIPE                                                                             \
    {EMBP_POS_ABSOLUTE, EMBP_NORM_LAYER, EMBP_NORM_POST, EMBP_ATTN_BIDIRECTIONAL, 0,              \
     EMBP_HEADS_MHA, EMBP_MLP_GELU, 1}
#define BERT_FUNCTIONS                                                                             \
    bert_load, bert_forward, bert_free, bert_weight_bytes, bert_kernels_name,                      \
        embp_bert_dense_weight, bert_set_prof, bert_prepare
/* MPNet: BERT's layers under other names (model/mpnet.c renames) with a bias by relative
 * position on the attention scores, which its load adds to the encoder for bert's forward. */
#define MPNET_RECIPE                                                                               \
    {EMBP_POS_RELATIVE, EMBP_NORM_LAYER, EMBP_NORM_POST, EMBP_ATTN_BIDIRECTIONAL, 0,              \
     EMBP_HEADS_MHA, EMBP_MLP_GELU, 1}
#define MPNET_FUNCTIONS                                                                            \
    mpnet_load, bert_forward, bert_free, bert_weight_bytes, bert_kernels_name,                     \
        embp_mpnet_dense_weight, bert_set_prof, bert_prepare
#define DISTILBERT_FUNCTIONS                                                                       \
    distilbert_load, bert_forward, bert_free, bert_weight_bytes, bert_kernels_name,                \
        embp_distilbert_dense_weight, bert_set_prof, bert_prepare

/* The rotary encoders (model/rotenc.c). ModernBERT: pre-norm LayerNorm without biases, GeGLU,
 * a global layer every global_attn_every_n_layers (rotary base global_rope_theta) and +-64-token
 * sliding windows between (local_rope_theta); the recipe's window is its config's, read at load.
 * NomicBERT: BERT's post-norm LayerNorm, SwiGLU, every layer global, no linear biases. */
#define ROTENC_FUNCTIONS(dense)                                                                    \
    rotenc_load, rotenc_forward, rotenc_free, rotenc_weight_bytes, rotenc_kernels_name, dense,     \
        rotenc_set_prof, rotenc_prepare

/* Qwen3 (model/qwen3.c): the decoder embedder's own functions. */
static embp_status qwen3_load(const embp_model_config *cfg, const embp_safetensors *st,
                              const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                              embp_encoder **out, embp_error *err) {
    return embp_qwen3_load(cfg, st, plan, max_tokens, max_len, n_threads, (embp_qwen3 **)out, err);
}
static embp_status qwen3_forward(embp_encoder *e, const int32_t *ids, const int32_t *types,
                                 const int *offsets, int n, const float **hidden,
                                 embp_error *err) {
    (void)types; /* no token types: only a reranker's pairs carry them (io/config.c refuses a
                  * decoder reranker) */
    return embp_qwen3_forward((embp_qwen3 *)e, ids, offsets, n, hidden, err);
}
static void qwen3_free(embp_encoder *e) {
    embp_qwen3_free((embp_qwen3 *)e);
}
static size_t qwen3_weight_bytes(const embp_encoder *e) {
    return embp_qwen3_weight_bytes((const embp_qwen3 *)e);
}
static const char *qwen3_kernels_name(const embp_encoder *e) {
    return embp_qwen3_kernels_name((const embp_qwen3 *)e);
}
static void qwen3_set_prof(embp_encoder *e, embp_prof *p) {
    embp_qwen3_set_prof((embp_qwen3 *)e, p);
}
static embp_status qwen3_prepare(embp_encoder *e, int tokens, embp_error *err) {
    return embp_qwen3_prepare((embp_qwen3 *)e, tokens, err);
}
/* Rotary, pre-norm RMSNorm, causal GQA, SwiGLU; Mistral's window is config.json's
 * sliding_window, 0 in the table. Qwen2, Mistral and Llama are Qwen3 without its q/k RMSNorm
 * (and with Qwen2's q/k/v biases, Llama's optional ones): qwen3.c's functions, which read
 * model_type for those. */
#define QWEN3_RECIPE                                                                               \
    {EMBP_POS_ROTARY, EMBP_NORM_RMS, EMBP_NORM_PRE, EMBP_ATTN_CAUSAL, 0, EMBP_HEADS_GQA,          \
     EMBP_MLP_SWIGLU, 0}
#define QWEN3_FUNCTIONS                                                                            \
    qwen3_load, qwen3_forward, qwen3_free, qwen3_weight_bytes, qwen3_kernels_name,                 \
        embp_qwen3_dense_weight, qwen3_set_prof, qwen3_prepare

static const embp_arch table[] = {
    {"bert", "bert", BERT_RECIPE, BERT_FUNCTIONS},
    {"roberta", "roberta", ROBERTA_RECIPE, BERT_FUNCTIONS},
    {"xlm-roberta", "xlm-roberta", ROBERTA_RECIPE, BERT_FUNCTIONS},
    {"camembert", "camembert", ROBERTA_RECIPE, BERT_FUNCTIONS},
    {"distilbert", "distilbert", BERT_RECIPE, DISTILBERT_FUNCTIONS},
    {"mpnet", "mpnet", MPNET_RECIPE, MPNET_FUNCTIONS},
    {"modernbert", "modernbert",
     {EMBP_POS_ROTARY, EMBP_NORM_LAYER, EMBP_NORM_PRE, EMBP_ATTN_BIDIRECTIONAL, 64,
      EMBP_HEADS_MHA, EMBP_MLP_GEGLU, 0},
     ROTENC_FUNCTIONS(embp_modernbert_dense_weight)},
    {"nomic_bert", "nomic_bert",
     {EMBP_POS_ROTARY, EMBP_NORM_LAYER, EMBP_NORM_POST, EMBP_ATTN_BIDIRECTIONAL, 0,
      EMBP_HEADS_MHA, EMBP_MLP_SWIGLU, 0},
     ROTENC_FUNCTIONS(embp_nomicbert_dense_weight)},
    {"qwen3", "qwen3", QWEN3_RECIPE, QWEN3_FUNCTIONS},
    {"qwen2", "qwen2", QWEN3_RECIPE, QWEN3_FUNCTIONS},
    {"mistral", "mistral", QWEN3_RECIPE, QWEN3_FUNCTIONS},
    {"llama", "llama", QWEN3_RECIPE, QWEN3_FUNCTIONS},
};

embp_status embp_check_batch(const int32_t *ids, const int *offsets, int n, int max_len,
                             int max_tokens, int vocab, embp_error *err) {
    if (n < 1 || offsets[0] != 0)
        return embp_fail(err, EMBP_EINVAL, "forward: %d sequences, offsets[0] %d", n,
                         n > 0 ? offsets[0] : 0);
    for (int s = 0; s < n; s++) {
        int len = offsets[s + 1] - offsets[s];
        if (len < 1 || len > max_len)
            return embp_fail(err, EMBP_EINVAL, "forward: sequence %d has %d tokens, expected "
                             "1..%d", s, len, max_len);
    }
    if (offsets[n] > max_tokens)
        return embp_fail(err, EMBP_EINVAL, "forward: %d tokens exceed max_batch_tokens %d",
                         offsets[n], max_tokens);
    for (int t = 0; t < offsets[n]; t++)
        if (ids[t] < 0 || ids[t] >= vocab)
            return embp_fail(err, EMBP_EINVAL, "forward: token %d has id %d outside the "
                             "vocabulary [0, %d)", t, ids[t], vocab);
    return EMBP_OK;
}

const embp_arch *embp_arch_find(const embp_model_config *cfg, embp_error *err) {
    const char *type = cfg->model_type[0] ? cfg->model_type : "bert";
    char names[256] = "";
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].model_type, type) == 0)
            return &table[i];
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", table[i].model_type);
    }
    embp_fail(err, EMBP_EUNSUPPORTED, "config.json: model_type '%s' is not supported (model/arch.c "
              "has no entry for it); embp runs: %s", type, names);
    return NULL;
}
