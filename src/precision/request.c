/* Checking embp_load_opts' precision fields into an embp_precision_request (request.h). */
#include "precision/request.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define GROUP_ALLOWED "0 (32), 16, 32, 64, 128, 256"

void embp_precision_request_init(embp_precision_request *r) {
    memset(r, 0, sizeof *r);
    r->global.precision = EMBP_PRECISION_UNSET;
    r->global.storage = r->global.compute = -1;
    r->group_size = 32;
    r->quantization_enabled = 1;
    r->fidelity_mean_min = 0.999;
    r->fidelity_min_min = 0.995;
}

void embp_precision_request_free(embp_precision_request *r) {
    embp_free(r->overrides);
    embp_precision_request_init(r);
}

const char *embp_precision_str(embp_precision p) {
    static const char *const names[] = {"", "auto", "fp32", "fp16", "bf16", "int8", "int4"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

int embp_precision_to_storage(embp_precision p) {
    switch (p) {
    case EMBP_PRECISION_FP32: return EMBP_STORAGE_FP32;
    case EMBP_PRECISION_FP16: return EMBP_STORAGE_FP16;
    case EMBP_PRECISION_BF16: return EMBP_STORAGE_BF16;
    case EMBP_PRECISION_INT8: return EMBP_STORAGE_INT8;
    case EMBP_PRECISION_INT4: return EMBP_STORAGE_INT4;
    default: return -1;
    }
}

int embp_precision_to_compute(embp_precision p) {
    switch (p) {
    case EMBP_PRECISION_FP32: return EMBP_COMPUTE_FP32;
    case EMBP_PRECISION_BF16: return EMBP_COMPUTE_BF16;
    case EMBP_PRECISION_INT8: return EMBP_COMPUTE_INT8;
    default: return -1;
    }
}

static int group_ok(int g) {
    return g == 0 || (g >= 16 && g <= 256 && !(g & (g - 1)));
}

/* precision/storage/compute/group of one choice into s; what names it in messages
 * ("embp_load_opts" or "embp_load_opts.precision_overrides[2] (model \"m\")"). */
static embp_status spec_from(embp_precision p, embp_precision st, embp_precision co, int group,
                             const char *what, embp_precision_spec *s, embp_error *err) {
    s->precision = EMBP_PRECISION_UNSET, s->storage = s->compute = -1, s->group_size = group;
    if ((unsigned)p > EMBP_PRECISION_INT4)
        return embp_fail(err, EMBP_ECONFIG, "%s.precision = %d: allowed EMBP_PRECISION_UNSET, "
                         "AUTO, FP32, FP16, BF16, INT8, INT4", what, (int)p);
    if (st != EMBP_PRECISION_UNSET && embp_precision_to_storage(st) < 0)
        return embp_fail(err, EMBP_ECONFIG, "%s.storage = %s (%d): allowed fp32|fp16|bf16|int8|"
                         "int4", what, embp_precision_str(st), (int)st);
    if (co != EMBP_PRECISION_UNSET && embp_precision_to_compute(co) < 0)
        return embp_fail(err, EMBP_ECONFIG, "%s.compute = %s (%d): allowed fp32|bf16|int8", what,
                         embp_precision_str(co), (int)co);
    if (!group_ok(group))
        return embp_fail(err, EMBP_ECONFIG, "%s.%s = %d: allowed " GROUP_ALLOWED, what,
                         strcmp(what, "embp_load_opts") ? "group_size" : "quant_group_size",
                         group);
    s->precision = p;
    s->storage = st ? embp_precision_to_storage(st) : -1;
    s->compute = co ? embp_precision_to_compute(co) : -1;
    return EMBP_OK;
}

embp_status embp_precision_request_from_opts(const embp_load_opts *o, embp_precision_request *r,
                                             embp_error *err) {
    embp_precision_request_init(r);
    if (!o)
        return EMBP_OK;
    embp_status rc = spec_from(o->precision, o->storage, o->compute, o->quant_group_size,
                               "embp_load_opts", &r->global, err);
    if (rc != EMBP_OK)
        return rc;
    r->global.group_size = 0;
    if (o->quant_group_size)
        r->group_size = o->quant_group_size;
    if (o->quantization_method != EMBP_QUANT_RTN)
        return embp_fail(err, EMBP_ECONFIG, "embp_load_opts.quantization_method = %d: allowed "
                         "EMBP_QUANT_RTN (round to nearest at load)", (int)o->quantization_method);
    if (o->enable_quantization < -1 || o->enable_quantization > 1)
        return embp_fail(err, EMBP_ECONFIG, "embp_load_opts.enable_quantization = %d: allowed -1 "
                         "(default: allowed), 0, 1", o->enable_quantization);
    r->quantization_enabled = o->enable_quantization != 0;
    r->strict = o->strict != 0;
    if (!(o->fidelity_floor_mean >= 0.0 && o->fidelity_floor_mean <= 1.0) ||
        !(o->fidelity_floor_min >= 0.0 && o->fidelity_floor_min <= 1.0))
        return embp_fail(err, EMBP_ECONFIG, "embp_load_opts.fidelity_floor_mean = %g, "
                         "fidelity_floor_min = %g: each must be a cosine in [0, 1] (defaults "
                         "0.999, 0.995)", o->fidelity_floor_mean, o->fidelity_floor_min);
    r->fidelity_mean_min = o->fidelity_floor_mean, r->fidelity_min_min = o->fidelity_floor_min;
    int n = o->n_precision_overrides;
    if (n < 0 || (n > 0 && !o->precision_overrides))
        return embp_fail(err, EMBP_ECONFIG, "embp_load_opts.n_precision_overrides = %d with "
                         "precision_overrides %p", n, (const void *)o->precision_overrides);
    if (n == 0)
        return EMBP_OK;
    if (!(r->overrides = embp_calloc((size_t)n, sizeof *r->overrides)))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for %d precision overrides", n);
    for (int i = 0; i < n; i++) {
        const embp_precision_override *v = &o->precision_overrides[i];
        char what[200];
        snprintf(what, sizeof what, "embp_load_opts.precision_overrides[%d] (model \"%s\")", i,
                 v->model ? v->model : "(null)");
        if (!v->model || !*v->model)
            rc = embp_fail(err, EMBP_ECONFIG, "%s: model must name a model", what);
        else if ((rc = spec_from(v->precision, v->storage, v->compute, v->group_size, what,
                                 &r->overrides[i].spec, err)) == EMBP_OK &&
                 !v->precision && !v->storage && !v->compute)
            rc = embp_fail(err, EMBP_ECONFIG, "%s names no precision, storage or compute", what);
        if (rc != EMBP_OK) {
            embp_precision_request_free(r);
            return rc;
        }
        r->overrides[i].model = v->model;
    }
    r->n_overrides = n;
    return EMBP_OK;
}
