/* tokenizer.json "pre_tokenizer": BertPreTokenizer (whitespace, then each punctuation char
 * alone), Whitespace (\w+|[^\w\s]+), WhitespaceSplit, Punctuation, Sequence. Each turns pieces
 * (code-point spans of the normalized text) into smaller, non-empty pieces. */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define PRE_SUPPORTED "BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Sequence"

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
    b->n++;
    return 0;
}

void embp_spanbuf_free(embp_spanbuf *b) {
    embp_free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- parsing */

static embp_status parse_behavior(json_t *j, const char *name, embp_split_behavior *out,
                                  embp_error *err) {
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
    return embp_fail(err, EMBP_EFORMAT, "%s: pre_tokenizer Punctuation: unknown behavior '%.64s'",
                     name, b);
}

embp_status embp_pretokenizer_parse(json_t *j, const char *name, embp_pretokenizer *p,
                                    embp_error *err) {
    memset(p, 0, sizeof *p);
    const char *type = json_string_value(json_object_get(j, "type"));
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
        return parse_behavior(j, name, &p->behavior, err);
    } else if (strcmp(type, "Sequence") == 0) {
        json_t *arr = json_object_get(j, "pretokenizers");
        p->kind = EMBP_PRE_SEQUENCE;
        if (!json_is_array(arr))
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: pre_tokenizer Sequence: \"pretokenizers\" must be an array",
                             name);
        size_t count = json_array_size(arr);
        p->items = embp_calloc(count ? count : 1, sizeof *p->items);
        if (!p->items) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        for (size_t i = 0; i < count; i++) {
            p->n_items = i + 1;
            embp_status st =
                embp_pretokenizer_parse(json_array_get(arr, i), name, &p->items[i], err);
            if (st) return st;
        }
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

/* HF's split on a char predicate: every matching char is a delimiter of its own, kept or
 * merged per behavior (MergedWithPrevious: "a." "b"; MergedWithNext: "a" ".b"). */
static int split_pred(const uint32_t *cp, uint32_t s, uint32_t e, bool (*pred)(uint32_t),
                      embp_split_behavior how, embp_spanbuf *out) {
    uint32_t run = s;
    for (uint32_t i = s; i < e; i++) {
        if (!pred(cp[i])) continue;
        int rc = 0;
        switch (how) {
        case EMBP_SPLIT_REMOVED:
            rc = emit(out, run, i);
            break;
        case EMBP_SPLIT_ISOLATED:
            rc = emit(out, run, i) || emit(out, i, i + 1);
            break;
        case EMBP_SPLIT_CONTIGUOUS: {
            uint32_t j = i;
            while (j < e && pred(cp[j]))
                j++;
            rc = emit(out, run, i) || emit(out, i, j);
            i = j - 1;
            break;
        }
        case EMBP_SPLIT_MERGED_WITH_PREVIOUS:
            rc = run < i ? emit(out, run, i + 1) : emit(out, i, i + 1);
            break;
        case EMBP_SPLIT_MERGED_WITH_NEXT:
            rc = emit(out, run, i);
            if (i + 1 < e && !pred(cp[i + 1])) {
                run = i; /* the delimiter opens the next piece */
                continue;
            }
            rc = rc || emit(out, i, i + 1);
            break;
        }
        if (rc) return -1;
        run = i + 1;
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

static int split_piece(const embp_pretokenizer *p, const uint32_t *cp, uint32_t s, uint32_t e,
                       embp_spanbuf *out) {
    switch (p->kind) {
    case EMBP_PRE_BERT:
        return split_bert(cp, s, e, out);
    case EMBP_PRE_WHITESPACE:
        return split_whitespace_regex(cp, s, e, out);
    case EMBP_PRE_WHITESPACE_SPLIT:
        return split_pred(cp, s, e, embp_uc_is_whitespace, EMBP_SPLIT_REMOVED, out);
    case EMBP_PRE_PUNCTUATION:
        return split_pred(cp, s, e, embp_uc_is_bert_punc, p->behavior, out);
    case EMBP_PRE_SEQUENCE:
        break;
    }
    return 0;
}

int embp_pretokenizer_apply(const embp_pretokenizer *p, const uint32_t *cp, embp_spanbuf *words,
                            embp_spanbuf *tmp) {
    if (p->kind == EMBP_PRE_SEQUENCE) {
        for (size_t i = 0; i < p->n_items; i++)
            if (embp_pretokenizer_apply(&p->items[i], cp, words, tmp) != 0) return -1;
        return 0;
    }
    tmp->n = 0;
    for (size_t i = 0; i < words->n; i++)
        if (split_piece(p, cp, words->p[i].start, words->p[i].end, tmp) != 0) return -1;
    embp_spanbuf t = *words;
    *words = *tmp;
    *tmp = t;
    return 0;
}
