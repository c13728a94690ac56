/* Status strings and error message helpers. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *embp_status_str(embp_status s) {
    switch (s) {
#define EMBP_X(code, msg)                                                                          \
    case code:                                                                                     \
        return msg;
        EMBP_STATUS_LIST(EMBP_X)
#undef EMBP_X
    }
    return "unknown status";
}

embp_status embp_fail(embp_error *err, embp_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void embp_error_clear(embp_error *err) {
    if (err) {
        err->code = EMBP_OK;
        err->msg[0] = '\0';
    }
}

void embp_error_prefix(embp_error *err, const char *prefix) {
    if (!err || !prefix)
        return;
    char tmp[sizeof err->msg];
    size_t plen = strlen(prefix);
    if (plen > sizeof tmp - 3)
        plen = sizeof tmp - 3;
    memcpy(tmp, prefix, plen);
    memcpy(tmp + plen, ": ", 2);
    size_t rest = sizeof tmp - plen - 3;
    size_t mlen = strnlen(err->msg, rest);
    memcpy(tmp + plen + 2, err->msg, mlen);
    tmp[plen + 2 + mlen] = '\0';
    memcpy(err->msg, tmp, sizeof tmp);
}
