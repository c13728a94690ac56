/* int4 GEMM: packing, dispatch and the scalar references (bf16 and int8 numerics, int4.h). */
#include "kernels/int4.h"

#include <string.h>

#include "core/alloc.h"
#include "core/fp.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

/* ---------------------------------------------------------------- scalar references */

static size_t scratch_none(int m, int k) {
    (void)m, (void)k;
    return 0;
}

static size_t scratch_u8(int m, int k) {
    return (size_t)m * k + (size_t)m * sizeof(float) + 64;
}

/* One group's sum for row i of A and weight row `row` (k in [k0, k0 + g)): with int8 numerics
 * (qa given) the exact int32 sum of (qa - 128) q; with bf16 numerics the fp32 sum of bf16(a) q. */
static float group_sum(const float *a, const uint8_t *qa, int i, int k, const uint8_t *row,
                       int k0, int g) {
    if (qa) {
        int32_t dot = 0;
        for (int t = k0; t < k0 + g; t++)
            dot += ((int32_t)qa[(size_t)i * k + t] - 128) * embp_int4_get(row, t);
        return (float)dot;
    }
    float gs = 0.0f;
    for (int t = k0; t < k0 + g; t++)
        gs += embp_bf16_to_f32(embp_f32_to_bf16(a[(size_t)i * k + t])) *
              (float)embp_int4_get(row, t);
    return gs;
}

/* The reference of both numerics, exactly as int4.h writes them: groups summed, each scaled
 * and added in fp32, then (int8) times the row's activation scale sa[i], plus bias. */
static void scalar_ref(const embp_int4_weights *w, const float *a, const uint8_t *qa,
                       const float *sa, int m, const float *bias, embp_post_fn post, float *c) {
    int n = w->n, k = w->k, g = w->group_size, ng = k / g;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const uint8_t *row = w->q + (size_t)j * k / 2;
            float acc = 0.0f;
            for (int b = 0; b < ng; b++)
                acc += group_sum(a, qa, i, k, row, b * g, g) *
                       embp_fp16_to_f32(w->scales[(size_t)j * ng + b]);
            c[(size_t)i * n + j] = (qa ? acc * sa[i] : acc) + (bias ? bias[j] : 0.0f);
            if (post && j == n - 1)
                post(c + (size_t)i * n, (size_t)n);
        }
}

static void scalar_bf16(const embp_int4_weights *w, const float *a, int m, const float *bias,
                        embp_post_fn post, float *c, void *scratch) {
    (void)scratch;
    scalar_ref(w, a, NULL, NULL, m, bias, post, c);
}

static void scalar_int8(const embp_int4_weights *w, const float *a, int m, const float *bias,
                        embp_post_fn post, float *c, void *scratch) {
    uint8_t *qa = scratch;
    float *sa = (float *)(void *)(qa + (((size_t)m * w->k + 63) & ~(size_t)63));
    embp_kernels_scalar.quantize_u8(a, m, w->k, qa, sa);
    scalar_ref(w, a, qa, sa, m, bias, post, c);
}

const embp_int4_kernel embp_int4_scalar = {"scalar", 0, EMBP_INT4_LAYOUT_ROWS, scalar_bf16,
                                           scratch_none};
const embp_int4_kernel embp_int4_scalar_int8 = {"scalar_int8", 1, EMBP_INT4_LAYOUT_ROWS,
                                                scalar_int8, scratch_u8};

/* ---------------------------------------------------------------- packing */

/* Panel layouts (int4.h): chunk c of panel p from quant.h rows. */
static void pack_chunk(const uint8_t *q, int n, int k, int p, int c, embp_int4_layout layout,
                       uint8_t *out) {
    for (int j = 0; j < 32; j++) {
        int nib[2];
        for (int h = 0; h < 2; h++) {
            int col, kk;
            if (layout == EMBP_INT4_LAYOUT_BF16)
                col = j / 2, kk = 4 * c + 2 * h + (j & 1);
            else
                col = (j + 32 * h) / 4, kk = 4 * c + (j + 32 * h) % 4;
            col += 16 * p;
            nib[h] = col < n ? embp_int4_get(q + (size_t)col * k / 2, kk) + 8 : 8;
        }
        out[j] = (uint8_t)(nib[0] | (nib[1] << 4));
    }
}

/* PANEL8 (int4.h): 8 columns per panel, 4 bytes per k. */
static void pack_panel8(const uint8_t *q, const uint16_t *scales, embp_int4_weights *w) {
    int n = w->n, k = w->k, ng = k / w->group_size, np = (n + 7) / 8;
    for (int p = 0; p < np; p++) {
        for (int kk = 0; kk < k; kk++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++) {
                int col = 8 * p + j;
                uint32_t u = col < n ? (uint32_t)(embp_int4_get(q + (size_t)col * k / 2, kk) + 8) : 8;
                v |= u << (4 * j);
            }
            memcpy(w->q + ((size_t)p * k + kk) * 4, &v, 4);
        }
        for (int b = 0; b < ng; b++)
            for (int j = 0; j < 8; j++) {
                int col = 8 * p + j;
                w->scales[((size_t)p * ng + b) * 8 + j] = col < n ? scales[(size_t)col * ng + b] : 0;
            }
    }
}

static void pack_panels(const uint8_t *q, const uint16_t *scales, embp_int4_weights *w) {
    int n = w->n, k = w->k, g = w->group_size, ng = k / g, np = (n + 15) / 16;
    for (int p = 0; p < np; p++) {
        for (int c = 0; c < k / 4; c++)
            pack_chunk(q, n, k, p, c, w->layout, w->q + ((size_t)p * (k / 4) + c) * 32);
        for (int b = 0; b < ng; b++)
            for (int t = 0; t < 16; t++) {
                int col = 16 * p + t;
                size_t at = ((size_t)p * ng + b) * 16 + t;
                w->scales[at] = col < n ? scales[(size_t)col * ng + b] : 0;
                if (!w->comp)
                    continue;
                int32_t sum = 0;
                for (int kk = b * g; col < n && kk < (b + 1) * g; kk++)
                    sum += embp_int4_get(q + (size_t)col * k / 2, kk);
                w->comp[at] = 128 * sum;
            }
    }
}

embp_status embp_int4_pack(const embp_int4_kernel *kernel, const uint8_t *q,
                           const uint16_t *scales, int n, int k, int g, embp_int4_weights *out,
                           embp_error *err) {
    memset(out, 0, sizeof *out);
    embp_status rc = embp_quant_int4_check(k, g, err);
    if (rc != EMBP_OK)
        return rc;
    if (n <= 0)
        return embp_fail(err, EMBP_EINVAL, "int4 weights: N = %d, need N > 0", n);
    out->n = n, out->k = k, out->group_size = g, out->layout = kernel->layout;
    size_t cols = kernel->layout == EMBP_INT4_LAYOUT_ROWS ? (size_t)n : (size_t)(n + 15) / 16 * 16;
    size_t qb = cols * k / 2, sb = cols * (k / g) * sizeof(uint16_t);
    size_t cb = kernel->layout == EMBP_INT4_LAYOUT_VNNI ? cols * (k / g) * sizeof(int32_t) : 0;
    out->q = embp_malloc_aligned(qb);
    out->scales = embp_malloc_aligned(sb);
    out->comp = cb ? embp_malloc_aligned(cb) : NULL;
    if (!out->q || !out->scales || (cb && !out->comp)) {
        embp_int4_weights_free(out);
        return embp_fail(err, EMBP_ENOMEM, "int4 weights [%d, %d]: cannot allocate %zu bytes",
                         n, k, qb + sb + cb);
    }
    out->bytes = qb + sb + cb;
    if (kernel->layout == EMBP_INT4_LAYOUT_ROWS) {
        memcpy(out->q, q, qb);
        memcpy(out->scales, scales, sb);
    } else if (kernel->layout == EMBP_INT4_LAYOUT_PANEL8) {
        pack_panel8(q, scales, out);
    } else {
        pack_panels(q, scales, out);
    }
    return EMBP_OK;
}

void embp_int4_weights_free(embp_int4_weights *w) {
    if (!w)
        return;
    embp_free_aligned(w->q);
    embp_free_aligned(w->scales);
    embp_free_aligned(w->comp);
    memset(w, 0, sizeof *w);
}

embp_status embp_int4_gemm(const embp_int4_kernel *kernel, const embp_int4_weights *w,
                           const float *a, int m, const float *bias, embp_post_fn post,
                           float *c, void *scratch, embp_error *err) {
    if (w->layout != kernel->layout)
        return embp_fail(err, EMBP_EINVAL, "int4 gemm: weights packed for another kernel "
                         "than %s", kernel->name);
    void *own = NULL;
    size_t need = kernel->scratch_bytes(m, w->k);
    if (!scratch && need) {
        scratch = own = embp_malloc_aligned(need);
        if (!own)
            return embp_fail(err, EMBP_ENOMEM, "int4 gemm: cannot allocate %zu bytes of "
                             "scratch for M = %d, K = %d", need, m, w->k);
    }
    kernel->gemm(w, a, m, bias, post, c, scratch);
    embp_free_aligned(own);
    return EMBP_OK;
}
