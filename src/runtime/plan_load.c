/* Loading a model under a precision plan: the request from embp_load_opts (typed; the
 * planner checks it), the planner's resolution on this CPU, auto's measured choice, and
 * fidelity against fp32. The library reads no environment and parses no settings text. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/alloc.h"
#include "io/qformat.h"
#include "io/safetensors.h"
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

/* Fidelity of m against ref (fp32 of the same folder), as mean and minimum cosine. */
embp_status embp_model_fidelity_between(embp_model *m, embp_model *ref, double *mean,
                                        double *min, embp_error *err) {
    int n;
    embp_probe_texts(&n);
    embp_model_info info;
    embp_model_get_info(m, &info);
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
static int cache_key(const char *dir, const embp_plan *p, char *path, size_t psize, char *plan,
                     size_t plsize, embp_fidelity_key *key) {
    struct stat sb;
    snprintf(path, psize, "%s/model.safetensors", dir);
    if (stat(path, &sb) != 0) {
        snprintf(path, psize, "%s/model.safetensors.index.json", dir);
        if (stat(path, &sb) != 0)
            return 0;
    }
    embp_plan_key(p, plan, plsize);
    *key = (embp_fidelity_key){path, (int64_t)sb.st_size, (int64_t)sb.st_mtime, plan};
    return 1;
}

static embp_status load_as(const char *dir, const embp_load_opts *o, const embp_plan *p,
                           embp_model **out, embp_error *err) {
    embp_status rc = embp_model_load_plan(dir, o, p, "", out, err);
    if (rc == EMBP_OK)
        embp_model_set_plan(*out, p);
    return rc;
}

/* Fidelity of plan p for dir: from the cache, else measured with m (loaded under p) against a
 * fp32 model loaded on demand into *ref. */
static embp_status fidelity_of(const char *dir, const embp_load_opts *o, embp_plan *p,
                               embp_model *m, embp_model **ref, embp_error *err) {
    char wpath[4096], plan[64], cache[4096];
    embp_fidelity_key key;
    int have_key = o->fidelity_cache_dir && *o->fidelity_cache_dir &&
                   cache_key(dir, p, wpath, sizeof wpath, plan, sizeof plan, &key);
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
        rc = load_as(dir, o, &fp32, ref, err);
    }
    if (rc == EMBP_OK)
        rc = embp_model_fidelity_between(m, *ref, &p->fidelity_mean, &p->fidelity_min, err);
    if (rc == EMBP_OK && have_key) {
        embp_error cerr; /* a cache that cannot be written only costs a re-measure */
        embp_fidelity_cache_put(cache, &key, p->fidelity_mean, p->fidelity_min, &cerr);
    }
    return rc;
}

/* auto: the candidates this CPU runs, fastest first; the first whose fidelity meets the floor
 * wins, else fp32 (the last candidate). Keeps the winner loaded in *out. */
static embp_status load_auto(const char *dir, const embp_load_opts *o,
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
            rc = load_as(dir, o, &cands[i], &m, err);
            break;
        }
        if ((rc = load_as(dir, o, &cands[i], &m, err)) != EMBP_OK ||
            (rc = fidelity_of(dir, o, &cands[i], m, &ref, err)) != EMBP_OK)
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

/* The storage embp quantize recorded in dir's weights (io/qformat.h's metadata), or -1 for an
 * ordinary folder; int4's group size. A folder that cannot be opened is
 * left to the real load to report. */
static embp_status peek_folder(const char *dir, int *storage, int *group, char *desc,
                               size_t dsize, embp_error *err) {
    *storage = -1, *group = 0;
    snprintf(desc, dsize, "%s/model.safetensors", dir);
    embp_safetensors *st = NULL;
    embp_error ignored;
    if (embp_st_open_dir(dir, &st, &ignored) != EMBP_OK)
        return EMBP_OK;
    embp_qf_meta meta;
    embp_status rc = embp_qf_meta_read(st, desc, &meta, err);
    if (rc == EMBP_OK && meta.storage)
        *storage = embp_storage_parse(meta.storage), *group = meta.group_size;
    embp_st_close(st);
    return rc;
}

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

embp_status embp_model_load_planned(const char *dir, const embp_load_opts *o, const char *name,
                                    embp_model **out, embp_error *err) {
    embp_precision_request req;
    embp_status rc = embp_precision_request_from_opts(o, &req, err);
    if (rc != EMBP_OK)
        return rc;
    embp_plan plan;
    int fstorage, fgroup;
    char fdesc[4200];
    if ((rc = peek_folder(dir, &fstorage, &fgroup, fdesc, sizeof fdesc, err)) != EMBP_OK) {
        embp_precision_request_free(&req);
        return rc;
    }
    if (fstorage >= 0) { /* quantized ahead: the file fixes the storage; fidelity was measured
                          * against the fp32 source by embp quantize, which this folder lacks */
        rc = embp_plan_resolve_file(&req, name, embp_cpu_get(), o->strict, fstorage, fgroup,
                                    fdesc, &plan, err);
        if (rc == EMBP_OK) {
            recorded_fidelity(dir, &plan);
            rc = load_as(dir, o, &plan, out, err);
        }
    } else if ((rc = embp_plan_resolve(&req, name, embp_cpu_get(), o->strict, &plan, err)) !=
               EMBP_OK) {
    } else if (plan.is_auto) {
        rc = load_auto(dir, o, &req, out, err);
    } else if (rc == EMBP_OK) {
        rc = load_as(dir, o, &plan, out, err);
        if (rc == EMBP_OK && o->measure_fidelity)
            rc = embp_model_measure_fidelity(*out, o->fidelity_cache_dir, err);
    }
    embp_precision_request_free(&req);
    if (rc != EMBP_OK && *out) {
        embp_model_free(*out);
        *out = NULL;
    }
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
    embp_model_info info;
    embp_model_get_info(m, &info);
    o.fidelity_cache_dir = cache_dir;
    o.max_batch_tokens = embp_model_max_batch_tokens(m);
    embp_model *ref = NULL;
    embp_status rc = fidelity_of(info.path, &o, &p, m, &ref, err);
    embp_model_free(ref);
    if (rc == EMBP_OK)
        embp_model_set_plan(m, &p);
    return rc;
}
