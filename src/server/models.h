/* Loads the configured models (EMB_PROVIDER_MODEL_PATH, a comma list; the first is the
 * default) with their precision settings, and starts one batcher per model. */
#ifndef EMBP_SERVER_MODELS_H
#define EMBP_SERVER_MODELS_H

#include <jansson.h>

#include "server/server.h"

/* Fills *out with n models (heap array). with_batcher 0 skips the batchers (embp embed,
 * tokenize and info call the model directly). exe_dir finds the demo model fallback. A demo
 * model is announced with a WARN line. Free with embp_models_free. */
embp_status embp_models_load(const embp_config *c, const char *exe_dir, int with_batcher,
                             embp_server_model **out /* OUT */, int *n /* OUT */,
                             embp_error *err);

/* Stops the batchers (finishing queued work) and frees the models. NULL is fine. */
void embp_models_free(embp_server_model *m, int n);

/* The "precision" object of a model for /v1/models, /info and `embp info --json`: requested,
 * resolved storage/compute/accumulation, int4 group, the reasons, one line, and the fidelity to
 * fp32 (null until measured). New reference. */
json_t *embp_models_precision_json(const embp_model_info *i);

#endif
