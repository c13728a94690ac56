/* Rotary position embeddings: see rope.h. */
#include "model/rope.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

embp_status embp_rope_init(embp_rope *r, int dim, double theta, int max_pos, embp_error *err) {
    memset(r, 0, sizeof *r);
    if (dim < 2 || dim % 2 || !(theta > 0) || max_pos < 1)
        return embp_fail(err, EMBP_EINVAL, "rotary embedding: dim %d (even, >= 2), theta %g (> 0), "
                         "max positions %d (>= 1)", dim, theta, max_pos);
    int half = dim / 2;
    size_t n = (size_t)max_pos * (size_t)half;
    r->cos = embp_malloc(n * sizeof *r->cos);
    r->sin = embp_malloc(n * sizeof *r->sin);
    if (!r->cos || !r->sin) {
        embp_rope_free(r);
        return embp_fail(err, EMBP_ENOMEM, "rotary embedding: out of memory for %d positions",
                         max_pos);
    }
    r->dim = dim;
    r->max_pos = max_pos;
    /* transformers: inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), all in
     * float32; freqs = outer(t.float(), inv_freq); cos/sin of those float32 angles. */
    for (int i = 0; i < half; i++) {
        float inv = 1.0f / powf((float)theta, (float)(2 * i) / (float)dim);
        for (int p = 0; p < max_pos; p++) {
            float a = (float)p * inv;
            r->cos[(size_t)p * half + i] = cosf(a);
            r->sin[(size_t)p * half + i] = sinf(a);
        }
    }
    return EMBP_OK;
}

void embp_rope_apply(const embp_rope *r, float *x, int pos, int n_heads, int head_stride) {
    int half = r->dim / 2;
    const float *c = r->cos + (size_t)pos * half, *s = r->sin + (size_t)pos * half;
    for (int h = 0; h < n_heads; h++) {
        float *a = x + (size_t)h * head_stride, *b = a + half;
        for (int i = 0; i < half; i++) {
            float x0 = a[i], x1 = b[i];
            a[i] = x0 * c[i] - x1 * s[i];
            b[i] = x1 * c[i] + x0 * s[i];
        }
    }
}

void embp_rope_free(embp_rope *r) {
    embp_free(r->cos);
    embp_free(r->sin);
    r->cos = r->sin = NULL;
}
