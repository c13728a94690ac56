/* bert_impl.h: the BERT model's fields, private to model/: bert_load.c fills them (weights,
 * packed linears, scratch), bert.c runs the forward pass over them. Other folders use bert.h. */
#ifndef EMBP_MODEL_BERT_IMPL_H
#define EMBP_MODEL_BERT_IMPL_H

#include "model/bert.h"

typedef struct {
    embp_linear *qkv, *out, *ffn_in, *ffn_out; /* (H,3H) (H,H) (H,I)+GELU (I,H) */
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;      /* (H) each */
} bert_layer;

struct embp_bert {
    int H, L, NH, D, I, V, P; /* hidden, layers, heads, head size, FFN, vocab, positions */
    float eps;
    int max_tokens, max_len, n_threads;
    const embp_kernels *k;
    embp_mm_engine *eng;
    const char *int4_kernel; /* static name of the int4 variant, or NULL */
    float *pos, *type0, *emb_g, *emb_b; /* (P,H) (H) (H) (H) */
    embp_table_format word_fmt;         /* word table (V,H): one of these, as word_fmt says */
    float *word;                        /* f32 */
    uint16_t *word16;                   /* bf16 or fp16 */
    int8_t *word8;                      /* int8 with word_scale (V) */
    float *word_scale;
    bert_layer *layers;
    size_t weight_bytes;
    /* scratch, one block: rows are bucket(max_tokens) so a GEMM may pad its M */
    void *arena;
    float *x, *tmp, *ctx, *qkv, *ffn, *attn; /* (T,H) (T,H) (T,H) (T,3H) (T,I) per-thread */
    size_t attn_per_thread;
    embp_prof *prof; /* NULL unless a benchmark profiles (embp_bert_set_prof) */
};

#endif
