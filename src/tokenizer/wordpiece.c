/* tokenizer.json "model" of type WordPiece: greedy longest-match-first splitting of a word
 * into "word" "##piece" ... as HF does (the vocabulary is vocab.c's). */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

static embp_status parse_limits(json_t *j, const char *name, embp_wordpiece *wp, embp_error *err) {
    json_t *m = json_object_get(j, "max_input_chars_per_word");
    if (!m || json_is_null(m)) {
        wp->max_chars = 100;
        return EMBP_OK;
    }
    if (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) > INT32_MAX)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: model.max_input_chars_per_word must be a non-negative integer", name);
    wp->max_chars = (int)json_integer_value(m);
    return EMBP_OK;
}

embp_status embp_wordpiece_parse(json_t *j, const char *name, embp_wordpiece *wp, embp_error *err) {
    const char *unk = NULL, *prefix = NULL;
    json_t *vocab = json_object_get(j, "vocab");
    embp_status st;
    memset(wp, 0, sizeof *wp);
    if (!json_is_object(vocab))
        return embp_fail(err, EMBP_EFORMAT, "%s: model.vocab missing or not an object", name);
    if ((st = embp_json_str(j, "unk_token", "[UNK]", &unk, name, "model", err)) ||
        (st = embp_json_str(j, "continuing_subword_prefix", "##", &prefix, name, "model", err)) ||
        (st = parse_limits(j, name, wp, err)) ||
        (st = embp_vocab_from_object(vocab, name, &wp->vocab, err)))
        return st;
    wp->n_prefix = strlen(prefix);
    wp->prefix = embp_strdup(prefix);
    if (!wp->prefix) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    wp->unk_id = embp_vocab_find(&wp->vocab, "", 0, unk, strlen(unk));
    if (wp->unk_id < 0)
        return embp_fail(err, EMBP_EFORMAT, "%s: model.unk_token \"%.64s\" is not in model.vocab",
                         name, unk);
    return EMBP_OK;
}

void embp_wordpiece_clear(embp_wordpiece *wp) {
    if (!wp) return;
    embp_vocab_clear(&wp->vocab);
    embp_free(wp->prefix);
    memset(wp, 0, sizeof *wp);
}

/* ---------------------------------------------------------------- tokenizing */

/* The longest vocab entry (with the prefix when start > 0) at w[start..], as its end, with
 * its id in *id; start when none. Ends are tried longest first, one char shorter each time. */
static size_t longest_piece(const embp_wordpiece *wp, const char *w, size_t start, size_t len,
                            int32_t *id) {
    size_t n_pre = start > 0 ? wp->n_prefix : 0;
    size_t end = len;
    if (end - start + n_pre > wp->vocab.max_len) { /* nothing longer can match: skip ahead */
        end = start + (wp->vocab.max_len > n_pre ? wp->vocab.max_len - n_pre : 0);
        while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80)
            end--;
    }
    while (end > start) {
        *id = embp_vocab_find(&wp->vocab, wp->prefix, n_pre, w + start, end - start);
        if (*id >= 0) return end;
        do
            end--;
        while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
    }
    return start;
}

int embp_wordpiece_tokenize(const embp_wordpiece *wp, const char *w, size_t len, size_t n_chars,
                            embp_idbuf *ids, embp_alignbuf *offs) {
    size_t first = ids->n, first_off = offs ? offs->n : 0;
    if (n_chars > (size_t)wp->max_chars) goto unknown;
    for (size_t start = 0; start < len;) {
        int32_t id = -1;
        size_t end = longest_piece(wp, w, start, len, &id);
        if (end == start) /* a piece matches nothing: the whole word is unknown */
            goto unknown;
        if (embp_idbuf_push(ids, id) != 0 ||
            (offs && embp_alignbuf_push(offs, (uint32_t)start, (uint32_t)end) != 0))
            return -1;
        start = end;
    }
    return 0;
unknown: /* HF: one [UNK] over the whole word */
    ids->n = first;
    if (offs) offs->n = first_off;
    return embp_idbuf_push(ids, wp->unk_id) ||
           (offs && embp_alignbuf_push(offs, 0, (uint32_t)len));
}
