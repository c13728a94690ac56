/* Code-point helpers for the tokenizer: UTF-8 checking and coding, the character classes HF
 * tokenizers uses (with its exact tables), case mapping and canonical decomposition. */
#ifndef EMBP_TOKENIZER_UNICODE_H
#define EMBP_TOKENIZER_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable array of code points (UTF-32). Grows by doubling through embp_realloc. */
typedef struct {
    uint32_t *p;
    size_t n, cap;
} embp_cpbuf;

/* Makes room for extra more code points; 0 on success, -1 when out of memory. */
int embp_cpbuf_reserve(embp_cpbuf *b, size_t extra);
void embp_cpbuf_free(embp_cpbuf *b);
static inline int embp_cpbuf_push(embp_cpbuf *b, uint32_t c) {
    if (b->n == b->cap && embp_cpbuf_reserve(b, 1) != 0) return -1;
    b->p[b->n++] = c;
    return 0;
}

/* Checks s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF, no truncated sequence). Returns len when valid, else the offset of the first bad
 * byte, with *why a static phrase naming the fault. */
size_t embp_utf8_check(const char *s, size_t len, const char **why);
/* Decodes valid UTF-8 s[0..len) onto the end of out. 0, or -1 when out of memory. */
int embp_utf8_decode(const char *s, size_t len, embp_cpbuf *out);
/* Writes c as UTF-8 into dst (room for 4); returns the byte count. */
int embp_utf8_put(uint32_t c, char *dst);

/* HF's classes. is_other: Cc, Cf, Co (unicode_categories 0.1.1). is_whitespace: Rust's
 * char::is_whitespace (the White_Space property). is_bert_punc: ASCII punctuation or P*.
 * is_chinese: the CJK ideograph blocks of BertNormalizer. is_word: regex \w. */
bool embp_uc_is_other(uint32_t c);
bool embp_uc_is_mark_nonspacing(uint32_t c);
bool embp_uc_is_whitespace(uint32_t c);
bool embp_uc_is_bert_punc(uint32_t c);
bool embp_uc_is_chinese(uint32_t c);
bool embp_uc_is_word(uint32_t c);
/* Rust's char::is_numeric (Nd, Nl, No). */
bool embp_uc_is_numeric(uint32_t c);
/* Whether an extended grapheme cluster boundary falls between a and b (UAX #29, utf8proc);
 * *state starts at 0 for each text and carries across calls. */
bool embp_uc_grapheme_break(uint32_t a, uint32_t b, int32_t *state);

/* Appends Rust's char::to_lowercase(c) to out (one code point, or two for U+0130). */
int embp_uc_push_lower(embp_cpbuf *out, uint32_t c);
/* c's canonical combining class (0: a starter). */
int embp_uc_combining_class(uint32_t c);
/* Replaces in[0..n) by its canonical (compat: compatibility) decomposition with canonical
 * ordering, written to out (cleared first); compose then recomposes (NFC, NFKC). */
int embp_uc_normalize(const uint32_t *in, size_t n, bool compat, bool compose, embp_cpbuf *out);

#endif
