/* Logging to stderr with a level and a timestamp. The level is passed in, never global. */
#ifndef EMBP_CORE_LOG_H
#define EMBP_CORE_LOG_H

#include "core/status.h"

typedef enum { EMBP_LOG_DEBUG, EMBP_LOG_INFO, EMBP_LOG_WARN, EMBP_LOG_ERROR } embp_log_level;

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int embp_log_level_parse(const char *s);
/* Writes one line "2026-11-25T05:00:00.123Z level message" to stderr when level >= min. */
void embp_log(embp_log_level min, embp_log_level level, const char *fmt, ...) EMBP_PRINTF(3, 4);

#endif
