/* Status codes and error messages: every failing library call fills an embp_error. */
#ifndef EMBP_CORE_STATUS_H
#define EMBP_CORE_STATUS_H

#include "embp/embp.h"

#if defined(__GNUC__)
#define EMBP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EMBP_PRINTF(a, b)
#endif

/* Sets err (which may be NULL) to code and the formatted message; returns code, so a caller
 * writes `return embp_fail(err, EMBP_EFORMAT, "%s: field %s missing", path, name);`. */
embp_status embp_fail(embp_error *err, embp_status code, const char *fmt, ...) EMBP_PRINTF(3, 4);

/* Marks err as success (code EMBP_OK, empty message). err may be NULL. */
void embp_error_clear(embp_error *err);

/* Prefixes err->msg with "prefix: " (e.g. a file name), keeping err->code. */
void embp_error_prefix(embp_error *err, const char *prefix);

#endif
