/* tokenizer.json "normalizer": BertNormalizer (what BERT models use) plus the simple
 * normalizers (Lowercase, NFC/NFD/NFKC/NFKD, Strip, StripAccents, Replace, Sequence).
 * Each works on code points, as HF's NormalizedString does per char. */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define NORM_SUPPORTED                                                                             \
    "BertNormalizer, Lowercase, NFC, NFD, NFKC, NFKD, Strip, StripAccents, Replace, Sequence"

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
    json_t *pat = json_object_get(j, "pattern");
    json_t *s = json_is_object(pat) ? json_object_get(pat, "String") : NULL;
    const char *content = NULL;
    if (json_is_object(pat) && json_object_get(pat, "Regex"))
        return embp_fail(err, EMBP_EUNSUPPORTED,
                         "%s: normalizer Replace with a Regex pattern is not supported "
                         "(supported: String patterns)",
                         name);
    if (!json_is_string(s) || json_string_length(s) == 0)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: normalizer Replace: \"pattern\" must be {\"String\": non-empty}",
                         name);
    embp_status st = embp_json_str(j, "content", NULL, &content, name, "normalizer Replace", err);
    if (st) return st;
    if (!content)
        return embp_fail(err, EMBP_EFORMAT, "%s: normalizer Replace: \"content\" missing", name);
    if (embp_cps_from_utf8(json_string_value(s), &n->pattern, &n->n_pattern) ||
        embp_cps_from_utf8(content, &n->content, &n->n_content))
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
                  {"NFKC", EMBP_NORM_NFKC},           {"StripAccents", EMBP_NORM_STRIP_ACCENTS}};
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
static void clean_text(embp_cpbuf *b) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->p[i];
        bool keep_ctl = c == '\t' || c == '\n' || c == '\r';
        if (c == 0 || c == 0xFFFD || (!keep_ctl && embp_uc_is_other(c))) continue;
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

static void drop_nonspacing_marks(embp_cpbuf *b) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!embp_uc_is_mark_nonspacing(b->p[i])) b->p[k++] = b->p[i];
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
static void strip(embp_cpbuf *b, bool left, bool right) {
    size_t lo = 0, hi = b->n;
    while (left && lo < hi && embp_uc_is_whitespace(b->p[lo]))
        lo++;
    while (right && hi > lo && embp_uc_is_whitespace(b->p[hi - 1]))
        hi--;
    if (lo > 0) memmove(b->p, b->p + lo, (hi - lo) * sizeof *b->p);
    b->n = hi - lo;
}

/* Replace: every non-overlapping occurrence of pattern, left to right, becomes content. */
static int replace(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp) {
    tmp->n = 0;
    size_t m = n->n_pattern;
    for (size_t i = 0; i < b->n;) {
        if (b->n - i >= m && memcmp(b->p + i, n->pattern, m * sizeof *b->p) == 0) {
            if (embp_cpbuf_reserve(tmp, n->n_content + 1) != 0) return -1;
            if (n->n_content) memcpy(tmp->p + tmp->n, n->content, n->n_content * sizeof *b->p);
            tmp->n += n->n_content;
            i += m;
        } else if (embp_cpbuf_push(tmp, b->p[i++]) != 0) {
            return -1;
        }
    }
    swap_bufs(b, tmp);
    return 0;
}

static int apply_bert(const embp_normalizer *n, embp_cpbuf *b, embp_cpbuf *tmp) {
    if (n->clean_text) clean_text(b);
    if (n->handle_chinese && space_chinese(b, tmp) != 0) return -1;
    if (n->strip_accents) {
        if (normal_form(b, tmp, false, false) != 0) return -1;
        drop_nonspacing_marks(b);
    }
    return n->lowercase ? lowercase(b, tmp) : 0;
}

int embp_normalizer_apply(const embp_normalizer *n, embp_cpbuf *buf, embp_cpbuf *tmp) {
    switch (n->kind) {
    case EMBP_NORM_BERT:
        return apply_bert(n, buf, tmp);
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
        drop_nonspacing_marks(buf);
        return 0;
    case EMBP_NORM_STRIP:
        strip(buf, n->left, n->right);
        return 0;
    case EMBP_NORM_REPLACE:
        return replace(n, buf, tmp);
    case EMBP_NORM_SEQUENCE:
        for (size_t i = 0; i < n->n_items; i++)
            if (embp_normalizer_apply(&n->items[i], buf, tmp) != 0) return -1;
        return 0;
    }
    return 0;
}
