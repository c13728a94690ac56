/* JSON bodies the server sends: the embeddings list (written straight into a growing buffer,
 * floats shortest round-trip or base64, no JSON DOM on this hot path) and OpenAI errors. */
#ifndef EMBP_SERVER_RESPONSE_H
#define EMBP_SERVER_RESPONSE_H

#include <stddef.h>

#include "core/buf.h"
#include "server/request.h"

/* rows is (n, dim) floats. Writes {"object":"list","data":[...],"model":...,"usage":...}.
 * Returns 1, or 0 when a value is NaN or infinite (nothing sensible to send) or on oom. */
int embp_response_embeddings(embp_buf *b, const float *rows, int n, int dim,
                             embp_encoding enc, const char *model, long prompt_tokens);

/* {"error":{"message":...,"type":...,"param":...,"code":...}} */
void embp_response_error(embp_buf *b, const embp_http_error *e);

#endif
