/* The tokenizer's stages as tagged structs, parsed from tokenizer.json's sections and applied
 * by tokenizer.c: normalizer -> pre-tokenizer -> model (WordPiece, Unigram, BPE) ->
 * post-processor, with the added tokens split out first. Internal to src/tokenizer/. */
#ifndef EMBP_TOKENIZER_PIPELINE_H
#define EMBP_TOKENIZER_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

/* A half-open range [start, end) of code points in a buffer. flag: for a pre-token, that it
 * starts at offset 0 of the original text; for a pattern match list, that it is a match. */
typedef struct {
    uint32_t start, end;
    uint32_t flag;
} embp_span;

typedef struct {
    embp_span *p;
    size_t n, cap;
} embp_spanbuf;

int embp_spanbuf_push(embp_spanbuf *b, uint32_t start, uint32_t end);
void embp_spanbuf_free(embp_spanbuf *b);

/* A growable array of ids (or other int32 values). -1 on no memory. */
typedef struct {
    int32_t *p;
    size_t n, cap;
} embp_idbuf;
int embp_idbuf_push(embp_idbuf *b, int32_t id);

/* Offsets, only computed when asked for (embp_tokenizer_encode_offsets): each normalized char's
 * alignment, the range [s, e) of original code points it comes from (HF's NormalizedString
 * alignments, kept per char instead of per byte: every byte of a char shares its alignment);
 * for a model's tokens, byte ranges [s, e) within the word. */
typedef struct {
    uint32_t s, e;
} embp_align;

typedef struct {
    embp_align *p;
    size_t n, cap;
} embp_alignbuf;

int embp_alignbuf_reserve(embp_alignbuf *b, size_t extra);
static inline int embp_alignbuf_push(embp_alignbuf *b, uint32_t s, uint32_t e) {
    if (b->n == b->cap && embp_alignbuf_reserve(b, 1) != 0) return -1;
    b->p[b->n].s = s;
    b->p[b->n].e = e;
    b->n++;
    return 0;
}
void embp_alignbuf_free(embp_alignbuf *b);

/* A normalizer's alignments: a is parallel to the text buffer, tmp is scratch; base is where
 * the piece starts in the original (what HF gives a char inserted before every other). */
typedef struct {
    embp_alignbuf a, tmp;
    uint32_t base;
} embp_aligns;

/* Growable scratch memory for the models' per-word work. */
typedef struct {
    void *p;
    size_t cap;
} embp_scratch;
int embp_scratch_reserve(embp_scratch *s, size_t bytes);

/* ---------------------------------------------------------------- regex.c (PCRE2) */

typedef struct embp_regex embp_regex;
/* Compiles a tokenizer.json pattern (Oniguruma syntax as HF writes it; PCRE2 reads it the
 * same for what tokenizers ship). where names the field for messages. */
embp_status embp_regex_compile(const char *pattern, const char *name, const char *where,
                               embp_regex **out, embp_error *err);
void embp_regex_free(embp_regex *re);
/* Appends every match in cp[s..e) to out as absolute spans, in order, as onig's find_iter
 * gives them. 0, or -1 when out of memory or over PCRE2's limits. */
int embp_regex_find_all(const embp_regex *re, const uint32_t *cp, uint32_t s, uint32_t e,
                        embp_spanbuf *out);
/* j's "pattern": {"Regex": r} compiles into *re, {"String": s} becomes the code points *lit. */
embp_status embp_pattern_parse(json_t *j, const char *name, const char *where, embp_regex **re,
                               uint32_t **lit, size_t *n_lit, embp_error *err);

/* ---------------------------------------------------------------- precompiled.c */

typedef struct {
    uint32_t *units; /* the double-array trie */
    uint32_t n_units;
    char *strings; /* the replacements, NUL-terminated, back to back */
    size_t n_strings;
} embp_precompiled;

embp_status embp_precompiled_parse(json_t *j, const char *name, embp_precompiled *pc,
                                   embp_error *err);
void embp_precompiled_clear(embp_precompiled *pc);
/* in normalized into out (cleared first). A first char mapped to nothing still leaves the
 * text starting at offset 0, as HF aligns it. 0, or -1 when out of memory. */
int embp_precompiled_apply(const embp_precompiled *pc, const embp_cpbuf *in, embp_cpbuf *out);
/* The same, with HF's change per output char (0: replaces one char, 1: inserted, -n: replaces
 * one and removes n more) into changes (cleared first): what HF's NormalizedString::transform
 * aligns by (HF's initial offset is 0 here). */
int embp_precompiled_apply_changes(const embp_precompiled *pc, const embp_cpbuf *in,
                                   embp_cpbuf *out, embp_idbuf *changes);

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
    EMBP_NORM_PREPEND,
    EMBP_NORM_PRECOMPILED,
    EMBP_NORM_BYTELEVEL,
    EMBP_NORM_SEQUENCE,
} embp_norm_kind;

typedef struct embp_normalizer {
    embp_norm_kind kind;
    bool clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    bool left, right;                                          /* Strip */
    uint32_t *pattern, *content; /* Replace's String pattern; Replace's and Prepend's content */
    size_t n_pattern, n_content;
    embp_regex *re; /* Replace's Regex pattern */
    embp_precompiled pc;
    struct embp_normalizer *items; /* Sequence */
    size_t n_items;
} embp_normalizer;

/* j is tokenizer.json's "normalizer" object; fills *n. name is the file, for messages.
 * On error *n holds what was built so far: embp_normalizer_clear frees it either way. */
embp_status embp_normalizer_parse(json_t *j, const char *name, embp_normalizer *n, embp_error *err);
void embp_normalizer_clear(embp_normalizer *n);
/* Normalizes buf in place; tmp is scratch. *lead (may be NULL) is cleared when the text's first
 * char is dropped, so the result no longer starts at the original's offset 0 (HF's alignments,
 * which Metaspace's prepend_scheme "first" reads). 0, or -1 when out of memory. */
int embp_normalizer_apply(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp, bool *lead);
/* The same, keeping al->a parallel to buf (NULL: no offsets): each char's original range as
 * HF's NormalizedString aligns it. */
int embp_normalizer_apply_aligned(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp,
                                  bool *lead, embp_aligns *al);

/* ---------------------------------------------------------------- pretokenizer.c */

typedef enum {
    EMBP_PRE_BERT,
    EMBP_PRE_WHITESPACE,
    EMBP_PRE_WHITESPACE_SPLIT,
    EMBP_PRE_PUNCTUATION,
    EMBP_PRE_DIGITS,
    EMBP_PRE_CHAR_DELIMITER,
    EMBP_PRE_SPLIT,
    EMBP_PRE_METASPACE,
    EMBP_PRE_BYTELEVEL,
    EMBP_PRE_SEQUENCE,
} embp_pre_kind;

/* Metaspace's prepend_scheme, in tokenizer.json's order of names. */
typedef enum { EMBP_PREPEND_ALWAYS, EMBP_PREPEND_NEVER, EMBP_PREPEND_FIRST } embp_prepend_scheme;

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
    embp_split_behavior behavior; /* Punctuation, Split */
    bool invert;                  /* Split */
    bool individual;              /* Digits */
    uint32_t replacement;         /* Metaspace; CharDelimiterSplit's delimiter */
    embp_prepend_scheme prepend;  /* Metaspace */
    bool split;                   /* Metaspace */
    bool add_prefix, use_regex;   /* ByteLevel */
    embp_regex *re;               /* Split's Regex; ByteLevel's GPT-2 pattern */
    uint32_t *lit;                /* Split's String */
    size_t n_lit;
    struct embp_pretokenizer *items;
    size_t n_items;
} embp_pretokenizer;

typedef struct {
    embp_spanbuf out, m, hits;
} embp_pretok_scratch;

embp_status embp_pretokenizer_parse(json_t *j, const char *name, embp_pretokenizer *p,
                                    embp_error *err);
void embp_pretokenizer_clear(embp_pretokenizer *p);
/* buf is the normalized text; words holds the pieces to split and receives the words
 * (non-empty spans, in order). Rewritten words are appended to buf. 0, or -1 when out of
 * memory (or over a regex limit). */
int embp_pretokenizer_apply(const embp_pretokenizer *p, embp_cpbuf *buf, embp_spanbuf *words,
                            embp_pretok_scratch *sc);
/* The same, appending to al (parallel to buf; NULL: no offsets) the alignment of each char a
 * rewrite appends (Metaspace's and ByteLevel's prefix takes the piece's first char's, each
 * byte-level char its source char's, as HF). */
int embp_pretokenizer_apply_aligned(const embp_pretokenizer *p, embp_cpbuf *buf,
                                    embp_spanbuf *words, embp_pretok_scratch *sc,
                                    embp_alignbuf *al);

/* GPT-2's byte-level alphabet: appends each UTF-8 byte of cp[0..n) to out as its char
 * (ByteLevel pre-tokenizer and normalizer). cp must not point into out unless out already has
 * room for 4 * n more. 0, or -1 when out of memory. */
int embp_bytelevel_map(const uint32_t *cp, size_t n, embp_cpbuf *out);

/* The byte a GPT-2 byte-level char stands for, or -1 (the ByteLevel decoder). */
int embp_bytelevel_byte(uint32_t c);

/* ---------------------------------------------------------------- decoder.c */

typedef enum {
    EMBP_DEC_WORDPIECE,
    EMBP_DEC_METASPACE,
    EMBP_DEC_BYTELEVEL,
    EMBP_DEC_BYTEFALLBACK,
    EMBP_DEC_FUSE,
    EMBP_DEC_STRIP,
    EMBP_DEC_REPLACE,
    EMBP_DEC_BPE,
    EMBP_DEC_CTC,
    EMBP_DEC_SEQUENCE,
} embp_dec_kind;

typedef struct embp_decoder {
    embp_dec_kind kind;
    char *a, *b;  /* WordPiece's prefix, Replace's content, BPEDecoder's suffix, CTC's pad_token;
                   * CTC's word_delimiter_token */
    bool cleanup; /* WordPiece, CTC */
    bool prepend; /* Metaspace: prepend_scheme is not "never" */
    uint32_t ch;  /* Metaspace's replacement, Strip's content */
    size_t start, stop; /* Strip */
    embp_regex *re;     /* Replace's Regex pattern */
    uint32_t *lit;      /* Replace's String pattern */
    size_t n_lit;
    struct embp_decoder *items; /* Sequence */
    size_t n_items;
} embp_decoder;

/* A list of tokens as UTF-8 strings (core/buf.h buffers): what each decoder maps. */
typedef struct {
    embp_buf *p;
    size_t n, cap;
} embp_toklist;
int embp_toklist_push(embp_toklist *l, const char *s, size_t n); /* 0, or -1: no memory */
void embp_toklist_free(embp_toklist *l);

/* j is tokenizer.json's "decoder" object. On error *d holds what was built so far:
 * embp_decoder_clear frees it either way. An unknown type is EMBP_EUNSUPPORTED naming it. */
embp_status embp_decoder_parse(json_t *j, const char *name, embp_decoder *d, embp_error *err);
void embp_decoder_clear(embp_decoder *d);
/* HF's decode_chain: l's tokens rewritten in place. 0, or -1 when out of memory. */
int embp_decoder_apply(const embp_decoder *d, embp_toklist *l);

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

/* vocab.c: "vocab" as an object token -> id (WordPiece, BPE) or a list of [token, score]
 * (Unigram; *scores gets the scores by id). */
embp_status embp_vocab_from_object(json_t *vocab, const char *name, embp_vocab *v, embp_error *err);
embp_status embp_vocab_from_list(json_t *list, const char *name, embp_vocab *v, double **scores,
                                 embp_error *err);
void embp_vocab_clear(embp_vocab *v);
/* The ids of the byte-fallback tokens <0x00> .. <0xFF>, -1 where absent. */
void embp_vocab_byte_ids(const embp_vocab *v, int32_t ids[256]);

embp_status embp_wordpiece_parse(json_t *j, const char *name, embp_wordpiece *wp, embp_error *err);
void embp_wordpiece_clear(embp_wordpiece *wp);
/* The vocab's hash (FNV-1a over the token's bytes), one byte at a time. */
#define EMBP_HASH_INIT 2166136261u
static inline uint32_t embp_hash_step(uint32_t h, unsigned char c) {
    return (h ^ c) * 16777619u;
}
/* The id of token s[0..n) whose hash is h, or -1 (a scan that hashes as it grows). */
int32_t embp_vocab_find_hashed(const embp_vocab *v, uint32_t h, const char *s, size_t n);
/* The id of the token pre + s (either may be empty), or -1. */
int32_t embp_vocab_find(const embp_vocab *v, const char *pre, size_t n_pre, const char *s,
                        size_t n);
/* The word as UTF-8 w[0..len), n_chars code points long. offs (NULL: not wanted) gets each
 * id's byte range in w, as HF's model gives its tokens' offsets (every model below too). */
int embp_wordpiece_tokenize(const embp_wordpiece *wp, const char *w, size_t len, size_t n_chars,
                            embp_idbuf *ids, embp_alignbuf *offs);

/* ---------------------------------------------------------------- unigram.c */

typedef struct {
    embp_vocab vocab;
    double *scores; /* [n_ids] */
    double min_score;
    int32_t unk_id; /* -1: none */
    bool byte_fallback;
    int32_t byte_ids[256]; /* <0xXX> tokens' ids, -1 where absent */
    uint32_t *prefixes;    /* hashes (| 1; 0: empty) of every token's char-boundary prefixes */
    uint32_t prefix_mask;
} embp_unigram;

embp_status embp_unigram_parse(json_t *j, const char *name, embp_unigram *ug, embp_error *err);
void embp_unigram_clear(embp_unigram *ug);
int embp_unigram_tokenize(const embp_unigram *ug, const char *w, size_t len, embp_idbuf *ids,
                          embp_scratch *sc, embp_alignbuf *offs);

/* ---------------------------------------------------------------- bpe.c */

typedef struct {
    uint64_t key; /* left id << 32 | right id */
    uint32_t rank;
    int32_t new_id; /* -1: empty slot */
} embp_merge_slot;

typedef struct {
    embp_vocab vocab;
    embp_merge_slot *merges;
    uint32_t merge_mask;
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix; NULL: none */
    size_t n_prefix, n_suffix;
    int32_t unk_id; /* -1: none */
    bool fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256];
} embp_bpe;

embp_status embp_bpe_parse(json_t *j, const char *name, embp_bpe *m, embp_error *err);
void embp_bpe_clear(embp_bpe *m);
int embp_bpe_tokenize(const embp_bpe *m, const char *w, size_t len, embp_idbuf *ids,
                      embp_scratch *sc, embp_alignbuf *offs);

/* ---------------------------------------------------------------- postprocessor.c */

/* One item of a template: a special token's id (seq -1), or where sequence A (seq 0) or B
 * (seq 1) goes; type_id is the token type of that item. */
typedef struct {
    int32_t id;
    int seq;
    uint32_t type_id;
} embp_tmpl_item;

typedef struct {
    embp_tmpl_item *p;
    int n, n_special;
} embp_template;

/* The post-processor as its single and pair templates (TemplateProcessing as written;
 * BertProcessing, RobertaProcessing and Sequence turned into templates; ByteLevel adds no
 * ids). pre/post: the single template's special ids before and after the sequence. */
typedef struct {
    embp_template single, pair;
    int32_t *pre, *post;
    int n_pre, n_post;
    /* trim_offsets of the ByteLevel / RobertaProcessing steps, in the order HF applies them
     * (each pass trims again): bit k of trim_prefix is pass k's add_prefix_space. */
    int n_trim;
    uint32_t trim_prefix;
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
