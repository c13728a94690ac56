/* embp_model: a runnable model built from a parsed folder under one plan, and the public
 * embed calls. Loading (the folder, the plan, auto) is runtime/plan_load.c.
 * Batching across requests is the batcher's (runtime/batcher.c); this runs what it is given. */
#include "runtime/model.h"

#include <stdio.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/matmul.h"
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
    embp_plan plan;         /* as resolved; fp32 with no reasons until set */
    char plan_reason[4 * EMBP_PLAN_REASON_LEN];
    char requested[96];
    char plan_desc[512];
    int max_tokens;
    int32_t *ids;  /* (max_tokens): a pass's ids, packed by embp_embed_tokens */
    int *offsets;  /* (max_tokens + 1) */
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
    }
    return "unknown";
}

static void describe_plan(embp_model *m);

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
    if ((rc = embp_folder_weights(f, &st, err)) ||
        (rc = m->arch->load(&m->cfg, st, &m->plan, m->max_tokens, m->cfg.max_seq_len,
                            o->n_threads, &m->enc, err)))
        goto fail;
    m->ids = embp_malloc((size_t)m->max_tokens * sizeof *m->ids);
    m->offsets = embp_malloc(((size_t)m->max_tokens + 1) * sizeof *m->offsets);
    if (!m->ids || !m->offsets) {
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
    if (m->owns_folder)
        embp_folder_free(m->folder);
    embp_free(m->ids);
    embp_free(m->offsets);
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

/* Runs one pass per GEMM row bucket (embp_mm_bucket, kernels/matmul.h) up to `tokens`, so each
 * bucket's primitives exist before a request needs them. A pass of T tokens is sequences of at
 * most max_seq_len [PAD] tokens (id 0; any id would do). */
embp_status embp_model_warm_up(embp_model *m, int tokens, embp_error *err) {
    int max_t = tokens < m->max_tokens ? tokens : m->max_tokens, len = m->cfg.max_seq_len;
    int n_max = max_t / len + 1;
    int32_t *ids = embp_calloc((size_t)max_t, sizeof *ids);
    int *off = embp_malloc(((size_t)n_max + 1) * sizeof *off);
    float *out = embp_malloc((size_t)n_max * (size_t)m->cfg.hidden * sizeof *out);
    embp_status rc = !ids || !off || !out ? embp_fail(err, EMBP_ENOMEM, "out of memory warming up")
                                          : EMBP_OK;
    for (int T = 1; rc == EMBP_OK && T <= max_t; T = embp_mm_bucket(T + 1)) {
        int n = 0;
        off[0] = 0;
        for (int left = T; left > 0; left -= len < left ? len : left, n++)
            off[n + 1] = off[n] + (len < left ? len : left);
        rc = embp_model_embed_packed(m, ids, off, n, 0, out, err);
    }
    embp_free(ids);
    embp_free(off);
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
        snprintf(fid, sizeof fid, "fidelity to fp32: mean cosine %.5f, min %.5f",
                 p->fidelity_mean, p->fidelity_min);
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
    o->dim = c->hidden;
    o->pooling = c->pooling, o->normalize = c->normalize, o->is_demo = c->is_demo;
    o->weight_bytes = m->arch->weight_bytes(m->enc);
    o->storage = embp_storage_str(m->plan.storage);
    o->compute = embp_compute_str(m->plan.compute);
    o->accumulation = "fp32";
    o->plan_reason = m->plan_reason;
    o->requested = m->requested;
    o->plan_desc = m->plan_desc;
    o->quant_group_size = m->plan.storage == EMBP_STORAGE_INT4 ? m->plan.group_size : 0;
    o->fidelity_mean = m->plan.fidelity_mean;
    o->fidelity_min = m->plan.fidelity_min;
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

embp_status embp_tokenize(const embp_model *m, const char *text, size_t len, int truncate,
                          int32_t *ids, int cap, int *n, int *n_full, embp_error *err) {
    int full = 0, max = m->cfg.max_seq_len;
    embp_status rc = embp_model_tokenize(m, text, len, truncate ? max : 0, ids, cap, n, &full,
                                         err);
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

embp_status embp_model_embed_packed(embp_model *m, const int32_t *ids, const int *offsets, int n,
                                    int dims, float *out, embp_error *err) {
    int H = m->cfg.hidden;
    const float *hidden = NULL;
    if (dims < 0 || dims > H)
        return embp_fail(err, EMBP_EINVAL, "dimensions %d outside 1..%d", dims, H);
    if (n == 0)
        return EMBP_OK;
    embp_status rc = m->arch->forward(m->enc, ids, offsets, n, &hidden, err);
    if (rc)
        return rc;
    embp_prof_clock t = embp_prof_start(m->prof);
    embp_pool(m->cfg.pooling, m->cfg.normalize, hidden, offsets, n, H, dims ? dims : H, out);
    embp_prof_mark(m->prof, EMBP_OP_POOL, &t);
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

embp_status embp_model_embed_checked(embp_model *m, const int32_t *const *ids, const int *lens,
                                     int n, int dims, float *out, embp_error *err) {
    embp_status rc = EMBP_OK;
    int width = dims ? dims : m->cfg.hidden;
    for (int first = 0; rc == EMBP_OK && first < n;) {
        int count = 0, T = 0;
        m->offsets[0] = 0;
        while (first + count < n && T + lens[first + count] <= m->max_tokens) {
            memcpy(m->ids + T, ids[first + count], (size_t)lens[first + count] * sizeof(int32_t));
            T += lens[first + count];
            m->offsets[++count] = T;
        }
        rc = embp_model_embed_packed(m, m->ids, m->offsets, count, dims,
                                     out + (size_t)first * width, err);
        if (rc == EMBP_OK)
            rc = check_finite(m, out + (size_t)first * width, first, count, width, lens, err);
        first += count;
    }
    return rc;
}

embp_status embp_embed_tokens(embp_model *m, const int32_t *const *ids, const int *lens, int n,
                              int dims, float *out, embp_error *err) {
    if (dims < 0 || dims > m->cfg.hidden)
        return embp_fail(err, EMBP_EINVAL, "dimensions %d outside 1..%d", dims, m->cfg.hidden);
    embp_status rc = embp_model_check_tokens(m, ids, lens, n, err);
    return rc != EMBP_OK ? rc : embp_model_embed_checked(m, ids, lens, n, dims, out, err);
}

embp_status embp_embed_texts(embp_model *m, const char *const *texts, const size_t *lens, int n,
                             int dims, int truncate, float *out, embp_error *err) {
    int cap = m->cfg.max_seq_len;
    if (n < 0 || (n > 0 && !texts))
        return embp_fail(err, EMBP_EINVAL, "%d texts with texts %p", n, (const void *)texts);
    int32_t *buf = embp_malloc((size_t)(n ? n : 1) * (size_t)cap * sizeof *buf);
    int32_t **rows = embp_malloc((size_t)(n ? n : 1) * sizeof *rows);
    int *counts = embp_malloc((size_t)(n ? n : 1) * sizeof *counts);
    embp_status rc = EMBP_OK;
    if (!buf || !rows || !counts)
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory tokenizing %d texts", n);
    for (int i = 0; rc == EMBP_OK && i < n; i++) {
        rows[i] = buf + (size_t)i * cap;
        size_t len = lens ? lens[i] : strlen(texts[i]);
        if ((rc = embp_tokenize(m, texts[i], len, truncate, rows[i], cap, &counts[i], NULL,
                                err))) {
            char where[32];
            snprintf(where, sizeof where, "text %d", i);
            embp_error_prefix(err, where);
        }
    }
    if (rc == EMBP_OK)
        rc = embp_embed_tokens(m, (const int32_t *const *)rows, counts, n, dims, out, err);
    embp_free(buf);
    embp_free(rows);
    embp_free(counts);
    return rc;
}
