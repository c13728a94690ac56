/* Regular expressions for tokenizer.json patterns (Split, Replace, ByteLevel's GPT-2 split)
 * through PCRE2's 32-bit library: it matches our code-point buffers directly, so match offsets
 * are code-point offsets. UTF + UCP make \p{L}, \s and \w Unicode-aware, as Oniguruma (HF's
 * engine) has them; JIT when the library has it. Iteration follows the onig crate's
 * find_iter: an empty match right after the previous match is skipped by one char. */
#define PCRE2_CODE_UNIT_WIDTH 32
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

/* Oniguruma's \s (HF's engine) is the White_Space property; PCRE2's \s with UCP also takes
 * U+180E (in its \h list), so each \s is spelled out as White_Space: [WS] outside a class,
 * [^WS] for \S, and WS itself inside a class. Escapes and classes are tracked only far
 * enough to tell where a \s stands (a \S inside a class stays: no such pattern ships). NULL
 * on no memory. */
#define WHITE_SPACE                                                                                \
    "\\t\\n\\x0B\\f\\r\\x20\\x85\\xA0\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"      \
    "\\x{205F}\\x{3000}"
static char *onig_compat(const char *p) {
    size_t n = strlen(p);
    char *out = embp_malloc(n * (sizeof WHITE_SPACE + 3) + 1), *o = out;
    if (!out) return NULL;
    int depth = 0; /* inside [...]: 1 (nested POSIX classes are not in these patterns) */
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n) {
            char c = p[i + 1];
            const char *rep = c == 's'             ? (depth ? WHITE_SPACE : "[" WHITE_SPACE "]")
                              : c == 'S' && !depth ? "[^" WHITE_SPACE "]"
                                                   : NULL;
            if (rep) {
                o += sprintf(o, "%s", rep);
            } else {
                *o++ = p[i];
                *o++ = c;
            }
            i++;
            continue;
        }
        if (p[i] == '[' && !depth) {
            depth = 1;
            *o++ = p[i];
            if (i + 1 < n && p[i + 1] == '^') *o++ = p[++i];
            if (i + 1 < n && p[i + 1] == ']') *o++ = p[++i]; /* a leading ] is literal */
            continue;
        }
        if (p[i] == ']' && depth) depth = 0;
        *o++ = p[i];
    }
    *o = '\0';
    return out;
}

embp_status embp_regex_compile(const char *pattern, const char *name, const char *where,
                               embp_regex **out, embp_error *err) {
    uint32_t *cps = NULL;
    size_t n = 0;
    *out = NULL;
    char *compat = onig_compat(pattern);
    int rc = compat ? embp_cps_from_utf8(compat, &cps, &n) : -1;
    embp_free(compat);
    if (rc != 0) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    int code = 0;
    PCRE2_SIZE at = 0;
    pcre2_code_32 *re =
        pcre2_compile_32((PCRE2_SPTR32)cps, n, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    embp_free(cps);
    if (!re) {
        PCRE2_UCHAR32 msg32[160];
        char msg[160];
        int len = pcre2_get_error_message_32(code, msg32, 160);
        for (int i = 0; i < len && i < 159; i++)
            msg[i] = msg32[i] < 128 ? (char)msg32[i] : '?';
        msg[len > 0 && len < 160 ? len : 0] = '\0';
        return embp_fail(err, EMBP_EFORMAT, "%s: %s: bad regex \"%.64s\" at %zu: %s", name, where,
                         pattern, (size_t)at, msg);
    }
    pcre2_jit_compile_32(re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter, same matches */
    *out = (embp_regex *)re;
    return EMBP_OK;
}

void embp_regex_free(embp_regex *re) {
    if (re) pcre2_code_free_32((pcre2_code_32 *)re);
}

/* Appends the matches of re in cp[s..e) to out as spans (absolute offsets), onig-style. */
int embp_regex_find_all(const embp_regex *re, const uint32_t *cp, uint32_t s, uint32_t e,
                        embp_spanbuf *out) {
    const pcre2_code_32 *code = (const pcre2_code_32 *)re;
    pcre2_match_data_32 *md = pcre2_match_data_create_from_pattern_32(code, NULL);
    if (!md) return -1;
    size_t pos = 0, len = e - s;
    bool have_last = false;
    size_t last_end = 0;
    int rc = 0;
    while (pos <= len) {
        int m =
            pcre2_match_32(code, (PCRE2_SPTR32)(cp + s), len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its stack on the heap */
            m = pcre2_match_32(code, (PCRE2_SPTR32)(cp + s), len, pos,
                               PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) { /* a match or heap limit: fail the encode rather than guess */
            rc = -1;
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer_32(md);
        size_t ms = ov[0], me = ov[1];
        if (me < ms) me = ms; /* \K tricks: keep spans sane */
        if (ms == me && have_last && last_end == me) {
            pos++;
            continue;
        }
        if (embp_spanbuf_push(out, (uint32_t)(s + ms), (uint32_t)(s + me)) != 0) {
            rc = -1;
            break;
        }
        pos = me;
        have_last = true;
        last_end = me;
    }
    pcre2_match_data_free_32(md);
    return rc;
}
