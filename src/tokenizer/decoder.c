/* tokenizer.json's "decoder": ids back to text as Hugging Face tokenizers' Tokenizer::decode
 * does it. Each decoder maps a list of token strings to a list (HF's decode_chain); the text
 * is the final list joined. WordPiece, Metaspace, ByteLevel, ByteFallback, Fuse, Strip,
 * Replace, BPEDecoder, CTC and Sequence, with HF's edge cases (Metaspace drops every
 * replacement char of the first token; ByteLevel keeps a token with a char outside its
 * alphabet as its UTF-8 bytes; invalid bytes become U+FFFD as Rust's from_utf8_lossy does).
 * Hand-written: these are a few lines each over tokenizers' own definitions, no library has
 * them. Tokens are valid UTF-8 throughout (the vocab is; the byte decoders repair). */
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "tokenizer/pipeline.h"

#define DEC_SUPPORTED                                                                              \
    "WordPiece, Metaspace, ByteLevel, ByteFallback, Fuse, Strip, Replace, BPEDecoder, CTC, "       \
    "Sequence"

/* ---------------------------------------------------------------- parsing */

static embp_status dup_str(json_t *j, const char *key, const char *def, char **out,
                           const char *name, const char *where, embp_error *err) {
    const char *s;
    embp_status st = embp_json_str(j, key, def, &s, name, where, err);
    if (st) return st;
    if (!(*out = embp_strdup(s))) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    return EMBP_OK;
}

/* A count (Strip's start/stop): a non-negative integer. */
static embp_status count_field(json_t *j, const char *key, size_t *out, const char *name,
                               embp_error *err) {
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) {
        *out = 0;
        return EMBP_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return embp_fail(err, EMBP_EFORMAT, "%s: decoder Strip.%s must be a count", name, key);
    *out = (size_t)json_integer_value(v);
    return EMBP_OK;
}

static embp_status parse_sequence(json_t *j, const char *name, embp_decoder *d, embp_error *err) {
    json_t *arr = json_object_get(j, "decoders");
    if (!json_is_array(arr))
        return embp_fail(err, EMBP_EFORMAT, "%s: decoder Sequence: \"decoders\" must be an array",
                         name);
    size_t count = json_array_size(arr);
    if (!(d->items = embp_calloc(count ? count : 1, sizeof *d->items)))
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < count; i++) {
        d->n_items = i + 1;
        embp_status st = embp_decoder_parse(json_array_get(arr, i), name, &d->items[i], err);
        if (st) return st;
    }
    return EMBP_OK;
}

embp_status embp_decoder_parse(json_t *j, const char *name, embp_decoder *d, embp_error *err) {
    const char *type = json_string_value(json_object_get(j, "type"));
    embp_status st;
    if (!json_is_object(j) || !type)
        return embp_fail(err, EMBP_EFORMAT, "%s: decoder must be an object with a \"type\"", name);
    if (!strcmp(type, "WordPiece")) {
        d->kind = EMBP_DEC_WORDPIECE;
        if ((st = dup_str(j, "prefix", "##", &d->a, name, "decoder WordPiece", err))) return st;
        return embp_json_bool(j, "cleanup", true, &d->cleanup, name, "decoder WordPiece", err);
    }
    if (!strcmp(type, "Metaspace")) { /* the pre-tokenizer's fields, read by its parser */
        embp_pretokenizer p = {0};
        st = embp_pretokenizer_parse(j, name, &p, err);
        d->kind = EMBP_DEC_METASPACE;
        d->ch = p.replacement;
        d->prepend = p.prepend != EMBP_PREPEND_NEVER;
        embp_pretokenizer_clear(&p);
        return st;
    }
    if (!strcmp(type, "ByteLevel")) {
        d->kind = EMBP_DEC_BYTELEVEL;
        return EMBP_OK;
    }
    if (!strcmp(type, "ByteFallback")) {
        d->kind = EMBP_DEC_BYTEFALLBACK;
        return EMBP_OK;
    }
    if (!strcmp(type, "Fuse")) {
        d->kind = EMBP_DEC_FUSE;
        return EMBP_OK;
    }
    if (!strcmp(type, "Strip")) {
        const char *c;
        d->kind = EMBP_DEC_STRIP;
        if ((st = embp_json_str(j, "content", " ", &c, name, "decoder Strip", err)) ||
            (st = count_field(j, "start", &d->start, name, err)) ||
            (st = count_field(j, "stop", &d->stop, name, err)))
            return st;
        uint32_t *cps;
        size_t n;
        if (embp_cps_from_utf8(c, &cps, &n) != 0)
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        d->ch = cps[0];
        embp_free(cps);
        if (n != 1)
            return embp_fail(err, EMBP_EFORMAT, "%s: decoder Strip.content must be one char",
                             name);
        return EMBP_OK;
    }
    if (!strcmp(type, "Replace")) {
        d->kind = EMBP_DEC_REPLACE;
        if ((st = embp_pattern_parse(j, name, "decoder Replace", &d->re, &d->lit, &d->n_lit, err)))
            return st;
        return dup_str(j, "content", NULL, &d->a, name, "decoder Replace", err) ? err->code
               : d->a ? EMBP_OK
                      : embp_fail(err, EMBP_EFORMAT, "%s: decoder Replace.content is missing",
                                  name);
    }
    if (!strcmp(type, "BPEDecoder")) {
        d->kind = EMBP_DEC_BPE;
        return dup_str(j, "suffix", "</w>", &d->a, name, "decoder BPEDecoder", err);
    }
    if (!strcmp(type, "CTC")) {
        d->kind = EMBP_DEC_CTC;
        if ((st = dup_str(j, "pad_token", "<pad>", &d->a, name, "decoder CTC", err)) ||
            (st = dup_str(j, "word_delimiter_token", "|", &d->b, name, "decoder CTC", err)))
            return st;
        return embp_json_bool(j, "cleanup", true, &d->cleanup, name, "decoder CTC", err);
    }
    if (!strcmp(type, "Sequence")) {
        d->kind = EMBP_DEC_SEQUENCE;
        return parse_sequence(j, name, d, err);
    }
    return embp_fail(err, EMBP_EUNSUPPORTED,
                     "%s: decoder type '%.64s' is not supported (supported: " DEC_SUPPORTED ")",
                     name, type);
}

void embp_decoder_clear(embp_decoder *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_items; i++)
        embp_decoder_clear(&d->items[i]);
    embp_free(d->items);
    embp_free(d->a);
    embp_free(d->b);
    embp_free(d->lit);
    embp_regex_free(d->re);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- token lists */

void embp_toklist_free(embp_toklist *l) {
    for (size_t i = 0; i < l->n; i++)
        embp_buf_free(&l->p[i]);
    embp_free(l->p);
    memset(l, 0, sizeof *l);
}

/* Appends a new token s[0..n); 0, or -1 when out of memory. */
int embp_toklist_push(embp_toklist *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        embp_buf *p = embp_realloc(l->p, cap * sizeof *p);
        if (!p) return -1;
        l->p = p;
        l->cap = cap;
    }
    embp_buf *b = &l->p[l->n++];
    memset(b, 0, sizeof *b);
    embp_buf_append(b, "", 0); /* an empty token still owns a buffer */
    embp_buf_append(b, s, n);
    return b->oom ? -1 : 0;
}

/* Rust's str::replace: every non-overlapping match of pat, left to right, by rep; an empty pat
 * matches at every char boundary, both ends included. */
static void replace_all(embp_buf *out, const char *s, size_t n, const char *pat, size_t np,
                        const char *rep, size_t nr) {
    embp_buf_append(out, "", 0);
    if (np == 0) {
        for (size_t i = 0; i < n;) {
            embp_buf_append(out, rep, nr);
            size_t k = 1;
            while (i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80)
                k++;
            embp_buf_append(out, s + i, k);
            i += k;
        }
        embp_buf_append(out, rep, nr);
        return;
    }
    size_t i = 0;
    while (i < n) {
        if (n - i >= np && memcmp(s + i, pat, np) == 0) {
            embp_buf_append(out, rep, nr);
            i += np;
        } else {
            embp_buf_append(out, s + i, 1);
            i++;
        }
    }
}

/* Replaces token b's text by replace_all's result. 0, or -1 when out of memory. */
static int replace_in(embp_buf *b, const char *pat, const char *rep) {
    embp_buf o = {0};
    replace_all(&o, b->p, b->len, pat, strlen(pat), rep, strlen(rep));
    if (o.oom) {
        embp_buf_free(&o);
        return -1;
    }
    embp_buf_free(b);
    *b = o;
    return 0;
}

/* WordPiece's cleanup (tokenizers' wordpiece::cleanup), in its order. */
static int cleanup(embp_buf *b) {
    static const char *const pairs[][2] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},        {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},      {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (replace_in(b, pairs[i][0], pairs[i][1]) != 0) return -1;
    return 0;
}

/* Appends s[0..n) to out as Rust's String::from_utf8_lossy: each maximal prefix of a
 * well-formed sequence that is cut short, and each byte that starts none, becomes U+FFFD. */
void embp_utf8_lossy(embp_buf *out, const unsigned char *s, size_t n) {
    static const char fffd[] = "\xEF\xBF\xBD";
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) len = 1;
        else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        }
        if (len == 0) {
            embp_buf_append(out, fffd, 3);
            i++;
            continue;
        }
        size_t k = 1;
        for (; k < len && i + k < n; k++) {
            unsigned char d = s[i + k];
            if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
        }
        if (k == len)
            embp_buf_append(out, s + i, len);
        else
            embp_buf_append(out, fffd, 3);
        i += k;
    }
}

/* The byte behind a ByteFallback token "<0xHH>", or -1. */
static int fallback_byte(const embp_buf *b) {
    if (b->len != 6 || memcmp(b->p, "<0x", 3) != 0 || b->p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = b->p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Flushes pending fallback bytes into out as HF does: the string when they are valid UTF-8,
 * else one U+FFFD token per byte. */
static int flush_bytes(embp_toklist *out, embp_buf *bytes) {
    int rc = 0;
    if (bytes->len == 0) return 0;
    if (embp_utf8_check(bytes->p, bytes->len, &(const char *){NULL}) == bytes->len) {
        rc = embp_toklist_push(out, bytes->p, bytes->len);
    } else {
        for (size_t i = 0; i < bytes->len && rc == 0; i++)
            rc = embp_toklist_push(out, "\xEF\xBF\xBD", 3);
    }
    bytes->len = 0;
    return rc;
}

static int byte_fallback(embp_toklist *l) {
    embp_toklist out = {0};
    embp_buf bytes = {0};
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        int v = fallback_byte(&l->p[i]);
        if (v >= 0) {
            char c = (char)v;
            embp_buf_append(&bytes, &c, 1);
            rc = bytes.oom ? -1 : 0;
        } else {
            rc = flush_bytes(&out, &bytes);
            if (rc == 0) rc = embp_toklist_push(&out, l->p[i].p, l->p[i].len);
        }
    }
    if (rc == 0) rc = flush_bytes(&out, &bytes);
    embp_buf_free(&bytes);
    embp_toklist_free(l);
    *l = out;
    return rc;
}

/* Joins every token into one. */
static int fuse(embp_toklist *l) {
    embp_buf all = {0};
    embp_buf_append(&all, "", 0);
    for (size_t i = 0; i < l->n; i++)
        embp_buf_append(&all, l->p[i].p, l->p[i].len);
    if (all.oom) {
        embp_buf_free(&all);
        return -1;
    }
    embp_toklist_free(l);
    if (!(l->p = embp_malloc(sizeof *l->p))) {
        embp_buf_free(&all);
        return -1;
    }
    l->p[0] = all;
    l->n = l->cap = 1;
    return 0;
}

/* The token joined, its GPT-2 chars turned back into bytes (a token with a char outside that
 * alphabet keeps its own UTF-8 bytes), read as lossy UTF-8: one token. */
static int bytelevel(embp_toklist *l) {
    embp_buf raw = {0}, out = {0};
    embp_cpbuf cps = {0};
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        cps.n = 0;
        if (embp_utf8_decode(l->p[i].p, l->p[i].len, &cps) != 0) {
            rc = -1;
            break;
        }
        size_t k = 0;
        while (k < cps.n && embp_bytelevel_byte(cps.p[k]) >= 0)
            k++;
        if (k < cps.n) {
            embp_buf_append(&raw, l->p[i].p, l->p[i].len);
            continue;
        }
        for (k = 0; k < cps.n; k++) {
            char c = (char)embp_bytelevel_byte(cps.p[k]);
            embp_buf_append(&raw, &c, 1);
        }
    }
    embp_buf_append(&out, "", 0);
    if (rc == 0) embp_utf8_lossy(&out, (const unsigned char *)raw.p, raw.len);
    if (raw.oom || out.oom) rc = -1;
    embp_buf_free(&raw);
    embp_cpbuf_free(&cps);
    if (rc == 0) {
        embp_toklist_free(l);
        rc = embp_toklist_push(l, out.p, out.len);
    }
    embp_buf_free(&out);
    return rc;
}

/* Writes cps[from..to) as UTF-8 into b. */
static void put_cps(embp_buf *b, const uint32_t *cps, size_t from, size_t to) {
    for (size_t k = from; k < to; k++) {
        char u[4];
        embp_buf_append(b, u, (size_t)embp_utf8_put(cps[k], u));
    }
}

/* One token, rewritten per code point: Metaspace, Strip, Replace. */
static int per_token_cps(const embp_decoder *d, size_t index, embp_buf *tok, embp_cpbuf *cps,
                         embp_spanbuf *hits) {
    cps->n = 0;
    if (embp_utf8_decode(tok->p, tok->len, cps) != 0) return -1;
    embp_buf o = {0};
    embp_buf_append(&o, "", 0);
    if (d->kind == EMBP_DEC_METASPACE) {
        for (size_t k = 0; k < cps->n; k++) {
            if (cps->p[k] != d->ch)
                put_cps(&o, cps->p, k, k + 1);
            else if (!(index == 0 && d->prepend))
                embp_buf_append(&o, " ", 1);
        }
    } else if (d->kind == EMBP_DEC_STRIP) {
        size_t a = 0, z = cps->n;
        while (a < d->start && a < z && cps->p[a] == d->ch)
            a++;
        for (size_t i = 0; i < d->stop && z > a && cps->p[z - 1] == d->ch; i++)
            z--;
        put_cps(&o, cps->p, a, z);
    } else { /* Replace: the matches of the pattern by content */
        hits->n = 0;
        if (d->re) {
            if (cps->n > UINT32_MAX ||
                embp_regex_find_all(d->re, cps->p, 0, (uint32_t)cps->n, hits) != 0) {
                embp_buf_free(&o);
                return -1;
            }
        } else if (d->n_lit > 0) {
            for (size_t k = 0; k + d->n_lit <= cps->n;) {
                if (memcmp(cps->p + k, d->lit, d->n_lit * sizeof *d->lit) == 0) {
                    if (embp_spanbuf_push(hits, (uint32_t)k, (uint32_t)(k + d->n_lit)) != 0) {
                        embp_buf_free(&o);
                        return -1;
                    }
                    k += d->n_lit;
                } else {
                    k++;
                }
            }
        }
        size_t at = 0;
        for (size_t h = 0; h < hits->n; h++) {
            put_cps(&o, cps->p, at, hits->p[h].start);
            embp_buf_puts(&o, d->a);
            at = hits->p[h].end;
        }
        put_cps(&o, cps->p, at, cps->n);
    }
    if (o.oom) {
        embp_buf_free(&o);
        return -1;
    }
    embp_buf_free(tok);
    *tok = o;
    return 0;
}

static int ctc(const embp_decoder *d, embp_toklist *l) {
    embp_toklist out = {0};
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        if (i > 0 && l->p[i].len == l->p[i - 1].len &&
            memcmp(l->p[i].p, l->p[i - 1].p, l->p[i].len) == 0)
            continue; /* dedup: consecutive equal tokens are one */
        embp_buf t = {0};
        replace_all(&t, l->p[i].p, l->p[i].len, d->a, strlen(d->a), "", 0);
        rc = t.oom ? -1 : 0;
        if (rc == 0 && d->cleanup) {
            rc = cleanup(&t);
            if (rc == 0) rc = replace_in(&t, d->b, " ");
        }
        if (rc == 0 && t.len > 0) rc = embp_toklist_push(&out, t.p, t.len);
        embp_buf_free(&t);
    }
    embp_toklist_free(l);
    *l = out;
    return rc;
}

int embp_decoder_apply(const embp_decoder *d, embp_toklist *l) {
    int rc = 0;
    switch (d->kind) {
    case EMBP_DEC_SEQUENCE:
        for (size_t i = 0; i < d->n_items && rc == 0; i++)
            rc = embp_decoder_apply(&d->items[i], l);
        return rc;
    case EMBP_DEC_WORDPIECE:
        for (size_t i = 0; i < l->n && rc == 0; i++) {
            embp_buf *b = &l->p[i];
            size_t np = strlen(d->a);
            if (i != 0) {
                if (b->len >= np && memcmp(b->p, d->a, np) == 0) {
                    memmove(b->p, b->p + np, b->len - np);
                    b->len -= np;
                    b->p[b->len] = '\0';
                } else {
                    embp_buf o = {0};
                    embp_buf_append(&o, " ", 1);
                    embp_buf_append(&o, b->p, b->len);
                    if (o.oom) rc = -1;
                    embp_buf_free(b);
                    *b = o;
                }
            }
            if (rc == 0 && d->cleanup) rc = cleanup(b);
        }
        return rc;
    case EMBP_DEC_METASPACE:
    case EMBP_DEC_STRIP:
    case EMBP_DEC_REPLACE: {
        embp_cpbuf cps = {0};
        embp_spanbuf hits = {0};
        for (size_t i = 0; i < l->n && rc == 0; i++)
            rc = per_token_cps(d, i, &l->p[i], &cps, &hits);
        embp_cpbuf_free(&cps);
        embp_spanbuf_free(&hits);
        return rc;
    }
    case EMBP_DEC_BYTELEVEL:
        return bytelevel(l);
    case EMBP_DEC_BYTEFALLBACK:
        return byte_fallback(l);
    case EMBP_DEC_FUSE:
        return fuse(l);
    case EMBP_DEC_BPE:
        for (size_t i = 0; i < l->n && rc == 0; i++)
            rc = replace_in(&l->p[i], d->a, i + 1 == l->n ? "" : " ");
        return rc;
    case EMBP_DEC_CTC:
        return ctc(d, l);
    }
    return 0;
}
