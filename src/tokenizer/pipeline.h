/* The tokenizer's stages as tagged structs, parsed from tokenizer.json's sections and applied
 * by tokenizer.c: normalizer -> pre-tokenizer -> model (WordPiece) -> post-processor, with
 * the added tokens split out first. Internal to src/tokenizer/. */
#ifndef EMBP_TOKENIZER_PIPELINE_H
#define EMBP_TOKENIZER_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "tokenizer/unicode.h"

/* A half-open range [start, end) of code points in a buffer. */
typedef struct {
    uint32_t start, end;
} embp_span;

typedef struct {
    embp_span *p;
    size_t n, cap;
} embp_spanbuf;

int embp_spanbuf_push(embp_spanbuf *b, uint32_t start, uint32_t end);
void embp_spanbuf_free(embp_spanbuf *b);

/* ---------------------------------------------------------------- normalizer.c */

typedef enum {
    EMBP_NORM_BERT,
    EMBP_NORM_LOWERCASE,
    EMBP_NORM_NFD,
    EMBP_NORM_NFKD,
    EMBP_NORM_NFC,
    EMBP_NORM_NFKC,
    EMBP_NORM_STRIP_ACCENTS,
    EMBP_NORM_STRIP,
    EMBP_NORM_REPLACE,
    EMBP_NORM_SEQUENCE,
} embp_norm_kind;

typedef struct embp_normalizer {
    embp_norm_kind kind;
    bool clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    bool left, right;                                          /* Strip */
    uint32_t *pattern, *content;                               /* Replace (String pattern) */
    size_t n_pattern, n_content;
    struct embp_normalizer *items; /* Sequence */
    size_t n_items;
} embp_normalizer;

/* j is tokenizer.json's "normalizer" object; fills *n. name is the file, for messages.
 * On error *n holds what was built so far: embp_normalizer_clear frees it either way. */
embp_status embp_normalizer_parse(json_t *j, const char *name, embp_normalizer *n, embp_error *err);
void embp_normalizer_clear(embp_normalizer *n);
/* Normalizes buf in place; tmp is scratch. 0, or -1 when out of memory. */
int embp_normalizer_apply(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp);

/* ---------------------------------------------------------------- pretokenizer.c */

typedef enum {
    EMBP_PRE_BERT,
    EMBP_PRE_WHITESPACE,
    EMBP_PRE_WHITESPACE_SPLIT,
    EMBP_PRE_PUNCTUATION,
    EMBP_PRE_SEQUENCE,
} embp_pre_kind;

/* How a split keeps its delimiter: HF's SplitDelimiterBehavior. */
typedef enum {
    EMBP_SPLIT_REMOVED,
    EMBP_SPLIT_ISOLATED,
    EMBP_SPLIT_MERGED_WITH_PREVIOUS,
    EMBP_SPLIT_MERGED_WITH_NEXT,
    EMBP_SPLIT_CONTIGUOUS,
} embp_split_behavior;

typedef struct embp_pretokenizer {
    embp_pre_kind kind;
    embp_split_behavior behavior; /* Punctuation */
    struct embp_pretokenizer *items;
    size_t n_items;
} embp_pretokenizer;

embp_status embp_pretokenizer_parse(json_t *j, const char *name, embp_pretokenizer *p,
                                    embp_error *err);
void embp_pretokenizer_clear(embp_pretokenizer *p);
/* cp is the normalized text; words holds the pieces to split and receives the words
 * (non-empty spans, in order); tmp is scratch. 0, or -1 when out of memory. */
int embp_pretokenizer_apply(const embp_pretokenizer *p, const uint32_t *cp, embp_spanbuf *words,
                            embp_spanbuf *tmp);

/* ---------------------------------------------------------------- wordpiece.c */

typedef struct {
    uint32_t hash;
    int32_t id; /* -1: empty slot */
} embp_vocab_slot;

/* The model's vocabulary: token strings by id, and an open-addressing hash table over them. */
typedef struct {
    char *arena;   /* every token, NUL-terminated, back to back */
    char **tokens; /* [n_ids] into arena; NULL where no token has that id */
    uint32_t *lens;
    int32_t n_ids;
    int32_t n_tokens; /* distinct tokens: HF's vocab size, where new added ids start */
    embp_vocab_slot *slots;
    uint32_t mask;  /* slots has mask + 1 entries, a power of two */
    size_t max_len; /* longest token in bytes */
} embp_vocab;

typedef struct {
    embp_vocab vocab;
    char *prefix; /* continuing_subword_prefix, e.g. "##" */
    size_t n_prefix;
    int32_t unk_id;
    int max_chars; /* max_input_chars_per_word */
} embp_wordpiece;

embp_status embp_wordpiece_parse(json_t *j, const char *name, embp_wordpiece *wp, embp_error *err);
void embp_wordpiece_clear(embp_wordpiece *wp);
/* The id of the token pre + s (either may be empty), or -1. */
int32_t embp_vocab_find(const embp_vocab *v, const char *pre, size_t n_pre, const char *s,
                        size_t n);
/* ids of word cp[0..n) appended to ids (grown as needed); bytes is scratch. -1 on no memory. */
typedef struct {
    int32_t *p;
    size_t n, cap;
} embp_idbuf;
int embp_idbuf_push(embp_idbuf *b, int32_t id);
int embp_wordpiece_tokenize(const embp_wordpiece *wp, const uint32_t *cp, size_t n, embp_idbuf *ids,
                            char **bytes, size_t *bytes_cap);

/* ---------------------------------------------------------------- postprocessor.c */

/* The single-sequence template as the ids before and after the sequence. */
typedef struct {
    int32_t *pre, *post;
    int n_pre, n_post;
} embp_postprocessor;

embp_status embp_postprocessor_parse(json_t *j, const char *name, embp_postprocessor *pp,
                                     embp_error *err);
void embp_postprocessor_clear(embp_postprocessor *pp);

/* ---------------------------------------------------------------- added.c */

typedef struct {
    char *content;
    uint32_t *cps; /* the content as code points; normalized when normalized is set */
    size_t n_cps;
    int32_t id; /* as HF assigns it (embp_added_assign_ids); -1: not in use */
    bool single_word, lstrip, rstrip, normalized, special;
} embp_added_token;

typedef struct {
    embp_added_token *tokens;
    size_t n;
} embp_added_tokens;

/* j is the "added_tokens" array (or NULL); norm (or NULL) normalizes the normalized ones. */
embp_status embp_added_parse(json_t *j, const char *name, const embp_normalizer *norm,
                             embp_added_tokens *a, embp_error *err);
void embp_added_clear(embp_added_tokens *a);
/* Gives each added token its id as HF's add_tokens does: the vocab's id for its content, else
 * the next free id from v->n_tokens on, in list order (the file's "id" is only a hint). A
 * token whose content or id a later one takes is dropped. Returns one past the largest id. */
int32_t embp_added_assign_ids(embp_added_tokens *a, const embp_vocab *v);
/* Splits cp[from..to) on the added tokens whose normalized flag equals normalized, as HF's
 * AddedVocabulary::find_matches (leftmost-longest, then single_word, lstrip, rstrip). Appends
 * pieces to out; a matched piece has its token's id in *ids at the same index, others -1. */
int embp_added_split(const embp_added_tokens *a, bool normalized, const uint32_t *cp, uint32_t from,
                     uint32_t to, embp_spanbuf *out, embp_idbuf *piece_ids);

/* ---------------------------------------------------------------- helpers (tokenizer.c) */

/* obj[key] as a boolean; absent or null gives def. Non-boolean is EMBP_EFORMAT naming where. */
embp_status embp_json_bool(json_t *obj, const char *key, bool def, bool *out, const char *name,
                           const char *where, embp_error *err);
/* obj[key] as a string, or def when absent; not a string is EMBP_EFORMAT. */
embp_status embp_json_str(json_t *obj, const char *key, const char *def, const char **out,
                          const char *name, const char *where, embp_error *err);
/* UTF-8 text s (from jansson: valid) as a new code-point array; -1 on no memory. */
int embp_cps_from_utf8(const char *s, uint32_t **out, size_t *n);

#endif
