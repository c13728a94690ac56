/* Parsing the precision variables (EMB_PROVIDER_*) into an embp_precision_request. The library
 * never calls getenv: the caller passes a lookup callback, or sets variables one by one (a CLI
 * flag maps to its variable's name).
 *
 *   EMB_PROVIDER_MODEL_PRECISION             auto|fp32|fp16|bf16|int8|int4 (unset: fp32)
 *   EMB_PROVIDER_MODEL_STORAGE_PRECISION     fp32|fp16|bf16|int8|int4
 *   EMB_PROVIDER_MODEL_COMPUTATION_PRECISION fp32|bf16|int8
 *   EMB_PROVIDER_MODEL_PRECISION_OVERRIDES   JSON object: {"model-name":"int8"} or
 *       {"model-name":{"precision"|"storage"|"compute":..., "group_size":64}}
 *   EMB_PROVIDER_ENABLE_QUANTIZATION         true|false (default true). false: auto never picks
 *       int8/int4, and an explicit int8/int4 (anywhere) is EMBP_ECONFIG naming both variables.
 *   EMB_PROVIDER_QUANTIZATION_METHOD         rtn (default; round to nearest at load). gptq, awq,
 *       bitsandbytes, ... are EMBP_ECONFIG: they need calibration data or their own checkpoint
 *       format and kernels, which embp does not read; nothing is silently substituted.
 *   EMB_PROVIDER_QUANT_GROUP_SIZE            16|32|64|128|256 (default 32)
 *   EMB_PROVIDER_PRECISION_STRICT            true|false (default false)
 *   EMB_PROVIDER_FIDELITY_MIN                "mean,min" cosines auto must meet (0.999,0.995)
 * Booleans take true|false|1|0|yes|no|on|off. A wrong value is EMBP_ECONFIG naming the
 * variable, the value and the allowed values. */
#ifndef EMBP_PRECISION_REQUEST_H
#define EMBP_PRECISION_REQUEST_H

#include "precision/plan.h"

/* Defaults: nothing asked (fp32), group 32, quantization enabled, not strict, 0.999/0.995. */
void embp_precision_request_init(embp_precision_request *r);
/* Frees what r owns (the overrides) and re-initializes it. */
void embp_precision_request_free(embp_precision_request *r);

/* Sets the variable name (one of those above) to value; NULL or "" leaves the default.
 * An unknown name is EMBP_EINVAL. On error r keeps its previous value for name. */
embp_status embp_precision_request_set(embp_precision_request *r, const char *name,
                                       const char *value, embp_error *err);

/* Returns the value of variable name or NULL (getenv's contract). */
typedef const char *(*embp_lookup_fn)(void *ctx, const char *name);
/* Initializes r and sets every variable above from lookup. On error r is freed (empty). */
embp_status embp_precision_request_parse(embp_lookup_fn lookup, void *ctx,
                                         embp_precision_request *r /* OUT */, embp_error *err);

#endif
