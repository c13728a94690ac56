/* JSON bodies the server sends: the embeddings list (written straight into a growing buffer,
 * rows in their encoding, server/encoding.c, no JSON DOM on this hot path) and OpenAI errors.
 * The buffer and the writers are core/buf.h's. */
#include "server/response.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void write_usage(embp_buf *b, const embp_response_opts *o) {
    embp_buf_puts(b, ",\"model\":");
    embp_buf_json_string(b, o->model, strlen(o->model));
    char tail[96];
    snprintf(tail, sizeof tail, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}",
             o->prompt_tokens, o->prompt_tokens);
    embp_buf_puts(b, tail);
}

/* OpenAI's list: one object per row, its "embedding" in o->encoding. */
static void write_openai(embp_buf *b, const float *rows, int n, int dim,
                         const embp_response_opts *o) {
    embp_buf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < n; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":",
                 i ? "," : "", i);
        embp_buf_puts(b, head);
        embp_encoding_write(b, o->encoding, rows + (size_t)i * (size_t)dim, dim, o->ranges);
        embp_buf_puts(b, "}");
    }
    embp_buf_puts(b, "]");
    write_usage(b, o);
    embp_buf_puts(b, "}");
}

/* Cohere's embeddings_by_type: {"embeddings": {type: [row, ...], ...}}. */
static void write_cohere(embp_buf *b, const float *rows, int n, int dim,
                         const embp_response_opts *o) {
    embp_buf_puts(b, "{\"id\":");
    if (o->id)
        embp_buf_json_string(b, o->id, strlen(o->id));
    else
        embp_buf_puts(b, "null");
    embp_buf_puts(b, ",\"embeddings\":{");
    for (int t = 0; t < o->n_types; t++) {
        embp_buf_puts(b, t ? ",\"" : "\"");
        embp_buf_puts(b, embp_encoding_name(o->types[t]));
        embp_buf_puts(b, "\":[");
        for (int i = 0; i < n; i++) {
            if (i)
                embp_buf_puts(b, ",");
            embp_encoding_write(b, o->types[t], rows + (size_t)i * (size_t)dim, dim, o->ranges);
        }
        embp_buf_puts(b, "]");
    }
    embp_buf_puts(b, "},\"texts\":[");
    for (int i = 0; o->texts && i < n; i++) {
        if (i)
            embp_buf_puts(b, ",");
        embp_buf_json_string(b, o->texts[i], strlen(o->texts[i]));
    }
    embp_buf_puts(b, "]");
    write_usage(b, o);
    char tail[128];
    snprintf(tail, sizeof tail, ",\"meta\":{\"billed_units\":{\"input_tokens\":%ld}},"
             "\"response_type\":\"embeddings_by_type\"}", o->prompt_tokens);
    embp_buf_puts(b, tail);
}

int embp_response_embeddings(embp_buf *b, const float *rows, int n, int dim,
                             const embp_response_opts *o) {
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++)
        if (!isfinite(rows[i]))
            return 0;
    if (o->n_types > 0)
        write_cohere(b, rows, n, dim, o);
    else
        write_openai(b, rows, n, dim, o);
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
