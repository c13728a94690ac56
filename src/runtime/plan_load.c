/* Loading a model: the folder parsed once (runtime/folder.h), the request from embp_load_opts
 * (typed; the planner checks it), one plan resolved on this CPU before any weight is packed,
 * auto's measured choice (a loop over candidate plans on the same folder), and fidelity against
 * an fp32 model built from that folder. The library reads no environment and parses no
 * settings text. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/alloc.h"
#include "precision/plan.h"
#include "precision/probe.h"
#include "precision/request.h"
#include "runtime/model.h"

/* Embeds the probe set with m into out (n x dim). */
static embp_status embed_probe(embp_model *m, float *out, embp_error *err) {
    int n;
    const char *const *texts = embp_probe_texts(&n);
    return embp_embed_texts(m, texts, NULL, n, 0, 1, out, err);
}

/* A reranker's probe: the first PROBE_QUERIES probe texts as queries, each scored against every
 * probe text (n of them) into out (PROBE_QUERIES x n logits). */
#define PROBE_QUERIES 4
static embp_status score_probe(embp_model *m, float *out, embp_error *err) {
    int n;
    const char *const *texts = embp_probe_texts(&n);
    embp_status rc = EMBP_OK;
    for (int q = 0; q < PROBE_QUERIES && q < n && rc == EMBP_OK; q++)
        rc = embp_score_pairs(m, texts[q], strlen(texts[q]), texts, NULL, n, 1,
                              out + (size_t)q * (size_t)n, err);
    return rc;
}

/* A reranker's fidelity: per query, the Pearson r of m's logits against ref's. */
static embp_status score_fidelity(embp_model *m, embp_model *ref, double *mean, double *min,
                                  embp_error *err) {
    int n;
    embp_probe_texts(&n);
    size_t cells = (size_t)PROBE_QUERIES * (size_t)n;
    float *a = embp_malloc(cells * sizeof *a), *b = embp_malloc(cells * sizeof *b);
    embp_status rc = !a || !b ? embp_fail(err, EMBP_ENOMEM, "out of memory measuring fidelity")
                              : score_probe(m, a, err);
    if (rc == EMBP_OK && (rc = score_probe(ref, b, err)) == EMBP_OK)
        rc = embp_fidelity_scores(a, b, PROBE_QUERIES, n, mean, min, err);
    embp_free(a);
    embp_free(b);
    return rc;
}

/* Fidelity of m against ref (fp32 of the same folder): an embedder's as mean and minimum cosine
 * of the probe texts' vectors; a reranker's on its scores (score_fidelity). */
embp_status embp_model_fidelity_between(embp_model *m, embp_model *ref, double *mean,
                                        double *min, embp_error *err) {
    int n;
    embp_probe_texts(&n);
    embp_model_info info;
    embp_model_get_info(m, &info);
    if (info.num_labels > 0)
        return score_fidelity(m, ref, mean, min, err);
    float *a = embp_malloc((size_t)n * (size_t)info.dim * sizeof *a);
    float *b = embp_malloc((size_t)n * (size_t)info.dim * sizeof *b);
    embp_status rc = !a || !b ? embp_fail(err, EMBP_ENOMEM, "out of memory measuring fidelity")
                              : embed_probe(m, a, err);
    if (rc == EMBP_OK && (rc = embed_probe(ref, b, err)) == EMBP_OK)
        rc = embp_fidelity(a, b, n, info.dim, mean, min, err);
    embp_free(a);
    embp_free(b);
    return rc;
}

/* The cache key of dir's weights under plan p; 0 when the weights cannot be stat'ed. */
static int cache_key(const char *dir, const embp_plan *p, int scores, char *path, size_t psize,
                     char *plan, size_t plsize, embp_fidelity_key *key) {
    struct stat sb;
    snprintf(path, psize, "%s/model.safetensors", dir);
    if (stat(path, &sb) != 0) {
        snprintf(path, psize, "%s/model.safetensors.index.json", dir);
        if (stat(path, &sb) != 0)
            return 0;
    }
    embp_plan_key(p, plan, plsize);
    if (scores) /* a reranker's fidelity is another measure: never a vector one's entry */
        snprintf(plan + strlen(plan), plsize - strlen(plan), "/scores");
    *key = (embp_fidelity_key){path, (int64_t)sb.st_size, (int64_t)sb.st_mtime, plan};
    return 1;
}

/* Fidelity of plan p for folder f: from the cache, else measured with m (built under p)
 * against an fp32 model built on demand from the same folder into *ref. */
static embp_status fidelity_of(embp_folder *f, const embp_load_opts *o, embp_plan *p,
                               embp_model *m, embp_model **ref, embp_error *err) {
    const char *dir = f->path;
    char wpath[4096], plan[64], cache[4096];
    embp_fidelity_key key;
    embp_model_info info;
    embp_model_get_info(m, &info);
    int have_key = o->fidelity_cache_dir && *o->fidelity_cache_dir &&
                   cache_key(dir, p, info.num_labels > 0, wpath, sizeof wpath, plan, sizeof plan,
                             &key);
    if (have_key) {
        snprintf(cache, sizeof cache, "%s/fidelity.json", o->fidelity_cache_dir);
        int found = 0;
        embp_error cerr;
        if (embp_fidelity_cache_get(cache, &key, &found, &p->fidelity_mean, &p->fidelity_min,
                                    &cerr) == EMBP_OK && found)
            return EMBP_OK;
    }
    embp_status rc = EMBP_OK;
    if (!*ref) {
        embp_plan fp32 = *p;
        fp32.storage = EMBP_STORAGE_FP32, fp32.compute = EMBP_COMPUTE_FP32;
        rc = embp_model_build(f, &fp32, o, ref, err);
    }
    if (rc == EMBP_OK)
        rc = embp_model_fidelity_between(m, *ref, &p->fidelity_mean, &p->fidelity_min, err);
    if (rc == EMBP_OK && have_key) {
        embp_error cerr; /* a cache that cannot be written only costs a re-measure */
        embp_fidelity_cache_put(cache, &key, p->fidelity_mean, p->fidelity_min, &cerr);
    }
    return rc;
}

/* auto: the candidates this CPU runs, fastest first, each built from the one parsed folder; the
 * first whose fidelity meets the floor wins, else fp32 (the last candidate). Keeps the winner
 * in *out. */
static embp_status load_auto(embp_folder *f, const embp_load_opts *o,
                             const embp_precision_request *req, embp_model **out,
                             embp_error *err) {
    embp_plan cands[8];
    int n = embp_plan_auto_candidates(req, embp_cpu_get(), cands, 8);
    embp_model *ref = NULL, *m = NULL;
    embp_status rc = EMBP_OK;
    for (int i = 0; i < n && rc == EMBP_OK; i++) {
        cands[i].is_auto = 1;
        if (cands[i].storage == EMBP_STORAGE_FP32 && cands[i].compute == EMBP_COMPUTE_FP32) {
            cands[i].fidelity_mean = cands[i].fidelity_min = 1.0; /* the reference itself */
            rc = embp_model_build(f, &cands[i], o, &m, err);
            break;
        }
        if ((rc = embp_model_build(f, &cands[i], o, &m, err)) != EMBP_OK ||
            (rc = fidelity_of(f, o, &cands[i], m, &ref, err)) != EMBP_OK)
            break;
        if (cands[i].fidelity_mean >= req->fidelity_mean_min &&
            cands[i].fidelity_min >= req->fidelity_min_min) { /* embp_plan_pick's rule, one plan */
            embp_model_set_plan(m, &cands[i]);
            break;
        }
        embp_model_free(m);
        m = NULL;
    }
    embp_model_free(ref);
    if (rc != EMBP_OK) {
        embp_model_free(m);
        return rc;
    }
    *out = m;
    return m ? EMBP_OK : embp_fail(err, EMBP_EINTERNAL, "auto: no candidate plan loaded");
}

/* ---------------------------------------------------------------- folders from embp quantize */

/* Fidelity embp quantize measured for plan p against the fp32 source, from
 * dir/embp_quantize.json, when it was measured for the same storage/compute/group. */
static void recorded_fidelity(const char *dir, embp_plan *p) {
    char path[4096], key[64];
    snprintf(path, sizeof path, "%s/embp_quantize.json", dir);
    json_t *j = json_load_file(path, 0, NULL), *f = json_object_get(j, "fidelity");
    embp_plan_key(p, key, sizeof key);
    const char *plan = json_string_value(json_object_get(f, "plan"));
    json_t *mean = json_object_get(f, "mean"), *min = json_object_get(f, "min");
    if (plan && strcmp(plan, key) == 0 && json_is_number(mean) && json_is_number(min))
        p->fidelity_mean = json_number_value(mean), p->fidelity_min = json_number_value(min);
    json_decref(j);
}

/* The plan for folder f: the folder's own storage when embp quantize wrote it (its fidelity was
 * measured against the fp32 source, which this folder lacks), else the request's. */
static embp_status resolve(const embp_folder *f, const embp_precision_request *req,
                           const char *name, const embp_load_opts *o, embp_plan *plan,
                           embp_error *err) {
    if (f->file_storage < 0)
        return embp_plan_resolve(req, name, embp_cpu_get(), o->strict, plan, err);
    embp_status rc = embp_plan_resolve_file(req, name, embp_cpu_get(), o->strict,
                                            (embp_storage)f->file_storage, f->file_group,
                                            f->file_desc, plan, err);
    if (rc == EMBP_OK)
        recorded_fidelity(f->path, plan);
    return rc;
}

embp_status embp_model_load(const char *dir, const embp_load_opts *opts, embp_model **out,
                            embp_error *err) {
    embp_load_opts defaults;
    if (!opts) {
        embp_load_opts_init(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    if (!dir || !*dir)
        return embp_fail(err, EMBP_EINVAL, "model folder path is empty");
    embp_precision_request req; /* checked before the disk is touched */
    embp_status rc = embp_precision_request_from_opts(opts, &req, err);
    if (rc != EMBP_OK)
        return rc;
    char *name = embp_model_name_for(dir, opts);
    embp_folder *f = NULL;
    embp_model *m = NULL;
    embp_plan plan;
    if (!name)
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory");
    else if ((rc = embp_folder_open(dir, &f, err)) != EMBP_OK ||
             (rc = resolve(f, &req, name, opts, &plan, err)) != EMBP_OK) {
    } else if (plan.is_auto) {
        rc = load_auto(f, opts, &req, &m, err);
    } else if ((rc = embp_model_build(f, &plan, opts, &m, err)) == EMBP_OK &&
               opts->measure_fidelity) {
        rc = embp_model_measure_fidelity(m, opts->fidelity_cache_dir, err);
    }
    embp_free(name);
    embp_precision_request_free(&req);
    if (rc == EMBP_OK) { /* every weight is packed or in place: the pages go, the folder (and
                          * its mapping) stays with m */
        embp_folder_release_weights(f);
        embp_model_own_folder(m);
        f = NULL;
        if (opts->warmup_tokens > 0)
            rc = embp_model_warm_up(m, opts->warmup_tokens, err);
    }
    if (rc != EMBP_OK) {
        embp_model_free(m);
        m = NULL;
    }
    embp_folder_free(f);
    embp_model_release_openmp_team();
    *out = m;
    return rc;
}

embp_status embp_model_measure_fidelity(embp_model *m, const char *cache_dir, embp_error *err) {
    embp_plan p;
    embp_model_get_plan(m, &p);
    if (p.prequantized) {
        if (!isnan(p.fidelity_mean))
            return EMBP_OK;
        return embp_fail(err, EMBP_EINVAL, "the weights were quantized ahead by embp quantize "
                         "and the fp32 weights to compare with are not in this folder; embp "
                         "quantize measures fidelity against the source (embp_quantize.json "
                         "holds no figure for plan storage %s, compute %s)",
                         embp_storage_str(p.storage), embp_compute_str(p.compute));
    }
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.fidelity_cache_dir = cache_dir;
    o.max_batch_tokens = embp_model_max_batch_tokens(m);
    embp_model *ref = NULL; /* built from m's folder: no second parse */
    embp_folder *f = embp_model_folder(m);
    embp_status rc = fidelity_of(f, &o, &p, m, &ref, err);
    embp_model_free(ref);
    embp_folder_release_weights(f); /* the pages the fp32 build read */
    if (rc == EMBP_OK)
        embp_model_set_plan(m, &p);
    return rc;
}
