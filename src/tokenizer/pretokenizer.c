/* tokenizer.json "pre_tokenizer": BertPreTokenizer, Whitespace (\w+|[^\w\s]+), WhitespaceSplit,
 * Punctuation, Digits, CharDelimiterSplit, Split (regex or string, every behavior, invert),
 * Metaspace, ByteLevel, Sequence. Each turns pieces (code-point spans of the normalized text)
 * into smaller, non-empty pieces. Metaspace and ByteLevel also rewrite their pieces: the new
 * text is appended to the buffer and the pieces point there. A piece's flag says it starts at
 * offset 0 of the original text (Metaspace's prepend_scheme "first"). */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define PRE_SUPPORTED                                                                              \
    "BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits, CharDelimiterSplit, "     \
    "Split, Metaspace, ByteLevel, Sequence"

/* GPT-2's pattern, which ByteLevel's use_regex applies. */
static const char BYTELEVEL_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

int embp_spanbuf_push(embp_spanbuf *b, uint32_t start, uint32_t end) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        embp_span *p = embp_realloc(b->p, cap * sizeof *p);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n].start = start;
    b->p[b->n].end = end;
    b->p[b->n].flag = 0;
    b->n++;
    return 0;
}

void embp_spanbuf_free(embp_spanbuf *b) {
    embp_free(b->p);
    memset(b, 0, sizeof *b);
}

int embp_alignbuf_reserve(embp_alignbuf *b, size_t extra) {
    if (b->cap - b->n >= extra) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < extra)
        cap *= 2;
    embp_align *p = embp_realloc(b->p, cap * sizeof *p);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void embp_alignbuf_free(embp_alignbuf *b) {
    embp_free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- parsing */

static embp_status parse_behavior(json_t *j, const char *name, const char *type,
                                  embp_split_behavior *out, embp_error *err) {
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                  "Contiguous"};
    const char *b = NULL;
    embp_status st = embp_json_str(j, "behavior", "Isolated", &b, name, "pre_tokenizer", err);
    if (st) return st;
    for (int i = 0; i < 5; i++) {
        if (strcmp(b, names[i]) == 0) {
            *out = (embp_split_behavior)i;
            return EMBP_OK;
        }
    }
    return embp_fail(err, EMBP_EFORMAT, "%s: pre_tokenizer %s: unknown behavior '%.64s'", name,
                     type, b);
}

/* A one-char string field (Metaspace's replacement, CharDelimiterSplit's delimiter). */
static embp_status one_char(json_t *j, const char *key, const char *def, const char *name,
                            uint32_t *out, embp_error *err) {
    const char *s = NULL;
    uint32_t *cps = NULL;
    size_t n = 0;
    embp_status st = embp_json_str(j, key, def, &s, name, "pre_tokenizer", err);
    if (st) return st;
    if (!s)
        return embp_fail(err, EMBP_EFORMAT, "%s: pre_tokenizer.%s must be one character", name,
                         key);
    if (embp_cps_from_utf8(s, &cps, &n) != 0)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    if (n == 1) *out = cps[0];
    embp_free(cps);
    if (n != 1)
        return embp_fail(err, EMBP_EFORMAT, "%s: pre_tokenizer.%s must be one character", name,
                         key);
    return EMBP_OK;
}

static embp_status parse_metaspace(json_t *j, const char *name, embp_pretokenizer *p,
                                   embp_error *err) {
    static const char *schemes[] = {"always", "never", "first"};
    const char *scheme = NULL;
    bool add_prefix = true;
    embp_status st;
    if ((st = one_char(j, "replacement", "\xe2\x96\x81", name, &p->replacement, err)) ||
        (st = embp_json_bool(j, "split", true, &p->split, name, "pre_tokenizer Metaspace", err)) ||
        (st = embp_json_bool(j, "add_prefix_space", true, &add_prefix, name,
                             "pre_tokenizer Metaspace", err)) ||
        (st = embp_json_str(j, "prepend_scheme", NULL, &scheme, name, "pre_tokenizer Metaspace",
                            err)))
        return st;
    if (!scheme) { /* files older than prepend_scheme: add_prefix_space decides */
        p->prepend = add_prefix ? EMBP_PREPEND_ALWAYS : EMBP_PREPEND_NEVER;
        return EMBP_OK;
    }
    for (int i = 0; i < 3; i++) {
        if (strcmp(scheme, schemes[i]) == 0) {
            p->prepend = (embp_prepend_scheme)i;
            return EMBP_OK;
        }
    }
    return embp_fail(err, EMBP_EFORMAT,
                     "%s: pre_tokenizer Metaspace: prepend_scheme '%.32s' is not first, always "
                     "or never",
                     name, scheme);
}

/* A {"Regex": ...} or {"String": ...} pattern (Split; the Replace normalizer too). */
embp_status embp_pattern_parse(json_t *j, const char *name, const char *where, embp_regex **re,
                               uint32_t **lit, size_t *n_lit, embp_error *err) {
    json_t *pat = json_object_get(j, "pattern");
    json_t *rx = json_object_get(pat, "Regex"), *str = json_object_get(pat, "String");
    if (json_is_string(rx)) return embp_regex_compile(json_string_value(rx), name, where, re, err);
    if (!json_is_string(str))
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: %s.pattern must be {\"String\": ...} or {\"Regex\": ...}", name,
                         where);
    if (embp_cps_from_utf8(json_string_value(str), lit, n_lit) != 0)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    return EMBP_OK;
}

static embp_status parse_sequence(json_t *j, const char *name, embp_pretokenizer *p,
                                  embp_error *err) {
    json_t *arr = json_object_get(j, "pretokenizers");
    if (!json_is_array(arr))
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: pre_tokenizer Sequence: \"pretokenizers\" must be an array", name);
    size_t count = json_array_size(arr);
    p->items = embp_calloc(count ? count : 1, sizeof *p->items);
    if (!p->items) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < count; i++) {
        p->n_items = i + 1;
        embp_status st = embp_pretokenizer_parse(json_array_get(arr, i), name, &p->items[i], err);
        if (st) return st;
    }
    return EMBP_OK;
}

embp_status embp_pretokenizer_parse(json_t *j, const char *name, embp_pretokenizer *p,
                                    embp_error *err) {
    memset(p, 0, sizeof *p);
    const char *type = json_string_value(json_object_get(j, "type"));
    embp_status st;
    if (!json_is_object(j) || !type)
        return embp_fail(err, EMBP_EFORMAT, "%s: pre_tokenizer must be an object with a \"type\"",
                         name);
    if (strcmp(type, "BertPreTokenizer") == 0) {
        p->kind = EMBP_PRE_BERT;
    } else if (strcmp(type, "Whitespace") == 0) {
        p->kind = EMBP_PRE_WHITESPACE;
    } else if (strcmp(type, "WhitespaceSplit") == 0) {
        p->kind = EMBP_PRE_WHITESPACE_SPLIT;
    } else if (strcmp(type, "Punctuation") == 0) {
        p->kind = EMBP_PRE_PUNCTUATION;
        return parse_behavior(j, name, type, &p->behavior, err);
    } else if (strcmp(type, "Digits") == 0) {
        p->kind = EMBP_PRE_DIGITS;
        return embp_json_bool(j, "individual_digits", false, &p->individual, name,
                              "pre_tokenizer Digits", err);
    } else if (strcmp(type, "CharDelimiterSplit") == 0) {
        p->kind = EMBP_PRE_CHAR_DELIMITER;
        return one_char(j, "delimiter", NULL, name, &p->replacement, err);
    } else if (strcmp(type, "Split") == 0) {
        p->kind = EMBP_PRE_SPLIT;
        if ((st = embp_pattern_parse(j, name, "pre_tokenizer Split", &p->re, &p->lit, &p->n_lit,
                                     err)) ||
            (st = embp_json_bool(j, "invert", false, &p->invert, name, "pre_tokenizer Split", err)))
            return st;
        return parse_behavior(j, name, type, &p->behavior, err);
    } else if (strcmp(type, "Metaspace") == 0) {
        p->kind = EMBP_PRE_METASPACE;
        return parse_metaspace(j, name, p, err);
    } else if (strcmp(type, "ByteLevel") == 0) {
        const char *w = "pre_tokenizer ByteLevel";
        p->kind = EMBP_PRE_BYTELEVEL;
        if ((st = embp_json_bool(j, "add_prefix_space", true, &p->add_prefix, name, w, err)) ||
            (st = embp_json_bool(j, "use_regex", true, &p->use_regex, name, w, err)))
            return st;
        if (p->use_regex) return embp_regex_compile(BYTELEVEL_RE, name, w, &p->re, err);
    } else if (strcmp(type, "Sequence") == 0) {
        p->kind = EMBP_PRE_SEQUENCE;
        return parse_sequence(j, name, p, err);
    } else {
        return embp_fail(
            err, EMBP_EUNSUPPORTED,
            "%s: pre_tokenizer type '%.64s' is not supported (supported: " PRE_SUPPORTED ")", name,
            type);
    }
    return EMBP_OK;
}

void embp_pretokenizer_clear(embp_pretokenizer *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_items; i++)
        embp_pretokenizer_clear(&p->items[i]);
    embp_free(p->items);
    embp_regex_free(p->re);
    embp_free(p->lit);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- splitting */

static int emit(embp_spanbuf *out, uint32_t start, uint32_t end) {
    return start < end ? embp_spanbuf_push(out, start, end) : 0;
}

/* BertPreTokenizer on cp[s..e): whitespace separates and is dropped; each is_bert_punc char
 * is a piece of its own. (HF's two splits, Removed then Isolated, in one pass.) */
static int split_bert(const uint32_t *cp, uint32_t s, uint32_t e, embp_spanbuf *out) {
    uint32_t run = s;
    for (uint32_t i = s; i < e; i++) {
        uint32_t c = cp[i];
        if (embp_uc_is_whitespace(c)) {
            if (emit(out, run, i)) return -1;
            run = i + 1;
        } else if (embp_uc_is_bert_punc(c)) {
            if (emit(out, run, i) || emit(out, i, i + 1)) return -1;
            run = i + 1;
        }
    }
    return emit(out, run, e);
}

/* Whitespace: the matches of \w+|[^\w\s]+, i.e. runs of word chars and runs of other
 * non-space chars. */
static int split_whitespace_regex(const uint32_t *cp, uint32_t s, uint32_t e, embp_spanbuf *out) {
    uint32_t i = s;
    while (i < e) {
        if (embp_uc_is_whitespace(cp[i])) {
            i++;
            continue;
        }
        bool word = embp_uc_is_word(cp[i]);
        uint32_t j = i + 1;
        while (j < e && !embp_uc_is_whitespace(cp[j]) && embp_uc_is_word(cp[j]) == word)
            j++;
        if (emit(out, i, j)) return -1;
        i = j;
    }
    return 0;
}

/* HF's Pattern::find_matches: cp[s..e) as consecutive spans, flag 1 on matches. */
static int push_match(embp_spanbuf *m, uint32_t a, uint32_t b, bool is_match) {
    if (embp_spanbuf_push(m, a, b) != 0) return -1;
    m->p[m->n - 1].flag = is_match;
    return 0;
}

/* A char predicate: each matching char is a match of its own. */
static int matches_pred(const embp_pretokenizer *p, const uint32_t *cp, uint32_t s, uint32_t e,
                        bool (*pred)(const embp_pretokenizer *, uint32_t), embp_spanbuf *m) {
    uint32_t last = s;
    for (uint32_t i = s; i < e; i++) {
        if (!pred(p, cp[i])) continue;
        if ((last < i && push_match(m, last, i, false)) || push_match(m, i, i + 1, true)) return -1;
        last = i + 1;
    }
    return last < e ? push_match(m, last, e, false) : 0;
}

/* A regex or a literal string: the gaps between matches are non-matches. */
static int matches_pattern(const embp_pretokenizer *p, const embp_regex *re, const uint32_t *cp,
                           uint32_t s, uint32_t e, embp_spanbuf *hits, embp_spanbuf *m) {
    hits->n = 0;
    if (re) {
        if (embp_regex_find_all(re, cp, s, e, hits) != 0) return -1;
    } else if (p->n_lit == 0) {
        return push_match(m, s, e, false); /* HF: an empty string matches nothing */
    } else {
        for (uint32_t i = s; i + p->n_lit <= e;) {
            if (memcmp(cp + i, p->lit, p->n_lit * sizeof *cp) != 0) {
                i++;
                continue;
            }
            if (embp_spanbuf_push(hits, i, i + (uint32_t)p->n_lit)) return -1;
            i += (uint32_t)p->n_lit;
        }
    }
    uint32_t prev = s;
    for (size_t k = 0; k < hits->n; k++) {
        if ((prev != hits->p[k].start && push_match(m, prev, hits->p[k].start, false)) ||
            push_match(m, hits->p[k].start, hits->p[k].end, true))
            return -1;
        prev = hits->p[k].end;
    }
    return prev != e ? push_match(m, prev, e, false) : 0;
}

/* HF's NormalizedString::split: the matches m (flag: is a match) combined per behavior, the
 * kept non-empty pieces appended to out. */
static int apply_behavior(embp_spanbuf *m, embp_split_behavior how, bool invert,
                          embp_spanbuf *out) {
    size_t k = 0;
    bool prev = false;
    if (invert)
        for (size_t i = 0; i < m->n; i++)
            m->p[i].flag = !m->p[i].flag;
    switch (how) {
    case EMBP_SPLIT_REMOVED:
        for (size_t i = 0; i < m->n; i++)
            if (!m->p[i].flag && emit(out, m->p[i].start, m->p[i].end)) return -1;
        return 0;
    case EMBP_SPLIT_ISOLATED:
        for (size_t i = 0; i < m->n; i++)
            if (emit(out, m->p[i].start, m->p[i].end)) return -1;
        return 0;
    case EMBP_SPLIT_CONTIGUOUS:
    case EMBP_SPLIT_MERGED_WITH_PREVIOUS: /* fold into the previous piece, in place */
        for (size_t i = 0; i < m->n; i++) {
            bool is = m->p[i].flag;
            bool join = how == EMBP_SPLIT_CONTIGUOUS ? is == prev : is && !prev;
            if (join && k > 0)
                m->p[k - 1].end = m->p[i].end;
            else
                m->p[k++] = m->p[i];
            prev = is;
        }
        break;
    case EMBP_SPLIT_MERGED_WITH_NEXT: /* the same from the end, folding into the next piece */
        for (size_t i = m->n; i-- > 0;) {
            bool is = m->p[i].flag;
            size_t at = m->n - 1 - k; /* pieces fill the tail, right to left */
            if (is && !prev && k > 0) {
                m->p[at + 1].start = m->p[i].start;
            } else {
                m->p[at] = m->p[i];
                k++;
            }
            prev = is;
        }
        for (size_t i = m->n - k; i < m->n; i++)
            if (emit(out, m->p[i].start, m->p[i].end)) return -1;
        return 0;
    }
    for (size_t i = 0; i < k; i++)
        if (emit(out, m->p[i].start, m->p[i].end)) return -1;
    return 0;
}

static bool is_ws(const embp_pretokenizer *p, uint32_t c) {
    (void)p;
    return embp_uc_is_whitespace(c);
}
static bool is_punc(const embp_pretokenizer *p, uint32_t c) {
    (void)p;
    return embp_uc_is_bert_punc(c);
}
static bool is_num(const embp_pretokenizer *p, uint32_t c) {
    (void)p;
    return embp_uc_is_numeric(c);
}
static bool is_char(const embp_pretokenizer *p, uint32_t c) {
    return c == p->replacement;
}

/* GPT-2's byte-to-char map: printable Latin-1 bytes stand for themselves, the others for
 * U+0100 on, in byte order (0x00-0x20, then 0x7F-0xA0, then 0xAD). */
static uint32_t byte_char(unsigned b) {
    if (b <= 0x20) return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    if (b == 0xAD) return 0x100 + 67;
    return b;
}

int embp_bytelevel_byte(uint32_t c) {
    if (c >= 0x100 && c <= 0x100 + 32) return (int)(c - 0x100);
    if (c >= 0x100 + 33 && c <= 0x100 + 66) return (int)(c - 0x100 - 33 + 0x7F);
    if (c == 0x100 + 67) return 0xAD;
    if (c < 0x100 && byte_char(c) == c) return (int)c;
    return -1;
}

int embp_bytelevel_map(const uint32_t *cp, size_t n, embp_cpbuf *out) {
    if (embp_cpbuf_reserve(out, 4 * n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        char u[4];
        int k = embp_utf8_put(cp[i], u);
        for (int b = 0; b < k; b++)
            out->p[out->n++] = byte_char((unsigned char)u[b]);
    }
    return 0;
}

/* Appends piece buf[s..e) as byte-level chars to buf and pushes the new span onto out; al
 * (NULL: no offsets) gets each new char's alignment, its source char's. */
static int push_bytelevel(embp_cpbuf *buf, uint32_t s, uint32_t e, uint32_t flag,
                          embp_spanbuf *out, embp_alignbuf *al) {
    if (embp_cpbuf_reserve(buf, 4 * (size_t)(e - s)) != 0 ||
        buf->n + 4 * (size_t)(e - s) > UINT32_MAX)
        return -1;
    uint32_t at = (uint32_t)buf->n;
    if (embp_bytelevel_map(buf->p + s, e - s, buf) != 0) return -1; /* room made: p stays */
    if (al && embp_alignbuf_reserve(al, buf->n - at) != 0) return -1;
    for (uint32_t i = s; al && i < e; i++) {
        uint32_t c = buf->p[i];
        int nb = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        for (int b = 0; b < nb; b++)
            embp_alignbuf_push(al, al->p[i].s, al->p[i].e);
    }
    if (emit(out, at, (uint32_t)buf->n)) return -1;
    if (out->n && out->p[out->n - 1].start == at) out->p[out->n - 1].flag = flag;
    return 0;
}

/* Copies cp[s..e) to the end of buf with a leading char (0: none) and ' ' replaced by
 * repl (0: kept). The copy's span is [*ns, *ne). al (NULL: no offsets) follows buf: a replaced
 * char keeps its alignment, the leading char takes the first char's (HF's prepend). */
static int rewrite(embp_cpbuf *buf, uint32_t s, uint32_t e, uint32_t lead, uint32_t repl,
                   uint32_t *ns, uint32_t *ne, embp_alignbuf *al) {
    if (embp_cpbuf_reserve(buf, (size_t)(e - s) + 1) != 0 || buf->n + (e - s) + 1 > UINT32_MAX)
        return -1;
    if (al && embp_alignbuf_reserve(al, (size_t)(e - s) + 1) != 0) return -1;
    *ns = (uint32_t)buf->n;
    if (lead) {
        buf->p[buf->n++] = lead;
        if (al) embp_alignbuf_push(al, al->p[s].s, al->p[s].e);
    }
    for (uint32_t i = s; i < e; i++) {
        buf->p[buf->n++] = repl && buf->p[i] == ' ' ? repl : buf->p[i];
        if (al) embp_alignbuf_push(al, al->p[i].s, al->p[i].e);
    }
    *ne = (uint32_t)buf->n;
    return 0;
}

static int split_metaspace(const embp_pretokenizer *p, embp_cpbuf *buf, const embp_span *w,
                           embp_spanbuf *m, embp_spanbuf *out, embp_alignbuf *al) {
    uint32_t first = buf->p[w->start] == ' ' ? p->replacement : buf->p[w->start];
    bool lead = first != p->replacement && (p->prepend == EMBP_PREPEND_ALWAYS ||
                                            (p->prepend == EMBP_PREPEND_FIRST && w->flag));
    uint32_t s, e;
    if (rewrite(buf, w->start, w->end, lead ? p->replacement : 0, p->replacement, &s, &e, al))
        return -1;
    size_t k0 = out->n;
    if (!p->split) {
        if (emit(out, s, e)) return -1;
    } else {
        m->n = 0;
        if (matches_pred(p, buf->p, s, e, is_char, m) ||
            apply_behavior(m, EMBP_SPLIT_MERGED_WITH_NEXT, false, out))
            return -1;
    }
    if (w->flag && out->n > k0) out->p[k0].flag = 1;
    return 0;
}

static int split_bytelevel(const embp_pretokenizer *p, embp_cpbuf *buf, const embp_span *w,
                           embp_spanbuf *hits, embp_spanbuf *m, embp_spanbuf *out,
                           embp_alignbuf *al) {
    uint32_t s = w->start, e = w->end;
    if (p->add_prefix && buf->p[s] != ' ' && rewrite(buf, s, e, ' ', 0, &s, &e, al)) return -1;
    if (!p->re) return push_bytelevel(buf, s, e, w->flag, out, al);
    m->n = 0;
    hits->n = 0;
    if (matches_pattern(p, p->re, buf->p, s, e, hits, m) != 0) return -1;
    for (size_t i = 0; i < m->n; i++) /* Isolated: every match and gap is a piece */
        if (m->p[i].start < m->p[i].end &&
            push_bytelevel(buf, m->p[i].start, m->p[i].end, i == 0 ? w->flag : 0, out, al))
            return -1;
    return 0;
}

/* Splits one piece w of buf onto out; m and hits are scratch. */
static int split_piece(const embp_pretokenizer *p, embp_cpbuf *buf, const embp_span *w,
                       embp_spanbuf *m, embp_spanbuf *hits, embp_spanbuf *out,
                       embp_alignbuf *al) {
    const uint32_t *cp = buf->p;
    uint32_t s = w->start, e = w->end;
    m->n = 0;
    switch (p->kind) {
    case EMBP_PRE_BERT:
        return split_bert(cp, s, e, out);
    case EMBP_PRE_WHITESPACE:
        return split_whitespace_regex(cp, s, e, out);
    case EMBP_PRE_WHITESPACE_SPLIT:
        return matches_pred(p, cp, s, e, is_ws, m) ||
               apply_behavior(m, EMBP_SPLIT_REMOVED, false, out);
    case EMBP_PRE_PUNCTUATION:
        return matches_pred(p, cp, s, e, is_punc, m) || apply_behavior(m, p->behavior, false, out);
    case EMBP_PRE_DIGITS:
        return matches_pred(p, cp, s, e, is_num, m) ||
               apply_behavior(m, p->individual ? EMBP_SPLIT_ISOLATED : EMBP_SPLIT_CONTIGUOUS, false,
                              out);
    case EMBP_PRE_CHAR_DELIMITER:
        return matches_pred(p, cp, s, e, is_char, m) ||
               apply_behavior(m, EMBP_SPLIT_REMOVED, false, out);
    case EMBP_PRE_SPLIT:
        return matches_pattern(p, p->re, cp, s, e, hits, m) ||
               apply_behavior(m, p->behavior, p->invert, out);
    case EMBP_PRE_METASPACE:
        return split_metaspace(p, buf, w, m, out, al);
    case EMBP_PRE_BYTELEVEL:
        return split_bytelevel(p, buf, w, hits, m, out, al);
    case EMBP_PRE_SEQUENCE:
        break;
    }
    return 0;
}

int embp_pretokenizer_apply(const embp_pretokenizer *p, embp_cpbuf *buf, embp_spanbuf *words,
                            embp_pretok_scratch *sc) {
    return embp_pretokenizer_apply_aligned(p, buf, words, sc, NULL);
}

int embp_pretokenizer_apply_aligned(const embp_pretokenizer *p, embp_cpbuf *buf,
                                    embp_spanbuf *words, embp_pretok_scratch *sc,
                                    embp_alignbuf *al) {
    if (p->kind == EMBP_PRE_SEQUENCE) {
        for (size_t i = 0; i < p->n_items; i++)
            if (embp_pretokenizer_apply_aligned(&p->items[i], buf, words, sc, al) != 0) return -1;
        return 0;
    }
    embp_spanbuf *tmp = &sc->out;
    tmp->n = 0;
    for (size_t i = 0; i < words->n; i++) {
        embp_span w = words->p[i];
        size_t k0 = tmp->n;
        if (split_piece(p, buf, &w, &sc->m, &sc->hits, tmp, al) != 0) return -1;
        if (w.flag && tmp->n > k0 && tmp->p[k0].start == w.start) tmp->p[k0].flag = 1;
    }
    embp_spanbuf t = *words;
    *words = *tmp;
    *tmp = t;
    return 0;
}
