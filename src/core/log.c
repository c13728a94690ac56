/* One-line log records on stderr, as text or JSON (log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/text.h"

int embp_log_level_parse(const char *s) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int embp_log_format_parse(const char *s) {
    return s && !strcmp(s, "text") ? EMBP_LOG_TEXT : s && !strcmp(s, "json") ? EMBP_LOG_JSON
                                                                               : -1;
}

/* "2026-11-25T05:00:00.123Z" into out (room for 64). */
static void timestamp(char *out) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* ,"key":"value" with value made valid UTF-8 (a client's path may not be). */
static void json_str(embp_buf *b, const char *key, const char *v) {
    if (!v)
        return;
    char clean[1024];
    embp_utf8_sanitize(v, clean, sizeof clean);
    embp_buf_puts(b, ",\"");
    embp_buf_puts(b, key);
    embp_buf_puts(b, "\":");
    embp_buf_json_string(b, clean, strlen(clean));
}

static void json_num(embp_buf *b, const char *key, const char *fmt, double v) {
    char t[80];
    snprintf(t, sizeof t, ",\"%s\":", key);
    embp_buf_puts(b, t);
    snprintf(t, sizeof t, fmt, v);
    embp_buf_puts(b, t);
}

static void write_json(embp_buf *b, const char *ts, const char *level, const char *msg,
                       const embp_log_fields *f) {
    embp_buf_puts(b, "{\"time\":\"");
    embp_buf_puts(b, ts);
    embp_buf_puts(b, "\"");
    json_str(b, "level", level);
    json_str(b, "msg", msg);
    if (f) {
        json_str(b, "request_id", f->request_id);
        json_str(b, "method", f->method);
        json_str(b, "route", f->route);
        json_str(b, "path", f->path);
        if (f->status >= 0)
            json_num(b, "status", "%.0f", f->status);
        if (f->latency_ms >= 0)
            json_num(b, "latency_ms", "%.3f", f->latency_ms);
        if (f->inputs >= 0)
            json_num(b, "inputs", "%.0f", f->inputs);
        if (f->tokens >= 0)
            json_num(b, "tokens", "%.0f", (double)f->tokens);
    }
    embp_buf_puts(b, "}\n");
}

/* The message, then the numbers and the request id as key=value (the id escaped: a client
 * chose it); the method and path are the caller's message. */
static void write_text(embp_buf *b, const char *ts, const char *level, const char *msg,
                       const embp_log_fields *f) {
    char t[160], id[300];
    snprintf(t, sizeof t, "%s %-5s ", ts, level);
    embp_buf_puts(b, t);
    embp_buf_puts(b, msg);
    if (f) {
        int n = 0;
        if (f->status >= 0)
            n += snprintf(t + n, sizeof t - (size_t)n, " status=%d", f->status);
        if (f->inputs >= 0)
            n += snprintf(t + n, sizeof t - (size_t)n, " inputs=%d", f->inputs);
        if (f->tokens >= 0)
            n += snprintf(t + n, sizeof t - (size_t)n, " tokens=%ld", f->tokens);
        if (f->latency_ms >= 0)
            n += snprintf(t + n, sizeof t - (size_t)n, " ms=%.2f", f->latency_ms);
        t[n] = '\0';
        embp_buf_puts(b, t);
        if (f->request_id) {
            embp_buf_puts(b, " request_id=");
            embp_buf_puts(b, embp_log_escape(f->request_id, id, sizeof id));
        }
    }
    embp_buf_puts(b, "\n");
}

static void vlog(const embp_logger *lg, embp_log_level level, const embp_log_fields *f,
                 const char *fmt, va_list ap) {
    static const char *upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const char *lower[] = {"debug", "info", "warn", "error"};
    if (lg && level < lg->min)
        return;
    char ts[64], msg[2048];
    timestamp(ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    embp_buf b = {0};
    if (lg && lg->format == EMBP_LOG_JSON)
        write_json(&b, ts, lower[level], msg, f);
    else
        write_text(&b, ts, upper[level], msg, f);
    if (b.oom || !b.p) /* still one line, without the extras */
        fprintf(stderr, "%s %-5s %s\n", ts, upper[level], msg);
    else
        fputs(b.p, stderr); /* one write per record, so threads do not interleave */
    embp_buf_free(&b);
}

void embp_logger_log(const embp_logger *lg, embp_log_level level, const embp_log_fields *f,
                     const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(lg, level, f, fmt, ap);
    va_end(ap);
}

void embp_log(embp_log_level min, embp_log_level level, const char *fmt, ...) {
    embp_logger lg = {min, EMBP_LOG_TEXT};
    va_list ap;
    va_start(ap, fmt);
    vlog(&lg, level, NULL, fmt, ap);
    va_end(ap);
}
