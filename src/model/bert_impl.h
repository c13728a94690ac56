/* bert_impl.h: the BERT model's fields, private to model/: bert_load.c fills them (weights,
 * packed linears, scratch), bert.c runs the forward pass over them. Other folders use bert.h. */
#ifndef EMBP_MODEL_BERT_IMPL_H
#define EMBP_MODEL_BERT_IMPL_H

#include "model/bert.h"

typedef struct {
    embp_linear *qkv, *out, *ffn_in, *ffn_out; /* (H,3H) (H,H) (H,I)+GELU (I,H) */
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;      /* (H) each */
} bert_layer;

/* A family's name for the tensor BERT calls bert_name ("encoder.layer.0.attention.self.query.weight"),
 * written into buf or returned as it is. */
typedef const char *(*embp_bert_rename)(const char *bert_name, char *buf, size_t size);

struct embp_bert {
    int H, L, NH, D, I, V, P; /* hidden, layers, heads, head size, FFN, vocab, positions */
    float eps;
    int pos0, pad; /* position_offset and pad_token_id (io/config.h): pos0 > 0 is RoBERTa's */
    embp_bert_rename rename; /* NULL: BERT's own tensor names */
    int max_tokens, max_len, n_threads;
    const embp_kernels *k;
    embp_mm_engine *eng;
    const char *int4_kernel; /* static name of the int4 variant, or NULL */
    int n_types;                        /* token type rows: type_vocab_size, at least 1 */
    int no_types;                       /* type_vocab_size 0 (DistilBERT): types are not read */
    float *pos, *type, *emb_g, *emb_b;  /* (P,H) (n_types,H) (H) (H); no types: one zero row */
    embp_table_format word_fmt;         /* word table (V,H): one of these, as word_fmt says */
    int word_mapped;                    /* 1: the table is the file's mapped bytes, not owned */
    float *word;                        /* f32 */
    uint16_t *word16;                   /* bf16 or fp16 */
    int8_t *word8;                      /* int8 with word_scale (V) */
    float *word_scale;
    bert_layer *layers;
    /* MPNet's relative position bias (model/mpnet.c), or NULL: head h's bias for distance
     * j - i at rel_bias[h * rel_stride + rel_zero + j - i], added to the attention scores */
    float *rel_bias;
    int rel_stride, rel_zero;
    size_t weight_bytes;
    /* scratch, one block: rows are bucket(max_tokens) so a GEMM may pad its M */
    void *arena;
    float *x, *tmp, *ctx, *qkv, *ffn, *attn; /* (T,H) (T,H) (T,H) (T,3H) (T,I) per-thread */
    size_t attn_per_thread;
    embp_prof *prof; /* NULL unless a benchmark profiles (embp_bert_set_prof) */
};

/* embp_bert_load for a family that is BERT's arithmetic under other tensor names. */
embp_status embp_bert_load_renamed(const embp_model_config *cfg, const embp_safetensors *st,
                                   const embp_plan *plan, int max_tokens, int max_len,
                                   int n_threads, embp_bert_rename rename, embp_bert **out,
                                   embp_error *err);

/* ---------------------------------------------------------------- shared with other families
 * A family that is not BERT's arithmetic (model/rotenc.c) keeps an embp_bert as its core, for
 * what every encoder has: shapes, kernels, the GEMM engine, the word table, the weight count;
 * it loads through these and gathers rows with embp_bert_word_row. Tensor names go through
 * b->rename and are tried under prefix, then none, then "bert.". */

/* Tensor t, checked to be (d0) or (d0, d1) when d1 > 0, into dst as fp32: F32 copied, F16 and
 * BF16 widened by k's row converters (exact); another dtype is EMBP_EFORMAT naming the file and
 * the tensor. Its pages are released once copied (embp_st_release_tensor). */
embp_status embp_bert_tensor_f32(const embp_kernels *k, const embp_safetensors *st,
                                 const embp_st_tensor *t, int d0, int d1, float *dst,
                                 embp_error *err);

/* A fp32 table owned by the caller (*out, embp_free_aligned), counted in b->weight_bytes; shape
 * (d0) or (d0, d1) when d1 > 0, F32, F16 or BF16 in the file. */
embp_status embp_bert_load_table(embp_bert *b, const embp_safetensors *st, const char *prefix,
                                 const char *name, int d0, int d1, float **out, embp_error *err);

/* The token type table `name` (type_vocab_size rows) into b->type, b->n_types, b->no_types;
 * type_vocab_size 0: one zero row, types not read. */
embp_status embp_bert_load_types(embp_bert *b, const embp_safetensors *st, const char *prefix,
                                 const char *name, int type_vocab_size, embp_error *err);

/* BERT's "embeddings.word_embeddings.weight" (b->rename'd) into b->word* as fmt says, (V, H). A
 * file from embp quantize may hold it as I8 with "_scale" (per row): taken as it is for an int8
 * table, else dequantized. A table whose format is the file's (fp32 from F32, bf16 from BF16,
 * fp16 from F16, int8 from embp quantize's int8) is used in place from st's mapping
 * (b->word_mapped), which must then outlive b; else it is converted one row at a time. */
embp_status embp_bert_load_words(embp_bert *b, const embp_safetensors *st, const char *prefix,
                                 embp_table_format fmt, embp_error *err);

/* The dense layers' load-time scratch: maxn x maxk floats must hold every linear's stacked
 * (n * rows, K) weight, maxn its bias (one block, w then bias). */
typedef struct {
    const embp_safetensors *st;
    const char *prefix;
    embp_bert_precision prec;
    float *w, *bias;
    size_t big, maxn; /* floats in w and in bias */
    /* weights quantized ahead (embp quantize), allocated on first use: int8 (max N, max K) with
     * fp32 scales (max N); int4 (max N, max K / 2) bytes with fp16 scales (max N, max K / 16);
     * each kind one block, its scales after its codes */
    int8_t *q8;
    float *sc8;
    uint8_t *q4;
    uint16_t *sc4;
} embp_bert_loader;
embp_status embp_bert_loader_open(embp_bert_loader *ld, const embp_safetensors *st,
                                  const char *prefix, const embp_bert_precision *prec, int maxn,
                                  int maxk, embp_error *err);
void embp_bert_loader_close(embp_bert_loader *ld);

/* The most tensors one stacked linear is loaded from (BERT's query, key, value). */
#define EMBP_BERT_MAX_PARTS 3

/* Loads tensors names[0..n) ("<name>.weight", each (rows, K), and "<name>.bias" (rows) when
 * bias) stacked into one (n * rows, K) linear on b's engine, rounded and packed as ld's plan
 * says: BERT's QKV is three, a fused or single weight one. Weights quantized ahead go to the
 * kernels as they are when the plan's compute takes them (int8 -> int8, int4 -> int4), else are
 * dequantized. gelu: y = GELU(x W + b). */
embp_status embp_bert_load_linear(embp_bert *b, embp_bert_loader *ld, const char *const *names,
                                  int n, int rows, int K, int bias, int gelu, embp_linear **out,
                                  embp_error *err);
/* The same with rows[i] rows for part i (Qwen3's q, k and v differ with grouped-query heads). */
embp_status embp_bert_load_parts(embp_bert *b, embp_bert_loader *ld, const char *const *names,
                                 const int *rows, int n, int K, int bias, int gelu,
                                 embp_linear **out, embp_error *err);

/* embp_bert_load_parts of layer `layer`'s parts[i] named "<layers><layer>.<parts[i]>" ("layers."
 * and "self_attn.q_proj": "layers.0.self_attn.q_proj"). */
embp_status embp_bert_load_layer_parts(embp_bert *b, embp_bert_loader *ld, const char *layers,
                                       int layer, const char *const *parts, const int *rows,
                                       int n, int K, int bias, int gelu, embp_linear **out,
                                       embp_error *err);

/* The forward's scratch: one block of n parts of sizes[i] floats (each rounded up to 16, so
 * aligned), *ptrs[i] pointing at part i; not cleared. For the message: max_tokens. */
embp_status embp_bert_arena(void **arena, const size_t *sizes, float **const *ptrs, int n,
                            int max_tokens, embp_error *err);

/* y = l x for a forward: l's GEMM time counted under op when b profiles; next (or NULL) is the
 * linear that reads y next (kernels/matmul.h's chain). */
embp_status embp_bert_linear(embp_bert *b, embp_linear *l, embp_op op, const float *x, int T,
                             float *y, const embp_linear *next, embp_error *err);

/* x (T, H) += y (T, H), rows split across the threads: a residual connection. */
void embp_bert_add_rows(const embp_bert *b, float *x, const float *y, int T);

/* The token types of a batch (types NULL: all 0) within b's [0, n_types); a model without
 * token types ignores them. The rest of the batch: embp_check_batch. */
embp_status embp_bert_check_types(const embp_bert *b, const int32_t *types, int n_tokens,
                                  embp_error *err);

/* x (H) = the word table's row for id, as fp32. */
void embp_bert_word_row(const embp_bert *b, int id, float *x);

/* "encoder.layer.N.<part>..." with part starting as names[i][0] -> "<layers>N.<names[i][1]>...",
 * written into buf; any other name as it is (a family's embp_bert_rename, from its table). */
const char *embp_bert_rename_layer(const char *bert_name, const char *layers,
                                   const char *const (*names)[2], size_t n_names, char *buf,
                                   size_t size);

/* Whether name holds `layers` and ends with one of ends: a family's dense_weight. */
int embp_bert_named_dense(const char *name, const char *layers, const char *const *ends,
                          size_t n_ends);

#endif
