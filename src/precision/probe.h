/* Measuring a plan: the built-in probe sentences, cosine fidelity of a plan's vectors against
 * fp32's, and a small on-disk cache of measured fidelities. Running the model is the caller's. */
#ifndef EMBP_PRECISION_PROBE_H
#define EMBP_PRECISION_PROBE_H

#include <stdint.h>

#include "precision/plan.h"

/* ~40 varied sentences (languages, lengths, punctuation, numbers); *n gets the count. Static. */
const char *const *embp_probe_texts(int *n /* OUT */);

/* a and ref are n rows of dim floats (a plan's and fp32's embeddings of the same texts).
 * *mean and *min get the mean and smallest row cosine. Two zero rows count as 1, one zero row
 * as 0; a non-finite value as 0 (and so fails any threshold). n, dim must be > 0. */
embp_status embp_fidelity(const float *a, const float *ref, int n, int dim, double *mean /* OUT */,
                          double *min /* OUT */, embp_error *err);

/* A reranker's fidelity, on what its users get: a and ref are rows of cols scores (a plan's and
 * fp32's logits of one query against each probe text); *mean and *min get the mean and
 * smallest row Pearson correlation (how faithfully the plan orders and spaces each query's
 * scores). Two constant rows that agree count as 1, another constant row or a non-finite
 * value as 0. rows > 0, cols > 1. */
embp_status embp_fidelity_scores(const float *a, const float *ref, int rows, int cols,
                                 double *mean /* OUT */, double *min /* OUT */, embp_error *err);

/* The cache is one JSON file:
 *   {"version": 1, "entries": [{"model": "/models/x/model.safetensors", "size": 90868376,
 *     "mtime": 1764048000, "plan": "int4/bf16/g32", "mean": 0.9991, "min": 0.9973}, ...]}
 * keyed by (model, size, mtime, plan): a changed weights file misses. */
typedef struct {
    const char *model; /* path of the weights file */
    int64_t size, mtime;
    const char *plan;  /* embp_plan_key() */
} embp_fidelity_key;

/* *found gets 1 and *mean, *min the stored values when cache_path has key; 0 when it does not
 * or the file does not exist. A malformed file is EMBP_EFORMAT naming it. */
embp_status embp_fidelity_cache_get(const char *cache_path, const embp_fidelity_key *key,
                                    int *found /* OUT */, double *mean /* OUT */,
                                    double *min /* OUT */, embp_error *err);
/* Adds or replaces key's entry; writes a temporary file and renames it over cache_path. */
embp_status embp_fidelity_cache_put(const char *cache_path, const embp_fidelity_key *key,
                                    double mean, double min, embp_error *err);

#endif
