/* The model registry (registry.h): loads each folder and starts its batcher. */
#include "runtime/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "runtime/folder.h"
#include "runtime/model.h"

/* Runs on the batcher's worker: the only caller of the model for this model. The ids were
 * checked where the request came in (the server's request check, embp_tokens_find_invalid). */
static embp_status embed_full_dim(void *ctx, const int32_t *const *ids, const int *lens,
                                  const int *skip, int n, float *out, embp_error *err) {
    return embp_model_embed_checked_skip(ctx, ids, lens, skip, n, 0, out, err);
}

/* The same for a reranker: a row is a pair's logits, its second sequence of type 1. */
static embp_status score_pairs(void *ctx, const int32_t *const *ids, const int32_t *const *types,
                               const int *lens, int n, float *out, embp_error *err) {
    return embp_model_score_checked(ctx, ids, types, lens, n, out, err);
}

/* Loads path with o as *rm. */
static embp_status load_one(const char *path, const embp_load_opts *o,
                            const embp_registry_opts *ro, embp_registry_model *rm,
                            embp_error *err) {
    if (embp_model_load(path, o, &rm->model, err) != EMBP_OK)
        return err->code;
    embp_model_get_info(rm->model, &rm->info);
    rm->max_seq_len = rm->info.max_seq_len;
    if (ro->max_context_length > 0 && ro->max_context_length < rm->max_seq_len)
        rm->max_seq_len = ro->max_context_length;
    if (rm->info.is_demo)
        embp_logger_log(&ro->log, EMBP_LOG_WARN, NULL, "model %s (%s) is a DEMO model: "
                        "seeded random weights, its vectors carry no meaning", rm->info.name,
                        path);
    if (!ro->with_batcher)
        return EMBP_OK;
    if (o->max_batch_tokens > 0 && o->max_batch_tokens < rm->max_seq_len)
        return embp_fail(err, EMBP_ECONFIG, "max_batch_tokens=%d is below model %s's "
                         "max_seq_len %d; raise it or lower max_context_length",
                         o->max_batch_tokens, rm->info.name, rm->max_seq_len);
    int rerank = rm->info.num_labels > 0;
    embp_batcher_opts bo = {.embed_skip = embed_full_dim, .score = rerank ? score_pairs : NULL,
                            .ctx = rm->model,
                            .dim = rerank ? rm->info.num_labels : rm->info.dim,
                            .max_batch_tokens = embp_model_max_batch_tokens(rm->model),
                            .max_wait_ms = ro->max_wait_ms,
                            .max_queue_tokens = ro->max_queue_tokens,
                            .length_grouping = ro->length_grouping};
    return embp_batcher_create(&bo, &rm->batcher, err);
}

embp_status embp_registry_load(const char *const *paths, const embp_load_opts *opts, int n,
                               const embp_registry_opts *ro, embp_registry_model **out,
                               embp_error *err) {
    *out = NULL;
    embp_registry_model *m = embp_calloc((size_t)(n > 0 ? n : 1), sizeof *m);
    if (!m)
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (load_one(paths[i], &opts[i], ro, &m[i], err) != EMBP_OK) {
            embp_registry_free(m, n);
            return err->code;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(m[k].info.name, m[i].info.name) == 0) {
                embp_fail(err, EMBP_ECONFIG, "two models are named %s (%s and %s); give them "
                          "different names (embp_load_opts.name)", m[i].info.name, m[k].info.path,
                          m[i].info.path);
                embp_registry_free(m, n);
                return EMBP_ECONFIG;
            }
    }
    *out = m;
    return EMBP_OK;
}

void embp_registry_free(embp_registry_model *m, int n) {
    if (!m)
        return;
    for (int i = 0; i < n; i++) {
        embp_batcher_free(m[i].batcher);
        embp_model_free(m[i].model);
    }
    embp_free(m);
}

embp_status embp_registry_tokenize(const embp_registry_model *m, const char *text, size_t len,
                                   int truncate, int32_t *ids, int *n, int *n_full,
                                   embp_error *err) {
    return embp_registry_tokenize_prompt(m, NULL, text, len, truncate, ids, n, n_full, NULL, err);
}

embp_status embp_registry_tokenize_prompt(const embp_registry_model *m, const char *prompt,
                                          const char *text, size_t len, int truncate,
                                          int32_t *ids, int *n, int *n_full, int *n_prompt,
                                          embp_error *err) {
    embp_status rc = embp_model_tokenize_prompt(m->model, prompt, text, len, m->max_seq_len, ids,
                                                m->max_seq_len, n, n_full, n_prompt, err);
    if (rc == EMBP_OK && !truncate && *n_full > m->max_seq_len)
        return embp_fail(err, EMBP_ETOOLONG, "input has %d tokens; this model takes at most %d",
                         *n_full, m->max_seq_len);
    return rc;
}

embp_status embp_registry_tokenize_pair(const embp_registry_model *m, const char *a,
                                        size_t a_len, const char *b, size_t b_len, int truncate,
                                        int from_left, int max_b, int32_t *ids, int32_t *types,
                                        int *n, int *n_full, embp_error *err) {
    embp_status rc = embp_model_tokenize_pair(m->model, a, a_len, b, b_len, m->max_seq_len,
                                              from_left, max_b, ids, types, m->max_seq_len, n,
                                              n_full, err);
    if (rc == EMBP_OK && !truncate && *n_full > m->max_seq_len)
        return embp_fail(err, EMBP_ETOOLONG, "the pair has %d tokens; this model takes at most "
                         "%d", *n_full, m->max_seq_len);
    return rc;
}

const char *embp_registry_kind(const embp_model_info *i) {
    return i->num_labels > 0 ? "reranker" : "embedding";
}

json_t *embp_registry_prompts_json(const embp_registry_model *m) {
    json_t *prompts = json_object();
    for (int k = 0; k < m->info.n_prompts; k++) {
        const char *text, *name = embp_model_prompt(m->model, k, &text);
        json_object_set_new(prompts, name, json_string(text));
    }
    return json_pack("{s:o, s:s?, s:b}", "prompts", prompts, "default_prompt_name",
                     m->info.default_prompt_name, "include_prompt", m->info.include_prompt);
}

embp_status embp_registry_tokenize_left(const embp_registry_model *m, const char *prompt,
                                        const char *text, size_t len, int truncate, int32_t *ids,
                                        int *n, int *n_full, int *n_prompt, embp_error *err) {
    size_t np = prompt ? strlen(prompt) : 0;
    char *joined = np ? embp_malloc(np + len + 1) : NULL;
    if (np && !joined)
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    if (np) { /* the prompt goes before the text, as TEI puts it, and is cut first */
        memcpy(joined, prompt, np);
        memcpy(joined + np, text, len);
    }
    if (n_prompt)
        *n_prompt = 0;
    embp_status rc = embp_tokenizer_encode_dir(embp_model_folder(m->model)->tok,
                                               np ? joined : text, np + len, m->max_seq_len, true,
                                               ids, m->max_seq_len, n, n_full, err);
    embp_free(joined);
    if (rc == EMBP_OK && !truncate && *n_full > m->max_seq_len)
        return embp_fail(err, EMBP_ETOOLONG, "input has %d tokens; this model takes at most %d",
                         *n_full, m->max_seq_len);
    return rc;
}

embp_status embp_registry_token_states(void *ctx, embp_batch_job *job, embp_error *err) {
    embp_model_info info;
    embp_model_get_info(ctx, &info);
    size_t row = 0;
    for (int i = 0; i < job->n; i++) {
        embp_status rc = embp_model_token_states(ctx, job->ids[i], job->lens[i],
                                                 job->out + row * (size_t)info.hidden, err);
        if (rc)
            return rc;
        row += (size_t)job->lens[i];
    }
    return EMBP_OK;
}

embp_registry_model *embp_registry_find(embp_registry_model *m, int n,
                                        const embp_model_alias *aliases, int n_aliases,
                                        const char *name, const embp_model_alias **alias_of) {
    if (alias_of)
        *alias_of = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(m[i].info.name, name) == 0)
            return &m[i];
    for (int a = 0; a < n_aliases; a++) {
        if (strcmp(aliases[a].alias, name) != 0)
            continue;
        for (int i = 0; i < n; i++)
            if (strcmp(m[i].info.name, aliases[a].target) == 0) {
                if (alias_of)
                    *alias_of = &aliases[a];
                return &m[i];
            }
    }
    return NULL;
}

void embp_registry_names(const embp_registry_model *m, int n, const embp_model_alias *aliases,
                         int n_aliases, char *out, size_t size) {
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(out + k, size - k, "%s%s", i ? ", " : "", m[i].info.name);
    for (int a = 0; a < n_aliases && k < size; a++)
        k += (size_t)snprintf(out + k, size - k, "%s%s -> %s%s", a ? ", " : " (aliases: ",
                              aliases[a].alias, aliases[a].target, a + 1 == n_aliases ? ")" : "");
}

static json_t *fidelity_value(double v) {
    return isnan(v) ? json_null() : json_real(v);
}

json_t *embp_registry_precision_json(const embp_model_info *i) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "requested",
                          i->requested ? i->requested : "", "storage", i->storage ? i->storage : "",
                          "compute", i->compute ? i->compute : "", "accumulation",
                          i->accumulation ? i->accumulation : "", "reason",
                          i->plan_reason ? i->plan_reason : "", "plan",
                          i->plan_desc ? i->plan_desc : "");
    if (!o)
        return NULL;
    if (i->quant_group_size)
        json_object_set_new(o, "group_size", json_integer(i->quant_group_size));
    json_object_set_new(o, "fidelity_mean", fidelity_value(i->fidelity_mean));
    json_object_set_new(o, "fidelity_min", fidelity_value(i->fidelity_min));
    json_object_set_new(o, "fidelity_measure", json_string(i->fidelity_measure ?
                                                           i->fidelity_measure : "cosine"));
    return o;
}
