/* tokenizer.json "added_tokens" ([CLS], [SEP], [MASK] ...): found in the text before the
 * model sees it, as HF's AddedVocabulary does. Tokens with "normalized": false match the raw
 * text; the others match the normalized text in their normalized form. */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

static embp_status parse_one(json_t *t, size_t i, const char *name, embp_added_token *a,
                             embp_error *err) {
    json_t *id = json_object_get(t, "id");
    const char *content = json_string_value(json_object_get(t, "content"));
    char where[48];
    snprintf(where, sizeof where, "added_tokens[%zu]", i);
    if (!json_is_object(t) || !content || !json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) >= INT32_MAX)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: %s must have a string \"content\" and a non-negative integer \"id\"",
                         name, where);
    embp_status st;
    if ((st = embp_json_bool(t, "single_word", false, &a->single_word, name, where, err)) ||
        (st = embp_json_bool(t, "lstrip", false, &a->lstrip, name, where, err)) ||
        (st = embp_json_bool(t, "rstrip", false, &a->rstrip, name, where, err)) ||
        (st = embp_json_bool(t, "special", false, &a->special, name, where, err)) ||
        (st = embp_json_bool(t, "normalized", !a->special, &a->normalized, name, where, err)))
        return st;
    a->id = -1;
    a->content = embp_strdup(content);
    if (!a->content || embp_cps_from_utf8(content, &a->cps, &a->n_cps) != 0)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    return EMBP_OK;
}

/* The normalized form of a "normalized": true token, which is what the normalized text holds. */
static int normalize_content(embp_added_token *a, const embp_normalizer *norm) {
    embp_cpbuf buf = {a->cps, a->n_cps, a->n_cps}, tmp = {0};
    int rc = embp_normalizer_apply(norm, &buf, &tmp, NULL);
    embp_cpbuf_free(&tmp);
    a->cps = buf.p;
    a->n_cps = buf.n;
    return rc;
}

embp_status embp_added_parse(json_t *j, const char *name, const embp_normalizer *norm,
                             embp_added_tokens *a, embp_error *err) {
    memset(a, 0, sizeof *a);
    if (!j || json_is_null(j)) return EMBP_OK;
    if (!json_is_array(j))
        return embp_fail(err, EMBP_EFORMAT, "%s: added_tokens must be an array", name);
    size_t count = json_array_size(j);
    a->tokens = embp_calloc(count ? count : 1, sizeof *a->tokens);
    if (!a->tokens) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < count; i++) {
        a->n = i + 1;
        embp_added_token *t = &a->tokens[i];
        embp_status st = parse_one(json_array_get(j, i), i, name, t, err);
        if (st) return st;
        if (t->normalized && norm && normalize_content(t, norm) != 0)
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    }
    return EMBP_OK;
}

void embp_added_clear(embp_added_tokens *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        embp_free(a->tokens[i].content);
        embp_free(a->tokens[i].cps);
    }
    embp_free(a->tokens);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- ids */

int32_t embp_added_assign_ids(embp_added_tokens *a, const embp_vocab *v) {
    int32_t next = v->n_tokens, end = v->n_ids;
    for (size_t i = 0; i < a->n; i++) {
        embp_added_token *t = &a->tokens[i];
        if (t->content[0] == '\0') continue; /* HF ignores empty tokens */
        int32_t id = -1;
        for (size_t k = 0; k < i && id < 0; k++)
            if (a->tokens[k].id >= 0 && strcmp(a->tokens[k].content, t->content) == 0)
                id = a->tokens[k].id;
        if (id < 0) id = embp_vocab_find(v, "", 0, t->content, strlen(t->content));
        if (id < 0) id = next++;
        for (size_t k = 0; k < i; k++) /* one token per id: the later one wins */
            if (a->tokens[k].id == id) a->tokens[k].id = -1;
        t->id = id;
        if (id >= end) end = id + 1;
    }
    return end;
}

/* ---------------------------------------------------------------- matching */

/* The longest token of the set matching at cp[i..to), or NULL. An empty content never
 * matches (HF's trie ignores it). */
static const embp_added_token *match_at(const embp_added_tokens *a, bool normalized,
                                        const uint32_t *cp, uint32_t i, uint32_t to) {
    const embp_added_token *best = NULL;
    for (size_t k = 0; k < a->n; k++) {
        const embp_added_token *t = &a->tokens[k];
        if (t->normalized != normalized || t->id < 0 || t->n_cps == 0 || t->n_cps > to - i ||
            t->cps[0] != cp[i] || (best && best->n_cps >= t->n_cps))
            continue;
        if (memcmp(t->cps, cp + i, t->n_cps * sizeof *cp) == 0) best = t;
    }
    return best;
}

/* single_word: the match must not touch a word char (regex \w) on either side. */
static bool is_single_word(const uint32_t *cp, uint32_t from, uint32_t to, uint32_t s, uint32_t e) {
    return (s == from || !embp_uc_is_word(cp[s - 1])) && (e == to || !embp_uc_is_word(cp[e]));
}

int embp_added_split(const embp_added_tokens *a, bool normalized, const uint32_t *cp, uint32_t from,
                     uint32_t to, embp_spanbuf *out, embp_idbuf *piece_ids) {
    uint32_t done = from; /* HF's start_offset: the end of the last piece written */
    uint32_t i = from;
    while (i < to) {
        const embp_added_token *t = a->n ? match_at(a, normalized, cp, i, to) : NULL;
        if (!t) {
            i++;
            continue;
        }
        uint32_t s = i, e = i + (uint32_t)t->n_cps;
        i = e; /* the search resumes after this match, kept or not */
        if (t->single_word && !is_single_word(cp, from, to, s, e)) continue;
        if (t->lstrip)
            while (s > done && embp_uc_is_whitespace(cp[s - 1]))
                s--;
        if (t->rstrip)
            while (e < to && embp_uc_is_whitespace(cp[e]))
                e++;
        if (done < s && (embp_spanbuf_push(out, done, s) || embp_idbuf_push(piece_ids, -1)))
            return -1;
        if (embp_spanbuf_push(out, s, e) || embp_idbuf_push(piece_ids, t->id)) return -1;
        done = i = e;
    }
    if (done < to && (embp_spanbuf_push(out, done, to) || embp_idbuf_push(piece_ids, -1)))
        return -1;
    return 0;
}
