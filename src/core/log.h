/* Logging to stderr with a level and a timestamp, as text or as one JSON object per line (for
 * log shippers). The level and the format are passed in (embp_logger), never global. */
#ifndef EMBP_CORE_LOG_H
#define EMBP_CORE_LOG_H

#include "core/status.h"

typedef enum { EMBP_LOG_DEBUG, EMBP_LOG_INFO, EMBP_LOG_WARN, EMBP_LOG_ERROR } embp_log_level;
typedef enum { EMBP_LOG_TEXT, EMBP_LOG_JSON } embp_log_format;

/* Where records go: those at min or above, in format. All zero: text, every level. */
typedef struct {
    embp_log_level min;
    embp_log_format format;
} embp_logger;

/* What a record about one HTTP request carries besides its message. NULL strings and negative
 * numbers are left out. */
typedef struct {
    const char *request_id, *method, *route, *path;
    int status;        /* -1: none */
    double latency_ms; /* < 0: none */
    int inputs;        /* -1: none */
    long tokens;       /* -1: none */
} embp_log_fields;

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int embp_log_level_parse(const char *s);
/* Parses "text", "json"; returns -1 for anything else. */
int embp_log_format_parse(const char *s);

/* One record when level >= lg->min (lg NULL: text, every level), written with one write so
 * threads do not interleave. Text: "2026-11-25T05:00:00.123Z LEVEL message status=200
 * inputs=1 tokens=7 ms=0.52 request_id=..." (the fields set);
 * JSON: {"time":...,"level":"info","msg":...,"request_id":...,"method":...,"route":...,
 * "path":...,"status":...,"latency_ms":...,"inputs":...,"tokens":...}, strings escaped and
 * made valid UTF-8. f may be NULL. */
void embp_logger_log(const embp_logger *lg, embp_log_level level, const embp_log_fields *f,
                     const char *fmt, ...) EMBP_PRINTF(4, 5);

/* A text record when level >= min: embp_logger_log with {min, EMBP_LOG_TEXT} and no fields. */
void embp_log(embp_log_level min, embp_log_level level, const char *fmt, ...) EMBP_PRINTF(3, 4);

#endif
