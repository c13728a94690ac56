/* tokenizer.json loading and encoding: splits out the added tokens, then runs each remaining
 * piece through normalizer -> pre-tokenizer -> model (WordPiece, Unigram or BPE), then adds
 * the post-processor's special tokens. The stages live in their own files (pipeline.h). */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "tokenizer/pipeline.h"

typedef enum { MODEL_WORDPIECE, MODEL_UNIGRAM, MODEL_BPE } model_kind;

struct embp_tokenizer {
    embp_normalizer *norm;  /* NULL: none */
    embp_pretokenizer *pre; /* NULL: the whole piece is one word */
    model_kind kind;
    embp_wordpiece wp;
    embp_unigram ug;
    embp_bpe bpe;
    const embp_vocab *vocab; /* the model's */
    embp_postprocessor post;
    embp_added_tokens added;
    bool has_raw_added, has_norm_added; /* any "normalized": false / true added tokens */
    const char **id_to_tok;             /* [n_ids], vocab and added tokens; NULL where no token */
    bool *special;                      /* [n_ids]: the token is a special added token's */
    const char **dec_tok; /* [n_ids]: what decode starts from (id_to_tok, but a normalized
                           * added token as normalized, as HF's simple_id_to_token) */
    char **dec_norm;      /* [added.n]: those normalized strings (owned), or NULL */
    int32_t n_ids;
    embp_decoder *dec; /* NULL: none (decode joins the tokens with spaces, as HF) */
    char *dec_error;   /* the decoder could not be read: why (decode answers it) */
};

/* ---------------------------------------------------------------- JSON helpers */

embp_status embp_json_bool(json_t *obj, const char *key, bool def, bool *out, const char *name,
                           const char *where, embp_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return EMBP_OK;
    }
    if (!json_is_boolean(v))
        return embp_fail(err, EMBP_EFORMAT, "%s: %s.%s must be true, false or null", name, where,
                         key);
    *out = json_is_true(v);
    return EMBP_OK;
}

embp_status embp_json_str(json_t *obj, const char *key, const char *def, const char **out,
                          const char *name, const char *where, embp_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return EMBP_OK;
    }
    if (!json_is_string(v))
        return embp_fail(err, EMBP_EFORMAT, "%s: %s.%s must be a string", name, where, key);
    *out = json_string_value(v);
    return EMBP_OK;
}

int embp_cps_from_utf8(const char *s, uint32_t **out, size_t *n) {
    embp_cpbuf b = {0};
    size_t len = strlen(s);
    if (embp_cpbuf_reserve(&b, len + 1) != 0 || embp_utf8_decode(s, len, &b) != 0) {
        embp_cpbuf_free(&b);
        return -1;
    }
    *out = b.p;
    *n = b.n;
    return 0;
}

/* ---------------------------------------------------------------- loading */

static embp_status load_model(json_t *root, const char *name, embp_tokenizer *t, embp_error *err) {
    json_t *model = json_object_get(root, "model");
    embp_status st;
    if (!json_is_object(model))
        return embp_fail(err, EMBP_EFORMAT, "%s: \"model\" missing or not an object", name);
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type) return embp_fail(err, EMBP_EFORMAT, "%s: model.type missing or not a string", name);
    if (strcmp(type, "WordPiece") == 0) {
        t->kind = MODEL_WORDPIECE;
        t->vocab = &t->wp.vocab;
        st = embp_wordpiece_parse(model, name, &t->wp, err);
    } else if (strcmp(type, "Unigram") == 0) {
        t->kind = MODEL_UNIGRAM;
        t->vocab = &t->ug.vocab;
        st = embp_unigram_parse(model, name, &t->ug, err);
    } else if (strcmp(type, "BPE") == 0) {
        t->kind = MODEL_BPE;
        t->vocab = &t->bpe.vocab;
        st = embp_bpe_parse(model, name, &t->bpe, err);
    } else {
        st = embp_fail(err, EMBP_EUNSUPPORTED,
                       "%s: model type '%.64s' is not supported (supported: WordPiece, Unigram, "
                       "BPE)",
                       name, type);
    }
    return st;
}

/* The decoder only serves decode: one that cannot be read does not stop encoding; decode
 * answers its error. */
static embp_status load_decoder(json_t *d, const char *name, embp_tokenizer *t, embp_error *err) {
    if (!d || json_is_null(d)) return EMBP_OK;
    if (!(t->dec = embp_calloc(1, sizeof *t->dec)))
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    embp_error derr = {0};
    embp_status st = embp_decoder_parse(d, name, t->dec, &derr);
    if (st == EMBP_ENOMEM) return embp_fail(err, st, "%s", derr.msg);
    if (st) {
        embp_decoder_clear(t->dec);
        embp_free(t->dec);
        t->dec = NULL;
        if (!(t->dec_error = embp_strdup(derr.msg)))
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    }
    return EMBP_OK;
}

static embp_status load_stages(json_t *root, const char *name, embp_tokenizer *t, embp_error *err) {
    json_t *n = json_object_get(root, "normalizer"), *p = json_object_get(root, "pre_tokenizer");
    embp_status st;
    if (n && !json_is_null(n)) {
        if (!(t->norm = embp_calloc(1, sizeof *t->norm)))
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        if ((st = embp_normalizer_parse(n, name, t->norm, err))) return st;
    }
    if (p && !json_is_null(p)) {
        if (!(t->pre = embp_calloc(1, sizeof *t->pre)))
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        if ((st = embp_pretokenizer_parse(p, name, t->pre, err))) return st;
    }
    if ((st = embp_postprocessor_parse(json_object_get(root, "post_processor"), name, &t->post,
                                       err)))
        return st;
    if ((st = embp_added_parse(json_object_get(root, "added_tokens"), name, t->norm, &t->added,
                               err)))
        return st;
    return load_decoder(json_object_get(root, "decoder"), name, t, err);
}

/* Assigns the added tokens' ids, then id_to_tok over the vocab and the added tokens (which
 * win, as in HF's id_to_token). */
static embp_status build_id_table(const char *name, embp_tokenizer *t, embp_error *err) {
    t->n_ids = embp_added_assign_ids(&t->added, t->vocab);
    for (size_t i = 0; i < t->added.n; i++) {
        const embp_added_token *a = &t->added.tokens[i];
        if (a->id >= 0 && a->normalized)
            t->has_norm_added = true;
        else if (a->id >= 0)
            t->has_raw_added = true;
    }
    t->id_to_tok = embp_calloc((size_t)t->n_ids + 1, sizeof *t->id_to_tok);
    if (!t->id_to_tok) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (int32_t i = 0; i < t->vocab->n_ids; i++)
        t->id_to_tok[i] = t->vocab->tokens[i];
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.tokens[i].id >= 0)
            t->id_to_tok[t->added.tokens[i].id] = t->added.tokens[i].content;
    /* HF (tokenizers >= 0.22) decodes a normalized added token from its normalized form. */
    t->dec_tok = embp_calloc((size_t)t->n_ids + 1, sizeof *t->dec_tok);
    t->dec_norm = embp_calloc(t->added.n + 1, sizeof *t->dec_norm);
    if (!t->dec_tok || !t->dec_norm) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    memcpy(t->dec_tok, t->id_to_tok, (size_t)t->n_ids * sizeof *t->dec_tok);
    for (size_t i = 0; t->norm && i < t->added.n; i++) {
        const embp_added_token *a = &t->added.tokens[i];
        if (a->id < 0 || !a->normalized) continue;
        if (!(t->dec_norm[i] = embp_malloc(4 * a->n_cps + 1)))
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        size_t k = 0;
        for (size_t c = 0; c < a->n_cps; c++)
            k += (size_t)embp_utf8_put(a->cps[c], t->dec_norm[i] + k);
        t->dec_norm[i][k] = '\0';
        t->dec_tok[a->id] = t->dec_norm[i];
    }
    /* HF's decode skips a token whose string is a special added token's content. */
    t->special = embp_calloc((size_t)t->n_ids + 1, sizeof *t->special);
    if (!t->special) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < t->added.n; i++) {
        const embp_added_token *a = &t->added.tokens[i];
        if (!a->special || a->id < 0) continue;
        t->special[a->id] = true;
        int32_t v = embp_vocab_find(t->vocab, "", 0, a->content, strlen(a->content));
        if (v >= 0 && v < t->n_ids && t->id_to_tok[v] && !strcmp(t->id_to_tok[v], a->content))
            t->special[v] = true;
    }
    return EMBP_OK;
}

embp_status embp_tokenizer_load_json(const char *json, size_t len, const char *name_for_errors,
                                     embp_tokenizer **out, embp_error *err) {
    const char *name = name_for_errors ? name_for_errors : "tokenizer.json";
    json_error_t jerr;
    embp_status st;
    *out = NULL;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root)
        return embp_fail(err, EMBP_EFORMAT, "%s: invalid JSON at line %d, column %d: %s", name,
                         jerr.line, jerr.column, jerr.text);
    embp_tokenizer *t = embp_calloc(1, sizeof *t);
    if (!t) {
        st = embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    } else if (!json_is_object(root)) {
        st = embp_fail(err, EMBP_EFORMAT, "%s: the top level must be a JSON object", name);
    } else if (!(st = load_model(root, name, t, err)) && !(st = load_stages(root, name, t, err))) {
        st = build_id_table(name, t, err);
    }
    json_decref(root);
    if (st != EMBP_OK) {
        embp_tokenizer_free(t);
        return st;
    }
    *out = t;
    return EMBP_OK;
}

embp_status embp_tokenizer_load(const char *path, embp_tokenizer **out, embp_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    embp_status st = embp_read_file(path, 0, &buf, &len, err);
    if (st == EMBP_OK)
        st = embp_tokenizer_load_json(buf, len, path, out, err);
    embp_free(buf);
    return st;
}

void embp_tokenizer_free(embp_tokenizer *t) {
    if (!t) return;
    embp_normalizer_clear(t->norm);
    embp_free(t->norm);
    embp_pretokenizer_clear(t->pre);
    embp_free(t->pre);
    embp_wordpiece_clear(&t->wp);
    embp_unigram_clear(&t->ug);
    embp_bpe_clear(&t->bpe);
    embp_postprocessor_clear(&t->post);
    for (size_t i = 0; t->dec_norm && i < t->added.n; i++)
        embp_free(t->dec_norm[i]);
    embp_free(t->dec_norm);
    embp_added_clear(&t->added);
    embp_free(t->id_to_tok);
    embp_free(t->special);
    embp_free(t->dec_tok);
    embp_decoder_clear(t->dec);
    embp_free(t->dec);
    embp_free(t->dec_error);
    embp_free(t);
}

/* ---------------------------------------------------------------- lookups */

int embp_tokenizer_vocab_size(const embp_tokenizer *t) {
    return t->n_ids;
}

int32_t embp_tokenizer_max_id(const embp_tokenizer *t, const char **source) {
    int32_t max = t->n_ids - 1;
    *source = max >= t->wp.vocab.n_ids ? "added_tokens" : "model.vocab";
    const embp_postprocessor *pp = &t->post;
    for (int i = 0; i < pp->n_pre + pp->n_post; i++) {
        int32_t id = i < pp->n_pre ? pp->pre[i] : pp->post[i - pp->n_pre];
        if (id > max) {
            max = id;
            *source = "post_processor";
        }
    }
    return max;
}

const char *embp_tokenizer_id_to_token(const embp_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_ids ? t->id_to_tok[id] : NULL;
}

embp_status embp_tokenizer_decode(const embp_tokenizer *t, const int32_t *ids, size_t n,
                                  bool skip_special, char **out, size_t *len, embp_error *err) {
    *out = NULL;
    *len = 0;
    if (t->dec_error)
        return embp_fail(err, EMBP_EUNSUPPORTED, "cannot decode: %s", t->dec_error);
    embp_toklist l = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *s = ids[i] >= 0 && ids[i] < t->n_ids ? t->dec_tok[ids[i]] : NULL;
        if (s && !(skip_special && t->special[ids[i]])) /* HF drops unknown ids */
            rc = embp_toklist_push(&l, s, strlen(s));
    }
    if (rc == 0 && t->dec) rc = embp_decoder_apply(t->dec, &l);
    embp_buf text = {0};
    embp_buf_append(&text, "", 0);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        if (i > 0 && !t->dec) embp_buf_append(&text, " ", 1);
        embp_buf_append(&text, l.p[i].p, l.p[i].len);
    }
    embp_toklist_free(&l);
    if (rc != 0 || text.oom) {
        embp_buf_free(&text);
        return embp_fail(err, EMBP_ENOMEM, "tokenizer: out of memory decoding %zu ids", n);
    }
    *out = text.p;
    *len = text.len;
    return EMBP_OK;
}

int32_t embp_tokenizer_token_to_id(const embp_tokenizer *t, const char *token) {
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.tokens[i].id >= 0 && strcmp(t->added.tokens[i].content, token) == 0)
            return t->added.tokens[i].id;
    return t->vocab ? embp_vocab_find(t->vocab, "", 0, token, strlen(token)) : -1;
}

/* ---------------------------------------------------------------- encoding */

/* One encode call's working memory: everything grows as needed and is freed at the end, so
 * the tokenizer itself stays read-only. With off set (offsets asked for), nal follows norm,
 * woff gets the model's byte ranges in a word, outoff follows out (original code points). */
typedef struct {
    embp_cpbuf raw, norm, tmp; /* the text; one piece normalized; scratch */
    embp_spanbuf pieces, sub, words;
    embp_pretok_scratch pre;
    embp_idbuf piece_ids, sub_ids, out; /* out: the sequence's ids, no special tokens */
    char *bytes;
    size_t bytes_cap;
    embp_scratch model;
    bool off;
    embp_aligns nal;
    embp_alignbuf woff, outoff;
    embp_alignbuf outsp; /* follows out: an added token's leading and trailing White_Space
                          * chars in the text it matched (HF's token value, which trim_offsets
                          * reads); SPACES_OF_VOCAB: a model's token, whose value is its string */
    uint32_t *b2c; /* [bytes_cap]: the word's byte -> its char's index */
} encode_scratch;

static void scratch_free(encode_scratch *s) {
    embp_cpbuf_free(&s->raw);
    embp_cpbuf_free(&s->norm);
    embp_cpbuf_free(&s->tmp);
    embp_spanbuf_free(&s->pieces);
    embp_spanbuf_free(&s->sub);
    embp_spanbuf_free(&s->words);
    embp_spanbuf_free(&s->pre.out);
    embp_spanbuf_free(&s->pre.m);
    embp_spanbuf_free(&s->pre.hits);
    embp_free(s->model.p);
    embp_free(s->piece_ids.p);
    embp_free(s->sub_ids.p);
    embp_free(s->out.p);
    embp_free(s->bytes);
    embp_alignbuf_free(&s->nal.a);
    embp_alignbuf_free(&s->nal.tmp);
    embp_alignbuf_free(&s->woff);
    embp_alignbuf_free(&s->outoff);
    embp_alignbuf_free(&s->outsp);
    embp_free(s->b2c);
}

#define SPACES_OF_VOCAB UINT32_MAX

/* What ByteLevel's trim counts as a space: GPT-2's U+0120 (the byte ' ') or White_Space. */
static bool is_space_char(uint32_t c) {
    return c == 0x120 || embp_uc_is_whitespace(c);
}

/* Pushes id with original range [os, oe) when offsets are kept; an added token (val: the
 * chars it matched, n of them) with its value's leading and trailing spaces. */
static int push_out(encode_scratch *s, int32_t id, uint32_t os, uint32_t oe, const uint32_t *val,
                    size_t n) {
    if (embp_idbuf_push(&s->out, id) != 0) return -1;
    if (!s->off) return 0;
    uint32_t lead = 0, trail = 0;
    while (lead < n && is_space_char(val[lead]))
        lead++;
    while (trail < n && is_space_char(val[n - 1 - trail]))
        trail++;
    return embp_alignbuf_push(&s->outoff, os, oe) || embp_alignbuf_push(&s->outsp, lead, trail);
}

/* The original range of normalized chars norm[a..b) (b > a): HF's expand_alignments, the first
 * char's start to the last one's end. */
static embp_align span_of(const encode_scratch *s, size_t a, size_t b) {
    return (embp_align){s->nal.a.p[a].s, s->nal.a.p[b - 1].e};
}

/* The model's ids for word cp[0..n) appended to s->out; ws: where the word starts in norm. */
static int encode_word(const embp_tokenizer *t, encode_scratch *s, const uint32_t *cp, size_t n,
                       size_t ws) {
    if (s->bytes_cap < 4 * n + 1) {
        char *b = embp_realloc(s->bytes, 4 * n + 1);
        uint32_t *m = s->off ? embp_realloc(s->b2c, (4 * n + 1) * sizeof *m) : NULL;
        if (b) s->bytes = b;
        if (m) s->b2c = m;
        if (!b || (s->off && !m)) return -1;
        s->bytes_cap = 4 * n + 1;
    }
    size_t len = 0;
    bool off = s->off;
    for (size_t i = 0; i < n; i++) {
        int k = embp_utf8_put(cp[i], s->bytes + len);
        for (int j = 0; off && j < k; j++)
            s->b2c[len + (size_t)j] = (uint32_t)i;
        len += (size_t)k;
    }
    s->bytes[len] = '\0';
    size_t first = s->out.n;
    embp_alignbuf *offs = s->off ? &s->woff : NULL;
    s->woff.n = 0;
    int rc = 0;
    switch (t->kind) {
    case MODEL_WORDPIECE:
        rc = embp_wordpiece_tokenize(&t->wp, s->bytes, len, n, &s->out, offs);
        break;
    case MODEL_UNIGRAM:
        rc = embp_unigram_tokenize(&t->ug, s->bytes, len, &s->out, &s->model, offs);
        break;
    case MODEL_BPE:
        rc = embp_bpe_tokenize(&t->bpe, s->bytes, len, &s->out, &s->model, offs);
        break;
    }
    if (rc != 0 || !s->off) return rc;
    if (embp_alignbuf_reserve(&s->outoff, s->out.n - first) != 0 ||
        embp_alignbuf_reserve(&s->outsp, s->out.n - first) != 0)
        return -1;
    for (size_t k = 0; k < s->woff.n; k++) { /* word bytes -> its chars -> the original */
        embp_align w = s->woff.p[k], o = {0, 0};
        uint32_t lead = SPACES_OF_VOCAB, trail = 0;
        if (w.e > w.s && w.e <= len) {
            size_t c0 = s->b2c[w.s], c1 = s->b2c[w.e - 1] + 1;
            o = span_of(s, ws + c0, ws + c1);
            if (t->kind == MODEL_UNIGRAM && s->out.p[first + k] == t->ug.unk_id) {
                lead = trail = 0; /* HF: an unknown piece's value is its text */
                while (c0 + lead < c1 && is_space_char(cp[c0 + lead]))
                    lead++;
                while (c1 - trail > c0 && is_space_char(cp[c1 - 1 - trail]))
                    trail++;
            }
        } else if (w.s < len) {
            o.s = o.e = s->nal.a.p[ws + s->b2c[w.s]].s;
        }
        embp_alignbuf_push(&s->outoff, o.s, o.e);
        embp_alignbuf_push(&s->outsp, lead, trail);
    }
    return 0;
}

/* Words of the normalized piece norm[from..to): pre-tokenize, then the model on each word.
 * origin: the piece starts at offset 0 of the original text. */
static int encode_words(const embp_tokenizer *t, encode_scratch *s, uint32_t from, uint32_t to,
                        bool origin) {
    s->words.n = 0;
    if (from == to) return 0;
    if (embp_spanbuf_push(&s->words, from, to) != 0) return -1;
    s->words.p[0].flag = origin;
    if (t->pre && embp_pretokenizer_apply_aligned(t->pre, &s->norm, &s->words, &s->pre,
                                                  s->off ? &s->nal.a : NULL) != 0)
        return -1;
    for (size_t w = 0; w < s->words.n; w++) {
        const embp_span *sp = &s->words.p[w];
        if (encode_word(t, s, s->norm.p + sp->start, sp->end - sp->start, sp->start) != 0)
            return -1;
    }
    return 0;
}

/* A piece of raw text between added tokens: normalize it, split out the normalized added
 * tokens, encode the rest. */
static int encode_piece(const embp_tokenizer *t, encode_scratch *s, uint32_t from, uint32_t to) {
    bool origin = from == 0; /* and stays so while the normalizer keeps the first char */
    s->norm.n = 0;
    if (embp_cpbuf_reserve(&s->norm, to - from) != 0) return -1;
    memcpy(s->norm.p, s->raw.p + from, (to - from) * sizeof *s->raw.p);
    s->norm.n = to - from;
    if (s->off) { /* each char its own original range */
        s->nal.a.n = 0;
        s->nal.base = from;
        if (embp_alignbuf_reserve(&s->nal.a, to - from) != 0) return -1;
        for (uint32_t i = from; i < to; i++)
            embp_alignbuf_push(&s->nal.a, i, i + 1);
    }
    if (t->norm && embp_normalizer_apply_aligned(t->norm, &s->norm, &s->tmp, &origin,
                                                 s->off ? &s->nal : NULL) != 0)
        return -1;
    if (s->norm.n > UINT32_MAX) return -1;
    if (!t->has_norm_added) return encode_words(t, s, 0, (uint32_t)s->norm.n, origin);
    s->sub.n = s->sub_ids.n = 0;
    if (embp_added_split(&t->added, true, s->norm.p, 0, (uint32_t)s->norm.n, &s->sub,
                         &s->sub_ids) != 0)
        return -1;
    for (size_t i = 0; i < s->sub.n; i++) {
        const embp_span *sp = &s->sub.p[i];
        embp_align o = s->off ? span_of(s, sp->start, sp->end) : (embp_align){0, 0};
        int rc = s->sub_ids.p[i] >= 0
                     ? push_out(s, s->sub_ids.p[i], o.s, o.e, s->norm.p + sp->start,
                                sp->end - sp->start)
                     : encode_words(t, s, sp->start, sp->end, origin && sp->start == 0);
        if (rc != 0) return -1;
    }
    return 0;
}

/* The sequence's ids (no special tokens) of valid UTF-8 text into s->out. */
static int encode_sequence(const embp_tokenizer *t, encode_scratch *s, const char *text,
                           size_t len) {
    if (embp_utf8_decode(text, len, &s->raw) != 0 || s->raw.n > UINT32_MAX) return -1;
    uint32_t n = (uint32_t)s->raw.n;
    if (t->has_raw_added) {
        if (embp_added_split(&t->added, false, s->raw.p, 0, n, &s->pieces, &s->piece_ids) != 0)
            return -1;
    } else if (n > 0 &&
               (embp_spanbuf_push(&s->pieces, 0, n) || embp_idbuf_push(&s->piece_ids, -1))) {
        return -1;
    }
    for (size_t i = 0; i < s->pieces.n; i++) {
        const embp_span *sp = &s->pieces.p[i];
        int rc = s->piece_ids.p[i] >= 0
                     ? push_out(s, s->piece_ids.p[i], sp->start, sp->end, s->raw.p + sp->start,
                                sp->end - sp->start)
                     : encode_piece(t, s, sp->start, sp->end);
        if (rc != 0) return -1;
    }
    return 0;
}

/* Writes pre + seq[0..n_seq) + post into ids, stopping at cap. Returns the count written. */
static int write_ids(const embp_postprocessor *pp, const int32_t *seq, int n_seq, int32_t *ids,
                     int cap) {
    int k = 0;
    for (int i = 0; i < pp->n_pre && k < cap; i++)
        ids[k++] = pp->pre[i];
    for (int i = 0; i < n_seq && k < cap; i++)
        ids[k++] = seq[i];
    for (int i = 0; i < pp->n_post && k < cap; i++)
        ids[k++] = pp->post[i];
    return k;
}

embp_status embp_tokenizer_encode(const embp_tokenizer *t, const char *text, size_t len,
                                  int max_len, int32_t *ids, int cap, int *n_out, int *n_full,
                                  embp_error *err) {
    return embp_tokenizer_encode_dir(t, text, len, max_len, false, ids, cap, n_out, n_full, err);
}

embp_status embp_tokenizer_encode_dir(const embp_tokenizer *t, const char *text, size_t len,
                                      int max_len, bool left, int32_t *ids, int cap, int *n_out,
                                      int *n_full, embp_error *err) {
    const char *why = "";
    int n_special = t->post.n_pre + t->post.n_post;
    *n_out = 0;
    if (n_full) *n_full = 0;
    if (cap < 0 || (cap > 0 && !ids) || (len > 0 && !text))
        return embp_fail(err, EMBP_EINVAL, "tokenizer: bad arguments (cap %d)", cap);
    if (max_len > 0 && max_len < n_special)
        return embp_fail(err, EMBP_EINVAL,
                         "tokenizer: max_len %d cannot hold the %d special tokens", max_len,
                         n_special);
    size_t bad = len ? embp_utf8_check(text, len, &why) : 0;
    if (bad < len)
        return embp_fail(err, EMBP_EINVAL, "text: invalid UTF-8 at byte offset %zu (%s)", bad, why);
    encode_scratch s;
    memset(&s, 0, sizeof s);
    if (encode_sequence(t, &s, text, len) != 0 || s.out.n > (size_t)INT32_MAX - 16) {
        scratch_free(&s);
        return embp_fail(err, EMBP_ENOMEM, "tokenizer: out of memory encoding %zu bytes", len);
    }
    int n_seq = (int)s.out.n, first = 0;
    if (n_full) *n_full = n_seq + n_special;
    if (max_len > 0 && n_seq > max_len - n_special) { /* HF: cut, then add the special tokens */
        if (left) first = n_seq - (max_len - n_special); /* keep the tail */
        n_seq = max_len - n_special;
    }
    /* an empty text has no ids and no buffer: NULL + 0 is undefined behaviour in C */
    *n_out = write_ids(&t->post, s.out.p ? s.out.p + first : NULL, n_seq, ids, cap);
    scratch_free(&s);
    return EMBP_OK;
}

int embp_tokenizer_special_mask(const embp_tokenizer *t, int pair, int n_a, int n_b, bool *mask,
                                int cap) {
    const embp_template *tp = pair ? &t->post.pair : &t->post.single;
    int k = 0;
    for (int i = 0; i < tp->n; i++) {
        const embp_tmpl_item *it = &tp->p[i];
        int n = it->seq < 0 ? 1 : it->seq == 0 ? n_a : n_b;
        for (int j = 0; j < n; j++, k++)
            if (k < cap) mask[k] = it->seq < 0;
    }
    return k;
}

int embp_tokenizer_num_special(const embp_tokenizer *t, int pair) {
    return pair ? t->post.pair.n_special : t->post.single.n_special;
}

const int32_t *embp_tokenizer_end_ids(const embp_tokenizer *t, int *n) {
    *n = t->post.n_post;
    return t->post.post;
}

int embp_tokenizer_is_special(const embp_tokenizer *t, int32_t id) {
    for (int i = 0; i < t->post.single.n; i++)
        if (t->post.single.p[i].seq < 0 && t->post.single.p[i].id == id)
            return 1;
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.tokens[i].special && t->added.tokens[i].id == id)
            return 1;
    return 0;
}

/* One text's ids (no special tokens), with offsets when off, into *s (the caller frees it with
 * scratch_free, on error too). */
static embp_status encode_checked(const embp_tokenizer *t, const char *text, size_t len, bool off,
                                  encode_scratch *s, embp_error *err) {
    const char *why = "";
    size_t bad = len ? embp_utf8_check(text, len, &why) : 0;
    memset(s, 0, sizeof *s);
    s->off = off;
    if (bad < len)
        return embp_fail(err, EMBP_EINVAL, "text: invalid UTF-8 at byte offset %zu (%s)", bad, why);
    if (encode_sequence(t, s, text, len) != 0 || s->out.n > (size_t)INT32_MAX / 4)
        return embp_fail(err, EMBP_ENOMEM, "tokenizer: out of memory encoding %zu bytes", len);
    return EMBP_OK;
}

/* The ids of one text (no special tokens) into *out (taken from the scratch, which is reset). */
static embp_status encode_one(const embp_tokenizer *t, const char *text, size_t len,
                              embp_idbuf *out, embp_error *err) {
    encode_scratch s;
    embp_status st = encode_checked(t, text, len, false, &s, err);
    if (st == EMBP_OK) {
        *out = s.out;
        s.out = (embp_idbuf){0};
    }
    scratch_free(&s);
    return st;
}

embp_status embp_tokenizer_encode_raw(const embp_tokenizer *t, const char *text, size_t len,
                                      int32_t *ids, int cap, int *n_out, int *n_full,
                                      embp_error *err) {
    *n_out = 0;
    if (n_full) *n_full = 0;
    if (cap < 0 || (cap > 0 && !ids) || (len > 0 && !text))
        return embp_fail(err, EMBP_EINVAL, "tokenizer: bad arguments (cap %d)", cap);
    embp_idbuf seq = {0};
    embp_status st = encode_one(t, text, len, &seq, err);
    if (st) return st;
    size_t k = seq.n < (size_t)cap ? seq.n : (size_t)cap;
    if (k) memcpy(ids, seq.p, k * sizeof *ids);
    *n_out = (int)k;
    if (n_full) *n_full = (int)seq.n;
    embp_free(seq.p);
    return EMBP_OK;
}

/* How many ids of each sequence (na, nb long) a pair keeps within budget text tokens: HF
 * tokenizers' TruncationStrategy::LongestFirst (utils/truncation.rs, truncate_encodings): the
 * shorter one stays whole when the longer can take the rest; else each gets half, the odd token
 * going to the longer (to b when they are as long). */
static void longest_first(size_t na, size_t nb, size_t budget, size_t *ka, size_t *kb) {
    *ka = na, *kb = nb;
    if (na + nb <= budget)
        return;
    int swap = na > nb;
    size_t n1 = swap ? nb : na, n2;
    n2 = n1 > budget ? n1 : (n1 > budget - n1 ? n1 : budget - n1);
    if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    *ka = swap ? n2 : n1;
    *kb = swap ? n1 : n2;
}

embp_status embp_tokenizer_encode_pair_truncated(const embp_tokenizer *t, const char *a,
                                                 size_t a_len, const char *b, size_t b_len,
                                                 int max_len, int from_left, int32_t *ids,
                                                 int32_t *type_ids, int cap, int *n_out,
                                                 int *n_full, embp_error *err) {
    return embp_tokenizer_encode_pair_capped(t, a, a_len, b, b_len, max_len, from_left, 0, ids,
                                             type_ids, cap, n_out, n_full, err);
}

embp_status embp_tokenizer_encode_pair_capped(const embp_tokenizer *t, const char *a,
                                              size_t a_len, const char *b, size_t b_len,
                                              int max_len, int from_left, int max_b, int32_t *ids,
                                              int32_t *type_ids, int cap, int *n_out, int *n_full,
                                              embp_error *err) {
    int n_special = t->post.pair.n_special;
    *n_out = 0;
    if (n_full) *n_full = 0;
    if (cap < 0 || (cap > 0 && !ids) || (a_len > 0 && !a) || (b_len > 0 && !b))
        return embp_fail(err, EMBP_EINVAL, "tokenizer: bad arguments (cap %d)", cap);
    if (max_len > 0 && max_len < n_special)
        return embp_fail(err, EMBP_EINVAL,
                         "tokenizer: max_len %d cannot hold the pair's %d special tokens",
                         max_len, n_special);
    embp_idbuf seq[2] = {{0}, {0}};
    embp_status st = encode_one(t, a, a_len, &seq[0], err);
    if (!st) st = encode_one(t, b, b_len, &seq[1], err);
    if (!st && max_b > 0 && seq[1].n > (size_t)max_b) /* b's first max_b ids, before the rest */
        seq[1].n = (size_t)max_b;
    size_t keep[2] = {seq[0].n, seq[1].n}, first[2] = {0, 0};
    if (max_len > 0)
        longest_first(seq[0].n, seq[1].n, (size_t)(max_len - n_special), &keep[0], &keep[1]);
    for (int s = 0; s < 2 && from_left; s++) /* cut from the start: keep the end */
        first[s] = seq[s].n - keep[s];
    size_t k = 0, total = 0;
    for (int i = 0; !st && i < t->post.pair.n; i++) {
        const embp_tmpl_item *it = &t->post.pair.p[i];
        size_t n = it->seq < 0 ? 1 : keep[it->seq];
        total += it->seq < 0 ? 1 : seq[it->seq].n;
        for (size_t j = 0; j < n && k < (size_t)cap; j++) {
            if (type_ids) type_ids[k] = (int32_t)it->type_id;
            ids[k++] = it->seq < 0 ? it->id : seq[it->seq].p[first[it->seq] + j];
        }
    }
    embp_free(seq[0].p);
    embp_free(seq[1].p);
    if (st) return st;
    *n_out = (int)k;
    if (n_full) *n_full = (int)total;
    return EMBP_OK;
}

embp_status embp_tokenizer_encode_pair(const embp_tokenizer *t, const char *a, size_t a_len,
                                       const char *b, size_t b_len, int32_t *ids, int32_t *type_ids,
                                       int cap, int *n_out, int *n_full, embp_error *err) {
    return embp_tokenizer_encode_pair_truncated(t, a, a_len, b, b_len, 0, 0, ids, type_ids, cap,
                                                n_out, n_full, err);
}

/* ---------------------------------------------------------------- offsets */

/* HF's ByteLevel process_offsets, one pass over a sequence's tokens o[0..n): a token's leading
 * and trailing spaces (GPT-2's U+0120 or White_Space chars of its value: a model token's
 * string; an added token's matched text, sp[i]) come off its offsets, but not the one space
 * add_prefix_space put before the sequence's first token. */
static void trim_pass(const embp_tokenizer *t, embp_token_offsets *o, const embp_align *sp,
                      int n, bool prefix) {
    for (int i = 0; i < n; i++) {
        size_t lead = sp[i].s, trail = sp[i].e;
        const char *tok = embp_tokenizer_id_to_token(t, o[i].id);
        if (sp[i].s == SPACES_OF_VOCAB) {
            embp_cpbuf cps = {0};
            lead = trail = 0;
            if (tok && embp_utf8_decode(tok, strlen(tok), &cps) == 0) {
                while (lead < cps.n && is_space_char(cps.p[lead]))
                    lead++;
                while (trail < cps.n && is_space_char(cps.p[cps.n - 1 - trail]))
                    trail++;
            }
            embp_cpbuf_free(&cps);
        }
        if (lead > 0 && prefix && lead == 1 && (i == 0 || o[i].start == 0)) lead = 0;
        if (lead > 0)
            o[i].start = o[i].start + lead < o[i].stop ? o[i].start + (uint32_t)lead : o[i].stop;
        if (trail > 0 && o[i].stop >= trail)
            o[i].stop = o[i].stop - trail > o[i].start ? o[i].stop - (uint32_t)trail : o[i].start;
    }
}

/* One sequence's ids and offsets (in the unit asked for, trimmed) into *seq (heap), *n. */
static embp_status sequence_offsets(const embp_tokenizer *t, const char *text, size_t len,
                                    bool chars, int which, embp_token_offsets **seq, int *n,
                                    embp_error *err) {
    *seq = NULL;
    *n = 0;
    encode_scratch s;
    embp_status st = encode_checked(t, text, len, true, &s, err);
    if (st != EMBP_OK) {
        scratch_free(&s);
        return st;
    }
    uint32_t *c2b = chars ? NULL : embp_malloc((s.raw.n + 1) * sizeof *c2b); /* cp -> byte */
    embp_token_offsets *o = chars || c2b ? embp_calloc(s.out.n + 1, sizeof *o) : NULL;
    if (!o) {
        embp_free(c2b);
        scratch_free(&s);
        return embp_fail(err, EMBP_ENOMEM, "tokenizer: out of memory encoding %zu bytes", len);
    }
    if (c2b) {
        uint32_t at = 0;
        for (size_t i = 0; i < s.raw.n; i++) {
            c2b[i] = at;
            char u[4];
            at += (uint32_t)embp_utf8_put(s.raw.p[i], u);
        }
        c2b[s.raw.n] = at;
    }
    for (size_t i = 0; i < s.out.n; i++) {
        embp_align a = s.outoff.p[i];
        if (a.s > s.raw.n) a.s = (uint32_t)s.raw.n;
        if (a.e > s.raw.n) a.e = (uint32_t)s.raw.n;
        o[i] = (embp_token_offsets){s.out.p[i], which, c2b ? c2b[a.s] : a.s, c2b ? c2b[a.e] : a.e};
    }
    for (int k = 0; k < t->post.n_trim; k++)
        trim_pass(t, o, s.outsp.p, (int)s.out.n, (t->post.trim_prefix >> k) & 1);
    *seq = o;
    *n = (int)s.out.n;
    embp_free(c2b);
    scratch_free(&s);
    return EMBP_OK;
}

embp_status embp_tokenizer_encode_offsets(const embp_tokenizer *t, const char *a, size_t a_len,
                                          const char *b, size_t b_len, bool add_special,
                                          bool chars, embp_token_offsets **out, int *n,
                                          embp_error *err) {
    embp_token_offsets *seq[2] = {NULL, NULL};
    int ns[2] = {0, 0};
    *out = NULL;
    *n = 0;
    if ((a_len > 0 && !a) || (b && b_len > 0 && !b))
        return embp_fail(err, EMBP_EINVAL, "tokenizer: bad arguments");
    embp_status st = sequence_offsets(t, a, a_len, chars, 0, &seq[0], &ns[0], err);
    if (!st && b) st = sequence_offsets(t, b, b_len, chars, 1, &seq[1], &ns[1], err);
    const embp_template *tp = b ? &t->post.pair : &t->post.single;
    size_t total = (size_t)ns[0] + (size_t)ns[1] + (add_special ? (size_t)tp->n_special : 0);
    embp_token_offsets *o = st ? NULL : embp_calloc(total + 1, sizeof *o);
    if (!st && !o) st = embp_fail(err, EMBP_ENOMEM, "tokenizer: out of memory");
    size_t k = 0;
    for (int i = 0; o && !add_special && i < 2; i++) /* HF: the sequences back to back */
        for (int j = 0; j < ns[i]; j++)
            o[k++] = seq[i][j];
    for (int i = 0; o && add_special && i < tp->n; i++) {
        const embp_tmpl_item *it = &tp->p[i];
        if (it->seq < 0) {
            o[k++] = (embp_token_offsets){it->id, -1, 0, 0};
            continue;
        }
        for (int j = 0; j < ns[it->seq]; j++)
            o[k++] = seq[it->seq][j];
    }
    embp_free(seq[0]);
    embp_free(seq[1]);
    if (st) return st;
    *out = o;
    *n = (int)k;
    return EMBP_OK;
}
