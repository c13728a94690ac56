/* JSON bodies written by hand into a growing buffer: the float arrays are the hot path, and a
 * jansson DOM would allocate a node per float. */
#include "server/response.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "base64 embeddings are little-endian float32 bytes: this file assumes a little-endian CPU"
#endif

void embp_buf_free(embp_buf *b) {
    embp_free(b->p);
    memset(b, 0, sizeof *b);
}

int embp_buf_reserve(embp_buf *b, size_t extra) {
    if (b->oom)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = embp_realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void embp_buf_append(embp_buf *b, const void *data, size_t n) {
    if (!embp_buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void embp_buf_puts(embp_buf *b, const char *s) {
    embp_buf_append(b, s, strlen(s));
}

void embp_buf_json_string(embp_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!embp_buf_reserve(b, n * 6 + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

/* %.9g always round-trips a float32; fewer digits often do. Tries 6..9 and reads back with strtof
 * (Ryu would avoid the retries; this is ~1 us per float). Once a precision round-trips, a larger
 * one can still be shorter text when it leaves exponent form ("46077312" vs "4.607731e+07"). */
int embp_format_float(float x, char out[32]) {
    int n = 0, prec = 6;
    for (; prec <= 9; prec++) {
        n = snprintf(out, 32, "%.*g", prec, (double)x);
        if (strtof(out, NULL) == x)
            break;
    }
    while (++prec <= 9 && memchr(out, 'e', (size_t)n)) {
        char alt[32];
        int m = snprintf(alt, sizeof alt, "%.*g", prec, (double)x);
        if (m < n && strtof(alt, NULL) == x) {
            memcpy(out, alt, (size_t)m + 1);
            n = m;
        }
    }
    return n;
}

void embp_buf_base64(embp_buf *b, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!embp_buf_reserve(b, (n + 2) / 3 * 4))
        return;
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        o[0] = tab[v >> 18];
        o[1] = tab[(v >> 12) & 63];
        o[2] = tab[(v >> 6) & 63];
        o[3] = tab[v & 63];
        o += 4;
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        o[0] = tab[v >> 18];
        o[1] = tab[(v >> 12) & 63];
        o[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

/* row is dim floats, all finite (checked by the caller). */
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

int embp_response_embeddings(embp_buf *b, const float *rows, int n, int dim, embp_encoding enc,
                             const char *model, long prompt_tokens) {
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++)
        if (!isfinite(rows[i]))
            return 0;
    embp_buf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < n; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":",
                 i ? "," : "", i);
        embp_buf_puts(b, head);
        const float *row = rows + (size_t)i * (size_t)dim;
        if (enc == EMBP_ENCODING_BASE64) {
            embp_buf_puts(b, "\"");
            embp_buf_base64(b, (const unsigned char *)row, (size_t)dim * sizeof(float));
            embp_buf_puts(b, "\"}");
        } else {
            write_float_row(b, row, dim);
            embp_buf_puts(b, "}");
        }
    }
    embp_buf_puts(b, "],\"model\":");
    embp_buf_json_string(b, model, strlen(model));
    char tail[96];
    snprintf(tail, sizeof tail, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
             prompt_tokens, prompt_tokens);
    embp_buf_puts(b, tail);
    return !b->oom;
}

static void json_field_or_null(embp_buf *b, const char *key, const char *v) {
    embp_buf_puts(b, key);
    if (v)
        embp_buf_json_string(b, v, strlen(v));
    else
        embp_buf_puts(b, "null");
}

void embp_response_error(embp_buf *b, const embp_http_error *e) {
    embp_buf_puts(b, "{\"error\":{\"message\":");
    embp_buf_json_string(b, e->message, strlen(e->message));
    json_field_or_null(b, ",\"type\":", e->type ? e->type : "invalid_request_error");
    json_field_or_null(b, ",\"param\":", e->param);
    json_field_or_null(b, ",\"code\":", e->code);
    embp_buf_puts(b, "}}");
}
