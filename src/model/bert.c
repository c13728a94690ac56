/* BERT: the packed-token forward pass (loading is bert_load.c). Not here: tokenizing, pooling,
 * batching (runtime/). */
#include "model/bert_impl.h"

#include "model/arch.h"

#include <math.h>
#include <string.h>

#include <omp.h>

size_t embp_bert_weight_bytes(const embp_bert *b) {
    return b->weight_bytes;
}
int embp_bert_max_tokens(const embp_bert *b) {
    return b->max_tokens;
}
const char *embp_bert_int4_kernel(const embp_bert *b) {
    return b->int4_kernel ? b->int4_kernel : "";
}

const char *embp_bert_kernels_name(const embp_bert *b) {
    return b->k->name;
}

embp_status embp_bert_prepare(embp_bert *b, int tokens, embp_error *err) {
    return embp_mm_engine_prepare(b->eng, tokens, err);
}

void embp_bert_set_prof(embp_bert *b, embp_prof *p) {
    b->prof = p;
    embp_mm_engine_set_prof(b->eng, p);
}

/* ---------------------------------------------------------------- forward */

void embp_bert_word_row(const embp_bert *b, int id, float *x) {
    int H = b->H;
    size_t row = (size_t)id * H;
    switch (b->word_fmt) {
    case EMBP_TABLE_F32:
        memcpy(x, b->word + row, (size_t)H * sizeof(float));
        break;
    case EMBP_TABLE_BF16:
        b->k->bf16_to_f32(b->word16 + row, x, (size_t)H);
        break;
    case EMBP_TABLE_FP16:
        b->k->fp16_to_f32(b->word16 + row, x, (size_t)H);
        break;
    case EMBP_TABLE_INT8:
        for (int c = 0; c < H; c++)
            x[c] = (float)b->word8[row + c] * b->word_scale[id];
        break;
    }
}

/* x (T, H) = LN(word[id] + pos[position] + type[token type]), each sequence's rows converted
 * for `next` (the first layer's QKV) while in cache. BERT's positions run from 0 per
 * sequence; RoBERTa's (pos0 = pad + 1) count the non-pad tokens from pos0, a pad token taking
 * row pad. types NULL, or a model without token types (DistilBERT, whose transformers forward
 * takes none): every token is type 0. */
static void embed(embp_bert *b, const int32_t *ids, const int32_t *types, const int *offsets,
                  int n, const embp_linear *next) {
    int H = b->H;
#pragma omp parallel for schedule(static) if (n > 1) /* one sequence: no team to wait for */
    for (int s = 0; s < n; s++) {
        for (int t = offsets[s], pnext = b->pos0; t < offsets[s + 1]; t++) {
            int at = !b->pos0 ? t - offsets[s] : ids[t] == b->pad ? b->pad : pnext++;
            const float *p = b->pos + (size_t)at * H;
            const float *ty = b->type + (size_t)(types && !b->no_types ? types[t] : 0) * H;
            float *x = b->x + (size_t)t * H;
            embp_bert_word_row(b, ids[t], x);
            for (int c = 0; c < H; c++)
                x[c] += p[c] + ty[c];
            b->k->layernorm(x, NULL, b->emb_g, b->emb_b, 1, H, b->eps);
        }
        embp_linear_convert_rows(next, b->x, offsets[s], offsets[s + 1]);
    }
    embp_linear_set_ready(next, b->x, offsets[n]);
}

/* ctx (T, H) = attention per sequence and head over the fused qkv (T, 3H), with MPNet's bias by
 * relative position when the family has one; then, in the same parallel region, ctx's rows
 * converted for `next` (the attention output linear). A plan computing in bf16 or int8 runs
 * both of attention's products in bf16 where the CPU has them (kernels.h's attention_bf16): for
 * int8 that took MiniLM's attention 32 -> 24 ms of a 103 ms pass, and its vectors' cosine to
 * fp32 moved by noise only (real all-MiniLM-L6-v2, 2,500 retrieval sentences: mean 0.997482 ->
 * 0.997490, the change 8e-6 +- 9e-6; 558 corpus texts: 0.99606 -> 0.99593). */
static void attention(embp_bert *b, const int *offsets, int n, const embp_linear *next) {
    int H = b->H, D = b->D, NH = b->NH, T = offsets[n];
    float scale = 1.0f / sqrtf((float)D);
    embp_mm_type ct = embp_linear_type(next);
    void (*attend)(const float *, const float *, const float *, int, float *, int, int, int,
                   float, float *) = b->k->attention;
    if (b->k->attention_bf16 && ct != EMBP_MM_F32) /* bf16 or int8 compute, int4 weights or not */
        attend = b->k->attention_bf16;
#pragma omp parallel
    {
#pragma omp for schedule(dynamic, 1)
        for (int job = 0; job < n * NH; job++) {
            int s = job / NH, h = job % NH, t0 = offsets[s], len = offsets[s + 1] - t0;
            const float *q = b->qkv + (size_t)t0 * 3 * H + (size_t)h * D;
            float *scr = b->attn + (size_t)omp_get_thread_num() * b->attn_per_thread;
            float *ctx = b->ctx + (size_t)t0 * H + (size_t)h * D;
            if (b->rel_bias) /* MPNet */
                b->k->attention_bias(q, q + H, q + 2 * H, 3 * H, ctx, H, len, D, scale,
                                     b->rel_bias + (size_t)h * b->rel_stride + b->rel_zero, scr);
            else
                attend(q, q + H, q + 2 * H, 3 * H, ctx, H, len, D, scale, scr);
        }
        int nt = omp_get_num_threads(), me = omp_get_thread_num(), per = (T + nt - 1) / nt;
        int r0 = me * per < T ? me * per : T, r1 = r0 + per < T ? r0 + per : T;
        embp_linear_convert_rows(next, b->ctx, r0, r1);
    }
    embp_linear_set_ready(next, b->ctx, T);
}

/* y (T, H) = LN(y + r), rows split across the threads, each chunk converted for `next` (the
 * linear that reads y next) while in cache. */
static void add_layernorm(embp_bert *b, float *y, const float *r, const float *g,
                          const float *beta, int T, const embp_linear *next) {
    int H = b->H, chunk = 16;
#pragma omp parallel for schedule(static) if (T > chunk) /* one chunk: no team to wait for */
    for (int t0 = 0; t0 < T; t0 += chunk) {
        int rows = T - t0 < chunk ? T - t0 : chunk;
        b->k->layernorm(y + (size_t)t0 * H, r + (size_t)t0 * H, g, beta, rows, H, b->eps);
        embp_linear_convert_rows(next, y, t0, t0 + rows);
    }
    embp_linear_set_ready(next, y, T);
}

embp_status embp_bert_check_types(const embp_bert *b, const int32_t *types, int n_tokens,
                                  embp_error *err) {
    for (int t = 0; types && !b->no_types && t < n_tokens; t++)
        if (types[t] < 0 || types[t] >= b->n_types)
            return embp_fail(err, EMBP_EINVAL, "forward: token %d has type %d outside the "
                             "model's token types [0, %d)", t, types[t], b->n_types);
    return EMBP_OK;
}

/* y = l x: one dense layer, its GEMM time counted under op when profiling; next (or NULL) is
 * the layer that reads y next (matmul.h: int8 into int8 quantizes y once, in l's epilogue). */
embp_status embp_bert_linear(embp_bert *b, embp_linear *l, embp_op op, const float *x, int T,
                             float *y, const embp_linear *next, embp_error *err) {
    if (b->prof)
        b->prof->gemm = op;
    return embp_linear_forward_chain(l, x, T, y, next, err);
}

void embp_bert_add_rows(const embp_bert *b, float *x, const float *y, int T) {
    size_t n = (size_t)T * b->H;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

embp_status embp_bert_forward(embp_bert *b, const int32_t *ids, const int32_t *types,
                              const int *offsets, int n, const float **hidden, embp_error *err) {
    embp_status rc;
    if ((rc = embp_check_batch(ids, offsets, n, b->max_len, b->max_tokens, b->V, err)) ||
        (rc = embp_bert_check_types(b, types, offsets[n], err)))
        return rc;
    int T = offsets[n];
    embp_prof *p = b->prof;
    embp_prof_clock t = embp_prof_start(p);
    omp_set_num_threads(b->n_threads);
    embed(b, ids, types, offsets, n, b->L ? b->layers[0].qkv : NULL);
    embp_prof_mark(p, EMBP_OP_EMBED, &t);
    for (int i = 0; i < b->L; i++) {
        bert_layer *l = &b->layers[i];
        if ((rc = embp_bert_linear(b, l->qkv, EMBP_OP_GEMM_QKV, b->x, T, b->qkv, NULL, err)))
            return rc;
        t = embp_prof_start(p);
        attention(b, offsets, n, l->out);
        embp_prof_mark(p, EMBP_OP_ATTENTION, &t);
        if ((rc = embp_bert_linear(b, l->out, EMBP_OP_GEMM_OUT, b->ctx, T, b->tmp, NULL, err)))
            return rc;
        t = embp_prof_start(p);
        add_layernorm(b, b->x, b->tmp, l->ln1_g, l->ln1_b, T, l->ffn_in); /* x = LN(x + attn) */
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
        if ((rc = embp_bert_linear(b, l->ffn_in, EMBP_OP_GEMM_FFN_IN, b->x, T, b->ffn, l->ffn_out,
                                   err)) ||
            (rc = embp_bert_linear(b, l->ffn_out, EMBP_OP_GEMM_FFN_OUT, b->ffn, T, b->tmp, NULL,
                                   err)))
            return rc;
        t = embp_prof_start(p);
        add_layernorm(b, b->x, b->tmp, l->ln2_g, l->ln2_b, T,
                      i + 1 < b->L ? b->layers[i + 1].qkv : NULL);
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
    }
    *hidden = b->x;
    return EMBP_OK;
}
