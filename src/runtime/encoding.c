/* Output encodings of embedding rows (encoding.h): names, the int8 ranges setting, and the
 * arithmetic of sentence-transformers' quantize_embeddings, written by hand because it is a
 * few lines of float32 arithmetic no Debian library offers. */
#include "runtime/encoding.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static const char *const names[EMBP_ENCODING_COUNT] = {"float", "base64", "int8",
                                                       "uint8", "binary", "ubinary"};

int embp_encoding_parse(const char *name, embp_encoding *out) {
    for (int i = 0; name && i < EMBP_ENCODING_COUNT; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (embp_encoding)i;
            return 0;
        }
    return -1;
}

const char *embp_encoding_name(embp_encoding e) {
    return (unsigned)e < EMBP_ENCODING_COUNT ? names[e] : "?";
}

/* ---------------------------------------------------------------- ranges */

static embp_status ranges_alloc(embp_quant_ranges *r, int dim, const char *var,
                                embp_error *err) {
    size_t n = dim ? (size_t)dim : 1;
    r->dim = dim;
    r->lo = embp_malloc(2 * n * sizeof(float));
    if (!r->lo)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory for %d ranges", var, dim);
    r->hi = r->lo + n;
    return EMBP_OK;
}

static embp_status check_range(double lo, double hi, const char *var, const char *where, int i,
                               embp_error *err) {
    if (!isfinite(lo) || !isfinite(hi) || lo > hi || !isfinite((float)lo) || !isfinite((float)hi))
        return embp_fail(err, EMBP_ECONFIG, "%s (%s): dimension %d: [%g, %g] is not a range of "
                         "finite float32 values with min <= max", var, where, i, lo, hi);
    return EMBP_OK;
}

/* root: [[min...],[max...]], two arrays of numbers of one length. */
static embp_status ranges_from_json(const json_t *root, const char *var, const char *where,
                                    embp_quant_ranges *r, embp_error *err) {
    const json_t *lo = json_array_get(root, 0), *hi = json_array_get(root, 1);
    size_t n = json_array_size(lo);
    if (!json_is_array(root) || json_array_size(root) != 2 || !json_is_array(lo) ||
        !json_is_array(hi) || n == 0 || json_array_size(hi) != n || n > (1u << 20))
        return embp_fail(err, EMBP_ECONFIG, "%s (%s): expected [[min_0, ..., min_d-1], "
                         "[max_0, ..., max_d-1]] (sentence-transformers' ranges, shape (2, "
                         "dim)), two arrays of one length", var, where);
    if (ranges_alloc(r, (int)n, var, err) != EMBP_OK)
        return err->code;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(lo, i), *b = json_array_get(hi, i);
        if (!json_is_number(a) || !json_is_number(b)) {
            embp_quant_ranges_free(r);
            return embp_fail(err, EMBP_ECONFIG, "%s (%s): dimension %zu: the min and the max "
                             "must be numbers", var, where, i);
        }
        if (check_range(json_number_value(a), json_number_value(b), var, where, (int)i, err)) {
            embp_quant_ranges_free(r);
            return err->code;
        }
        r->lo[i] = (float)json_number_value(a);
        r->hi[i] = (float)json_number_value(b);
    }
    return EMBP_OK;
}

embp_status embp_quant_ranges_parse(const char *text, const char *var, embp_quant_ranges *out,
                                    embp_error *err) {
    memset(out, 0, sizeof *out);
    double lo = -1.0, hi = 1.0;
    char *end = NULL;
    if (text && *text && text[0] != '[') { /* "LO,HI", else a file */
        lo = strtod(text, &end);
        if (end != text && *end == ',') {
            const char *p = end + 1;
            hi = strtod(p, &end);
            if (end == p || *end)
                end = NULL;
        } else {
            end = NULL;
        }
    }
    if (!text || !*text || end) {
        if (check_range(lo, hi, var, text && *text ? text : "default", 0, err) != EMBP_OK)
            return err->code;
        if (ranges_alloc(out, 0, var, err) != EMBP_OK)
            return err->code;
        out->lo[0] = (float)lo;
        out->hi[0] = (float)hi;
        return EMBP_OK;
    }
    json_error_t je;
    int inline_json = text[0] == '[';
    json_t *root = inline_json ? json_loads(text, 0, &je) : json_load_file(text, 0, &je);
    if (!root)
        return embp_fail(err, EMBP_ECONFIG, "%s=%.200s: %s%s at line %d column %d: %s; "
                         "expected \"LO,HI\", [[min...],[max...]] or a file holding that "
                         "JSON", var, text, inline_json ? "" : "cannot read it as a JSON file",
                         inline_json ? "invalid JSON" : "", je.line, je.column, je.text);
    embp_status rc = ranges_from_json(root, var, inline_json ? "inline JSON" : text, out, err);
    json_decref(root);
    return rc;
}

void embp_quant_ranges_free(embp_quant_ranges *r) {
    if (!r)
        return;
    embp_free(r->lo);
    memset(r, 0, sizeof *r);
}

int embp_quant_ranges_fit(const embp_quant_ranges *r, int model_dim) {
    return r->dim == 0 || r->dim == model_dim;
}

/* ---------------------------------------------------------------- quantizing */

int embp_encoding_row_bytes(embp_encoding e, int d) {
    switch (e) {
    case EMBP_ENCODING_INT8:
    case EMBP_ENCODING_UINT8: return d;
    case EMBP_ENCODING_BINARY:
    case EMBP_ENCODING_UBINARY: return (d + 7) / 8;
    default: return 4 * d;
    }
}

/* The bucket 0..255 of x in [lo, hi], float32 throughout as numpy computes it for float32
 * embeddings and float32 ranges (quantization.py: steps = (ranges[1] - starts) / 255,
 * floor((embeddings - starts) / steps), clip to [0, 255]). */
static int bucket(float x, float lo, float hi) {
    float step = (hi - lo) / 255.0f;
    if (step == 0.0f)
        step = 1.0f;
    float q = floorf((x - lo) / step);
    return q < 0.0f ? 0 : q > 255.0f ? 255 : (int)q;
}

void embp_quantize_row(embp_encoding e, const float *row, int d, const embp_quant_ranges *r,
                       uint8_t *out) {
    if (e == EMBP_ENCODING_INT8 || e == EMBP_ENCODING_UINT8) {
        int sub = e == EMBP_ENCODING_INT8 ? 128 : 0;
        for (int j = 0; j < d; j++) {
            int k = r->dim ? j : 0;
            out[j] = (uint8_t)(bucket(row[j], r->lo[k], r->hi[k]) - sub);
        }
        return;
    }
    /* np.packbits(x > 0): big-endian bit order, the last byte zero-padded; binary then
     * subtracts 128 from each byte (as int8). */
    int sub = e == EMBP_ENCODING_BINARY ? 128 : 0;
    for (int k = 0; k < (d + 7) / 8; k++) {
        unsigned byte = 0;
        for (int t = 0; t < 8; t++)
            if (8 * k + t < d && row[8 * k + t] > 0.0f)
                byte |= 0x80u >> t;
        out[k] = (uint8_t)((int)byte - sub);
    }
}

static void write_float_row(embp_buf *b, const float *row, int dim) {
    if (!embp_buf_reserve(b, (size_t)dim * 17 + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '[';
    for (int j = 0; j < dim; j++) {
        char tmp[32];
        int k = embp_format_float(row[j], tmp);
        if (j)
            *o++ = ',';
        memcpy(o, tmp, (size_t)k);
        o += k;
    }
    *o++ = ']';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

/* q (n bytes) as a JSON array of ints, signed (int8) or not. */
static void write_int_row(embp_buf *b, const uint8_t *q, int n, int is_signed) {
    if (!embp_buf_reserve(b, (size_t)n * 5 + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '[';
    for (int j = 0; j < n; j++) {
        if (j)
            *o++ = ',';
        int v = is_signed ? (int)(int8_t)q[j] : (int)q[j];
        o += snprintf(o, 6, "%d", v);
    }
    *o++ = ']';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void embp_encoding_write(embp_buf *b, embp_encoding e, const float *row, int d,
                         const embp_quant_ranges *r) {
    if (e == EMBP_ENCODING_FLOAT) {
        write_float_row(b, row, d);
    } else if (e == EMBP_ENCODING_BASE64) {
        embp_buf_puts(b, "\"");
        embp_buf_base64(b, (const unsigned char *)row, (size_t)d * sizeof(float));
        embp_buf_puts(b, "\"");
    } else {
        int n = embp_encoding_row_bytes(e, d);
        uint8_t small[512], *q = n <= (int)sizeof small ? small : embp_malloc((size_t)n);
        if (!q) {
            b->oom = 1;
            return;
        }
        embp_quantize_row(e, row, d, r, q);
        write_int_row(b, q, n, e == EMBP_ENCODING_INT8 || e == EMBP_ENCODING_BINARY);
        if (q != small)
            embp_free(q);
    }
}
