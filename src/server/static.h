/* The web pages: GET / (the playground, EMB_PROVIDER_UI), GET /docs (Swagger UI over
 * /openapi.json) and their files under /ui/, all read from one folder on disk
 * (EMB_PROVIDER_UI_DIR). Not an API route: no API key (the pages hold no data; their calls to
 * the API carry the key the user types), not in the routes table nor in /openapi.json. */
#ifndef EMBP_SERVER_STATIC_H
#define EMBP_SERVER_STATIC_H

#include "server/routes.h"

/* 1 when (method, url) is a web page or file this server serves, with r holding the answer:
 * the file (200), 304 when if_none_match (the request's If-None-Match, may be NULL) names its
 * ETag, or a 404 (a path that is not a safe name of a regular file of a known type under the
 * folder, or no folder). 0 when url is not one of the pages' (the API's routes answer it). */
int embp_static_handle(embp_server_ctx *x, const char *method, const char *url,
                       const char *if_none_match, embp_reply *r);

/* 1 when rel (a URL's path after "/ui/") is a safe relative file name: segments of
 * [A-Za-z0-9._-] not starting with '.' (so no "..", no hidden file), no empty segment, no
 * trailing slash, at most 200 bytes; else 0. Symlinks are checked when the file is opened. */
int embp_static_safe_name(const char *rel);

#endif
