/* Internals of embp_model for the server, the batcher and the benchmarks: embedding an
 * already-packed batch, and loading with an explicit precision plan. */
#ifndef EMBP_RUNTIME_MODEL_H
#define EMBP_RUNTIME_MODEL_H

#include "embp/embp.h"
#include "model/bert.h"
#include "precision/plan.h"

/* Loads dir as embp_model_load does, but with the precision plan given (prec may be NULL for
 * fp32; reason, if not NULL, is shown as plan_reason). The precision planner calls this. */
embp_status embp_model_load_plan(const char *dir, const embp_load_opts *opts,
                                 const embp_bert_precision *prec, const char *reason,
                                 embp_model **out /* OUT */, embp_error *err);

/* ids holds n sequences concatenated, sequence i being ids[offsets[i] .. offsets[i+1]);
 * offsets[n] <= embp_model_max_batch_tokens(m). Runs one forward pass and writes n rows of
 * (dims ? dims : dim) floats to out (pooled, normalized, truncated as embp_embed_tokens).
 * Ids and lengths are checked (EMBP_EINVAL naming the sequence). Never allocates. Not
 * thread-safe on one model. */
embp_status embp_model_embed_packed(embp_model *m, const int32_t *ids, const int *offsets, int n,
                                    int dims, float *out, embp_error *err);

int embp_model_max_batch_tokens(const embp_model *m);

/* Loads dir under the precision plan opts ask for (the planner resolves it for `name` on this
 * CPU; auto measures its candidates); src/runtime/plan_load.c. */
embp_status embp_model_load_planned(const char *dir, const embp_load_opts *opts, const char *name,
                                    embp_model **out /* OUT */, embp_error *err);
/* The plan m runs, as the planner resolved it (fidelity NaN until measured). */
void embp_model_set_plan(embp_model *m, const embp_plan *p);
void embp_model_get_plan(const embp_model *m, embp_plan *out /* OUT */);
/* Mean and minimum cosine between m's and ref's embeddings of the probe set (plan_load.c). */
embp_status embp_model_fidelity_between(embp_model *m, embp_model *ref, double *mean, double *min,
                                        embp_error *err);
/* Adds each later pass's per-op wall time to p (kernels/prof.h; bench_forward --profile); NULL
 * stops. */
void embp_model_set_prof(embp_model *m, embp_prof *p);
/* The kernel table the model runs ("avx512", "avx2", "scalar"). */
const char *embp_model_kernels(const embp_model *m);

#endif
