/* tokenizer.json (Hugging Face tokenizers' format) as a pipeline:
 *   normalizer -> pre-tokenizer -> model -> post-processor.
 * The ids equal those of HF tokenizers for the same file and text.
 * Supported: models WordPiece, Unigram, BPE; normalizers BertNormalizer, Precompiled,
 * Lowercase, NFC/NFD/NFKC/NFKD, Strip, StripAccents, Replace (String or Regex), Prepend,
 * ByteLevel, Sequence; pre-tokenizers BertPreTokenizer, Whitespace, WhitespaceSplit,
 * Punctuation, Digits, CharDelimiterSplit, Split, Metaspace, ByteLevel, Sequence;
 * post-processors TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence,
 * null; added tokens with their single_word/lstrip/rstrip/normalized flags. tokenizer.json's
 * own "truncation" and "padding" sections are ignored: the caller passes max_len (the model's
 * max_seq_length) to encode, and batches are packed, never padded.
 */
#ifndef EMBP_TOKENIZER_TOKENIZER_H
#define EMBP_TOKENIZER_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

typedef struct embp_tokenizer embp_tokenizer;

/* Loads path (a tokenizer.json). Unknown or unsupported components are EMBP_EUNSUPPORTED naming
 * the component; malformed JSON or fields are EMBP_EFORMAT naming the field. */
embp_status embp_tokenizer_load(const char *path, embp_tokenizer **out /* OUT */, embp_error *err);
/* The same from text in memory (tests, fuzzing); name_for_errors stands for the file. */
embp_status embp_tokenizer_load_json(const char *json, size_t len, const char *name_for_errors,
                                     embp_tokenizer **out /* OUT */, embp_error *err);
void embp_tokenizer_free(embp_tokenizer *t); /* NULL is fine */

/* Encodes UTF-8 text (len bytes, need not be NUL-terminated) as one sequence with the
 * post-processor's special tokens. max_len > 0: truncate so the result, special tokens
 * included, has at most max_len ids (HF: truncation of the sequence before the special
 * tokens are added); max_len smaller than the special-token count is EMBP_EINVAL; max_len <= 0
 * does not truncate. Writes min(count, cap) ids; *n_out = ids written, *n_full = the count
 * without truncation (may be NULL). Invalid UTF-8 is EMBP_EINVAL naming the byte offset.
 * Thread-safe: a tokenizer is read-only after load. */
embp_status embp_tokenizer_encode(const embp_tokenizer *t, const char *text, size_t len,
                                  int max_len, int32_t *ids, int cap, int *n_out /* OUT */,
                                  int *n_full /* OUT */, embp_error *err);

/* The same, cutting from the left when left is set (HF's TruncationDirection::Left: the
 * sequence keeps its last ids, the special tokens go around them as always). */
embp_status embp_tokenizer_encode_dir(const embp_tokenizer *t, const char *text, size_t len,
                                      int max_len, bool left, int32_t *ids, int cap,
                                      int *n_out /* OUT */, int *n_full /* OUT */,
                                      embp_error *err);

/* The ids of text without the post-processor's special tokens (HF's add_special_tokens=False),
 * not truncated. Writes min(count, cap); *n_full = the count (may be NULL). */
embp_status embp_tokenizer_encode_raw(const embp_tokenizer *t, const char *text, size_t len,
                                      int32_t *ids, int cap, int *n_out /* OUT */,
                                      int *n_full /* OUT */, embp_error *err);

/* Encodes a pair of texts with the post-processor's pair template (e.g. [CLS] A [SEP] B [SEP]),
 * without truncation. type_ids (may be NULL) gets each id's token type. Writes min(count, cap);
 * *n_out = ids written, *n_full = the count (may be NULL). Errors as embp_tokenizer_encode. */
embp_status embp_tokenizer_encode_pair(const embp_tokenizer *t, const char *a, size_t a_len,
                                       const char *b, size_t b_len, int32_t *ids, int32_t *type_ids,
                                       int cap, int *n_out /* OUT */, int *n_full /* OUT */,
                                       embp_error *err);

/* embp_tokenizer_encode_pair truncated to max_len ids, special tokens included (max_len <= 0:
 * not truncated; below the pair template's special-token count: EMBP_EINVAL), as HF tokenizers'
 * encode(a, b) with truncation strategy "longest_first": ids come off the longer sequence
 * first, so a short query stays whole beside a long document, and two long ones get half the
 * room each. from_left nonzero: each sequence loses its first ids, keeping its end (HF's
 * truncation direction "left"); zero: its last. *n_full gets the count without truncation. */
embp_status embp_tokenizer_encode_pair_truncated(const embp_tokenizer *t, const char *a,
                                                 size_t a_len, const char *b, size_t b_len,
                                                 int max_len, int from_left, int32_t *ids,
                                                 int32_t *type_ids, int cap, int *n_out /* OUT */,
                                                 int *n_full /* OUT */, embp_error *err);

/* One id of an encoding with its offsets, as HF tokenizers' Encoding gives them. */
typedef struct {
    int32_t id;
    int32_t seq;          /* 0: the text (a pair's first), 1: a pair's second, -1: a special
                           * token the post-processor added (HF's special_tokens_mask) */
    uint32_t start, stop; /* [start, stop) in seq's text; 0, 0 for a special token */
} embp_token_offsets;

/* Encodes a (b NULL) or the pair (a, b) as embp_tokenizer_encode / _encode_pair do (with the
 * post-processor's special tokens when add_special, else the sequences' ids back to back), not
 * truncated, with each id's offsets into its own text as HF tokenizers computes them: through
 * the normalizer's alignments, the pre-tokenizer's splits and the model's pieces, then the
 * ByteLevel / RobertaProcessing trim_offsets passes (an added token's span includes what its
 * lstrip/rstrip took). chars: in code points (what Python's `tokenizers` answers), else in
 * bytes (the Rust crate's, what TEI's /tokenize answers). *out (heap, embp_free) gets *n
 * entries. Invalid UTF-8 is EMBP_EINVAL naming the byte offset. The embedding path does not
 * pay for offsets: encode and its siblings keep none. */
embp_status embp_tokenizer_encode_offsets(const embp_tokenizer *t, const char *a, size_t a_len,
                                          const char *b, size_t b_len, bool add_special,
                                          bool chars, embp_token_offsets **out /* OUT */,
                                          int *n /* OUT */, embp_error *err);

/* embp_tokenizer_encode_pair_truncated with b first cut to its first max_b ids (max_b <= 0: not
 * cut; Cohere's max_tokens_per_doc), then the pair truncated as there; *n_full counts b cut. */
embp_status embp_tokenizer_encode_pair_capped(const embp_tokenizer *t, const char *a,
                                              size_t a_len, const char *b, size_t b_len,
                                              int max_len, int from_left, int max_b, int32_t *ids,
                                              int32_t *type_ids, int cap, int *n_out /* OUT */,
                                              int *n_full /* OUT */, embp_error *err);

/* HF's special_tokens_mask of an encoding with the special tokens: for a sequence of n_a text
 * ids (and n_b for the pair's second, pair 1), mask[k] tells whether position k is one the
 * post-processor added. Writes min(count, cap); returns the count. */
int embp_tokenizer_special_mask(const embp_tokenizer *t, int pair, int n_a, int n_b, bool *mask,
                                int cap);

/* How many special tokens the post-processor adds to one sequence (pair 0) or to a pair
 * (pair 1): HF's num_special_tokens_to_add. A context of max_len ids holds max_len minus this
 * many text tokens. */
int embp_tokenizer_num_special(const embp_tokenizer *t, int pair);
/* The special ids the post-processor puts after a single sequence (BERT's [SEP], RoBERTa's
 * </s>; none for GPT-2 style files): what ends an encoded sequence, truncated or not. *n gets
 * the count; the array lives as long as t. */
const int32_t *embp_tokenizer_end_ids(const embp_tokenizer *t, int *n /* OUT */);

/* 1 when id is a special token: one the post-processor adds, or an added token marked
 * "special" (what transformers counts in all_special_ids for these files). */
int embp_tokenizer_is_special(const embp_tokenizer *t, int32_t id);

/* One past the largest id, over the vocab and the added tokens. */
int embp_tokenizer_vocab_size(const embp_tokenizer *t);
/* The largest id the tokenizer can emit (vocab, added tokens, post-processor template);
 * *source names the part of tokenizer.json it comes from. */
int32_t embp_tokenizer_max_id(const embp_tokenizer *t, const char **source /* OUT */);
/* The token string for id, or NULL when out of range. Lives as long as t. */
const char *embp_tokenizer_id_to_token(const embp_tokenizer *t, int32_t id);
/* HF tokenizers' Tokenizer::decode: each id's token (ids without one are dropped, as HF does;
 * special ones too when skip_special), through tokenizer.json's decoder (WordPiece, Metaspace,
 * ByteLevel, ByteFallback, Fuse, Strip, Replace, BPEDecoder, CTC, Sequence), joined; no
 * decoder: the tokens joined with spaces. *out is heap text (embp_free), *len bytes, valid
 * UTF-8 (NUL bytes possible). A decoder the file has but embp cannot read is
 * EMBP_EUNSUPPORTED naming it (encoding still works). */
embp_status embp_tokenizer_decode(const embp_tokenizer *t, const int32_t *ids, size_t n,
                                  bool skip_special, char **out /* OUT */, size_t *len /* OUT */,
                                  embp_error *err);
/* Appends bytes s[0..n) to out as Rust's String::from_utf8_lossy reads them (the decoder's
 * and TEI's token texts). */
void embp_utf8_lossy(embp_buf *out, const unsigned char *s, size_t n);
/* The id of token, or -1. */
int32_t embp_tokenizer_token_to_id(const embp_tokenizer *t, const char *token);

#endif
