/* Qwen3 (qwen3.h), and the decoders that are Qwen3 without parts (Qwen2: no q/k norm, biases on
 * q/k/v; Mistral: no q/k norm, a sliding window; Llama: no q/k norm, optional biases): loading
 * and the forward pass over packed tokens. Per layer:
 *   h = RMSNorm(x); q, k, v = h Wq, h Wk, h Wv (one fused GEMM); q, k = RMSNorm per head, then
 *   rotated by position (model/rope.h); ctx = causal GQA attention (model/attend.h);
 *   x += ctx Wo; h = RMSNorm(x); x += down(silu(h Wgate) * h Wup) (gate and up one GEMM);
 * then x = RMSNorm(x). Dense layers are kernels/matmul.h linears, so every precision plan runs;
 * RMSNorm and SwiGLU are here. What every family has (shapes, kernels, the GEMM engine, the token
 * table and its gather, the loaders of tables and stacked dense layers in every plan) is bert's
 * core (model/bert_impl.h), as for model/rotenc.c. */
#include "model/qwen3.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "kernels/matmul.h"
#include "model/arch.h"
#include "model/attend.h"
#include "model/bert_impl.h"
#include "model/rope.h"

typedef struct {
    embp_linear *qkv, *o, *gate_up, *down; /* (H, (NH+2NKV)D) (NH D, H) (H, 2I) (I, H) */
    float *in_g, *post_g, *q_g, *k_g;      /* (H) (H) (D) (D) */
} q3_layer;

struct embp_qwen3 {
    /* bert's core (model/bert_impl.h): H, L, NH (q heads), D, I, V, eps, max_tokens, max_len,
     * n_threads, kernels, GEMM engine, int4 kernel, the token table, the weight count, prof */
    embp_bert *core;
    int NKV, window;
    int qk_norm, qkv_bias, o_bias; /* Qwen3: q/k RMSNorm; Qwen2: q/k/v biases; Llama: all */
    q3_layer *layers;
    float *norm_g;
    embp_rope rope;
    void *arena; /* rows are bucket(max_tokens) so a GEMM may pad its M */
    float *x, *h, *qkv, *ctx, *gu, *act, *attn;
};

size_t embp_qwen3_weight_bytes(const embp_qwen3 *m) {
    return m->core->weight_bytes;
}
const char *embp_qwen3_kernels_name(const embp_qwen3 *m) {
    return m->core->k->name;
}
void embp_qwen3_set_prof(embp_qwen3 *m, embp_prof *p) {
    embp_bert_set_prof(m->core, p);
}
embp_status embp_qwen3_prepare(embp_qwen3 *m, int tokens, embp_error *err) {
    return embp_bert_prepare(m->core, tokens, err);
}

int embp_qwen3_dense_weight(const char *name) {
    static const char *const ends[] = {".self_attn.q_proj.weight", ".self_attn.k_proj.weight",
                                       ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
                                       ".mlp.gate_proj.weight",    ".mlp.up_proj.weight",
                                       ".mlp.down_proj.weight"};
    return embp_bert_named_dense(name, "layers.", ends, sizeof ends / sizeof ends[0]);
}

/* ---------------------------------------------------------------- loading */

/* Tensors as Qwen3Model saves them, or under "model." (Qwen3ForCausalLM): bert's loader tries
 * this prefix, then none. */
#define Q3_PREFIX "model."

/* BERT's name of the token table, which bert's loader asks for, in Qwen3's file. */
static const char *q3_rename(const char *bert_name, char *buf, size_t size) {
    (void)buf, (void)size;
    return strcmp(bert_name, "embeddings.word_embeddings.weight") == 0 ? "embed_tokens.weight"
                                                                        : bert_name;
}

/* A gain vector (n) owned by m: layer `layer`'s `what` ("input_layernorm"), or `what` itself
 * when layer < 0. */
static embp_status load_gain(embp_qwen3 *m, const embp_safetensors *st, int layer,
                             const char *what, int n, float **out, embp_error *err) {
    char name[160];
    if (layer >= 0)
        snprintf(name, sizeof name, "layers.%d.%s.weight", layer, what);
    else
        snprintf(name, sizeof name, "%s.weight", what);
    return embp_bert_load_table(m->core, st, Q3_PREFIX, name, n, 0, out, err);
}

/* Layer `layer`'s projections `parts` (n of them, rows[i] x K each, "self_attn.q_proj") stacked
 * into one linear on bert's loader; biases when `bias`. */
static embp_status load_linear(embp_qwen3 *m, embp_bert_loader *ld, int layer,
                               const char *const *parts, const int *rows, int n, int K, int bias,
                               embp_linear **out, embp_error *err) {
    return embp_bert_load_layer_parts(m->core, ld, "layers.", layer, parts, rows, n, K, bias, 0,
                                      out, err);
}

static embp_status load_layer(embp_qwen3 *m, embp_bert_loader *ld, int i, embp_error *err) {
    static const char *const qkv[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
    static const char *const o[] = {"self_attn.o_proj"}, *const gu[] = {"mlp.gate_proj",
                                                                        "mlp.up_proj"};
    static const char *const down[] = {"mlp.down_proj"};
    embp_bert *b = m->core;
    int qkv_rows[3] = {b->NH * b->D, m->NKV * b->D, m->NKV * b->D}, h[1] = {b->H};
    int gu_rows[2] = {b->I, b->I};
    q3_layer *l = &m->layers[i];
    embp_status rc;
    if ((rc = load_linear(m, ld, i, qkv, qkv_rows, 3, b->H, m->qkv_bias, &l->qkv, err)) ||
        (rc = load_linear(m, ld, i, o, h, 1, b->NH * b->D, m->o_bias, &l->o, err)) ||
        (rc = load_linear(m, ld, i, gu, gu_rows, 2, b->H, 0, &l->gate_up, err)) ||
        (rc = load_linear(m, ld, i, down, h, 1, b->I, 0, &l->down, err)) ||
        (rc = load_gain(m, ld->st, i, "input_layernorm", b->H, &l->in_g, err)) ||
        (rc = load_gain(m, ld->st, i, "post_attention_layernorm", b->H, &l->post_g, err)))
        return rc;
    if (m->qk_norm && ((rc = load_gain(m, ld->st, i, "self_attn.q_norm", b->D, &l->q_g, err)) ||
                       (rc = load_gain(m, ld->st, i, "self_attn.k_norm", b->D, &l->k_g, err))))
        return rc;
    return EMBP_OK;
}

static embp_status load_layers(embp_qwen3 *m, const embp_safetensors *st,
                               const embp_bert_precision *prec, embp_error *err) {
    embp_bert *b = m->core;
    int QD = b->NH * b->D, QKV = QD + 2 * m->NKV * b->D, maxn = QKV, maxk = b->H;
    maxn = 2 * b->I > maxn ? 2 * b->I : maxn;
    maxk = QD > maxk ? QD : maxk;
    maxk = b->I > maxk ? b->I : maxk;
    embp_bert_loader ld;
    embp_status rc = embp_bert_loader_open(&ld, st, Q3_PREFIX, prec, maxn, maxk, err);
    for (int i = 0; rc == EMBP_OK && i < b->L; i++)
        rc = load_layer(m, &ld, i, err);
    embp_bert_loader_close(&ld);
    return rc;
}

/* One block for every activation of a forward over bucket(max_tokens) rows. */
static embp_status alloc_arena(embp_qwen3 *m, embp_error *err) {
    embp_bert *b = m->core;
    size_t Tp = (size_t)embp_mm_bucket(b->max_tokens), H = (size_t)b->H;
    size_t QKV = (size_t)(b->NH + 2 * m->NKV) * b->D, QD = (size_t)b->NH * b->D;
    size_t sizes[7] = {Tp * H,     Tp * (H > QD ? H : QD), Tp * QKV,
                       Tp * QD,    Tp * 2 * (size_t)b->I,  Tp * (size_t)b->I,
                       embp_attend_scratch_floats(b->D) * (size_t)b->n_threads};
    float **ptrs[7] = {&m->x, &m->h, &m->qkv, &m->ctx, &m->gu, &m->act, &m->attn};
    return embp_bert_arena(&m->arena, sizes, ptrs, 7, b->max_tokens, err);
}

embp_status embp_qwen3_load(const embp_model_config *cfg, const embp_safetensors *st,
                            const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                            embp_qwen3 **out, embp_error *err) {
    *out = NULL;
    if (cfg->kv_heads < 1 || cfg->heads % cfg->kv_heads || cfg->head_dim < 2 ||
        cfg->head_dim % 2)
        return embp_fail(err, EMBP_ECONFIG, "config.json: num_attention_heads %d, "
                         "num_key_value_heads %d, head_dim %d do not describe a Qwen3",
                         cfg->heads, cfg->kv_heads, cfg->head_dim);
    if (max_len < 1 || max_len > cfg->max_position || max_tokens < max_len)
        return embp_fail(err, EMBP_EINVAL, "max sequence length %d must be in 1..%d "
                         "(max_position_embeddings) and <= max_batch_tokens %d", max_len,
                         cfg->max_position, max_tokens);
    embp_qwen3 *m = embp_calloc(1, sizeof *m);
    embp_bert *b = embp_calloc(1, sizeof *b);
    if (!m || !b) {
        embp_free(m);
        embp_free(b);
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    }
    m->core = b;
    *b = (embp_bert){.H = cfg->hidden, .L = cfg->layers, .NH = cfg->heads, .D = cfg->head_dim,
                     .I = cfg->intermediate, .V = cfg->vocab_size, .P = cfg->max_position,
                     .eps = cfg->layer_norm_eps, .rename = q3_rename, .max_tokens = max_tokens,
                     .max_len = max_len,
                     .n_threads = n_threads > 0 ? n_threads : embp_cpu_get()->n_cores,
                     .k = embp_kernels_pick(embp_cpu_get())};
    if (b->n_threads < 1)
        b->n_threads = 1;
    m->NKV = cfg->kv_heads, m->window = cfg->sliding_window;
    int qwen2 = strcmp(cfg->model_type, "qwen2") == 0;
    m->qk_norm = strcmp(cfg->model_type, "qwen3") == 0;
    m->qkv_bias = qwen2 || cfg->attention_bias;
    m->o_bias = !qwen2 && cfg->attention_bias;
    embp_bert_precision prec;
    embp_bert_precision_of(plan, &prec);
    embp_status rc = EMBP_OK;
    omp_set_num_threads(b->n_threads);
    if (!(m->layers = embp_calloc((size_t)b->L, sizeof *m->layers)))
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory");
    if (rc || (rc = embp_rope_init(&m->rope, b->D, cfg->rope_theta, max_len, err)) ||
        (rc = embp_mm_engine_create(b->k, max_tokens, &b->eng, err)) ||
        (rc = embp_bert_load_words(b, st, Q3_PREFIX, prec.table, err)) ||
        (rc = load_layers(m, st, &prec, err)) ||
        (rc = load_gain(m, st, -1, "norm", b->H, &m->norm_g, err)) || (rc = alloc_arena(m, err))) {
        embp_qwen3_free(m);
        return rc;
    }
    *out = m;
    return EMBP_OK;
}

void embp_qwen3_free(embp_qwen3 *m) {
    if (!m)
        return;
    for (int i = 0; m->layers && i < m->core->L; i++) {
        q3_layer *l = &m->layers[i];
        embp_linear_free(l->qkv);
        embp_linear_free(l->o);
        embp_linear_free(l->gate_up);
        embp_linear_free(l->down);
        embp_free_aligned(l->in_g);
        embp_free_aligned(l->post_g);
        embp_free_aligned(l->q_g);
        embp_free_aligned(l->k_g);
    }
    embp_free(m->layers);
    embp_rope_free(&m->rope);
    embp_free_aligned(m->norm_g);
    embp_free_aligned(m->arena);
    embp_bert_free(m->core); /* the token table, the engine (after its linears) */
    embp_free(m);
}

/* ---------------------------------------------------------------- forward */

/* y = g * x / sqrt(mean(x^2) + eps) for one row of n, as Qwen3RMSNorm (fp32; the sum in
 * double). y may be x. */
static void rmsnorm(const float *x, float *y, const float *g, int n, float eps) {
    double ss = 0.0;
    for (int c = 0; c < n; c++)
        ss += (double)x[c] * x[c];
    float r = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int c = 0; c < n; c++)
        y[c] = g[c] * (x[c] * r);
}

static void rmsnorm_rows(const embp_qwen3 *m, const float *x, float *y, const float *g, int T) {
    int H = m->core->H;
    float eps = m->core->eps;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++)
        rmsnorm(x + (size_t)t * H, y + (size_t)t * H, g, H, eps);
}

static void embed(embp_qwen3 *m, const int32_t *ids, int T) {
    int H = m->core->H;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++)
        embp_bert_word_row(m->core, ids[t], m->x + (size_t)t * H);
}

/* q and k of every token: RMSNorm per head (Qwen3), then rotated by the token's position. */
static void qk_norm_rope(embp_qwen3 *m, const q3_layer *l, const int *offsets, int n) {
    int D = m->core->D, NH = m->core->NH, stride = (NH + 2 * m->NKV) * D;
    float eps = m->core->eps;
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < n; s++)
        for (int t = offsets[s]; t < offsets[s + 1]; t++) {
            float *q = m->qkv + (size_t)t * stride, *k = q + (size_t)NH * D;
            for (int h = 0; m->qk_norm && h < NH; h++)
                rmsnorm(q + (size_t)h * D, q + (size_t)h * D, l->q_g, D, eps);
            for (int h = 0; m->qk_norm && h < m->NKV; h++)
                rmsnorm(k + (size_t)h * D, k + (size_t)h * D, l->k_g, D, eps);
            embp_rope_apply(&m->rope, q, t - offsets[s], NH, D);
            embp_rope_apply(&m->rope, k, t - offsets[s], m->NKV, D);
        }
}

/* act (T, I) = silu(gate) * up from gu (T, 2I): gate in the first I columns. */
static void swiglu(embp_qwen3 *m, int T) {
    size_t I = (size_t)m->core->I;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *g = m->gu + (size_t)t * 2 * I, *u = g + I;
        float *a = m->act + (size_t)t * I;
        for (size_t i = 0; i < I; i++)
            a[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}


embp_status embp_qwen3_forward(embp_qwen3 *m, const int32_t *ids, const int *offsets, int n,
                               const float **hidden, embp_error *err) {
    embp_bert *b = m->core;
    embp_status rc;
    if ((rc = embp_check_batch(ids, offsets, n, b->max_len, b->max_tokens, b->V, err)))
        return rc;
    int T = offsets[n], D = b->D, NH = b->NH, QKV = (NH + 2 * m->NKV) * D;
    embp_prof *p = b->prof;
    embp_prof_clock t = embp_prof_start(p);
    omp_set_num_threads(b->n_threads);
    embed(m, ids, T);
    embp_prof_mark(p, EMBP_OP_EMBED, &t);
    embp_attend_spec a = {.D = D, .n_q_heads = NH, .n_kv_heads = m->NKV, .q = m->qkv,
                          .k = m->qkv + (size_t)NH * D, .v = m->qkv + (size_t)(NH + m->NKV) * D,
                          .q_stride = QKV, .kv_stride = QKV, .out = m->ctx,
                          .out_stride = NH * D, .scale = 1.0f / sqrtf((float)D), .causal = 1,
                          .left = m->window > 0 ? m->window - 1 : -1, .right = -1};
    for (int i = 0; i < b->L; i++) {
        q3_layer *l = &m->layers[i];
        t = embp_prof_start(p);
        rmsnorm_rows(m, m->x, m->h, l->in_g, T);
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
        if ((rc = embp_bert_linear(b, l->qkv, EMBP_OP_GEMM_QKV, m->h, T, m->qkv, NULL, err)))
            return rc;
        t = embp_prof_start(p);
        qk_norm_rope(m, l, offsets, n);
        embp_attend(b->k, &a, offsets, n, m->attn, b->n_threads);
        embp_prof_mark(p, EMBP_OP_ATTENTION, &t);
        if ((rc = embp_bert_linear(b, l->o, EMBP_OP_GEMM_OUT, m->ctx, T, m->h, NULL, err)))
            return rc;
        t = embp_prof_start(p);
        embp_bert_add_rows(b, m->x, m->h, T);
        rmsnorm_rows(m, m->x, m->h, l->post_g, T);
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
        if ((rc = embp_bert_linear(b, l->gate_up, EMBP_OP_GEMM_FFN_IN, m->h, T, m->gu, NULL, err)))
            return rc;
        swiglu(m, T);
        if ((rc = embp_bert_linear(b, l->down, EMBP_OP_GEMM_FFN_OUT, m->act, T, m->h, NULL, err)))
            return rc;
        embp_bert_add_rows(b, m->x, m->h, T);
    }
    rmsnorm_rows(m, m->x, m->x, m->norm_g, T);
    *hidden = m->x;
    return EMBP_OK;
}
