/* JSON bodies the server sends: the embeddings list (written straight into a growing buffer,
 * each row in its encoding (runtime/encoding.h), no JSON DOM on this hot path) and OpenAI
 * errors. */
#ifndef EMBP_SERVER_RESPONSE_H
#define EMBP_SERVER_RESPONSE_H

#include <stddef.h>

#include "core/buf.h"
#include "runtime/encoding.h"
#include "server/request.h"

/* How an embeddings answer is written. */
typedef struct {
    embp_encoding encoding;          /* OpenAI's shape: every "embedding" in this encoding */
    const embp_encoding *types;      /* n_types > 0: Cohere's shape, these encodings */
    int n_types;
    const embp_quant_ranges *ranges; /* int8/uint8 buckets; must fit the rows' model */
    const char *model;
    const char *id;          /* Cohere's "id" (the request id); NULL: none */
    char *const *texts;      /* Cohere's "texts", n of them; NULL: [] (token inputs) */
    long prompt_tokens;
} embp_response_opts;

/* rows is (n, dim) floats. Writes OpenAI's {"object":"list","data":[{"object":"embedding",
 * "index":i,"embedding":...}],"model":...,"usage":...}, or with o->n_types Cohere's
 * {"id":...,"embeddings":{"float":[[...]],"int8":[[...]]},"texts":[...],"model":...,
 * "usage":...,"meta":{"billed_units":{"input_tokens":N}},"response_type":
 * "embeddings_by_type"}. Returns 1, or 0 when a value is NaN or infinite (nothing sensible to
 * send) or on oom. */
int embp_response_embeddings(embp_buf *b, const float *rows, int n, int dim,
                             const embp_response_opts *o);

/* {"error":{"message":...,"type":...,"param":...,"code":...}} */
void embp_response_error(embp_buf *b, const embp_http_error *e);

#endif
