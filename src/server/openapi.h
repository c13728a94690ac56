/* GET /openapi.json: the OpenAPI 3.1 document of every route embp serves, assembled from the
 * route table (routes.h: each row points at its operation's description here), so a route
 * cannot be served undocumented nor documented unserved. This file only describes; routes.c
 * matches URLs and the route files answer. */
#ifndef EMBP_SERVER_OPENAPI_H
#define EMBP_SERVER_OPENAPI_H

#include <stddef.h>

#include "core/status.h"
#include "settings/config.h"

/* Each route's OpenAPI operation object, as JSON text written with ' for " (openapi.c says
 * why). A response given as a string is an error of the route's family, expanded to its body
 * (OpenAI's or TEI's); the errors every route shares (401, 405, 413, 500) are added by the
 * builder, from the row. */
extern const char embp_openapi_embeddings[];
extern const char embp_openapi_models[];
extern const char embp_openapi_health[];
extern const char embp_openapi_page_playground[], embp_openapi_page_docs[]; /* server/static.c */
extern const char embp_openapi_info[];
extern const char embp_openapi_metrics[];
extern const char embp_openapi_openapi[];
extern const char embp_openapi_tei_embed[];
extern const char embp_openapi_tei_embed_all[];
extern const char embp_openapi_tei_tokenize[];
extern const char embp_openapi_tei_decode[];
extern const char embp_openapi_tei_similarity[];
extern const char embp_openapi_rerank[];
extern const char embp_openapi_v1_rerank[];

/* The document for a server run with cfg (its API key decides which operations declare the
 * bearer scheme and a 401; its limits fill maxItems and the 413's size), every row of the
 * route table (embp_route_table) under paths. Returns the JSON text (heap, embp_free; *len its
 * length), or NULL with err naming the operation whose description is malformed (a bug: the
 * server refuses to start, and tests/test_openapi_table.c catches it first) or EMBP_ENOMEM. */
char *embp_openapi_build(const embp_config *cfg, size_t *len /* OUT */, embp_error *err);

#endif
