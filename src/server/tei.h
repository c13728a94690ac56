/* Hugging Face Text Embeddings Inference's routes, with TEI's request and response shapes and
 * its error body {"error": "...", "error_type": "validation"|"empty"|"tokenizer"|"overloaded"|
 * "backend"|"unhealthy"} and status codes (422 validation, 400 empty, 429 overloaded, 424
 * backend, 503 unhealthy): POST /embed (and POST /, where TEI serves it), /embed_all (one
 * vector per token: a batcher job run alone, runtime/registry.h),
 * /tokenize, /decode, /similarity, and GET /info's TEI fields. The OpenAI routes keep
 * OpenAI's shapes; each family answers its own errors. */
#ifndef EMBP_SERVER_TEI_H
#define EMBP_SERVER_TEI_H

#include <jansson.h>
#include <stddef.h>

#include "server/routes.h"

/* Answers a TEI route (url is one routes.c sends here) with body. */
void embp_tei_handle(embp_server_ctx *x, const char *url, const char *body, size_t len,
                     embp_reply *r);

/* e as TEI's error body into r (status too): an error a TEI route made keeps its status and
 * type; one of the shared code's OpenAI-style errors is mapped (400 -> 422 validation, 503
 * queue_full -> 429 overloaded, other 503 -> unhealthy, 5xx -> backend, other 4xx keep their
 * status as validation). */
void embp_tei_error(embp_reply *r, const embp_http_error *e);

/* GET /info: TEI's Info object (model_id, max_input_length, max_batch_tokens, ...) of the
 * default model, with embp (embp's own /info object, taken) under "embp". New reference. */
json_t *embp_tei_info(embp_server_ctx *x, json_t *embp);

#endif
