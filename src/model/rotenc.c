/* The rotary encoders, ModernBERT and NomicBERT (rotenc.h): loading by a table of each family's
 * tensor names, one forward over packed tokens for both recipes. What every encoder has (the
 * word table, kernels, the GEMM engine, the loaders of tables and dense layers, the batch
 * check) is bert's core (model/bert_impl.h), not a copy; positions are model/rope.c's. */
#include "model/rotenc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "model/arch.h"
#include "model/attend.h"
#include "model/bert_impl.h"
#include "model/rope.h"

/* ---------------------------------------------------------------- the two recipes */

/* A family's tensor names ("%d" is the layer) and the parts it uses. */
typedef struct {
    const char *model_type;
    const char *words, *types, *emb_norm, *final_norm; /* types, final_norm: NULL when none */
    const char *qkv, *out, *up[2], *down, *attn_norm, *mlp_norm;
    int n_up;       /* 1: one fused (2I, H) weight [act half; other half]; 2: act's, other's */
    int pre_norm;   /* x + f(norm(x)), else norm(x + f(x)) */
    int first_attn_norm; /* layer 0 has an attention norm (ModernBERT's is Identity) */
} recipe;

/* transformers modeling_modernbert.py: ModernBertModel. */
static const recipe modernbert = {
    "modernbert", "embeddings.tok_embeddings.weight", NULL, "embeddings.norm", "final_norm",
    "layers.%d.attn.Wqkv", "layers.%d.attn.Wo", {"layers.%d.mlp.Wi", NULL}, "layers.%d.mlp.Wo",
    "layers.%d.attn_norm", "layers.%d.mlp_norm", 1, 1, 0,
};

/* nomic-ai's modeling_hf_nomic_bert.py (contrastors): NomicBertModel. Its gated MLP is
 * fc2(fc11(x) * act(fc12(x))), so fc12 is the activated half and goes first. */
static const recipe nomicbert = {
    "nomic_bert", "embeddings.word_embeddings.weight", "embeddings.token_type_embeddings.weight",
    "emb_ln", NULL, "encoder.layers.%d.attn.Wqkv", "encoder.layers.%d.attn.out_proj",
    {"encoder.layers.%d.mlp.fc12", "encoder.layers.%d.mlp.fc11"}, "encoder.layers.%d.mlp.fc2",
    "encoder.layers.%d.norm1", "encoder.layers.%d.norm2", 2, 0, 1,
};

typedef enum { GLU_GELU, GLU_SILU } glu_act;

typedef struct {
    embp_linear *qkv, *out, *up, *down; /* (H,3H) (H,H) (H,2I) (I,H) */
    float *attn_g, *attn_b, *mlp_g, *mlp_b; /* attn_g NULL: no norm (ModernBERT layer 0) */
    const embp_rope *rope;
    int window; /* 0: global; else each token sees those within +-window */
} rot_layer;

struct embp_rotenc {
    embp_bert *core; /* shapes, kernels, engine, word table, emb_g/emb_b, type table, weight count */
    const recipe *rc;
    glu_act act;
    rot_layer *layers;
    embp_rope rope_global, rope_local;
    float *final_g, *final_b; /* NULL: no final norm */
    float *zeros;             /* (H): the bias of a LayerNorm without one */
    void *arena;
    float *x, *h, *tmp, *ctx, *qkv, *up, *glu, *attn; /* (T,H)x4 (T,3H) (T,2I) (T,I) per-thread */
    size_t attn_per_thread;
};

/* BERT's name of the word table, which bert's loader asks for, in ModernBERT's file. */
static const char *modernbert_rename(const char *bert_name, char *buf, size_t size) {
    (void)buf, (void)size;
    return strcmp(bert_name, "embeddings.word_embeddings.weight") == 0 ? modernbert.words
                                                                        : bert_name;
}

/* ---------------------------------------------------------------- loading */

/* A LayerNorm's gain and bias ("<name>.weight", "<name>.bias"); without a bias (ModernBERT's
 * norm_bias false) *b is the shared zeros, so the kernel's LayerNorm adds 0 exactly. */
static embp_status load_norm(embp_rotenc *r, const embp_model_config *cfg,
                             const embp_safetensors *st, const char *name, float **g, float **b,
                             embp_error *err) {
    char full[192];
    embp_status rc;
    snprintf(full, sizeof full, "%s.weight", name);
    if ((rc = embp_bert_load_table(r->core, st, cfg->tensor_prefix, full, r->core->H, 0, g, err)))
        return rc;
    if (!cfg->norm_bias) {
        *b = r->zeros;
        return EMBP_OK;
    }
    snprintf(full, sizeof full, "%s.bias", name);
    return embp_bert_load_table(r->core, st, cfg->tensor_prefix, full, r->core->H, 0, b, err);
}

static embp_status load_embeddings(embp_rotenc *r, const embp_model_config *cfg,
                                   const embp_safetensors *st, embp_table_format fmt,
                                   embp_error *err) {
    embp_bert *b = r->core;
    embp_status rc;
    if ((rc = embp_bert_load_words(b, st, cfg->tensor_prefix, fmt, err)) ||
        (rc = load_norm(r, cfg, st, r->rc->emb_norm, &b->emb_g, &b->emb_b, err)))
        return rc;
    rc = embp_bert_load_types(b, st, cfg->tensor_prefix, r->rc->types ? r->rc->types : "",
                              r->rc->types ? cfg->type_vocab_size : 0, err);
    if (rc == EMBP_OK && r->rc->final_norm)
        rc = load_norm(r, cfg, st, r->rc->final_norm, &r->final_g, &r->final_b, err);
    return rc;
}

/* One linear of layer i from the recipe's name patterns. */
static embp_status load_dense(embp_rotenc *r, embp_bert_loader *ld, int i,
                              const char *const *patterns, int n, int rows, int K, int bias,
                              embp_linear **out, embp_error *err) {
    char names[2][160];
    const char *ptrs[2];
    for (int j = 0; j < n; j++) {
        snprintf(names[j], sizeof names[j], patterns[j], i);
        ptrs[j] = names[j];
    }
    return embp_bert_load_linear(r->core, ld, ptrs, n, rows, K, bias, 0, out, err);
}

static embp_status load_layer(embp_rotenc *r, const embp_model_config *cfg,
                              const embp_safetensors *st, embp_bert_loader *ld, int i,
                              embp_error *err) {
    const recipe *rc = r->rc;
    rot_layer *l = &r->layers[i];
    int H = r->core->H, I = r->core->I, up_rows = rc->n_up == 1 ? 2 * I : I;
    char name[160];
    embp_status s;
    if ((s = load_dense(r, ld, i, &rc->qkv, 1, 3 * H, H, cfg->qkv_bias, &l->qkv, err)) ||
        (s = load_dense(r, ld, i, &rc->out, 1, H, H, cfg->out_bias, &l->out, err)) ||
        (s = load_dense(r, ld, i, rc->up, rc->n_up, up_rows, H, cfg->up_bias, &l->up, err)) ||
        (s = load_dense(r, ld, i, &rc->down, 1, H, I, cfg->down_bias, &l->down, err)))
        return s;
    if (i > 0 || rc->first_attn_norm) {
        snprintf(name, sizeof name, rc->attn_norm, i);
        if ((s = load_norm(r, cfg, st, name, &l->attn_g, &l->attn_b, err)))
            return s;
    }
    snprintf(name, sizeof name, rc->mlp_norm, i);
    if ((s = load_norm(r, cfg, st, name, &l->mlp_g, &l->mlp_b, err)))
        return s;
    int global = cfg->window <= 0 || i % cfg->global_every == 0;
    l->rope = global ? &r->rope_global : &r->rope_local;
    l->window = global ? 0 : cfg->window;
    return EMBP_OK;
}

static embp_status alloc_arena(embp_rotenc *r, int window, embp_error *err) {
    embp_bert *b = r->core;
    size_t Tp = (size_t)embp_mm_bucket(b->max_tokens), H = (size_t)b->H, I = (size_t)b->I;
    size_t full = embp_attn_scratch_floats(b->max_len, b->D);
    size_t local = window > 0 ? embp_attend_scratch_floats(b->D) : 0;
    r->attn_per_thread = ((full > local ? full : local) + 15) / 16 * 16;
    size_t sizes[8] = {Tp * H, Tp * H, Tp * H, Tp * H, Tp * 3 * H, Tp * 2 * I, Tp * I,
                       r->attn_per_thread * (size_t)b->n_threads};
    float **ptrs[8] = {&r->x, &r->h, &r->tmp, &r->ctx, &r->qkv, &r->up, &r->glu, &r->attn};
    return embp_bert_arena(&r->arena, sizes, ptrs, 8, b->max_tokens, err);
}

static embp_status check_config(const embp_model_config *cfg, const recipe *rc, int max_tokens,
                                int max_len, glu_act *act, embp_error *err) {
    if (cfg->hidden < 1 || cfg->heads < 1 || cfg->hidden % cfg->heads || cfg->layers < 1 ||
        cfg->intermediate < 1 || cfg->vocab_size < 1 || (cfg->hidden / cfg->heads) % 2)
        return embp_fail(err, EMBP_ECONFIG, "config.json: hidden %d, heads %d, layers %d, "
                         "intermediate %d, vocab %d do not describe a %s (head size even)",
                         cfg->hidden, cfg->heads, cfg->layers, cfg->intermediate,
                         cfg->vocab_size, rc->model_type);
    if (max_len < 1 || max_len > cfg->max_position || max_tokens < max_len)
        return embp_fail(err, EMBP_EINVAL, "max sequence length %d must be in 1..%d "
                         "(max positions) and <= max_batch_tokens %d", max_len,
                         cfg->max_position, max_tokens);
    /* ModernBERT's hidden_activation (ACT2FN["gelu"]: exact erf); NomicBERT's
     * activation_function: swiglu (silu(fc12) * fc11) or geglu (gelu(fc12) * fc11). */
    int modern = rc == &modernbert;
    if (modern && strcmp(cfg->hidden_act, "gelu") == 0)
        *act = GLU_GELU;
    else if (!modern && strcmp(cfg->hidden_act, "swiglu") == 0)
        *act = GLU_SILU;
    else if (!modern && strcmp(cfg->hidden_act, "geglu") == 0)
        *act = GLU_GELU;
    else
        return embp_fail(err, EMBP_EUNSUPPORTED, "config.json: %s '%s' is not supported "
                         "(supported: %s)", modern ? "hidden_activation" : "activation_function",
                         cfg->hidden_act, modern ? "gelu" : "swiglu, geglu");
    if (cfg->window > 0 && cfg->global_every < 1)
        return embp_fail(err, EMBP_ECONFIG, "config.json: global_attn_every_n_layers %d",
                         cfg->global_every);
    return EMBP_OK;
}

embp_status embp_rotenc_load(const embp_model_config *cfg, const embp_safetensors *st,
                             const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                             embp_rotenc **out, embp_error *err) {
    *out = NULL;
    const recipe *rc = strcmp(cfg->model_type, modernbert.model_type) == 0   ? &modernbert
                       : strcmp(cfg->model_type, nomicbert.model_type) == 0 ? &nomicbert
                                                                             : NULL;
    if (!rc)
        return embp_fail(err, EMBP_EUNSUPPORTED, "config.json: model_type '%s' is not a rotary "
                         "encoder (modernbert, nomic_bert)", cfg->model_type);
    glu_act act = GLU_GELU;
    embp_status s = check_config(cfg, rc, max_tokens, max_len, &act, err);
    if (s)
        return s;
    embp_rotenc *r = embp_calloc(1, sizeof *r);
    embp_bert *b = embp_calloc(1, sizeof *b);
    if (!r || !b) {
        embp_free(r);
        embp_free(b);
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    }
    r->core = b, r->rc = rc, r->act = act;
    *b = (embp_bert){.H = cfg->hidden, .L = cfg->layers, .NH = cfg->heads,
                     .D = cfg->hidden / cfg->heads, .I = cfg->intermediate, .V = cfg->vocab_size,
                     .P = cfg->max_position, .eps = cfg->layer_norm_eps,
                     .rename = rc == &modernbert ? modernbert_rename : NULL,
                     .max_tokens = max_tokens, .max_len = max_len,
                     .n_threads = n_threads > 0 ? n_threads : embp_cpu_get()->n_cores,
                     .k = embp_kernels_pick(embp_cpu_get())};
    if (b->n_threads < 1)
        b->n_threads = 1;
    embp_bert_precision prec;
    embp_bert_precision_of(plan, &prec);
    int H = b->H, rot = (int)((float)b->D * cfg->rotary_fraction);
    embp_bert_loader ld = {0};
    int maxn = 3 * H > 2 * b->I ? 3 * H : 2 * b->I;
    omp_set_num_threads(b->n_threads);
    if (!(r->layers = embp_calloc((size_t)b->L, sizeof *r->layers)) ||
        !(r->zeros = embp_calloc((size_t)H, sizeof(float)))) {
        s = embp_fail(err, EMBP_ENOMEM, "out of memory");
        goto fail;
    }
    if ((s = embp_rope_init(&r->rope_global, rot, cfg->rope_theta, max_len, err)) ||
        (cfg->window > 0 &&
         (s = embp_rope_init(&r->rope_local, rot, cfg->rope_theta_local, max_len, err))) ||
        (s = embp_mm_engine_create(b->k, max_tokens, &b->eng, err)) ||
        (s = load_embeddings(r, cfg, st, prec.table, err)) ||
        (s = embp_bert_loader_open(&ld, st, cfg->tensor_prefix, &prec, maxn, H, err)))
        goto fail;
    for (int i = 0; s == EMBP_OK && i < b->L; i++)
        s = load_layer(r, cfg, st, &ld, i, err);
    embp_bert_loader_close(&ld);
    if (s || (s = alloc_arena(r, cfg->window, err)))
        goto fail;
    b->weight_bytes += (size_t)H * sizeof(float) +
                       2 * (size_t)max_len * (size_t)(rot / 2) * sizeof(float) *
                           (cfg->window > 0 ? 2 : 1);
    *out = r;
    return EMBP_OK;
fail:
    embp_bert_loader_close(&ld);
    embp_rotenc_free(r);
    return s;
}

static void free_norm_bias(embp_rotenc *r, float *b) {
    if (b != r->zeros)
        embp_free_aligned(b);
}

void embp_rotenc_free(embp_rotenc *r) {
    if (!r)
        return;
    embp_bert *b = r->core;
    for (int i = 0; r->layers && i < b->L; i++) {
        rot_layer *l = &r->layers[i];
        embp_linear_free(l->qkv);
        embp_linear_free(l->out);
        embp_linear_free(l->up);
        embp_linear_free(l->down);
        embp_free_aligned(l->attn_g);
        embp_free_aligned(l->mlp_g);
        free_norm_bias(r, l->attn_b);
        free_norm_bias(r, l->mlp_b);
    }
    embp_free(r->layers);
    embp_free_aligned(r->final_g);
    free_norm_bias(r, r->final_b);
    if (b && b->emb_b == r->zeros)
        b->emb_b = NULL; /* embp_bert_free frees it otherwise */
    embp_free(r->zeros);
    embp_rope_free(&r->rope_global);
    embp_rope_free(&r->rope_local);
    embp_free_aligned(r->arena);
    embp_bert_free(b); /* the word table, emb norm, type row, engine (after its linears) */
    embp_free(r);
}

/* ---------------------------------------------------------------- forward */

/* x (T, H) = LN(word[id] + type[types[t]]) (types NULL: type 0): no absolute positions. */
static void embed(embp_rotenc *r, const int32_t *ids, const int32_t *types, int T) {
    embp_bert *b = r->core;
    int H = b->H;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *x = r->x + (size_t)t * H;
        const float *ty = b->type + (size_t)(types && !b->no_types ? types[t] : 0) * H;
        embp_bert_word_row(b, ids[t], x);
        for (int c = 0; c < H; c++)
            x[c] += ty[c];
        b->k->layernorm(x, NULL, b->emb_g, b->emb_b, 1, H, b->eps);
    }
}

/* q and k of every token rotated by its position in its sequence. */
static void rotate(embp_rotenc *r, const embp_rope *rope, const int *offsets, int n) {
    int H = r->core->H;
#pragma omp parallel for schedule(static)
    for (int s = 0; s < n; s++)
        for (int t = offsets[s]; t < offsets[s + 1]; t++) {
            float *q = r->qkv + (size_t)t * 3 * H;
            embp_rope_apply(rope, q, t - offsets[s], r->core->NH, r->core->D);
            embp_rope_apply(rope, q + H, t - offsets[s], r->core->NH, r->core->D);
        }
}

/* ctx (T, H) = attention per sequence and head over the fused qkv (T, 3H); window 0: full, else
 * each query sees the keys within +-window of it (ModernBERT's local layers: transformers'
 * |i - j| <= local_attention / 2), through model/attend.c's blocked attention. */
static void attention(embp_rotenc *r, const int *offsets, int n, int window) {
    embp_bert *b = r->core;
    int H = b->H, D = b->D, NH = b->NH;
    float scale = 1.0f / sqrtf((float)D);
    if (window > 0) {
        embp_attend_spec a = {.D = D, .n_q_heads = NH, .n_kv_heads = NH, .q = r->qkv,
                              .k = r->qkv + H, .v = r->qkv + 2 * H, .q_stride = 3 * H,
                              .kv_stride = 3 * H, .out = r->ctx, .out_stride = H, .scale = scale,
                              .causal = 0, .left = window, .right = window};
        embp_attend(b->k, &a, offsets, n, r->attn, b->n_threads);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int job = 0; job < n * NH; job++) {
        int s = job / NH, h = job % NH, t0 = offsets[s], len = offsets[s + 1] - t0;
        const float *q = r->qkv + (size_t)t0 * 3 * H + (size_t)h * D;
        float *o = r->ctx + (size_t)t0 * H + (size_t)h * D;
        float *scr = r->attn + (size_t)omp_get_thread_num() * r->attn_per_thread;
        b->k->attention(q, q + H, q + 2 * H, 3 * H, o, H, len, D, scale, scr);
    }
}

/* glu (T, I) = act(up[:, :I]) * up[:, I:], up (T, 2I): the gated MLP's middle. */
static void glu(embp_rotenc *r, int T) {
    int I = r->core->I;
    const embp_kernels *k = r->core->k;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *a = r->up + (size_t)t * 2 * I, *g = a + I, *o = r->glu + (size_t)t * I;
        if (r->act == GLU_GELU) {
            k->gelu(a, (size_t)I);
            for (int c = 0; c < I; c++)
                o[c] = a[c] * g[c];
        } else {
            for (int c = 0; c < I; c++)
                o[c] = a[c] / (1.0f + expf(-a[c])) * g[c];
        }
    }
}

/* y (T, H) = LN(y + res) (res may be NULL), or, into dst != y, dst = LN(y). */
static void norm(embp_rotenc *r, float *dst, const float *y, const float *res, const float *g,
                 const float *beta, int T) {
    embp_bert *b = r->core;
    int H = b->H, chunk = 16;
#pragma omp parallel for schedule(static)
    for (int t0 = 0; t0 < T; t0 += chunk) {
        int rows = T - t0 < chunk ? T - t0 : chunk;
        float *d = dst + (size_t)t0 * H;
        if (d != y)
            memcpy(d, y + (size_t)t0 * H, (size_t)rows * H * sizeof(float));
        b->k->layernorm(d, res ? res + (size_t)t0 * H : NULL, g, beta, rows, H, b->eps);
    }
}

/* One layer. Pre-norm (ModernBERT): x += attn(norm(x)); x += mlp(norm(x)). Post-norm
 * (NomicBERT): x = norm(x + attn(x)); x = norm(x + mlp(x)). */
static embp_status layer(embp_rotenc *r, const rot_layer *l, const int *offsets, int n,
                         embp_error *err) {
    embp_bert *b = r->core;
    embp_prof *p = b->prof;
    int T = offsets[n], pre = r->rc->pre_norm;
    embp_status s;
    const float *in = r->x;
    embp_prof_clock t = embp_prof_start(p);
    if (pre && l->attn_g) {
        norm(r, r->h, r->x, NULL, l->attn_g, l->attn_b, T);
        in = r->h;
    }
    embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
    if ((s = embp_bert_linear(b, l->qkv, EMBP_OP_GEMM_QKV, in, T, r->qkv, NULL, err)))
        return s;
    t = embp_prof_start(p);
    rotate(r, l->rope, offsets, n);
    attention(r, offsets, n, l->window);
    embp_prof_mark(p, EMBP_OP_ATTENTION, &t);
    if ((s = embp_bert_linear(b, l->out, EMBP_OP_GEMM_OUT, r->ctx, T, r->tmp, NULL, err)))
        return s;
    t = embp_prof_start(p);
    if (pre) {
        embp_bert_add_rows(b, r->x, r->tmp, T);
        norm(r, r->h, r->x, NULL, l->mlp_g, l->mlp_b, T);
    } else {
        norm(r, r->x, r->x, r->tmp, l->attn_g, l->attn_b, T);
    }
    embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
    if ((s = embp_bert_linear(b, l->up, EMBP_OP_GEMM_FFN_IN, pre ? r->h : r->x, T, r->up, NULL,
                              err)))
        return s;
    t = embp_prof_start(p);
    glu(r, T);
    embp_prof_mark(p, EMBP_OP_GELU, &t);
    if ((s = embp_bert_linear(b, l->down, EMBP_OP_GEMM_FFN_OUT, r->glu, T, r->tmp, NULL, err)))
        return s;
    t = embp_prof_start(p);
    if (pre)
        embp_bert_add_rows(b, r->x, r->tmp, T);
    else
        norm(r, r->x, r->x, r->tmp, l->mlp_g, l->mlp_b, T);
    embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
    return EMBP_OK;
}

embp_status embp_rotenc_forward(embp_rotenc *r, const int32_t *ids, const int32_t *types,
                                const int *offsets, int n, const float **hidden, embp_error *err) {
    embp_bert *b = r->core;
    embp_status s;
    if ((s = embp_check_batch(ids, offsets, n, b->max_len, b->max_tokens, b->V, err)) ||
        (s = embp_bert_check_types(b, types, offsets[n], err)))
        return s;
    int T = offsets[n];
    embp_prof *p = b->prof;
    embp_prof_clock t = embp_prof_start(p);
    omp_set_num_threads(b->n_threads);
    embed(r, ids, types, T);
    embp_prof_mark(p, EMBP_OP_EMBED, &t);
    for (int i = 0; i < b->L; i++)
        if ((s = layer(r, &r->layers[i], offsets, n, err)))
            return s;
    if (r->final_g) {
        t = embp_prof_start(p);
        norm(r, r->x, r->x, NULL, r->final_g, r->final_b, T);
        embp_prof_mark(p, EMBP_OP_LAYERNORM, &t);
    }
    *hidden = r->x;
    return EMBP_OK;
}

size_t embp_rotenc_weight_bytes(const embp_rotenc *r) {
    return r->core->weight_bytes;
}

const char *embp_rotenc_kernels_name(const embp_rotenc *r) {
    return r->core->k->name;
}

embp_status embp_rotenc_prepare(embp_rotenc *r, int tokens, embp_error *err) {
    return embp_bert_prepare(r->core, tokens, err);
}

void embp_rotenc_set_prof(embp_rotenc *r, embp_prof *p) {
    embp_bert_set_prof(r->core, p);
}

int embp_modernbert_dense_weight(const char *name) {
    static const char *const ends[] = {".attn.Wqkv.weight", ".attn.Wo.weight", ".mlp.Wi.weight",
                                       ".mlp.Wo.weight"};
    return embp_bert_named_dense(name, "layers.", ends, sizeof ends / sizeof ends[0]);
}

int embp_nomicbert_dense_weight(const char *name) {
    static const char *const ends[] = {".attn.Wqkv.weight", ".attn.out_proj.weight",
                                       ".mlp.fc11.weight", ".mlp.fc12.weight", ".mlp.fc2.weight"};
    return embp_bert_named_dense(name, "encoder.layers.", ends, sizeof ends / sizeof ends[0]);
}
