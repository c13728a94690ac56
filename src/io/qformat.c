/* The quantized-weight format: metadata, the weight/scale pairs, their checks. See qformat.h. */
#include "io/qformat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_storages[] = {"int8", "int4", "bf16", "fp16"};

/* The format's group rule: a power of two in 16..256 (and, for a weight, dividing K). */
static int group_ok(int g) {
    return g >= 16 && g <= 256 && (g & (g - 1)) == 0;
}

/* ---------------------------------------------------------------- reading */

embp_status embp_qf_meta_read(const embp_safetensors *st, const char *desc, embp_qf_meta *out,
                              embp_error *err) {
    out->storage = NULL, out->group_size = 0;
    const char *v = embp_st_metadata(st, "embp.storage");
    const char *g = embp_st_metadata(st, "embp.group_size");
    if (!v)
        return EMBP_OK;
    for (size_t i = 0; i < sizeof k_storages / sizeof k_storages[0]; i++)
        if (strcmp(v, k_storages[i]) == 0)
            out->storage = k_storages[i];
    if (!out->storage)
        return embp_fail(err, EMBP_EFORMAT, "%s: __metadata__ \"embp.storage\" is \"%s\"; "
                         "allowed fp16, bf16, int8, int4", desc, v);
    if (strcmp(out->storage, "int4") == 0 && (!g || !group_ok(out->group_size = atoi(g))))
        return embp_fail(err, EMBP_EFORMAT, "%s: __metadata__ \"embp.group_size\" is %s%s%s; "
                         "an int4 file needs its group size (16..256)", desc, g ? "\"" : "",
                         g ? g : "missing", g ? "\"" : "");
    return EMBP_OK;
}

embp_qf_form embp_qf_form_of(const embp_st_tensor *t) {
    return t->dtype == EMBP_DT_I8 ? EMBP_QF_INT8 : t->dtype == EMBP_DT_U8 ? EMBP_QF_INT4
                                                                        : EMBP_QF_FLOAT;
}

/* The scales of weight w: present, of the layout's dtype. */
static embp_status find_scales(const embp_safetensors *st, const embp_st_tensor *w,
                               embp_dtype want, const embp_st_tensor **out, embp_error *err) {
    char sname[300];
    embp_qf_scale_name(w->name, sname, sizeof sname);
    const embp_st_tensor *s = embp_st_find(st, sname);
    if (!s)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' is %s (quantized by embp quantize) "
                         "but its scales '%s' are missing", w->file, w->name,
                         embp_dtype_name(w->dtype), sname);
    if (s->dtype != want)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' has dtype %s, expected %s (%s "
                         "scales)", s->file, s->name, embp_dtype_name(s->dtype),
                         embp_dtype_name(want), want == EMBP_DT_F32 ? "int8" : "int4 group");
    *out = s;
    return EMBP_OK;
}

/* The first scale of s (F32 for int8, F16 for int4) below zero, or -1. A scale is a group's
 * largest |W| over 127 or 7 (docs/QUANTIZED_FORMAT.md), never negative: a negative one flips the
 * signs of its row or group. NaN and infinity are the load's finite scan's (io/safetensors.h). */
static int64_t first_negative_scale(const embp_st_tensor *s) {
    const uint8_t *p = s->data;
    for (int64_t i = 0; i < s->n_elems; i++) {
        if (s->dtype == EMBP_DT_F32) {
            float v;
            memcpy(&v, p + 4 * i, 4);
            if (v < 0)
                return i;
        } else {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            if ((u & 0x8000) && (u & 0x7fff)) /* sign set, not -0 */
                return i;
        }
    }
    return -1;
}

static embp_status check_scales(const embp_st_tensor *s, embp_error *err) {
    int64_t at = first_negative_scale(s);
    if (at >= 0)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' has a negative scale (element "
                         "%lld); scales are a maximum magnitude over 127 or 7, >= 0: the file "
                         "is corrupt", s->file, s->name, (long long)at);
    return EMBP_OK;
}

embp_status embp_qf_weight_read(const embp_safetensors *st, const embp_st_tensor *w, int N, int K,
                                embp_qf_weight *out, embp_error *err) {
    embp_qf_form f = embp_qf_form_of(w);
    const embp_st_tensor *s = NULL;
    embp_status rc;
    embp_qf_layout lay;
    embp_qf_layout_of(f, N, K, 16, &lay); /* the weight's shape does not depend on g */
    if (f == EMBP_QF_FLOAT)
        return embp_fail(err, EMBP_EINTERNAL, "%s: tensor '%s' is not quantized", w->file,
                         w->name);
    if ((rc = embp_st_expect_shape(w, lay.q_shape[0], lay.q_shape[1], err)))
        return rc;
    if (f == EMBP_QF_INT4 && K % 2)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' is int4 but K = %d is odd",
                         w->file, w->name, K);
    if ((rc = find_scales(st, w, lay.s_dtype, &s, err)))
        return rc;
    *out = (embp_qf_weight){.form = f, .q = w->data, .scales = s->data, .group_size = 0};
    if (f == EMBP_QF_INT8)
        return (rc = embp_st_expect_shape(s, N, 0, err)) ? rc : check_scales(s, err);
    if (s->n_dims != 2 || s->shape[0] != N || s->shape[1] < 1 || K % s->shape[1])
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' must have shape [%d, K/g] with a "
                         "group size g dividing K = %d", s->file, s->name, N, K);
    out->group_size = (int)(K / s->shape[1]);
    if (!group_ok(out->group_size))
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' gives group size %d (K = %d); "
                         "allowed 16, 32, 64, 128, 256", s->file, s->name, out->group_size, K);
    return check_scales(s, err);
}

/* ---------------------------------------------------------------- writing */

void embp_qf_layout_of(embp_qf_form f, int N, int K, int g, embp_qf_layout *out) {
    int int8 = f == EMBP_QF_INT8;
    *out = (embp_qf_layout){.q_dtype = int8 ? EMBP_DT_I8 : EMBP_DT_U8,
                            .s_dtype = int8 ? EMBP_DT_F32 : EMBP_DT_F16,
                            .s_dims = int8 ? 1 : 2,
                            .q_shape = {N, int8 ? K : K / 2},
                            .s_shape = {N, int8 ? 1 : K / g}};
}

void embp_qf_scale_name(const char *weight, char *buf, size_t size) {
    snprintf(buf, size, "%s_scale", weight);
}

int embp_qf_meta_pairs(const char *storage, int group_size, char grp[16], const char **keys,
                       const char **vals) {
    static const char *const k[EMBP_QF_META_MAX] = {"format", "embp.format", "embp.storage",
                                                    "embp.method", "embp.group_size"};
    snprintf(grp, 16, "%d", group_size);
    const char *v[EMBP_QF_META_MAX] = {"pt", EMBP_QF_FORMAT, storage, "rtn", grp};
    int n = strcmp(storage, "int4") == 0 ? 5 : 4;
    for (int i = 0; i < n; i++)
        keys[i] = k[i], vals[i] = v[i];
    return n;
}
