/* The precision request: embp_load_opts' typed precision fields, checked, with the per-model
 * overrides turned into specs. Nothing here parses text: the settings table (server/config.c)
 * is the only parser of EMB_PROVIDER_* values and flags, and hands the library typed options.
 * A wrong value is EMBP_ECONFIG naming the embp_load_opts field, the value and what is allowed:
 *
 *   precision            any embp_precision (UNSET: fp32)
 *   storage              FP32|FP16|BF16|INT8|INT4 (UNSET: from precision)
 *   compute              FP32|BF16|INT8 (UNSET: from precision or storage)
 *   precision_overrides  {model, precision|storage|compute, group_size}, at least one given
 *   enable_quantization  -1 (default), 0 or 1. 0: auto never picks int8/int4, and an explicit
 *                        int8/int4 (anywhere) is EMBP_ECONFIG
 *   quantization_method  EMBP_QUANT_RTN
 *   quant_group_size     0 (32), 16, 32, 64, 128, 256
 *   fidelity_floor_mean, fidelity_floor_min   in [0, 1]
 */
#ifndef EMBP_PRECISION_REQUEST_H
#define EMBP_PRECISION_REQUEST_H

#include "precision/plan.h"

/* Defaults: nothing asked (fp32), group 32, quantization enabled, not strict, 0.999/0.995. */
void embp_precision_request_init(embp_precision_request *r);
/* Frees what r owns (the overrides array) and re-initializes it. */
void embp_precision_request_free(embp_precision_request *r);

/* Checks o's precision fields and fills r (o NULL: the defaults). Override model names are
 * borrowed from o. On error r is empty (nothing to free). */
embp_status embp_precision_request_from_opts(const embp_load_opts *o,
                                             embp_precision_request *r /* OUT */,
                                             embp_error *err);

/* The storage (embp_storage) of an embp_precision format, or -1 (UNSET, AUTO). */
int embp_precision_to_storage(embp_precision p);
/* The compute (embp_compute) of an embp_precision format, or -1 (no such compute). */
int embp_precision_to_compute(embp_precision p);

#endif
