/* embp_model: a runnable model built from a parsed folder under one plan, and the public
 * embed calls. Loading (the folder, the plan, auto) is runtime/plan_load.c.
 * Batching across requests is the batcher's (runtime/batcher.c); this runs what it is given. */
#include "runtime/model.h"

#include <stdio.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fp.h"
#include "kernels/matmul.h"
#include "model/classifier.h"
#include "runtime/pooling.h"
#include "tokenizer/tokenizer.h"

struct embp_model {
    char *name, *path;
    embp_folder *folder;    /* config, tokenizer, weights index: borrowed, or owned when set */
    int owns_folder;
    embp_model_config cfg;  /* the folder's */
    const embp_tokenizer *tok; /* the folder's */
    const embp_arch *arch;  /* the family (model/arch.h) */
    embp_encoder *enc;      /* its weights and scratch */
    embp_classifier *head;  /* a cross-encoder's classification head (cfg.num_labels > 0) */
    embp_plan plan;         /* as resolved; fp32 with no reasons until set */
    char plan_reason[4 * EMBP_PLAN_REASON_LEN];
    char requested[96];
    char plan_desc[512];
    int max_tokens;
    int32_t *ids;  /* (max_tokens): a pass's ids, packed by embp_embed_tokens */
    int32_t *types; /* (max_tokens): a pass's token types, packed by embp_model_score_checked */
    int *offsets;  /* (max_tokens + 1) */
    int *skip;     /* (max_tokens): a pass's leading ids pooling leaves out (the prompts) */
    int default_prompt; /* index into cfg's prompts, -1: none */
    /* The Dense modules (cfg.dense): fp32 weights (out, in) and biases (NULL: none), owned,
     * and two (max_tokens, widest) scratches the pass ping-pongs between; NULL without Dense. */
    float *dense_w[EMBP_MAX_DENSE], *dense_b[EMBP_MAX_DENSE];
    float *pooled, *dense_out;
    size_t dense_bytes;
    embp_prof *prof; /* NULL unless a benchmark profiles */
};

void embp_load_opts_init(embp_load_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->enable_quantization = -1;
    opts->fidelity_floor_mean = 0.999;
    opts->fidelity_floor_min = 0.995;
}

const char *embp_pooling_str(embp_pooling p) {
    switch (p) {
    case EMBP_POOLING_MEAN:
        return "mean";
    case EMBP_POOLING_CLS:
        return "cls";
    case EMBP_POOLING_MAX:
        return "max";
    case EMBP_POOLING_LASTTOKEN:
        return "lasttoken";
    case EMBP_POOLING_MEAN_SQRT_LEN:
        return "mean_sqrt_len";
    case EMBP_POOLING_WEIGHTEDMEAN:
        return "weightedmean";
    }
    return "unknown";
}

static void describe_plan(embp_model *m);

/* ---------------------------------------------------------------- Dense modules */

/* t as fp32 into a new buffer (F32, F16 or BF16), or NULL with err naming the file. */
static float *tensor_f32(const embp_st_tensor *t, const char *file, embp_error *err) {
    float *v = embp_malloc((size_t)t->n_elems * sizeof *v);
    if (!v) {
        embp_fail(err, EMBP_ENOMEM, "out of memory for %s: %s", file, t->name);
        return NULL;
    }
    const uint16_t *h = t->data;
    for (int64_t i = 0; i < t->n_elems; i++)
        v[i] = t->dtype == EMBP_DT_F32    ? ((const float *)t->data)[i]
               : t->dtype == EMBP_DT_F16 ? embp_fp16_to_f32(h[i])
                                         : embp_bf16_to_f32(h[i]);
    return v;
}

/* Dense module i's weights from its folder's model.safetensors (linear.weight (out, in),
 * linear.bias (out)), kept fp32 whatever the plan: a few hundred KiB, ~1% of a pass. */
static embp_status load_dense(embp_model *m, int i, embp_error *err) {
    const embp_dense_config *d = &m->cfg.dense[i];
    char file[4400], bin[4400];
    snprintf(file, sizeof file, "%s/%s/model.safetensors", m->folder->path, d->path);
    snprintf(bin, sizeof bin, "%s/%s/pytorch_model.bin", m->folder->path, d->path);
    if (access(file, F_OK) != 0 && access(bin, F_OK) == 0)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s: the Dense module's weights are a PyTorch "
                         "pickle, which embp does not read; convert it to model.safetensors "
                         "beside it (python -c \"import torch, safetensors.torch as s; "
                         "s.save_file(torch.load('%s'), '%s')\")", bin, bin, file);
    embp_safetensors *st = NULL;
    embp_status rc = embp_st_open_file(file, &st, err);
    if (rc == EMBP_OK)
        rc = embp_st_check_finite(st, err);
    const char *names[2] = {"linear.weight", "linear.bias"};
    float **dst[2] = {&m->dense_w[i], &m->dense_b[i]};
    for (int k = 0; rc == EMBP_OK && k < 1 + d->bias; k++) {
        const embp_st_tensor *t = embp_st_find(st, names[k]);
        if (!t)
            rc = embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' missing (the Dense module's "
                           "config.json says bias %s)", file, names[k], d->bias ? "true" : "false");
        else if (t->dtype != EMBP_DT_F32 && t->dtype != EMBP_DT_F16 && t->dtype != EMBP_DT_BF16)
            rc = embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' is %s; expected F32, F16 or BF16",
                           file, names[k], embp_dtype_name(t->dtype));
        else if (!(rc = embp_st_expect_shape(t, k ? d->out : d->out, k ? 0 : d->in, err)) &&
                 !(*dst[k] = tensor_f32(t, file, err)))
            rc = EMBP_ENOMEM;
    }
    m->dense_bytes += ((size_t)d->out * d->in + (d->bias ? d->out : 0)) * sizeof(float);
    embp_st_close(st);
    return rc;
}

/* All Dense modules and the scratch they run in. */
static embp_status load_modules(embp_model *m, embp_error *err) {
    if (!m->cfg.n_dense)
        return EMBP_OK;
    int widest = m->cfg.hidden;
    embp_status rc = EMBP_OK;
    for (int i = 0; rc == EMBP_OK && i < m->cfg.n_dense; i++) {
        rc = load_dense(m, i, err);
        widest = m->cfg.dense[i].out > widest ? m->cfg.dense[i].out : widest;
    }
    m->pooled = embp_malloc((size_t)m->max_tokens * (size_t)widest * sizeof(float));
    m->dense_out = embp_malloc((size_t)m->max_tokens * (size_t)widest * sizeof(float));
    if (rc == EMBP_OK && (!m->pooled || !m->dense_out))
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory for the Dense modules' scratch");
    return rc;
}

/* The default prompt: o's name when given ("" for none), else the folder's. */
static embp_status pick_default_prompt(embp_model *m, const embp_load_opts *o, embp_error *err) {
    m->default_prompt = m->cfg.default_prompt;
    if (!o->default_prompt_name)
        return EMBP_OK;
    m->default_prompt = *o->default_prompt_name
                            ? embp_config_find_prompt(&m->cfg, o->default_prompt_name) : -1;
    if (m->default_prompt >= 0 || !*o->default_prompt_name)
        return EMBP_OK;
    char names[256];
    embp_config_prompt_names(&m->cfg, names, sizeof names);
    return embp_fail(err, EMBP_ECONFIG, "default_prompt_name=%.64s: model '%s' has no such "
                     "prompt (%s/config_sentence_transformers.json has: %s)",
                     o->default_prompt_name, m->name, m->path, names);
}

/* The model's default id: the folder's last path component, without trailing slashes; for a
 * Hugging Face cache snapshot (.../models--ORG--NAME/snapshots/COMMIT), NAME, not the commit. */
static char *basename_of(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    static const char snap[] = "/snapshots/";
    size_t ls = sizeof snap - 1;
    if (b >= ls && memcmp(dir + b - ls, snap, ls) == 0) {
        size_t e = b - ls, r = e; /* dir[..e) ends with models--ORG--NAME */
        while (r > 0 && dir[r - 1] != '/')
            r--;
        if (e - r > 8 && memcmp(dir + r, "models--", 8) == 0) {
            size_t k = e;
            while (k > r + 9 && !(dir[k - 1] == '-' && dir[k - 2] == '-'))
                k--;
            return k > r + 9 ? embp_strndup(dir + k, e - k) : embp_strndup(dir + r + 8, e - r - 8);
        }
    }
    return embp_strndup(dir + b, n - b);
}

/* The default token budget of a pass: big enough that GEMMs run at full speed (measured on
 * MiniLM: 512, 1024 and 2048 tokens within 2% of one another), small enough that the forward's
 * scratch (~15 KiB per token for MiniLM) stays a fraction of the weights. */
#define EMBP_DEFAULT_BATCH_TOKENS 1024

char *embp_model_name_for(const char *dir, const embp_load_opts *o) {
    return o && o->name && *o->name ? embp_strdup(o->name) : basename_of(dir);
}

embp_status embp_model_build(embp_folder *f, const embp_plan *plan, const embp_load_opts *o,
                             embp_model **out, embp_error *err) {
    embp_load_opts defaults;
    embp_status rc;
    *out = NULL;
    if (!o) {
        embp_load_opts_init(&defaults);
        o = &defaults;
    }
    embp_model *m = embp_calloc(1, sizeof *m);
    if (!m)
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    m->folder = f;
    m->cfg = f->cfg;
    m->tok = f->tok;
    if (plan) {
        m->plan = *plan;
    } else {
        m->plan.storage = EMBP_STORAGE_FP32, m->plan.compute = EMBP_COMPUTE_FP32;
        m->plan.requested_storage = m->plan.requested_compute = -1;
        m->plan.accumulation = "fp32", m->plan.kernel = "";
        m->plan.fidelity_mean = m->plan.fidelity_min = NAN;
        snprintf(m->plan.desc, sizeof m->plan.desc, "storage fp32, compute fp32, accumulate fp32");
    }
    describe_plan(m);
    m->path = embp_strdup(f->path);
    m->name = embp_model_name_for(f->path, o);
    if (!m->path || !m->name) {
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory");
        goto fail;
    }
    m->max_tokens = o->max_batch_tokens > 0           ? o->max_batch_tokens
                    : m->cfg.max_seq_len > EMBP_DEFAULT_BATCH_TOKENS ? m->cfg.max_seq_len
                                                                     : EMBP_DEFAULT_BATCH_TOKENS;
    if (m->max_tokens < m->cfg.max_seq_len) {
        rc = embp_fail(err, EMBP_ECONFIG, "max_batch_tokens %d is below the model's "
                       "max_seq_len %d", m->max_tokens, m->cfg.max_seq_len);
        goto fail;
    }
    const embp_safetensors *st;
    if (!(m->arch = embp_arch_find(&m->cfg, err))) {
        rc = EMBP_EUNSUPPORTED;
        goto fail;
    }
    if (m->cfg.num_labels > 1) {
        rc = embp_fail(err, EMBP_EUNSUPPORTED, "config.json: %s has %d labels (id2label); embp "
                       "serves sequence classification with one label (a reranker's relevance "
                       "logit)", m->cfg.architecture, m->cfg.num_labels);
        goto fail;
    }
    if ((rc = pick_default_prompt(m, o, err)) || (rc = embp_folder_weights(f, &st, err)) ||
        (rc = m->arch->load(&m->cfg, st, &m->plan, m->max_tokens, m->cfg.max_seq_len,
                            o->n_threads, &m->enc, err)) ||
        (rc = load_modules(m, err)) ||
        (m->cfg.num_labels > 0 && (rc = embp_classifier_load(&m->cfg, st, &m->head, err))))
        goto fail;
    m->ids = embp_malloc((size_t)m->max_tokens * sizeof *m->ids);
    m->types = embp_malloc((size_t)m->max_tokens * sizeof *m->types);
    m->offsets = embp_malloc(((size_t)m->max_tokens + 1) * sizeof *m->offsets);
    m->skip = embp_malloc((size_t)m->max_tokens * sizeof *m->skip);
    if (!m->ids || !m->types || !m->offsets || !m->skip) {
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory for a %d-token batch", m->max_tokens);
        goto fail;
    }
    *out = m;
    return EMBP_OK;
fail:
    embp_model_free(m);
    return rc;
}

void embp_model_own_folder(embp_model *m) {
    m->owns_folder = 1;
}

void embp_model_free(embp_model *m) {
    if (!m)
        return;
    if (m->arch)
        m->arch->free(m->enc);
    embp_classifier_free(m->head);
    if (m->owns_folder)
        embp_folder_free(m->folder);
    embp_free(m->ids);
    embp_free(m->types);
    embp_free(m->offsets);
    embp_free(m->skip);
    for (int i = 0; i < EMBP_MAX_DENSE; i++) {
        embp_free(m->dense_w[i]);
        embp_free(m->dense_b[i]);
    }
    embp_free(m->pooled);
    embp_free(m->dense_out);
    embp_free(m->name);
    embp_free(m->path);
    embp_free(m);
}

/* Loading packs weights on the calling thread's OpenMP team. A server then runs the model on
 * another thread (its batcher), whose team would compete with this idle one: libgomp counts
 * more threads than cores and throttles its spin-wait, so every parallel region pays a futex
 * wake-up (measured: a 5-token MiniLM pass took 10 ms instead of 3.8 ms). Releasing the team
 * here lets whichever thread runs the model own the cores; one that reuses this thread just
 * re-creates the team once. */
void embp_model_release_openmp_team(void) {
    omp_pause_resource_all(omp_pause_hard);
}

/* One pass of one token ([PAD], id 0; any id would do), which runs every layer once, then the
 * GEMM primitives of every row bucket (embp_mm_bucket, kernels/matmul.h) up to `tokens` made
 * without computing (the family's prepare), so each exists before a request needs it. A pass per
 * bucket, as before, cost ~3,800 tokens of forward: ~30 s at 0.6B parameters on 2 cores. */
embp_status embp_model_warm_up(embp_model *m, int tokens, embp_error *err) {
    int32_t id = 0;
    int off[2] = {0, 1};
    float *out = embp_malloc((size_t)m->cfg.dim * sizeof *out);
    embp_status rc = !out ? embp_fail(err, EMBP_ENOMEM, "out of memory warming up")
                          : embp_model_embed_packed(m, &id, off, 1, 0, out, err);
    if (rc == EMBP_OK)
        rc = m->arch->prepare(m->enc, tokens < m->max_tokens ? tokens : m->max_tokens, err);
    embp_free(out);
    return rc;
}

/* The plan's words for embp_model_info: what was asked, why it differs, one line for logs. */
static void describe_plan(embp_model *m) {
    const embp_plan *p = &m->plan;
    if (p->is_auto)
        snprintf(m->requested, sizeof m->requested, "auto");
    else if (p->requested_storage < 0 && p->requested_compute < 0 && p->prequantized)
        snprintf(m->requested, sizeof m->requested, "nothing (the folder's storage)");
    else if (p->requested_storage < 0 && p->requested_compute < 0)
        snprintf(m->requested, sizeof m->requested, "fp32 (default)");
    else
        snprintf(m->requested, sizeof m->requested, "storage %s, compute %s",
                 p->requested_storage >= 0 ? embp_storage_str(p->requested_storage) : "any",
                 p->requested_compute >= 0 ? embp_compute_str(p->requested_compute) : "any");
    size_t used = 0;
    m->plan_reason[0] = '\0';
    for (int i = 0; i < p->n_reasons && used < sizeof m->plan_reason; i++)
        used += (size_t)snprintf(m->plan_reason + used, sizeof m->plan_reason - used, "%s%s",
                                 i ? "; " : "", p->reasons[i]);
    char fid[96] = "fidelity not measured";
    if (!isnan(p->fidelity_mean))
        snprintf(fid, sizeof fid, "fidelity to fp32: mean %s %.5f, min %.5f",
                 m->cfg.num_labels > 0 ? "Pearson r of scores" : "cosine", p->fidelity_mean,
                 p->fidelity_min);
    snprintf(m->plan_desc, sizeof m->plan_desc, "%s; %s", p->desc, fid);
}

void embp_model_set_plan(embp_model *m, const embp_plan *p) {
    m->plan = *p;
    describe_plan(m);
}

void embp_model_get_plan(const embp_model *m, embp_plan *out) {
    *out = m->plan;
}

embp_folder *embp_model_folder(const embp_model *m) {
    return m->folder;
}

void embp_model_get_info(const embp_model *m, embp_model_info *o) {
    const embp_model_config *c = &m->cfg;
    memset(o, 0, sizeof *o);
    o->name = m->name;
    o->path = m->path;
    o->architecture = c->architecture[0] ? c->architecture : "BertModel";
    o->hidden = c->hidden, o->layers = c->layers, o->heads = c->heads;
    o->intermediate = c->intermediate, o->vocab_size = c->vocab_size;
    o->max_position = c->max_position, o->max_seq_len = c->max_seq_len;
    o->dim = c->dim;
    o->pooling = c->pooling, o->normalize = c->normalize, o->is_demo = c->is_demo;
    o->weight_bytes = m->arch->weight_bytes(m->enc) + m->dense_bytes +
                      (m->head ? embp_classifier_weight_bytes(m->head) : 0);
    o->num_labels = c->num_labels;
    o->storage = embp_storage_str(m->plan.storage);
    o->compute = embp_compute_str(m->plan.compute);
    o->accumulation = "fp32";
    o->plan_reason = m->plan_reason;
    o->requested = m->requested;
    o->plan_desc = m->plan_desc;
    o->quant_group_size = m->plan.storage == EMBP_STORAGE_INT4 ? m->plan.group_size : 0;
    o->fidelity_mean = m->plan.fidelity_mean;
    o->fidelity_min = m->plan.fidelity_min;
    o->n_prompts = c->n_prompts;
    o->default_prompt_name = m->default_prompt >= 0
                                 ? embp_config_prompt(c, m->default_prompt, NULL) : NULL;
    o->include_prompt = c->include_prompt;
    o->n_dense = c->n_dense;
    o->fidelity_measure = c->num_labels > 0 ? "score_pearson" : "cosine";
}

int embp_model_max_batch_tokens(const embp_model *m) {
    return m->max_tokens;
}

const char *embp_model_kernels(const embp_model *m) {
    return m->arch->kernels_name(m->enc);
}

/* ---------------------------------------------------------------- tokens */

embp_status embp_model_tokenize(const embp_model *m, const char *text, size_t len, int max_len,
                                int32_t *ids, int cap, int *n, int *n_full, embp_error *err) {
    int full = 0;
    *n = 0;
    embp_status rc = embp_tokenizer_encode(m->tok, text, len, max_len, ids, cap, n, &full, err);
    if (n_full)
        *n_full = full;
    return rc;
}

/* ---------------------------------------------------------------- prompts */

const char *embp_model_prompt(const embp_model *m, int i, const char **text) {
    return i >= 0 && i < m->cfg.n_prompts ? embp_config_prompt(&m->cfg, i, text) : NULL;
}

embp_status embp_prompt_resolve(const embp_model *m, const embp_prompt *p, const char **text,
                                embp_error *err) {
    *text = "";
    if (p && p->prompt) {
        *text = p->prompt;
    } else if (p && p->prompt_name) {
        int i = embp_config_find_prompt(&m->cfg, p->prompt_name);
        if (i < 0) {
            char names[256];
            embp_config_prompt_names(&m->cfg, names, sizeof names);
            return embp_fail(err, EMBP_EINVAL, "prompt_name '%.64s' is not one of model '%s''s "
                             "prompts (%s)", p->prompt_name, m->name, names);
        }
        embp_config_prompt(&m->cfg, i, text);
    } else if (m->default_prompt >= 0) {
        embp_config_prompt(&m->cfg, m->default_prompt, text);
    }
    return EMBP_OK;
}

/* sentence-transformers' prompt_length (Transformer._get_prompt_length): the prompt tokenized
 * alone, special tokens and truncation included, less one when its last id is special. */
static embp_status prompt_length(const embp_model *m, const char *prompt, int max_len, int *out,
                                 embp_error *err) {
    int cap = max_len > 0 ? max_len : (int)strlen(prompt) + 16, n = 0;
    int32_t *ids = embp_malloc((size_t)cap * sizeof *ids);
    if (!ids)
        return embp_fail(err, EMBP_ENOMEM, "out of memory tokenizing the prompt");
    embp_status rc = embp_model_tokenize(m, prompt, strlen(prompt), max_len, ids, cap, &n, NULL,
                                         err);
    if (rc == EMBP_OK)
        *out = n - (n > 0 && embp_tokenizer_is_special(m->tok, ids[n - 1]));
    else
        embp_error_prefix(err, "the prompt");
    embp_free(ids);
    return rc;
}

embp_status embp_model_tokenize_prompt(const embp_model *m, const char *prompt,
                                       const char *text, size_t len, int max_len, int32_t *ids,
                                       int cap, int *n, int *n_full, int *n_prompt,
                                       embp_error *err) {
    size_t pl = prompt ? strlen(prompt) : 0;
    if (n_prompt)
        *n_prompt = 0;
    if (!pl) /* sentence-transformers: an empty prompt is no prompt */
        return embp_model_tokenize(m, text, len, max_len, ids, cap, n, n_full, err);
    char *joined = embp_malloc(pl + len + 1);
    if (!joined)
        return embp_fail(err, EMBP_ENOMEM, "out of memory joining the prompt and the text");
    memcpy(joined, prompt, pl);
    memcpy(joined + pl, text, len);
    joined[pl + len] = '\0';
    embp_status rc = embp_model_tokenize(m, joined, pl + len, max_len, ids, cap, n, n_full, err);
    embp_free(joined);
    if (rc == EMBP_OK && n_prompt && !m->cfg.include_prompt)
        rc = prompt_length(m, prompt, max_len, n_prompt, err);
    return rc;
}

embp_status embp_tokenize(const embp_model *m, const char *text, size_t len, int truncate,
                          int32_t *ids, int cap, int *n, int *n_full, embp_error *err) {
    return embp_tokenize_prompt(m, NULL, text, len, truncate, ids, cap, n, n_full, NULL, err);
}

embp_status embp_tokenize_prompt(const embp_model *m, const char *prompt, const char *text,
                                 size_t len, int truncate, int32_t *ids, int cap, int *n,
                                 int *n_full, int *n_prompt, embp_error *err) {
    int full = 0, max = m->cfg.max_seq_len;
    embp_status rc = embp_model_tokenize_prompt(m, prompt, text, len, truncate ? max : 0, ids,
                                                cap, n, &full, n_prompt, err);
    if (n_full)
        *n_full = full;
    if (rc)
        return rc;
    if (!truncate && full > max)
        return embp_fail(err, EMBP_ETOOLONG, "input has %d tokens, more than the model's "
                         "max_seq_len %d", full, max);
    return EMBP_OK;
}

const char *embp_token_str(const embp_model *m, int32_t id) {
    return embp_tokenizer_id_to_token(m->tok, id);
}

/* ---------------------------------------------------------------- embeddings */

/* One forward pass, then the modules after it: pooling (skip: each sequence's prompt ids left
 * out, NULL: none), the Dense modules, Normalize, matryoshka. */
static embp_status embed_pass(embp_model *m, const int32_t *ids, const int *offsets,
                              const int *skip, int n, int dims, float *out, embp_error *err) {
    const embp_model_config *c = &m->cfg;
    const float *hidden = NULL;
    if (dims < 0 || dims > c->dim)
        return embp_fail(err, EMBP_EINVAL, "dimensions %d outside 1..%d", dims, c->dim);
    if (n == 0)
        return EMBP_OK;
    embp_status rc = m->arch->forward(m->enc, ids, NULL, offsets, n, &hidden, err);
    if (rc)
        return rc;
    embp_prof_clock t = embp_prof_start(m->prof);
    if (!c->n_dense) {
        embp_pool_skip(c->pooling, c->normalize, hidden, offsets, skip, n, c->hidden,
                       dims ? dims : c->dim, out);
    } else {
        embp_pool_rows(c->pooling, hidden, offsets, skip, n, c->hidden, m->pooled);
        float *x = m->pooled, *y = m->dense_out;
        for (int i = 0; i < c->n_dense; i++) {
            embp_dense_apply(&c->dense[i], m->dense_w[i], m->dense_b[i], x, n, y);
            float *tmp = x;
            x = y, y = tmp;
        }
        embp_pool_finish(x, n, c->dim, dims ? dims : c->dim, c->normalize, out);
    }
    embp_prof_mark(m->prof, EMBP_OP_POOL, &t);
    return EMBP_OK;
}

embp_status embp_model_embed_packed(embp_model *m, const int32_t *ids, const int *offsets, int n,
                                    int dims, float *out, embp_error *err) {
    return embed_pass(m, ids, offsets, NULL, n, dims, out, err);
}

embp_status embp_model_token_states(embp_model *m, const int32_t *ids, int len, float *out,
                                    embp_error *err) {
    if (len < 1 || len > m->max_tokens)
        return embp_fail(err, EMBP_EINVAL, "token states of %d tokens: 1..%d per pass", len,
                         m->max_tokens);
    int offsets[2] = {0, len};
    const float *hidden = NULL;
    embp_status rc = m->arch->forward(m->enc, ids, NULL, offsets, 1, &hidden, err);
    if (rc)
        return rc;
    size_t n = (size_t)len * (size_t)m->cfg.hidden;
    for (size_t k = 0; k < n; k++)
        if (!isfinite(hidden[k]))
            return embp_fail(err, EMBP_EINTERNAL, "token %zu's vector has a non-finite value",
                             k / (size_t)m->cfg.hidden);
    memcpy(out, hidden, n * sizeof *out);
    return EMBP_OK;
}

void embp_model_set_prof(embp_model *m, embp_prof *p) {
    m->prof = p;
    m->arch->set_prof(m->enc, p);
}

int embp_tokens_find_invalid(const int32_t *const *ids, const int *lens, int n, int max_len,
                             int vocab_size, int *bad_input, int *bad_token) {
    for (int i = 0; i < n; i++) {
        *bad_input = i, *bad_token = -1;
        if (lens[i] < 1 || lens[i] > max_len)
            return lens[i] > max_len ? EMBP_ETOOLONG : EMBP_EINVAL;
        for (int j = 0; j < lens[i]; j++)
            if (ids[i][j] < 0 || ids[i][j] >= vocab_size) {
                *bad_token = j;
                return EMBP_EINVAL;
            }
    }
    return EMBP_OK;
}

/* The load refuses non-finite weights, but finite ones can still overflow in a forward pass
 * (a huge weight, an int8 scale, a plan's arithmetic): no NaN or infinity leaves the library as
 * a vector, whichever front end asked (the HTTP writer, the CLI, a library caller). */
static embp_status check_finite(const embp_model *m, const float *rows, int first, int count,
                                int width, const int *lens, embp_error *err) {
    for (int i = 0; i < count; i++)
        for (int j = 0; j < width; j++) {
            float v = rows[(size_t)i * width + j];
            if (!isfinite(v))
                return embp_fail(err, EMBP_EINTERNAL, "model '%s': input %d (%d tokens) came "
                                 "out of the forward pass with %s at dimension %d; no vector "
                                 "is returned (the weights or the %s/%s plan overflow float)",
                                 m->name, first + i, lens[first + i], isnan(v) ? "NaN" : "an "
                                 "infinity", j, embp_storage_str(m->plan.storage),
                                 embp_compute_str(m->plan.compute));
        }
    return EMBP_OK;
}

embp_status embp_model_check_tokens(const embp_model *m, const int32_t *const *ids,
                                    const int *lens, int n, embp_error *err) {
    if (n < 0 || (n > 0 && (!ids || !lens)))
        return embp_fail(err, EMBP_EINVAL, "%d inputs with ids %p and lens %p", n,
                         (const void *)ids, (const void *)lens);
    int i, j;
    embp_status rc = (embp_status)embp_tokens_find_invalid(ids, lens, n, m->cfg.max_seq_len,
                                                           m->cfg.vocab_size, &i, &j);
    if (rc != EMBP_OK && j < 0)
        return embp_fail(err, rc, "input %d has %d tokens, expected 1..%d (max_seq_len)", i,
                         lens[i], m->cfg.max_seq_len);
    if (rc != EMBP_OK)
        return embp_fail(err, rc, "input %d: token %d has id %d outside the vocabulary [0, %d)",
                         i, j, ids[i][j], m->cfg.vocab_size);
    return EMBP_OK;
}

/* Packs inputs first, first + 1, ... into m->ids and m->types (types NULL, or a NULL row:
 * type 0) while they fit one pass; returns how many. */
static int pack_typed(embp_model *m, const int32_t *const *ids, const int32_t *const *types,
                      const int *lens, int first, int n) {
    int count = 0, T = 0;
    m->offsets[0] = 0;
    while (first + count < n && T + lens[first + count] <= m->max_tokens) {
        int i = first + count;
        memcpy(m->ids + T, ids[i], (size_t)lens[i] * sizeof(int32_t));
        if (types && types[i])
            memcpy(m->types + T, types[i], (size_t)lens[i] * sizeof(int32_t));
        else
            memset(m->types + T, 0, (size_t)lens[i] * sizeof(int32_t));
        T += lens[i];
        m->offsets[++count] = T;
    }
    return count;
}

embp_status embp_model_score_packed(embp_model *m, const int32_t *ids, const int32_t *types,
                                    const int *offsets, int n, float *out, embp_error *err) {
    const float *hidden = NULL;
    if (!m->head)
        return embp_fail(err, EMBP_EUNSUPPORTED, "model '%s' (%s) is an embedding model: it has "
                         "no classification head to score pairs with", m->name,
                         m->cfg.architecture[0] ? m->cfg.architecture : "BertModel");
    if (n == 0)
        return EMBP_OK;
    embp_status rc = m->arch->forward(m->enc, ids, types, offsets, n, &hidden, err);
    if (rc == EMBP_OK)
        embp_classifier_apply(m->head, hidden, offsets, n, out);
    return rc;
}

embp_status embp_model_score_checked(embp_model *m, const int32_t *const *ids,
                                     const int32_t *const *types, const int *lens, int n,
                                     float *out, embp_error *err) {
    embp_status rc = EMBP_OK;
    int width = m->cfg.num_labels;
    for (int first = 0, count; rc == EMBP_OK && first < n; first += count) {
        count = pack_typed(m, ids, types, lens, first, n);
        rc = embp_model_score_packed(m, m->ids, m->types, m->offsets, count,
                                     out + (size_t)first * width, err);
        if (rc == EMBP_OK)
            rc = check_finite(m, out + (size_t)first * width, first, count, width, lens, err);
    }
    return rc;
}

embp_status embp_model_embed_checked_skip(embp_model *m, const int32_t *const *ids,
                                          const int *lens, const int *skip, int n, int dims,
                                          float *out, embp_error *err) {
    embp_status rc = EMBP_OK;
    int width = dims ? dims : m->cfg.dim;
    for (int first = 0; rc == EMBP_OK && first < n;) {
        int count = 0, T = 0;
        m->offsets[0] = 0;
        while (first + count < n && T + lens[first + count] <= m->max_tokens) {
            memcpy(m->ids + T, ids[first + count], (size_t)lens[first + count] * sizeof(int32_t));
            m->skip[count] = skip ? skip[first + count] : 0;
            T += lens[first + count];
            m->offsets[++count] = T;
        }
        rc = embed_pass(m, m->ids, m->offsets, skip ? m->skip : NULL, count, dims,
                        out + (size_t)first * width, err);
        if (rc == EMBP_OK)
            rc = check_finite(m, out + (size_t)first * width, first, count, width, lens, err);
        first += count;
    }
    return rc;
}

embp_status embp_model_embed_checked(embp_model *m, const int32_t *const *ids, const int *lens,
                                     int n, int dims, float *out, embp_error *err) {
    return embp_model_embed_checked_skip(m, ids, lens, NULL, n, dims, out, err);
}

embp_status embp_embed_tokens_skip(embp_model *m, const int32_t *const *ids, const int *lens,
                                   const int *skip, int n, int dims, float *out,
                                   embp_error *err) {
    if (dims < 0 || dims > m->cfg.dim)
        return embp_fail(err, EMBP_EINVAL, "dimensions %d outside 1..%d", dims, m->cfg.dim);
    embp_status rc = embp_model_check_tokens(m, ids, lens, n, err);
    for (int i = 0; rc == EMBP_OK && skip && i < n; i++)
        if (skip[i] < 0)
            rc = embp_fail(err, EMBP_EINVAL, "input %d: skip %d is negative", i, skip[i]);
    return rc != EMBP_OK ? rc : embp_model_embed_checked_skip(m, ids, lens, skip, n, dims, out,
                                                              err);
}

embp_status embp_embed_tokens(embp_model *m, const int32_t *const *ids, const int *lens, int n,
                              int dims, float *out, embp_error *err) {
    return embp_embed_tokens_skip(m, ids, lens, NULL, n, dims, out, err);
}

embp_status embp_embed_texts(embp_model *m, const char *const *texts, const size_t *lens, int n,
                             int dims, int truncate, float *out, embp_error *err) {
    return embp_embed_texts_prompt(m, NULL, texts, lens, n, dims, truncate, out, err);
}

embp_status embp_embed_texts_prompt(embp_model *m, const embp_prompt *p, const char *const *texts,
                                    const size_t *lens, int n, int dims, int truncate,
                                    float *out, embp_error *err) {
    int cap = m->cfg.max_seq_len;
    const char *prompt = "";
    if (n < 0 || (n > 0 && !texts))
        return embp_fail(err, EMBP_EINVAL, "%d texts with texts %p", n, (const void *)texts);
    embp_status rc = embp_prompt_resolve(m, p, &prompt, err);
    if (rc != EMBP_OK)
        return rc;
    int32_t *buf = embp_malloc((size_t)(n ? n : 1) * (size_t)cap * sizeof *buf);
    int32_t **rows = embp_malloc((size_t)(n ? n : 1) * sizeof *rows);
    int *counts = embp_malloc((size_t)(n ? n : 1) * sizeof *counts);
    int *skip = embp_malloc((size_t)(n ? n : 1) * sizeof *skip);
    if (!buf || !rows || !counts || !skip)
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory tokenizing %d texts", n);
    for (int i = 0; rc == EMBP_OK && i < n; i++) {
        rows[i] = buf + (size_t)i * cap;
        size_t len = lens ? lens[i] : strlen(texts[i]);
        if ((rc = embp_tokenize_prompt(m, prompt, texts[i], len, truncate, rows[i], cap,
                                       &counts[i], NULL, &skip[i], err))) {
            char where[32];
            snprintf(where, sizeof where, "text %d", i);
            embp_error_prefix(err, where);
        }
    }
    if (rc == EMBP_OK)
        rc = embp_embed_tokens_skip(m, (const int32_t *const *)rows, counts, skip, n, dims, out,
                                    err);
    embp_free(buf);
    embp_free(rows);
    embp_free(counts);
    embp_free(skip);
    return rc;
}

embp_status embp_model_tokenize_pair(const embp_model *m, const char *a, size_t a_len,
                                     const char *b, size_t b_len, int max_len, int from_left,
                                     int max_b, int32_t *ids, int32_t *types, int cap, int *n,
                                     int *n_full, embp_error *err) {
    int full = 0;
    *n = 0;
    embp_status rc = embp_tokenizer_encode_pair_capped(m->tok, a, a_len, b, b_len, max_len,
                                                       from_left, max_b, ids, types, cap, n,
                                                       &full, err);
    if (n_full)
        *n_full = full;
    return rc;
}

embp_status embp_score_pairs(embp_model *m, const char *query, size_t query_len,
                             const char *const *texts, const size_t *text_lens, int n,
                             int truncate, float *out, embp_error *err) {
    int cap = m->cfg.max_seq_len;
    if (n < 0 || (n > 0 && (!texts || !query)))
        return embp_fail(err, EMBP_EINVAL, "%d texts with query %p and texts %p", n,
                         (const void *)query, (const void *)texts);
    if (!m->head)
        return embp_model_score_packed(m, NULL, NULL, NULL, 0, out, err); /* the refusal */
    size_t rows = (size_t)(n ? n : 1) * (size_t)cap;
    int32_t *ids = embp_malloc(rows * sizeof *ids), *types = embp_malloc(rows * sizeof *types);
    int32_t **pi = embp_malloc((size_t)(n ? n : 1) * sizeof *pi);
    int32_t **pt = embp_malloc((size_t)(n ? n : 1) * sizeof *pt);
    int *lens = embp_malloc((size_t)(n ? n : 1) * sizeof *lens);
    embp_status rc = EMBP_OK;
    if (!ids || !types || !pi || !pt || !lens)
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory tokenizing %d pairs", n);
    for (int i = 0; rc == EMBP_OK && i < n; i++) {
        int full = 0;
        pi[i] = ids + (size_t)i * cap, pt[i] = types + (size_t)i * cap;
        size_t len = text_lens ? text_lens[i] : strlen(texts[i]);
        rc = embp_model_tokenize_pair(m, query, query_len, texts[i], len, cap, 0, 0, pi[i],
                                      pt[i], cap, &lens[i], &full, err);
        if (rc == EMBP_OK && !truncate && full > cap)
            rc = embp_fail(err, EMBP_ETOOLONG, "the pair has %d tokens, more than the model's "
                           "max_seq_len %d", full, cap);
        if (rc) {
            char where[32];
            snprintf(where, sizeof where, "text %d", i);
            embp_error_prefix(err, where);
        }
    }
    if (rc == EMBP_OK)
        rc = embp_model_check_tokens(m, (const int32_t *const *)pi, lens, n, err);
    if (rc == EMBP_OK)
        rc = embp_model_score_checked(m, (const int32_t *const *)pi, (const int32_t *const *)pt,
                                      lens, n, out, err);
    embp_free(ids);
    embp_free(types);
    embp_free(pi);
    embp_free(pt);
    embp_free(lens);
    return rc;
}
