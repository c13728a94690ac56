/* tokenizer.json "normalizer": BertNormalizer (what BERT models use), Precompiled
 * (SentencePiece's charsmap, precompiled.c) and the simple normalizers (Lowercase,
 * NFC/NFD/NFKC/NFKD, Strip, StripAccents, Replace with a string or a regex, Prepend,
 * ByteLevel, Sequence). Each works on code points, as HF's NormalizedString does per char. */
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

static void swap_bufs(embp_cpbuf *a, embp_cpbuf *b) {
    embp_cpbuf t = *a;
    *a = *b;
    *b = t;
}

/* BertNormalizer's clean_text: drop NUL, U+FFFD and Cc/Cf/Co except \t \n \r; whitespace
 * becomes ' '. Never grows, so it filters in place. */
static void clean_text(embp_cpbuf *b, bool *lead) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->p[i];
        bool keep_ctl = c == '\t' || c == '\n' || c == '\r';
        if (c == 0 || c == 0xFFFD || (!keep_ctl && embp_uc_is_other(c))) {
            if (k == 0) *lead = false;
            continue;
        }
        b->p[k++] = embp_uc_is_whitespace(c) ? ' ' : c;
    }
    b->n = k;
}

static int space_chinese(embp_cpbuf *b, embp_cpbuf *tmp) {
    tmp->n = 0;
    if (embp_cpbuf_reserve(tmp, b->n) != 0) return -1;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->p[i];
        if (!embp_uc_is_chinese(c)) {
            if (embp_cpbuf_push(tmp, c) != 0) return -1;
        } else if (embp_cpbuf_push(tmp, ' ') || embp_cpbuf_push(tmp, c) ||
                   embp_cpbuf_push(tmp, ' ')) {
            return -1;
        }
    }
    swap_bufs(b, tmp);
    return 0;
}

static void drop_nonspacing_marks(embp_cpbuf *b, bool *lead) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!embp_uc_is_mark_nonspacing(b->p[i]))
            b->p[k++] = b->p[i];
        else if (k == 0)
            *lead = false;
    }
    b->n = k;
}

static int lowercase(embp_cpbuf *b, embp_cpbuf *tmp) {
    tmp->n = 0;
    if (embp_cpbuf_reserve(tmp, b->n) != 0) return -1;
    for (size_t i = 0; i < b->n; i++)
        if (embp_uc_push_lower(tmp, b->p[i]) != 0) return -1;
    swap_bufs(b, tmp);
    return 0;
}

static int normal_form(embp_cpbuf *b, embp_cpbuf *tmp, bool compat, bool compose) {
    if (embp_uc_normalize(b->p, b->n, compat, compose, tmp) != 0) return -1;
    swap_bufs(b, tmp);
    return 0;
}

/* Strip: trims White_Space at either end. */
static void strip(embp_cpbuf *b, bool left, bool right, bool *lead) {
    size_t lo = 0, hi = b->n;
    while (left && lo < hi && embp_uc_is_whitespace(b->p[lo]))
        lo++;
    if (lo > 0) *lead = false;
    while (right && hi > lo && embp_uc_is_whitespace(b->p[hi - 1]))
        hi--;
    if (lo > 0) memmove(b->p, b->p + lo, (hi - lo) * sizeof *b->p);
    b->n = hi - lo;
}

/* Appends n->content to tmp. */
static int push_content(const embp_normalizer *n, embp_cpbuf *tmp) {
    if (embp_cpbuf_reserve(tmp, n->n_content + 1) != 0) return -1;
    if (n->n_content) memcpy(tmp->p + tmp->n, n->content, n->n_content * sizeof *tmp->p);
    tmp->n += n->n_content;
    return 0;
}

/* Replace with a regex: each match (onig's find_iter) becomes content, literally. */
static int replace_regex(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp, bool *lead) {
    embp_spanbuf hits = {0};
    if (b->n > UINT32_MAX || embp_regex_find_all(n->re, b->p, 0, (uint32_t)b->n, &hits) != 0) {
        embp_spanbuf_free(&hits);
        return -1;
    }
    tmp->n = 0;
    size_t prev = 0;
    int rc = embp_cpbuf_reserve(tmp, b->n);
    if (hits.n && hits.p[0].start == 0 && hits.p[0].end > 0 && n->n_content == 0) *lead = false;
    for (size_t k = 0; k < hits.n && rc == 0; k++) {
        for (size_t i = prev; i < hits.p[k].start && rc == 0; i++)
            rc = embp_cpbuf_push(tmp, b->p[i]);
        if (rc == 0) rc = push_content(n, tmp);
        prev = hits.p[k].end;
    }
    for (size_t i = prev; i < b->n && rc == 0; i++)
        rc = embp_cpbuf_push(tmp, b->p[i]);
    embp_spanbuf_free(&hits);
    if (rc == 0) swap_bufs(b, tmp);
    return rc;
}

/* Replace: every non-overlapping occurrence of pattern, left to right, becomes content. */
static int replace(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp, bool *lead) {
    if (n->re) return replace_regex(n, b, tmp, lead);
    tmp->n = 0;
    size_t m = n->n_pattern;
    for (size_t i = 0; i < b->n;) {
        if (m > 0 && b->n - i >= m && memcmp(b->p + i, n->pattern, m * sizeof *b->p) == 0) {
            if (i == 0 && n->n_content == 0) *lead = false;
            if (push_content(n, tmp) != 0) return -1;
            i += m;
        } else if (embp_cpbuf_push(tmp, b->p[i++]) != 0) {
            return -1;
        }
    }
    swap_bufs(b, tmp);
    return 0;
}

static int apply_bert(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp, bool *lead) {
    if (n->clean_text) clean_text(b, lead);
    if (n->handle_chinese && space_chinese(b, tmp) != 0) return -1;
    if (n->strip_accents) {
        if (normal_form(b, tmp, false, false) != 0) return -1;
        drop_nonspacing_marks(b, lead);
    }
    return n->lowercase ? lowercase(b, tmp) : 0;
}

int embp_normalizer_apply(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp, bool *lead) {
    bool unused = true;
    if (!lead) lead = &unused;
    switch (n->kind) {
    case EMBP_NORM_BERT:
        return apply_bert(n, buf, tmp, lead);
    case EMBP_NORM_LOWERCASE:
        return lowercase(buf, tmp);
    case EMBP_NORM_NFD:
        return normal_form(buf, tmp, false, false);
    case EMBP_NORM_NFKD:
        return normal_form(buf, tmp, true, false);
    case EMBP_NORM_NFC:
        return normal_form(buf, tmp, false, true);
    case EMBP_NORM_NFKC:
        return normal_form(buf, tmp, true, true);
    case EMBP_NORM_STRIP_ACCENTS: /* HF filters Mn only; no NFD first. */
        drop_nonspacing_marks(buf, lead);
        return 0;
    case EMBP_NORM_STRIP:
        strip(buf, n->left, n->right, lead);
        return 0;
    case EMBP_NORM_REPLACE:
        return replace(n, buf, tmp, lead);
    case EMBP_NORM_PREPEND: /* HF: only a non-empty text gets it */
        if (buf->n == 0) return 0;
        tmp->n = 0;
        if (push_content(n, tmp) != 0 || embp_cpbuf_reserve(tmp, buf->n) != 0) return -1;
        memcpy(tmp->p + tmp->n, buf->p, buf->n * sizeof *buf->p);
        tmp->n += buf->n;
        swap_bufs(buf, tmp);
        return 0;
    case EMBP_NORM_PRECOMPILED:
        if (embp_precompiled_apply(&n->pc, buf, tmp) != 0) return -1;
        swap_bufs(buf, tmp);
        return 0;
    case EMBP_NORM_BYTELEVEL:
        tmp->n = 0;
        if (embp_bytelevel_map(buf->p, buf->n, tmp) != 0) return -1;
        swap_bufs(buf, tmp);
        return 0;
    case EMBP_NORM_SEQUENCE:
        for (size_t i = 0; i < n->n_items; i++)
            if (embp_normalizer_apply(&n->items[i], buf, tmp, lead) != 0) return -1;
        return 0;
    }
    return 0;
}
