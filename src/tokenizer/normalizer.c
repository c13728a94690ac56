/* tokenizer.json "normalizer": BertNormalizer (what BERT models use), Precompiled
 * (SentencePiece's charsmap, precompiled.c) and the simple normalizers (Lowercase,
 * NFC/NFD/NFKC/NFKD, Strip, StripAccents, Replace with a string or a regex, Prepend,
 * ByteLevel, Sequence). Each works on code points, as HF's NormalizedString does per char. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define NORM_SUPPORTED                                                                             \
    "BertNormalizer, Precompiled, Lowercase, NFC, NFD, NFKC, NFKD, Strip, StripAccents, Replace, " \
    "Prepend, ByteLevel, Sequence"

/* ---------------------------------------------------------------- parsing */

static embp_status parse_bert(json_t *j, const char *name, embp_normalizer *n, embp_error *err) {
    const char *w = "normalizer (BertNormalizer)";
    embp_status st;
    if ((st = embp_json_bool(j, "clean_text", true, &n->clean_text, name, w, err)) ||
        (st = embp_json_bool(j, "handle_chinese_chars", true, &n->handle_chinese, name, w, err)) ||
        (st = embp_json_bool(j, "lowercase", true, &n->lowercase, name, w, err)))
        return st;
    /* strip_accents null (or absent) means "as lowercase", as in HF and BERT's original. */
    return embp_json_bool(j, "strip_accents", n->lowercase, &n->strip_accents, name, w, err);
}

static embp_status parse_replace(json_t *j, const char *name, embp_normalizer *n, embp_error *err) {
    const char *content = NULL;
    embp_status st = embp_json_str(j, "content", NULL, &content, name, "normalizer Replace", err);
    if (st) return st;
    if (!content)
        return embp_fail(err, EMBP_EFORMAT, "%s: normalizer Replace: \"content\" missing", name);
    if ((st = embp_pattern_parse(j, name, "normalizer Replace", &n->re, &n->pattern, &n->n_pattern,
                                 err)))
        return st;
    if (embp_cps_from_utf8(content, &n->content, &n->n_content))
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    return EMBP_OK;
}

static embp_status parse_prepend(json_t *j, const char *name, embp_normalizer *n, embp_error *err) {
    const char *content = NULL;
    embp_status st = embp_json_str(j, "prepend", NULL, &content, name, "normalizer Prepend", err);
    if (st) return st;
    if (!content)
        return embp_fail(err, EMBP_EFORMAT, "%s: normalizer Prepend: \"prepend\" missing", name);
    if (embp_cps_from_utf8(content, &n->content, &n->n_content))
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    return EMBP_OK;
}

static embp_status parse_sequence(json_t *j, const char *name, embp_normalizer *n,
                                  embp_error *err) {
    json_t *arr = json_object_get(j, "normalizers");
    if (!json_is_array(arr))
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: normalizer Sequence: \"normalizers\" must be an array", name);
    size_t count = json_array_size(arr);
    n->items = embp_calloc(count ? count : 1, sizeof *n->items);
    if (!n->items) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < count; i++) {
        n->n_items = i + 1;
        embp_status st = embp_normalizer_parse(json_array_get(arr, i), name, &n->items[i], err);
        if (st) return st;
    }
    return EMBP_OK;
}

embp_status embp_normalizer_parse(json_t *j, const char *name, embp_normalizer *n,
                                  embp_error *err) {
    static const struct {
        const char *type;
        embp_norm_kind kind;
    } simple[] = {{"Lowercase", EMBP_NORM_LOWERCASE}, {"NFD", EMBP_NORM_NFD},
                  {"NFKD", EMBP_NORM_NFKD},           {"NFC", EMBP_NORM_NFC},
                  {"NFKC", EMBP_NORM_NFKC},           {"StripAccents", EMBP_NORM_STRIP_ACCENTS},
                  {"ByteLevel", EMBP_NORM_BYTELEVEL}};
    memset(n, 0, sizeof *n);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return embp_fail(err, EMBP_EFORMAT, "%s: normalizer must be an object with a \"type\"",
                         name);
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(type, simple[i].type) == 0) {
            n->kind = simple[i].kind;
            return EMBP_OK;
        }
    }
    if (strcmp(type, "BertNormalizer") == 0) {
        n->kind = EMBP_NORM_BERT;
        return parse_bert(j, name, n, err);
    }
    if (strcmp(type, "Strip") == 0) {
        embp_status st;
        n->kind = EMBP_NORM_STRIP;
        if ((st = embp_json_bool(j, "strip_left", true, &n->left, name, "normalizer Strip", err)))
            return st;
        return embp_json_bool(j, "strip_right", true, &n->right, name, "normalizer Strip", err);
    }
    if (strcmp(type, "Replace") == 0) {
        n->kind = EMBP_NORM_REPLACE;
        return parse_replace(j, name, n, err);
    }
    if (strcmp(type, "Prepend") == 0) {
        n->kind = EMBP_NORM_PREPEND;
        return parse_prepend(j, name, n, err);
    }
    if (strcmp(type, "Precompiled") == 0) {
        n->kind = EMBP_NORM_PRECOMPILED;
        return embp_precompiled_parse(j, name, &n->pc, err);
    }
    if (strcmp(type, "Sequence") == 0) {
        n->kind = EMBP_NORM_SEQUENCE;
        return parse_sequence(j, name, n, err);
    }
    return embp_fail(err, EMBP_EUNSUPPORTED,
                     "%s: normalizer type '%.64s' is not supported (supported: " NORM_SUPPORTED ")",
                     name, type);
}

void embp_normalizer_clear(embp_normalizer *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n_items; i++)
        embp_normalizer_clear(&n->items[i]);
    embp_free(n->items);
    embp_free(n->pattern);
    embp_free(n->content);
    embp_regex_free(n->re);
    embp_precompiled_clear(&n->pc);
    memset(n, 0, sizeof *n);
}

/* ---------------------------------------------------------------- applying */

/* Each step rewrites buf; with al (offsets asked for) it keeps al->a parallel to buf, giving
 * each new char the alignment HF's NormalizedString::transform gives it: a char that replaces
 * others takes the first one's, an inserted char the one before it's. */

static void swap_bufs(embp_cpbuf *a, embp_cpbuf *b) {
    embp_cpbuf t = *a;
    *a = *b;
    *b = t;
}

static void swap_aligns(embp_aligns *al) {
    if (!al) return;
    embp_alignbuf t = al->a;
    al->a = al->tmp;
    al->tmp = t;
}

/* Starts a rewrite into tmp (and al->tmp). */
static int begin(embp_cpbuf *tmp, size_t n, embp_aligns *al) {
    tmp->n = 0;
    if (embp_cpbuf_reserve(tmp, n) != 0) return -1;
    if (!al) return 0;
    al->tmp.n = 0;
    return embp_alignbuf_reserve(&al->tmp, n);
}

/* Appends c to tmp, aligned as old char src of al->a. */
static int put(embp_cpbuf *tmp, uint32_t c, embp_aligns *al, size_t src) {
    if (embp_cpbuf_push(tmp, c) != 0) return -1;
    return al ? embp_alignbuf_push(&al->tmp, al->a.p[src].s, al->a.p[src].e) : 0;
}

/* Keeps char i at k (an in-place filter: kept chars keep their alignments). */
static void keep(embp_cpbuf *b, size_t k, size_t i, uint32_t c, embp_aligns *al) {
    b->p[k] = c;
    if (al) al->a.p[k] = al->a.p[i];
}

static void end_filter(embp_cpbuf *b, size_t k, embp_aligns *al) {
    b->n = k;
    if (al) al->a.n = k;
}

/* BertNormalizer's clean_text: drop NUL, U+FFFD and Cc/Cf/Co except \t \n \r; whitespace
 * becomes ' '. Never grows, so it filters in place. */
static void clean_text(embp_cpbuf *b, bool *lead, embp_aligns *al) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->p[i];
        bool keep_ctl = c == '\t' || c == '\n' || c == '\r';
        if (c == 0 || c == 0xFFFD || (!keep_ctl && embp_uc_is_other(c))) {
            if (k == 0) *lead = false;
            continue;
        }
        keep(b, k++, i, embp_uc_is_whitespace(c) ? ' ' : c, al);
    }
    end_filter(b, k, al);
}

static int space_chinese(embp_cpbuf *b, embp_cpbuf *tmp, embp_aligns *al) {
    if (begin(tmp, b->n, al) != 0) return -1;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->p[i];
        if (!embp_uc_is_chinese(c)) {
            if (put(tmp, c, al, i) != 0) return -1;
        } else if (put(tmp, ' ', al, i) || put(tmp, c, al, i) || put(tmp, ' ', al, i)) {
            return -1;
        }
    }
    swap_bufs(b, tmp);
    swap_aligns(al);
    return 0;
}

static void drop_nonspacing_marks(embp_cpbuf *b, bool *lead, embp_aligns *al) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!embp_uc_is_mark_nonspacing(b->p[i]))
            keep(b, k++, i, b->p[i], al);
        else if (k == 0)
            *lead = false;
    }
    end_filter(b, k, al);
}

static int lowercase(embp_cpbuf *b, embp_cpbuf *tmp, embp_aligns *al) {
    if (begin(tmp, b->n, al) != 0) return -1;
    for (size_t i = 0; i < b->n; i++) {
        size_t n0 = tmp->n;
        if (embp_uc_push_lower(tmp, b->p[i]) != 0) return -1;
        for (size_t k = n0; al && k < tmp->n; k++) /* U+0130 gives two: both are its */
            if (embp_alignbuf_push(&al->tmp, al->a.p[i].s, al->a.p[i].e) != 0) return -1;
    }
    swap_bufs(b, tmp);
    swap_aligns(al);
    return 0;
}

/* HF's transform over (char, change) pairs, in chars: consumed counts the old chars used up; a
 * char with change > 0 is inserted (the alignment of the char before it), else it replaces
 * the next old char and -change more are removed. */
static int align_changes(const embp_idbuf *chg, size_t n_new, embp_aligns *al) {
    size_t consumed = 0, n_old = al->a.n;
    al->tmp.n = 0;
    if (embp_alignbuf_reserve(&al->tmp, n_new) != 0) return -1;
    for (size_t k = 0; k < n_new; k++) {
        int32_t c = chg->p[k];
        embp_align a = {al->base, al->base};
        if (c > 0 && consumed > 0)
            a = al->a.p[consumed - 1 < n_old ? consumed - 1 : n_old - 1];
        else if (c <= 0 && n_old > 0)
            a = al->a.p[consumed < n_old ? consumed : n_old - 1];
        if (c <= 0) consumed += 1 + (size_t)(-(int64_t)c);
        embp_alignbuf_push(&al->tmp, a.s, a.e);
    }
    swap_aligns(al);
    return 0;
}

typedef struct {
    int cc;
    uint32_t at, c;
    int32_t chg;
} mark;

static int by_class(const void *x, const void *y) {
    const mark *a = x, *b = y;
    return a->cc != b->cc ? (a->cc > b->cc) - (a->cc < b->cc) : (a->at > b->at) - (a->at < b->at);
}

/* Sorts the run of non-starters c[0..n) stably by combining class, each change chg[k] moving
 * with its char (n log n: a hostile run of marks stays cheap). */
static int order_marks(uint32_t *c, int32_t *chg, size_t n) {
    mark *m = embp_malloc(n * sizeof *m);
    if (!m) return -1;
    for (size_t k = 0; k < n; k++)
        m[k] = (mark){embp_uc_combining_class(c[k]), (uint32_t)k, c[k], chg[k]};
    qsort(m, n, sizeof *m, by_class);
    for (size_t k = 0; k < n; k++)
        c[k] = m[k].c, chg[k] = m[k].chg;
    embp_free(m);
    return 0;
}

/* The alignments of out, a normal form of b, as HF's NormalizedString gets them from the
 * changes unicode-normalization-alignments yields: each char of b decomposes into chars with
 * changes 0, 1, 1... (one replaced, the rest inserted); the canonical ordering moves each
 * change with its char (a stable sort by combining class of each run of non-starters); a
 * composed char's change is its starter's plus (change - 1) for each char it absorbed.
 * align_changes then aligns by HF's rule. */
static int align_normal_form(const embp_cpbuf *b, const embp_cpbuf *out, bool compat,
                             bool compose, embp_aligns *al) {
    embp_cpbuf dec = {0}, one = {0};
    embp_idbuf chg = {0}, res = {0}; /* chg: per char of dec; res: per char of out */
    bool *used = NULL;
    int rc = -1;
    for (size_t i = 0; i < b->n; i++) {
        if (embp_uc_normalize(b->p + i, 1, compat, false, &one) != 0 ||
            embp_cpbuf_reserve(&dec, one.n) != 0)
            goto done;
        for (size_t k = 0; k < one.n; k++)
            if (embp_cpbuf_push(&dec, one.p[k]) != 0 || embp_idbuf_push(&chg, k ? 1 : 0) != 0)
                goto done;
    }
    for (size_t i = 0; i < dec.n;) { /* canonical order, each run of non-starters */
        size_t j = i;
        while (j < dec.n && embp_uc_combining_class(dec.p[j]) != 0)
            j++;
        if (j - i > 1 && order_marks(dec.p + i, chg.p + i, j - i) != 0) goto done;
        i = j > i ? j : i + 1;
    }
    if (!(used = embp_calloc(dec.n + 1, sizeof *used))) goto done;
    size_t p = 0;
    for (size_t k = 0; k < out->n; k++) {
        while (p < dec.n && used[p])
            p++;
        int32_t c = p < dec.n ? chg.p[p] : 1;
        if (p < dec.n) used[p] = true;
        if (compose) { /* the rest of a composed char's decomposition: next unused equal chars */
            if (embp_uc_normalize(out->p + k, 1, false, false, &one) != 0) goto done;
            for (size_t j = 1, q = p + 1; j < one.n; j++) {
                while (q < dec.n && (used[q] || dec.p[q] != one.p[j]))
                    q++;
                if (q < dec.n) {
                    used[q] = true;
                    c += chg.p[q] - 1;
                    q++;
                }
            }
        }
        if (embp_idbuf_push(&res, c) != 0) goto done;
    }
    rc = align_changes(&res, out->n, al);
done:
    embp_cpbuf_free(&dec);
    embp_cpbuf_free(&one);
    embp_free(chg.p);
    embp_free(res.p);
    embp_free(used);
    return rc;
}

static int normal_form(embp_cpbuf *b, embp_cpbuf *tmp, bool compat, bool compose,
                       embp_aligns *al) {
    if (embp_uc_normalize(b->p, b->n, compat, compose, tmp) != 0) return -1;
    if (al && align_normal_form(b, tmp, compat, compose, al) != 0) return -1;
    swap_bufs(b, tmp);
    return 0;
}

/* Strip: trims White_Space at either end. */
static void strip(embp_cpbuf *b, bool left, bool right, bool *lead, embp_aligns *al) {
    size_t lo = 0, hi = b->n;
    while (left && lo < hi && embp_uc_is_whitespace(b->p[lo]))
        lo++;
    if (lo > 0) *lead = false;
    while (right && hi > lo && embp_uc_is_whitespace(b->p[hi - 1]))
        hi--;
    if (lo > 0) memmove(b->p, b->p + lo, (hi - lo) * sizeof *b->p);
    if (al && lo > 0) memmove(al->a.p, al->a.p + lo, (hi - lo) * sizeof *al->a.p);
    end_filter(b, hi - lo, al);
}

/* Appends n->content to tmp; each char aligned as old char src (a match's last char, which
 * HF's replace aligns inserted content with), or at the piece's start when src is SIZE_MAX
 * (an empty match at the very start). */
static int push_content(const embp_normalizer *n, embp_cpbuf *tmp, embp_aligns *al, size_t src) {
    if (embp_cpbuf_reserve(tmp, n->n_content + 1) != 0) return -1;
    if (n->n_content) memcpy(tmp->p + tmp->n, n->content, n->n_content * sizeof *tmp->p);
    tmp->n += n->n_content;
    for (size_t k = 0; al && k < n->n_content; k++) {
        embp_align a = src == SIZE_MAX ? (embp_align){al->base, al->base} : al->a.p[src];
        if (embp_alignbuf_push(&al->tmp, a.s, a.e) != 0) return -1;
    }
    return 0;
}

/* Replace with a regex: each match (onig's find_iter) becomes content, literally. */
static int replace_regex(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp, bool *lead,
                         embp_aligns *al) {
    embp_spanbuf hits = {0};
    if (b->n > UINT32_MAX || embp_regex_find_all(n->re, b->p, 0, (uint32_t)b->n, &hits) != 0) {
        embp_spanbuf_free(&hits);
        return -1;
    }
    size_t prev = 0;
    int rc = begin(tmp, b->n, al);
    if (hits.n && hits.p[0].start == 0 && hits.p[0].end > 0 && n->n_content == 0) *lead = false;
    for (size_t k = 0; k < hits.n && rc == 0; k++) {
        for (size_t i = prev; i < hits.p[k].start && rc == 0; i++)
            rc = put(tmp, b->p[i], al, i);
        size_t last = hits.p[k].end > 0 ? hits.p[k].end - 1 : SIZE_MAX;
        if (rc == 0) rc = push_content(n, tmp, al, last);
        prev = hits.p[k].end;
    }
    for (size_t i = prev; i < b->n && rc == 0; i++)
        rc = put(tmp, b->p[i], al, i);
    embp_spanbuf_free(&hits);
    if (rc == 0) {
        swap_bufs(b, tmp);
        swap_aligns(al);
    }
    return rc;
}

/* Replace: every non-overlapping occurrence of pattern, left to right, becomes content. */
static int replace(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp, bool *lead,
                   embp_aligns *al) {
    if (n->re) return replace_regex(n, b, tmp, lead, al);
    if (begin(tmp, b->n, al) != 0) return -1;
    size_t m = n->n_pattern;
    for (size_t i = 0; i < b->n;) {
        if (m > 0 && b->n - i >= m && memcmp(b->p + i, n->pattern, m * sizeof *b->p) == 0) {
            if (i == 0 && n->n_content == 0) *lead = false;
            if (push_content(n, tmp, al, i + m - 1) != 0) return -1;
            i += m;
        } else if (put(tmp, b->p[i], al, i) != 0) {
            return -1;
        } else {
            i++;
        }
    }
    swap_bufs(b, tmp);
    swap_aligns(al);
    return 0;
}
static int apply_bert(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp, bool *lead,
                      embp_aligns *al) {
    if (n->clean_text) clean_text(b, lead, al);
    if (n->handle_chinese && space_chinese(b, tmp, al) != 0) return -1;
    if (n->strip_accents) {
        if (normal_form(b, tmp, false, false, al) != 0) return -1;
        drop_nonspacing_marks(b, lead, al);
    }
    return n->lowercase ? lowercase(b, tmp, al) : 0;
}

static int precompiled(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp,
                       embp_aligns *al) {
    if (!al) {
        if (embp_precompiled_apply(&n->pc, buf, tmp) != 0) return -1;
    } else {
        embp_idbuf chg = {0};
        int rc = embp_precompiled_apply_changes(&n->pc, buf, tmp, &chg);
        if (rc == 0) rc = align_changes(&chg, tmp->n, al);
        embp_free(chg.p);
        if (rc != 0) return -1;
    }
    swap_bufs(buf, tmp);
    return 0;
}

static int prepend(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp, embp_aligns *al) {
    if (buf->n == 0) return 0; /* HF: only a non-empty text gets it */
    if (begin(tmp, buf->n + n->n_content, al) != 0) return -1;
    for (size_t k = 0; k < n->n_content; k++) /* aligned with the first char, as HF */
        if (put(tmp, n->content[k], al, 0) != 0) return -1;
    for (size_t i = 0; i < buf->n; i++)
        if (put(tmp, buf->p[i], al, i) != 0) return -1;
    swap_bufs(buf, tmp);
    swap_aligns(al);
    return 0;
}

static int bytelevel(embp_cpbuf *buf, embp_cpbuf *tmp, embp_aligns *al) {
    tmp->n = 0;
    if (embp_bytelevel_map(buf->p, buf->n, tmp) != 0) return -1;
    if (al) { /* each byte's char is aligned with the char it comes from */
        al->tmp.n = 0;
        if (embp_alignbuf_reserve(&al->tmp, tmp->n) != 0) return -1;
        for (size_t i = 0; i < buf->n; i++) {
            uint32_t c = buf->p[i];
            int nb = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
            for (int b = 0; b < nb; b++)
                embp_alignbuf_push(&al->tmp, al->a.p[i].s, al->a.p[i].e);
        }
        swap_aligns(al);
    }
    swap_bufs(buf, tmp);
    return 0;
}

int embp_normalizer_apply(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp, bool *lead) {
    return embp_normalizer_apply_aligned(n, buf, tmp, lead, NULL);
}

int embp_normalizer_apply_aligned(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp,
                                  bool *lead, embp_aligns *al) {
    bool unused = true;
    if (!lead) lead = &unused;
    switch (n->kind) {
    case EMBP_NORM_BERT:
        return apply_bert(n, buf, tmp, lead, al);
    case EMBP_NORM_LOWERCASE:
        return lowercase(buf, tmp, al);
    case EMBP_NORM_NFD:
        return normal_form(buf, tmp, false, false, al);
    case EMBP_NORM_NFKD:
        return normal_form(buf, tmp, true, false, al);
    case EMBP_NORM_NFC:
        return normal_form(buf, tmp, false, true, al);
    case EMBP_NORM_NFKC:
        return normal_form(buf, tmp, true, true, al);
    case EMBP_NORM_STRIP_ACCENTS: /* HF filters Mn only; no NFD first. */
        drop_nonspacing_marks(buf, lead, al);
        return 0;
    case EMBP_NORM_STRIP:
        strip(buf, n->left, n->right, lead, al);
        return 0;
    case EMBP_NORM_REPLACE:
        return replace(n, buf, tmp, lead, al);
    case EMBP_NORM_PREPEND:
        return prepend(n, buf, tmp, al);
    case EMBP_NORM_PRECOMPILED:
        return precompiled(n, buf, tmp, al);
    case EMBP_NORM_BYTELEVEL:
        return bytelevel(buf, tmp, al);
    case EMBP_NORM_SEQUENCE:
        for (size_t i = 0; i < n->n_items; i++)
            if (embp_normalizer_apply_aligned(&n->items[i], buf, tmp, lead, al) != 0) return -1;
        return 0;
    }
    return 0;
}
