/* JSON bodies the server sends: the embeddings list (written straight into a growing buffer,
 * floats shortest round-trip or base64, no JSON DOM on this hot path) and OpenAI errors. The
 * buffer and the writers are core/buf.h's. */
#include "server/response.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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
