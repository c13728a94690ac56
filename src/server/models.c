/* The model registry: loads each configured folder and starts its batcher. */
#include "server/models.h"

#include "runtime/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/log.h"
#include "hub/hub.h"

/* Runs on the batcher's worker: the only caller of embp_embed_tokens for this model. */
static embp_status embed_full_dim(void *ctx, const int32_t *const *ids, const int *lens, int n,
                                  float *out, embp_error *err) {
    return embp_embed_tokens(ctx, ids, lens, n, 0, out, err);
}

/* Loads path as models[i], named by the i-th --model-name, else by default_name (NULL: the
 * folder's name). */
static embp_status load_one(const embp_config *c, const char *path, const char *default_name,
                            int i, int with_batcher, embp_server_model *sm, embp_error *err) {
    embp_config_model_opts l;
    embp_config_load_opts(c, i, &l);
    if (!l.opts.name)
        l.opts.name = default_name;
    l.opts.warmup_tokens = with_batcher ? 512 : 0; /* a server's first requests find primitives */
    if (embp_model_load(path, &l.opts, &sm->model, err) != EMBP_OK) {
        embp_config_explain(err); /* the library names its fields; we name our variables */
        return err->code;
    }
    embp_model_get_info(sm->model, &sm->info);
    sm->tokenize = embp_tokenize;
    sm->max_seq_len = sm->info.max_seq_len;
    if (c->max_context_length > 0 && c->max_context_length < sm->max_seq_len)
        sm->max_seq_len = (int)c->max_context_length;
    if (sm->info.is_demo)
        embp_log(EMBP_LOG_DEBUG, EMBP_LOG_WARN, "model %s (%s) is a DEMO model: seeded random "
                 "weights, its vectors carry no meaning", sm->info.name, path);
    if (!with_batcher)
        return EMBP_OK;
    if (c->max_batch_tokens > 0 && c->max_batch_tokens < sm->max_seq_len)
        return embp_fail(err, EMBP_ECONFIG, "EMB_PROVIDER_MAX_BATCH_TOKENS=%ld is below model "
                         "%s's max_seq_len %d; raise it or lower --max-context-length",
                         c->max_batch_tokens, sm->info.name, sm->max_seq_len);
    embp_batcher_opts bo = {.embed = embed_full_dim, .ctx = sm->model, .dim = sm->info.dim,
                            .max_batch_tokens = embp_model_max_batch_tokens(sm->model),
                            .max_wait_ms = (int)c->max_wait_time_ms,
                            .max_queue_tokens = c->max_queue_tokens,
                            .length_grouping = c->length_grouping};
    return embp_batcher_create(&bo, &sm->batcher, err);
}

static const char *env(const char *name) {
    return getenv(name);
}

/* A --model value that is no folder but reads ORG/NAME[@REVISION] is a Hugging Face Hub
 * model: found in the HF cache, else pulled into it (unless HF_HUB_OFFLINE). paths[i] then
 * points at dirs[i], the snapshot folder, and names[i] at the id's NAME, the model's default
 * API id. */
typedef struct {
    char dirs[16][4096];
    embp_hub_id ids[16];
    const char *names[16];
} hub_paths;

static embp_status resolve_hub_ids(const char **paths, int count, hub_paths *h,
                                   embp_error *err) {
    embp_hub_opts o;
    embp_hub_opts_from_env(&o, env);
    embp_hub_progress_state progress = {0};
    o.progress = embp_hub_progress_stderr;
    o.progress_ctx = &progress;
    for (int i = 0; i < count; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 || !embp_hub_is_id(paths[i]))
            continue;
        embp_hub_parse_id(paths[i], &h->ids[i], NULL);
        if (embp_hub_find(&o, &h->ids[i], h->dirs[i], sizeof h->dirs[i], NULL) != EMBP_OK) {
            if (!o.offline)
                embp_log(EMBP_LOG_DEBUG, EMBP_LOG_INFO, "%s is neither a folder nor in the "
                         "Hugging Face cache (%s): pulling it from %s", paths[i], o.cache,
                         o.endpoint);
            if (embp_hub_pull(&o, &h->ids[i], h->dirs[i], sizeof h->dirs[i], err) != EMBP_OK) {
                char what[160];
                snprintf(what, sizeof what, "model %.100s (no such folder; as a Hub id)",
                         paths[i]);
                embp_error_prefix(err, what);
                return err->code;
            }
        }
        paths[i] = h->dirs[i];
        h->names[i] = h->ids[i].name;
    }
    return EMBP_OK;
}

embp_status embp_models_load(const embp_config *c, const char *exe_dir, int with_batcher,
                             embp_server_model **out, int *n, embp_error *err) {
    *out = NULL;
    *n = 0;
    char buf[4096];
    const char *paths[16];
    int count = embp_config_model_paths(c, exe_dir, env, buf,
                                        sizeof buf, paths, 16, err);
    if (count == 0)
        return err->code;
    embp_server_model *m = NULL;
    hub_paths *h = embp_calloc(1, sizeof *h);
    if (!h || !(m = embp_calloc((size_t)count, sizeof *m))) {
        embp_fail(err, EMBP_ENOMEM, "out of memory");
        goto fail;
    }
    if (resolve_hub_ids(paths, count, h, err) != EMBP_OK)
        goto fail;
    for (int i = 0; i < count; i++) {
        if (load_one(c, paths[i], h->names[i], i, with_batcher, &m[i], err) != EMBP_OK)
            goto fail;
        for (int k = 0; k < i; k++)
            if (strcmp(m[k].info.name, m[i].info.name) == 0) {
                embp_fail(err, EMBP_ECONFIG, "two models are named %s (%s and %s); name them "
                          "with EMB_PROVIDER_MODEL_NAME", m[i].info.name, m[k].info.path,
                          m[i].info.path);
                goto fail;
            }
    }
    embp_free(h);
    *out = m;
    *n = count;
    return EMBP_OK;
fail:
    embp_free(h);
    embp_models_free(m, count);
    return err->code;
}

void embp_models_free(embp_server_model *m, int n) {
    if (!m)
        return;
    for (int i = 0; i < n; i++) {
        embp_batcher_free(m[i].batcher);
        embp_model_free(m[i].model);
    }
    embp_free(m);
}

static json_t *fidelity_value(double v) {
    return isnan(v) ? json_null() : json_real(v);
}

json_t *embp_models_precision_json(const embp_model_info *i) {
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
    return o;
}
