/* UTF-8 checks through utf8proc (utf8proc_iterate rejects overlongs, surrogates and code
 * points past U+10FFFF); only the escaping policy is ours. */
#include "core/text.h"

#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

/* Length of the valid UTF-8 character at s (at most left bytes), or 0 when invalid. */
static size_t char_len(const char *s, size_t left, utf8proc_int32_t *cp) {
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)left, cp);
    return k > 0 ? (size_t)k : 0;
}

size_t embp_utf8_sanitize(const char *in, char *out, size_t cap) {
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        size_t k = char_len(in + i, n - i, &cp);
        const char *src = k ? in + i : "\xEF\xBF\xBD";
        size_t w = k ? k : 3;
        if (o + w + 1 > cap)
            break;
        memcpy(out + o, src, w);
        o += w;
        i += k ? k : 1;
    }
    out[o] = '\0';
    return o;
}

char *embp_log_escape(const char *in, char *out, size_t cap) {
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)in[i];
        utf8proc_int32_t cp = 0;
        size_t k = c >= 0x80 ? char_len(in + i, n - i, &cp) : 1;
        char item[16];
        size_t w;
        if ((c >= 0x20 && c < 0x7F && c != '"' && c != '\\') || (k > 1 && cp > 0x9F)) {
            w = k;
            memcpy(item, in + i, k);
        } else { /* control, quote, backslash, C1 control (its bytes), invalid byte */
            k = k > 1 ? k : 1;
            w = 0;
            for (size_t j = 0; j < k && w + 4 < sizeof item; j++)
                w += (size_t)snprintf(item + w, sizeof item - w, "\\x%02X",
                                      (unsigned char)in[i + j]);
        }
        if (o + w + 4 > cap) { /* room for "..." and the NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, item, w);
        o += w;
        i += k;
    }
    out[o] = '\0';
    return out;
}
