/* Code-point helpers for the tokenizer. Character classes follow HF tokenizers exactly (its
 * Unicode 9.0 tables for categories); case mapping and decomposition come from utf8proc. */
#include "tokenizer/unicode.h"

#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "tokenizer/unicode_tables.h"

int embp_cpbuf_reserve(embp_cpbuf *b, size_t extra) {
    if (b->cap - b->n >= extra) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < extra) {
        if (cap > SIZE_MAX / 2 / sizeof(uint32_t)) return -1;
        cap *= 2;
    }
    uint32_t *p = embp_realloc(b->p, cap * sizeof *p);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void embp_cpbuf_free(embp_cpbuf *b) {
    embp_free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the sequence led by byte b0, or 0 for a byte that cannot lead one. */
static int utf8_lead_len(unsigned char b0) {
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) return 2;
    if (b0 >= 0xE0 && b0 <= 0xEF) return 3;
    if (b0 >= 0xF0 && b0 <= 0xF4) return 4;
    return 0;
}

size_t embp_utf8_check(const char *s, size_t len, const char **why) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int n = utf8_lead_len(u[i]);
        if (n == 0) {
            *why = (u[i] == 0xC0 || u[i] == 0xC1) ? "overlong encoding"
                   : (u[i] < 0xC0)                ? "unexpected continuation byte"
                                                  : "byte that cannot start a sequence";
            return i;
        }
        if (len - i < (size_t)n) {
            *why = "truncated sequence";
            return i;
        }
        for (int k = 1; k < n; k++) {
            if ((u[i + k] & 0xC0) != 0x80) {
                *why = "truncated sequence";
                return i;
            }
        }
        /* The second byte's range rules out overlongs, surrogates and values past U+10FFFF. */
        if ((u[i] == 0xE0 && u[i + 1] < 0xA0) || (u[i] == 0xF0 && u[i + 1] < 0x90)) {
            *why = "overlong encoding";
            return i;
        }
        if (u[i] == 0xED && u[i + 1] >= 0xA0) {
            *why = "UTF-16 surrogate";
            return i;
        }
        if (u[i] == 0xF4 && u[i + 1] >= 0x90) {
            *why = "code point past U+10FFFF";
            return i;
        }
        i += (size_t)n;
    }
    return len;
}

int embp_utf8_decode(const char *s, size_t len, embp_cpbuf *out) {
    const unsigned char *u = (const unsigned char *)s;
    if (embp_cpbuf_reserve(out, len) != 0) return -1;
    for (size_t i = 0; i < len;) {
        uint32_t c = u[i];
        int n = utf8_lead_len(u[i]);
        if (n == 2)
            c &= 0x1F;
        else if (n == 3)
            c &= 0x0F;
        else if (n == 4)
            c &= 0x07;
        for (int k = 1; k < n; k++)
            c = (c << 6) | (u[i + k] & 0x3F);
        out->p[out->n++] = c;
        i += (size_t)(n ? n : 1);
    }
    return 0;
}

int embp_utf8_put(uint32_t c, char *dst) {
    unsigned char *d = (unsigned char *)dst;
    if (c < 0x80) {
        d[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (unsigned char)(0xC0 | (c >> 6));
        d[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (unsigned char)(0xE0 | (c >> 12));
        d[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (unsigned char)(0xF0 | (c >> 18));
    d[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------- classes */

/* table is n sorted inclusive ranges; binary search for c. */
static bool in_ranges(const uint32_t (*table)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < table[mid][0])
            hi = mid;
        else if (c > table[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define EMBP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

bool embp_uc_is_other(uint32_t c) {
    return in_ranges(embp_uc_other, EMBP_COUNT(embp_uc_other), c);
}

bool embp_uc_is_mark_nonspacing(uint32_t c) {
    return c >= 0x300 && in_ranges(embp_uc_mark_nonspacing, EMBP_COUNT(embp_uc_mark_nonspacing), c);
}

bool embp_uc_is_whitespace(uint32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool embp_uc_is_bert_punc(uint32_t c) {
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return in_ranges(embp_uc_punctuation, EMBP_COUNT(embp_uc_punctuation), c);
}

bool embp_uc_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Rust regex's \w is Alphabetic, M*, Nd, Pc and Join_Control. utf8proc has categories but not
 * the Alphabetic property: letters, Nl and marks cover it but for the circled letters (So). */
bool embp_uc_is_word(uint32_t c) {
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    if (c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
        (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
        (c >= 0x1F170 && c <= 0x1F189))
        return true;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

/* ---------------------------------------------------------------- case and normal forms */

/* Rust's char::to_lowercase is the full (SpecialCasing) mapping without context: U+0130 is
 * the one unconditional two-character lowercase, and final sigma is not applied (Σ -> σ).
 * utf8proc_tolower is the simple mapping, so U+0130 alone needs a special case. */
int embp_uc_push_lower(embp_cpbuf *out, uint32_t c) {
    if (c < 0x80) {
        if (c >= 'A' && c <= 'Z') c += 32;
        return embp_cpbuf_push(out, c);
    }
    if (c == 0x130) return embp_cpbuf_push(out, 'i') || embp_cpbuf_push(out, 0x307);
    return embp_cpbuf_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

static int combining_class(uint32_t c) {
    return utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}

int embp_uc_combining_class(uint32_t c) {
    return c < 0x300 ? 0 : combining_class(c);
}

/* Sorts the run p[0..n) of non-starters stably by combining class, through tmp (n slots).
 * A counting sort: linear in the run, where an insertion sort was quadratic (a 1 MiB run of
 * alternating U+0301 U+0316 took minutes); short runs, the usual case, keep the insertion. */
static void order_run(uint32_t *p, size_t n, uint32_t *tmp) {
    if (n < 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t c = p[i];
            int cc = combining_class(c);
            size_t j = i;
            while (j > 0 && combining_class(p[j - 1]) > cc) {
                p[j] = p[j - 1];
                j--;
            }
            p[j] = c;
        }
        return;
    }
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++)
        start[combining_class(p[i]) + 1]++;
    for (int k = 1; k < 257; k++)
        start[k] += start[k - 1];
    for (size_t i = 0; i < n; i++)
        tmp[start[combining_class(p[i])]++] = p[i];
    memcpy(p, tmp, n * sizeof *p);
}

/* Canonical ordering of out->p[0..out->n): each run of non-starters sorted stably by class.
 * A long run borrows scratch space past out->n. Returns -1 when that space cannot be had. */
static int canonical_order(embp_cpbuf *out) {
    size_t n = out->n;
    for (size_t i = 0; i < n;) {
        if (combining_class(out->p[i]) == 0) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && combining_class(out->p[j]) != 0)
            j++;
        if (j - i >= 32 && embp_cpbuf_reserve(out, j - i) != 0)
            return -1;
        order_run(out->p + i, j - i, out->p + n);
        i = j;
    }
    return 0;
}

int embp_uc_normalize(const uint32_t *in, size_t n, bool compat, bool compose, embp_cpbuf *out) {
    utf8proc_option_t opt = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] < 0x80) { /* ASCII decomposes to itself. */
            if (embp_cpbuf_push(out, in[i]) != 0) return -1;
            continue;
        }
        if (embp_cpbuf_reserve(out, 4) != 0) return -1;
        for (;;) {
            utf8proc_ssize_t room = (utf8proc_ssize_t)(out->cap - out->n);
            utf8proc_ssize_t got = utf8proc_decompose_char(
                (utf8proc_int32_t)in[i], (utf8proc_int32_t *)out->p + out->n, room, opt, NULL);
            if (got < 0) return -1;
            if (got <= room) {
                out->n += (size_t)got;
                break;
            }
            if (embp_cpbuf_reserve(out, (size_t)got) != 0) return -1;
        }
    }
    if (canonical_order(out) != 0) return -1;
    if (compose && out->n > 0) {
        utf8proc_ssize_t m =
            utf8proc_normalize_utf32((utf8proc_int32_t *)out->p, (utf8proc_ssize_t)out->n,
                                     UTF8PROC_COMPOSE | UTF8PROC_STABLE);
        if (m < 0) return -1;
        out->n = (size_t)m;
    }
    return 0;
}

/* Rust's char::is_numeric: general categories Nd, Nl, No. */
bool embp_uc_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool embp_uc_grapheme_break(uint32_t a, uint32_t b, int32_t *state) {
    return utf8proc_grapheme_break_stateful((utf8proc_int32_t)a, (utf8proc_int32_t)b, state);
}
