/* Qwen3 (qwen3.h), and the decoders that are Qwen3 without parts (Qwen2: no q/k norm, biases on
 * q/k/v; Mistral: no q/k norm, a sliding window; Llama: no q/k norm, optional biases): loading
 * and the forward pass over packed tokens. Per layer:
 *   h = RMSNorm(x); q, k, v = h Wq, h Wk, h Wv (one fused GEMM); q, k = RMSNorm per head, then
 *   rotated by position (model/rope.h); ctx = causal GQA attention (model/attend.h);
 *   x += ctx Wo; h = RMSNorm(x); x += down(silu(h Wgate) * h Wup) (gate and up one GEMM);
 * then x = RMSNorm(x). Dense layers are kernels/matmul.h linears, so every precision plan runs;
 * RMSNorm, SwiGLU and the embedding gather are here. */
#include "model/qwen3.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/fp.h"
#include "io/qformat.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "model/arch.h"
#include "model/attend.h"
#include "model/bert_impl.h"
#include "model/rope.h"

typedef struct {
    embp_linear *qkv, *o, *gate_up, *down; /* (H, (NH+2NKV)D) (NH D, H) (H, 2I) (I, H) */
    float *in_g, *post_g, *q_g, *k_g;      /* (H) (H) (D) (D) */
} q3_layer;

struct embp_qwen3 {
    int H, L, NH, NKV, D, I, V, window;
    int qk_norm, qkv_bias, o_bias; /* Qwen3: q/k RMSNorm; Qwen2: q/k/v biases; Llama: all */
    float eps;
    int max_tokens, max_len, n_threads;
    const embp_kernels *k;
    embp_mm_engine *eng;
    embp_bert_precision prec;
    const char *int4_kernel;
    embp_table_format word_fmt; /* the token table (V, H): word, word16 or word8 + word_scale */
    float *word;
    uint16_t *word16;
    int8_t *word8;
    float *word_scale;
    q3_layer *layers;
    float *norm_g;
    embp_rope rope;
    size_t weight_bytes;
    void *arena; /* rows are bucket(max_tokens) so a GEMM may pad its M */
    float *x, *h, *qkv, *ctx, *gu, *act, *attn;
    embp_prof *prof;
};

size_t embp_qwen3_weight_bytes(const embp_qwen3 *m) {
    return m->weight_bytes;
}
const char *embp_qwen3_kernels_name(const embp_qwen3 *m) {
    return m->k->name;
}
void embp_qwen3_set_prof(embp_qwen3 *m, embp_prof *p) {
    m->prof = p;
    embp_mm_engine_set_prof(m->eng, p);
}

int embp_qwen3_dense_weight(const char *name) {
    static const char *const ends[] = {".self_attn.q_proj.weight", ".self_attn.k_proj.weight",
                                       ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
                                       ".mlp.gate_proj.weight",    ".mlp.up_proj.weight",
                                       ".mlp.down_proj.weight"};
    return embp_bert_named_dense(name, "layers.", ends, sizeof ends / sizeof ends[0]);
}

/* ---------------------------------------------------------------- loading */

/* Tensor `name` as Qwen3Model saves it, or under "model.". */
static const embp_st_tensor *find(const embp_safetensors *st, const char *name) {
    char full[256];
    snprintf(full, sizeof full, "model.%s", name);
    const embp_st_tensor *t = embp_st_find(st, name);
    return t ? t : embp_st_find(st, full);
}

/* n values of float tensor t from element `at` into dst as fp32. */
static embp_status to_f32(const embp_qwen3 *m, const embp_st_tensor *t, size_t at, size_t n,
                          float *dst, embp_error *err) {
    const char *p = (const char *)t->data + at * embp_dtype_size(t->dtype);
    if (t->dtype == EMBP_DT_F32)
        memcpy(dst, p, n * sizeof(float));
    else if (t->dtype == EMBP_DT_F16)
        m->k->fp16_to_f32((const uint16_t *)(const void *)p, dst, n);
    else if (t->dtype == EMBP_DT_BF16)
        m->k->bf16_to_f32((const uint16_t *)(const void *)p, dst, n);
    else
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' has dtype %s, expected F32, F16 or "
                         "BF16", t->file, t->name, embp_dtype_name(t->dtype));
    return EMBP_OK;
}

/* Float tensor `name` of shape (d0) or (d0, d1) into dst. */
static embp_status read_f32(const embp_qwen3 *m, const embp_safetensors *st, const char *name,
                            int d0, int d1, float *dst, embp_error *err) {
    const embp_st_tensor *t = find(st, name);
    embp_status rc;
    if (!t)
        return embp_fail(err, EMBP_EFORMAT, "model.safetensors: tensor '%s' is missing", name);
    if ((rc = embp_st_expect_shape(t, d0, d1, err)) ||
        (rc = to_f32(m, t, 0, (size_t)t->n_elems, dst, err)))
        return rc;
    embp_st_release_tensor(st, t);
    return EMBP_OK;
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
    if (!(*out = embp_malloc_aligned((size_t)n * sizeof(float))))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for tensor '%s'", name);
    m->weight_bytes += (size_t)n * sizeof(float);
    return read_f32(m, st, name, n, 0, *out, err);
}

/* The token table as m->word_fmt says, one row at a time (no fp32 copy of a 151k-row table
 * when the plan keeps it in bf16 or int8). A file from embp quantize may hold it as int8 per
 * row: taken as it is for an int8 table, else dequantized. */
static embp_status load_words(embp_qwen3 *m, const embp_safetensors *st, embp_error *err) {
    const char *name = "embed_tokens.weight";
    const embp_st_tensor *t = find(st, name);
    size_t n = (size_t)m->V * m->H;
    embp_status rc;
    if (!t)
        return embp_fail(err, EMBP_EFORMAT, "model.safetensors: tensor '%s' is missing", name);
    embp_qf_weight qw = {0};
    int stored8 = embp_qf_form_of(t) == EMBP_QF_INT8;
    if (stored8 ? (rc = embp_qf_weight_read(st, t, m->V, m->H, &qw, err))
                : (rc = embp_st_expect_shape(t, m->V, m->H, err)))
        return rc;
    embp_table_format f = m->word_fmt;
    size_t bytes = f == EMBP_TABLE_F32 ? n * 4 : f == EMBP_TABLE_INT8 ? n + (size_t)m->V * 4 : n * 2;
    int ok = f == EMBP_TABLE_F32    ? !!(m->word = embp_malloc_aligned(n * sizeof(float)))
             : f == EMBP_TABLE_INT8 ? (m->word8 = embp_malloc_aligned(n)) &&
                                          (m->word_scale = embp_malloc_aligned((size_t)m->V * 4))
                                    : !!(m->word16 = embp_malloc_aligned(n * sizeof(uint16_t)));
    float *row = embp_malloc_aligned((size_t)m->H * sizeof(float));
    if (!ok || !row) {
        embp_free_aligned(row);
        return embp_fail(err, EMBP_ENOMEM, "out of memory for the token table (%zu MB)",
                         bytes >> 20);
    }
    m->weight_bytes += bytes;
    rc = EMBP_OK;
    for (int v = 0; v < m->V && rc == EMBP_OK; v++) {
        size_t at = (size_t)v * m->H;
        if (stored8 && f == EMBP_TABLE_INT8) {
            memcpy(m->word8 + at, (const int8_t *)qw.q + at, (size_t)m->H);
            m->word_scale[v] = ((const float *)qw.scales)[v];
            continue;
        }
        if (stored8)
            embp_dequant_int8((const int8_t *)qw.q + at, (const float *)qw.scales + v, 1, m->H, row);
        else if ((rc = to_f32(m, t, at, (size_t)m->H, row, err)))
            break;
        if (f == EMBP_TABLE_F32)
            memcpy(m->word + at, row, (size_t)m->H * sizeof(float));
        else if (f == EMBP_TABLE_INT8)
            rc = embp_quant_int8(row, 1, m->H, m->word8 + at, m->word_scale + v, err);
        else
            for (int c = 0; c < m->H; c++)
                m->word16[at + c] = f == EMBP_TABLE_BF16 ? embp_f32_to_bf16(row[c])
                                                         : embp_f32_to_fp16(row[c]);
    }
    embp_free_aligned(row);
    embp_st_release_tensor(st, t);
    return rc;
}

/* Load-time scratch for the largest linear: its weights as fp32 (w), or as stored by embp
 * quantize (q8 + sc8, q4 + sc4), and its biases. */
typedef struct {
    const embp_safetensors *st;
    size_t big, maxn; /* N x K and N of the largest linear */
    float *w, *bias, *sc8;
    int8_t *q8;
    uint8_t *q4;
    uint16_t *sc4;
} loader;

/* Part `name` (rows, K) of a stacked linear into row `at` of ld's scratch, in its stored form
 * (form, *g as found on the first part; the others must match). */
static embp_status load_part(embp_qwen3 *m, loader *ld, const char *name, int rows, int K, int at,
                             int first, embp_qf_form *form, int *g, embp_error *err) {
    const embp_st_tensor *t = find(ld->st, name);
    if (!t)
        return embp_fail(err, EMBP_EFORMAT, "model.safetensors: tensor '%s' is missing", name);
    embp_qf_form f = embp_qf_form_of(t);
    if (!first && f != *form)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' is %s, its siblings are not",
                         t->file, t->name, embp_dtype_name(t->dtype));
    *form = f;
    embp_status rc;
    if (f == EMBP_QF_FLOAT) {
        if ((rc = embp_st_expect_shape(t, rows, K, err)) ||
            (rc = to_f32(m, t, 0, (size_t)rows * K, ld->w + (size_t)at * K, err)))
            return rc;
        embp_st_release_tensor(ld->st, t);
        return EMBP_OK;
    }
    embp_qf_weight qw;
    if ((rc = embp_qf_weight_read(ld->st, t, rows, K, &qw, err)))
        return rc;
    if (f == EMBP_QF_INT8) {
        memcpy(ld->q8 + (size_t)at * K, qw.q, (size_t)rows * K);
        memcpy(ld->sc8 + at, qw.scales, (size_t)rows * sizeof(float));
        return EMBP_OK;
    }
    if (!first && qw.group_size != *g)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s_scale' has group size %d, its "
                         "siblings %d", t->file, t->name, qw.group_size, *g);
    *g = qw.group_size;
    memcpy(ld->q4 + (size_t)at * (K / 2), qw.q, (size_t)rows * (K / 2));
    memcpy(ld->sc4 + (size_t)at * (K / *g), qw.scales, (size_t)rows * (K / *g) * 2);
    return EMBP_OK;
}

/* Layer `layer`'s projections `names` (n of them, rows[i] x K each, "self_attn.q_proj") stacked
 * into one linear; biases when `bias`. Weights quantized ahead go to the kernels as they are
 * when the plan's compute takes them, else are dequantized (as bert_load.c does). */
static embp_status load_linear(embp_qwen3 *m, loader *ld, int layer, const char *const *names,
                               const int *rows, int n, int K, int bias, embp_linear **out,
                               embp_error *err) {
    embp_qf_form form = EMBP_QF_FLOAT;
    int g = 0, N = 0;
    embp_status rc;
    char name[160];
    for (int i = 0; i < n; N += rows[i++]) {
        snprintf(name, sizeof name, "layers.%d.%s.weight", layer, names[i]);
        if ((rc = load_part(m, ld, name, rows[i], K, N, i == 0, &form, &g, err)))
            return rc;
        snprintf(name, sizeof name, "layers.%d.%s.bias", layer, names[i]);
        if (bias && (rc = read_f32(m, ld->st, name, rows[i], 0, ld->bias + N, err)))
            return rc;
    }
    const float *b = bias ? ld->bias : NULL;
    embp_mm_type c = m->prec.compute;
    int int4 = c == EMBP_MM_INT4_BF16 || c == EMBP_MM_INT4_INT8;
    if (form == EMBP_QF_INT8 && c == EMBP_MM_INT8)
        rc = embp_linear_create_s8(m->eng, ld->q8, ld->sc8, b, K, N, 0, out, err);
    else if (form == EMBP_QF_INT4 && int4)
        rc = embp_linear_create_int4_q(m->eng, ld->q4, ld->sc4, b, K, N, g, c, 0, out,
                                       &m->int4_kernel, err);
    else {
        if (form == EMBP_QF_INT8)
            embp_dequant_int8(ld->q8, ld->sc8, N, K, ld->w);
        else if (form == EMBP_QF_INT4)
            embp_dequant_int4(ld->q4, ld->sc4, N, K, g, ld->w);
        else
            embp_round_weights(ld->w, (size_t)N * K, m->prec.round);
        rc = int4 ? embp_linear_create_int4(m->eng, ld->w, b, K, N, m->prec.group_size, c, 0, out,
                                            &m->int4_kernel, err)
                  : embp_linear_create(m->eng, ld->w, b, K, N, c, 0, out, err);
    }
    if (rc == EMBP_OK)
        m->weight_bytes += embp_linear_bytes(*out);
    return rc;
}

static embp_status load_layer(embp_qwen3 *m, loader *ld, int i, embp_error *err) {
    static const char *const qkv[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
    static const char *const o[] = {"self_attn.o_proj"}, *const gu[] = {"mlp.gate_proj",
                                                                        "mlp.up_proj"};
    static const char *const down[] = {"mlp.down_proj"};
    int qkv_rows[3] = {m->NH * m->D, m->NKV * m->D, m->NKV * m->D}, h[1] = {m->H};
    int gu_rows[2] = {m->I, m->I};
    q3_layer *l = &m->layers[i];
    embp_status rc;
    if ((rc = load_linear(m, ld, i, qkv, qkv_rows, 3, m->H, m->qkv_bias, &l->qkv, err)) ||
        (rc = load_linear(m, ld, i, o, h, 1, m->NH * m->D, m->o_bias, &l->o, err)) ||
        (rc = load_linear(m, ld, i, gu, gu_rows, 2, m->H, 0, &l->gate_up, err)) ||
        (rc = load_linear(m, ld, i, down, h, 1, m->I, 0, &l->down, err)) ||
        (rc = load_gain(m, ld->st, i, "input_layernorm", m->H, &l->in_g, err)) ||
        (rc = load_gain(m, ld->st, i, "post_attention_layernorm", m->H, &l->post_g, err)))
        return rc;
    if (m->qk_norm && ((rc = load_gain(m, ld->st, i, "self_attn.q_norm", m->D, &l->q_g, err)) ||
                       (rc = load_gain(m, ld->st, i, "self_attn.k_norm", m->D, &l->k_g, err))))
        return rc;
    return EMBP_OK;
}

static embp_status load_layers(embp_qwen3 *m, const embp_safetensors *st, embp_error *err) {
    size_t H = (size_t)m->H, QD = (size_t)m->NH * m->D, KVD = (size_t)m->NKV * m->D;
    size_t I = (size_t)m->I, sizes[4] = {(QD + 2 * KVD) * H, H * QD, 2 * I * H, H * I};
    loader ld = {.st = st, .maxn = QD + 2 * KVD > 2 * I ? QD + 2 * KVD : 2 * I};
    for (int i = 0; i < 4; i++)
        ld.big = sizes[i] > ld.big ? sizes[i] : ld.big;
    ld.maxn = ld.maxn > H ? ld.maxn : H;
    ld.w = embp_malloc(ld.big * sizeof(float));
    ld.bias = embp_malloc(ld.maxn * sizeof(float));
    ld.q8 = embp_malloc(ld.big);
    ld.sc8 = embp_malloc(ld.maxn * sizeof(float));
    ld.q4 = embp_malloc(ld.big / 2);
    ld.sc4 = embp_malloc(ld.big / 16 * sizeof(uint16_t));
    embp_status rc = EMBP_OK;
    if (!ld.w || !ld.bias || !ld.q8 || !ld.sc8 || !ld.q4 || !ld.sc4)
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory for %zu MB of load scratch",
                       ld.big * 6 >> 20);
    for (int i = 0; rc == EMBP_OK && i < m->L; i++)
        rc = load_layer(m, &ld, i, err);
    embp_free(ld.w);
    embp_free(ld.bias);
    embp_free(ld.q8);
    embp_free(ld.sc8);
    embp_free(ld.q4);
    embp_free(ld.sc4);
    return rc;
}

/* One block for every activation of a forward over bucket(max_tokens) rows; not cleared (fresh
 * pages cost nothing until a batch that large touches them, as bert_load.c's). */
static embp_status alloc_arena(embp_qwen3 *m, embp_error *err) {
    size_t Tp = (size_t)embp_mm_bucket(m->max_tokens), H = (size_t)m->H;
    size_t QKV = (size_t)(m->NH + 2 * m->NKV) * m->D, QD = (size_t)m->NH * m->D;
    size_t sizes[7] = {Tp * H,     Tp * (H > QD ? H : QD), Tp * QKV,
                       Tp * QD,    Tp * 2 * (size_t)m->I,  Tp * (size_t)m->I,
                       embp_attend_scratch_floats(m->D) * (size_t)m->n_threads};
    float **ptrs[7] = {&m->x, &m->h, &m->qkv, &m->ctx, &m->gu, &m->act, &m->attn};
    size_t total = 0;
    for (int i = 0; i < 7; i++)
        total += (sizes[i] + 15) / 16 * 16;
    if (!(m->arena = embp_malloc_aligned(total * sizeof(float))))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for %zu MB of forward scratch "
                         "(max_batch_tokens %d)", total * 4 >> 20, m->max_tokens);
    float *p = m->arena;
    for (int i = 0; i < 7; i++) {
        *ptrs[i] = p;
        p += (sizes[i] + 15) / 16 * 16;
    }
    return EMBP_OK;
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
    if (!m)
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    *m = (embp_qwen3){.H = cfg->hidden, .L = cfg->layers, .NH = cfg->heads, .NKV = cfg->kv_heads,
                      .D = cfg->head_dim, .I = cfg->intermediate, .V = cfg->vocab_size,
                      .window = cfg->sliding_window,
                      .eps = cfg->layer_norm_eps, .max_tokens = max_tokens, .max_len = max_len,
                      .n_threads = n_threads > 0 ? n_threads : embp_cpu_get()->n_cores,
                      .k = embp_kernels_pick(embp_cpu_get())};
    if (m->n_threads < 1)
        m->n_threads = 1;
    int qwen2 = strcmp(cfg->model_type, "qwen2") == 0;
    m->qk_norm = strcmp(cfg->model_type, "qwen3") == 0;
    m->qkv_bias = qwen2 || cfg->attention_bias;
    m->o_bias = !qwen2 && cfg->attention_bias;
    embp_bert_precision_of(plan, &m->prec);
    m->word_fmt = m->prec.table;
    embp_status rc = EMBP_OK;
    omp_set_num_threads(m->n_threads);
    if (!(m->layers = embp_calloc((size_t)m->L, sizeof *m->layers)))
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory");
    if (rc || (rc = embp_rope_init(&m->rope, m->D, cfg->rope_theta, max_len, err)) ||
        (rc = embp_mm_engine_create(m->k, max_tokens, &m->eng, err)) ||
        (rc = load_words(m, st, err)) || (rc = load_layers(m, st, err)) ||
        (rc = load_gain(m, st, -1, "norm", m->H, &m->norm_g, err)) || (rc = alloc_arena(m, err))) {
        embp_qwen3_free(m);
        return rc;
    }
    *out = m;
    return EMBP_OK;
}

void embp_qwen3_free(embp_qwen3 *m) {
    if (!m)
        return;
    for (int i = 0; m->layers && i < m->L; i++) {
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
    embp_mm_engine_free(m->eng);
    embp_rope_free(&m->rope);
    embp_free_aligned(m->word);
    embp_free_aligned(m->word16);
    embp_free_aligned(m->word8);
    embp_free_aligned(m->word_scale);
    embp_free_aligned(m->norm_g);
    embp_free_aligned(m->arena);
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
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++)
        rmsnorm(x + (size_t)t * m->H, y + (size_t)t * m->H, g, m->H, m->eps);
}

static void embed(embp_qwen3 *m, const int32_t *ids, int T) {
    int H = m->H;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        size_t row = (size_t)ids[t] * H;
        float *x = m->x + (size_t)t * H;
        if (m->word_fmt == EMBP_TABLE_F32)
            memcpy(x, m->word + row, (size_t)H * sizeof(float));
        else if (m->word_fmt == EMBP_TABLE_BF16)
            m->k->bf16_to_f32(m->word16 + row, x, (size_t)H);
        else if (m->word_fmt == EMBP_TABLE_FP16)
            m->k->fp16_to_f32(m->word16 + row, x, (size_t)H);
        else
            for (int c = 0; c < H; c++)
                x[c] = (float)m->word8[row + c] * m->word_scale[ids[t]];
    }
}

/* q and k of every token: RMSNorm per head (Qwen3), then rotated by the token's position. */
static void qk_norm_rope(embp_qwen3 *m, const q3_layer *l, const int *offsets, int n) {
    int D = m->D, stride = (m->NH + 2 * m->NKV) * D;
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < n; s++)
        for (int t = offsets[s]; t < offsets[s + 1]; t++) {
            float *q = m->qkv + (size_t)t * stride, *k = q + (size_t)m->NH * D;
            for (int h = 0; m->qk_norm && h < m->NH; h++)
                rmsnorm(q + (size_t)h * D, q + (size_t)h * D, l->q_g, D, m->eps);
            for (int h = 0; m->qk_norm && h < m->NKV; h++)
                rmsnorm(k + (size_t)h * D, k + (size_t)h * D, l->k_g, D, m->eps);
            embp_rope_apply(&m->rope, q, t - offsets[s], m->NH, D);
            embp_rope_apply(&m->rope, k, t - offsets[s], m->NKV, D);
        }
}

/* act (T, I) = silu(gate) * up from gu (T, 2I): gate in the first I columns. */
static void swiglu(embp_qwen3 *m, int T) {
    size_t I = (size_t)m->I;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *g = m->gu + (size_t)t * 2 * I, *u = g + I;
        float *a = m->act + (size_t)t * I;
        for (size_t i = 0; i < I; i++)
            a[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

static void add_rows(embp_qwen3 *m, const float *r, int T) {
    size_t n = (size_t)T * m->H;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        m->x[i] += r[i];
}

static embp_status linear(embp_qwen3 *m, embp_linear *l, embp_op op, const float *x, int T,
                          float *y, embp_error *err) {
    if (m->prof)
        m->prof->gemm = op;
    return embp_linear_forward(l, x, T, y, err);
}

embp_status embp_qwen3_forward(embp_qwen3 *m, const int32_t *ids, const int *offsets, int n,
                               const float **hidden, embp_error *err) {
    embp_status rc;
    if ((rc = embp_check_batch(ids, offsets, n, m->max_len, m->max_tokens, m->V, err)))
        return rc;
    int T = offsets[n], D = m->D, QKV = (m->NH + 2 * m->NKV) * D;
    embp_prof *p = m->prof;
    embp_prof_clock t = embp_prof_start(p);
    omp_set_num_threads(m->n_threads);
    embed(m, ids, T);
    embp_prof_mark(p, EMBP_OP_EMBED, &t);
    embp_attend_spec a = {.D = D, .n_q_heads = m->NH, .n_kv_heads = m->NKV, .q = m->qkv,
                          .k = m->qkv + (size_t)m->NH * D, .v = m->qkv + (size_t)(m->NH + m->NKV) * D,
                          .q_stride = QKV, .kv_stride = QKV, .out = m->ctx,
                          .out_stride = m->NH * D, .scale = 1.0f / sqrtf((float)D), .causal = 1,
                          .left = m->window > 0 ? m->window - 1 : -1, .right = -1};
    for (int i = 0; i < m->L; i++) {
        q3_layer *l = &m->layers[i];
        t = embp_prof_start(p);
        rmsnorm_rows(m, m->x, m->h, l->in_g, T);
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
        if ((rc = linear(m, l->qkv, EMBP_OP_GEMM_QKV, m->h, T, m->qkv, err)))
            return rc;
        t = embp_prof_start(p);
        qk_norm_rope(m, l, offsets, n);
        embp_attend(m->k, &a, offsets, n, m->attn, m->n_threads);
        embp_prof_mark(p, EMBP_OP_ATTENTION, &t);
        if ((rc = linear(m, l->o, EMBP_OP_GEMM_OUT, m->ctx, T, m->h, err)))
            return rc;
        t = embp_prof_start(p);
        add_rows(m, m->h, T);
        rmsnorm_rows(m, m->x, m->h, l->post_g, T);
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
        if ((rc = linear(m, l->gate_up, EMBP_OP_GEMM_FFN_IN, m->h, T, m->gu, err)))
            return rc;
        swiglu(m, T);
        if ((rc = linear(m, l->down, EMBP_OP_GEMM_FFN_OUT, m->act, T, m->h, err)))
            return rc;
        add_rows(m, m->h, T);
    }
    rmsnorm_rows(m, m->x, m->x, m->norm_g, T);
    *hidden = m->x;
    return EMBP_OK;
}
