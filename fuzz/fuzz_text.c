/* Fuzz target: client text on its way into error messages and log lines (core/text.h, issue 12
 * item 5), any bytes at any buffer size. Byte 0 picks the size (8..263). Whatever the input:
 * - embp_utf8_sanitize writes valid UTF-8 that fits (length < cap, NUL-terminated), and keeps
 *   a valid input that fits as it is;
 * - embp_log_escape writes valid UTF-8 that fits, with no control byte, no C1 control, no
 *   unescaped '"', and every '\' starting a \xHH escape: nothing a client sends can end a log
 *   line or forge the next one. utf8proc (not embp) decides what valid UTF-8 is here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/text.h"

/* 1 when s[0..n) is valid UTF-8 (utf8proc_iterate's view); *c1 gets whether it holds U+0080..
 * U+009F. */
static int valid_utf8(const char *s, size_t n, int *c1) {
    *c1 = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return 0;
        *c1 |= cp >= 0x80 && cp <= 0x9f;
        i += (size_t)k;
    }
    return 1;
}

static int is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t cap = 8 + data[0];
    char *in = malloc(size), out[264];
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = 0; /* both take NUL-terminated text: an embedded NUL ends it */
    size_t in_len = strlen(in);
    int c1;

    memset(out, 0x55, sizeof out);
    size_t n = embp_utf8_sanitize(in, out, cap);
    if (n >= cap || out[n] != 0 || strlen(out) != n || !valid_utf8(out, n, &c1))
        __builtin_trap();
    if (in_len < cap && valid_utf8(in, in_len, &c1) && strcmp(in, out) != 0)
        __builtin_trap(); /* valid text that fits is left alone */

    memset(out, 0x55, sizeof out);
    embp_log_escape(in, out, cap);
    n = strnlen(out, sizeof out);
    if (n >= cap || !valid_utf8(out, n, &c1) || c1)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f || c == '"')
            __builtin_trap();
        if (c == '\\' && !(i + 3 < n && out[i + 1] == 'x' && is_hex(out[i + 2]) &&
                           is_hex(out[i + 3])))
            __builtin_trap();
        if (c == '\\')
            i += 3;
    }
    free(in);
    return 0;
}
