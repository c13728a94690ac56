/* The OpenAI embeddings request: parse and validate a POST /v1/embeddings body (jansson), and the
 * OpenAI-shaped error every failure turns into. Pure functions: no model, no sockets. */
#ifndef EMBP_SERVER_REQUEST_H
#define EMBP_SERVER_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/encoding.h"

/* An error as the HTTP layer sends it:
 * {"error":{"message":..., "type":..., "param":..., "code":...}} with status. */
typedef struct {
    int status;          /* HTTP status: 400, 401, 404, 405, 413, 500, 503 */
    const char *type;    /* "invalid_request_error", "authentication_error", "server_error" */
    const char *param;   /* "input", "model", ...; NULL for JSON null */
    const char *code;    /* "model_not_found", "context_length_exceeded", ...; NULL for null */
    char message[512];
} embp_http_error;

/* Fills e and returns 0 (so `return embp_http_fail(e, 400, ...)` reads as "failed"). */
int embp_http_fail(embp_http_error *e, int status, const char *type, const char *param,
                   const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* A parsed request. Either texts (is_tokens 0) or token id arrays (is_tokens 1), n_inputs each;
 * or, where the limits allow a mixed batch (TEI's), both arrays with is_tokens 0: input i is
 * ids[i] when that is set, else texts[i]. Owns all its memory; free with embp_request_free. */
typedef struct {
    char *model;          /* NULL: the default model */
    embp_encoding encoding; /* encoding_format: OpenAI's shape, one encoding */
    /* embedding_types (Cohere's): n_types > 0 answers Cohere's shape, {"embeddings": {"float":
     * [...], "int8": [...]}}, with each of types[0..n_types) in the order given. */
    embp_encoding types[EMBP_ENCODING_COUNT];
    int n_types;
    int dimensions;       /* 0: the model's full dimension */
    int truncate;         /* 1: cut inputs at max_seq_len; 0: a longer input is an error */
    int truncate_left;    /* cut from the left, keeping the end (TEI's truncation_direction) */
    int n_inputs;
    int is_tokens;
    char **texts;         /* n_inputs UTF-8 strings, NUL-terminated, no NUL inside */
    size_t *text_lens;
    int32_t **ids;        /* n_inputs token id arrays (is_tokens) */
    int *n_ids;
    /* embp extensions: the prompt put before each text (embp_prompt: prompt wins over
     * prompt_name, as sentence-transformers); NULL: not given. With one, token-id inputs are
     * decoded to text first, as TEI does (server/routes.c). */
    char *prompt, *prompt_name;
} embp_request;

typedef struct {
    int max_inputs;       /* EMB_PROVIDER_MAX_BATCH_SIZE */
    int default_truncate; /* EMB_PROVIDER_TRUNCATE */
    int max_depth;        /* deepest JSON nesting accepted; 0: 16 */
    long max_values;      /* JSON values accepted (bounds the parse's memory, ~40 bytes per
                           * value); 0: max_inputs * 512 + 64 */
    int mixed;            /* a batch may mix strings and arrays of token ids (TEI's Input:
                           * each item a String or Ids); 0: all of input[0]'s kind (OpenAI's) */
} embp_request_limits;

/* 1 when input i of r is token ids (a mixed batch's, or all of them). */
static inline int embp_request_is_ids(const embp_request *r, int i) {
    return r->is_tokens || (r->ids && r->ids[i]);
}

/* Parses body (len bytes, need not be NUL-terminated). Returns 1 and fills *out, or returns 0,
 * leaves *out empty and fills e with a 400 naming the field, what was expected and what was
 * found. */
int embp_request_parse(const char *body, size_t len, const embp_request_limits *lim,
                       embp_request *out /* OUT */, embp_http_error *e);

/* For the other routes' shapes (TEI's): loads body as a JSON object under lim's bounds (depth,
 * values), with the same 400s as embp_request_parse. 1 and *root (a new reference), or 0. */
int embp_request_load_json(const char *body, size_t len, const embp_request_limits *lim,
                           json_t **root /* OUT */, embp_http_error *e);
/* Fills out's inputs from in, a JSON value read as embp_request_parse reads "input" (its
 * messages name "input"). out's other fields are the caller's. 1, or 0 with e. */
int embp_request_take_input(embp_request *out, const json_t *in,
                            const embp_request_limits *lim, embp_http_error *e);

/* Checks what needs the model: dimensions <= dim and token ids in [0, vocab_size) and token
 * arrays no longer than max_seq_len (or truncated to it when truncate: their last ids kept
 * when truncate_left). Returns 1 or 0 with e. */
int embp_request_check_model(embp_request *r, int dim, int vocab_size, int max_seq_len,
                             embp_http_error *e);

/* 1 when s (n bytes) holds no NUL, else 0 with the 400 an input with one gets (the JSON loader
 * reads "\u0000" into a string; a C string would end there), naming param and where. */
int embp_request_no_nul(const char *s, size_t n, const char *param, const char *where,
                        embp_http_error *e);
void embp_request_free(embp_request *r); /* NULL is fine; leaves *r zeroed */

#endif
