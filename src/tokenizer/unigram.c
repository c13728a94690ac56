/* tokenizer.json "model" of type Unigram (SentencePiece's unigram language model, as XLM-R,
 * T5 and the e5 family ship it): the best segmentation of a word by Viterbi over the pieces'
 * log-probabilities, as HF's Unigram::encode_optimized does, down to its tie-breaking (the
 * first best path found wins), its unknown-char penalty (min score - 10), fused unknowns and
 * byte fallback. Pieces at a position are found by hashing each longer prefix (vocab.c)
 * instead of HF's trie: the same matches in the same (shortest first) order; a set of every
 * token's prefix hashes ends the scan where no token goes on, as the trie would. */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define UNK_PENALTY 10.0

static bool prefix_has(const embp_unigram *ug, uint32_t h) {
    h |= 1;
    for (uint32_t i = (h * 0x9E3779B1u) >> 8 & ug->prefix_mask;; i = (i + 1) & ug->prefix_mask) {
        if (ug->prefixes[i] == 0) return false;
        if (ug->prefixes[i] == h) return true;
    }
}

/* The prefix set: every token's prefixes that end on a char boundary. */
static int build_prefixes(embp_unigram *ug) {
    size_t total = 0;
    for (int32_t id = 0; id < ug->vocab.n_ids; id++)
        total += ug->vocab.lens[id];
    uint32_t n_slots = 16;
    while (n_slots < 2 * total + 16 && n_slots < (1u << 30))
        n_slots *= 2;
    ug->prefix_mask = n_slots - 1;
    if (!(ug->prefixes = embp_calloc(n_slots, sizeof *ug->prefixes))) return -1;
    size_t used = 0;
    for (int32_t id = 0; id < ug->vocab.n_ids; id++) {
        const char *t = ug->vocab.tokens[id];
        uint32_t h = EMBP_HASH_INIT;
        for (uint32_t k = 0; k < ug->vocab.lens[id]; k++) {
            h = embp_hash_step(h, (unsigned char)t[k]);
            if (k + 1 < ug->vocab.lens[id] && ((unsigned char)t[k + 1] & 0xC0) == 0x80) continue;
            if (prefix_has(ug, h) || used + 1 >= n_slots) continue;
            uint32_t i = ((h | 1) * 0x9E3779B1u) >> 8 & ug->prefix_mask;
            while (ug->prefixes[i] != 0)
                i = (i + 1) & ug->prefix_mask;
            ug->prefixes[i] = h | 1;
            used++;
        }
    }
    return 0;
}

embp_status embp_unigram_parse(json_t *j, const char *name, embp_unigram *ug, embp_error *err) {
    memset(ug, 0, sizeof *ug);
    json_t *vocab = json_object_get(j, "vocab"), *unk = json_object_get(j, "unk_id");
    embp_status st;
    if (!json_is_array(vocab))
        return embp_fail(err, EMBP_EFORMAT, "%s: model.vocab must be a list of [token, score]",
                         name);
    if ((st = embp_vocab_from_list(vocab, name, &ug->vocab, &ug->scores, err)) ||
        (st = embp_json_bool(j, "byte_fallback", false, &ug->byte_fallback, name, "model", err)))
        return st;
    ug->unk_id = -1;
    if (unk && !json_is_null(unk)) {
        if (!json_is_integer(unk) || json_integer_value(unk) < 0 ||
            json_integer_value(unk) >= ug->vocab.n_ids)
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: model.unk_id must be an id of model.vocab (0..%d)", name,
                             (int)ug->vocab.n_ids - 1);
        ug->unk_id = (int32_t)json_integer_value(unk);
    }
    if (build_prefixes(ug) != 0) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    ug->min_score = ug->scores[0];
    for (int32_t i = 1; i < ug->vocab.n_ids; i++)
        if (ug->scores[i] < ug->min_score) ug->min_score = ug->scores[i];
    embp_vocab_byte_ids(&ug->vocab, ug->byte_ids);
    return EMBP_OK;
}

void embp_unigram_clear(embp_unigram *ug) {
    if (!ug) return;
    embp_vocab_clear(&ug->vocab);
    embp_free(ug->scores);
    embp_free(ug->prefixes);
    memset(ug, 0, sizeof *ug);
}

static size_t char_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* One lattice node per byte offset: the best path ending there. */
typedef struct {
    double score;
    int32_t start; /* -1: no path yet */
    int32_t id;
} node;

/* Emits the piece w[s..e) (already a segmentation result): its id, else byte fallback, else
 * unk. Mirrors HF's Unigram::tokenize. */
static int push_piece(embp_idbuf *ids, embp_alignbuf *offs, int32_t id, size_t s, size_t e) {
    return embp_idbuf_push(ids, id) || (offs && embp_alignbuf_push(offs, (uint32_t)s, (uint32_t)e));
}

static int emit_piece(const embp_unigram *ug, const char *w, size_t s, size_t e, embp_idbuf *ids,
                      embp_alignbuf *offs) {
    int32_t id = embp_vocab_find(&ug->vocab, "", 0, w + s, e - s);
    /* HF: every id of the piece, byte fallback's too, spans the whole piece */
    if (id >= 0) return push_piece(ids, offs, id, s, e);
    if (ug->byte_fallback) {
        bool all = true;
        for (size_t i = s; i < e && all; i++)
            all = ug->byte_ids[(unsigned char)w[i]] >= 0;
        if (all) {
            for (size_t i = s; i < e; i++)
                if (push_piece(ids, offs, ug->byte_ids[(unsigned char)w[i]], s, e)) return -1;
            return 0;
        }
    }
    return ug->unk_id >= 0 ? push_piece(ids, offs, ug->unk_id, s, e) : 0;
}

int embp_unigram_tokenize(const embp_unigram *ug, const char *w, size_t len, embp_idbuf *ids,
                          embp_scratch *sc, embp_alignbuf *offs) {
    if (len == 0) return 0;
    if (len >= INT32_MAX || embp_scratch_reserve(sc, (len + 1) * sizeof(node) + (len + 1) * 8) != 0)
        return -1;
    node *lat = sc->p;
    for (size_t i = 0; i <= len; i++) {
        lat[i].start = -1;
        lat[i].score = 0;
        lat[i].id = -1;
    }
    double unk_score = ug->min_score - UNK_PENALTY;
    for (size_t s = 0; s < len;) {
        size_t mb = char_len((unsigned char)w[s]);
        if (s + mb > len) mb = len - s;
        double here = lat[s].score;
        bool single = false;
        size_t max_e = len - s < ug->vocab.max_len ? len : s + ug->vocab.max_len;
        uint32_t h = EMBP_HASH_INIT;
        for (size_t e = s + 1; e <= max_e; e++) {
            h = embp_hash_step(h, (unsigned char)w[e - 1]);
            if (e < len && ((unsigned char)w[e] & 0xC0) == 0x80) continue; /* mid-char */
            if (!prefix_has(ug, h)) break; /* no token goes on from here */
            int32_t id = embp_vocab_find_hashed(&ug->vocab, h, w + s, e - s);
            if (id < 0) continue;
            double cand = ug->scores[id] + here;
            if (lat[e].start < 0 || cand > lat[e].score) {
                lat[e].score = cand;
                lat[e].start = (int32_t)s;
                lat[e].id = id;
            }
            if (e - s == mb) single = true;
        }
        if (!single) {
            double cand = unk_score + here;
            if (lat[s + mb].start < 0 || cand > lat[s + mb].score) {
                lat[s + mb].score = cand;
                lat[s + mb].start = (int32_t)s;
                lat[s + mb].id = ug->unk_id;
            }
        }
        s += mb;
    }
    /* Back from the end: the pieces in reverse, runs of unknowns fused into one piece. */
    uint32_t *cuts = (uint32_t *)(lat + len + 1); /* piece boundaries, reversed */
    size_t n_cuts = 0;
    cuts[n_cuts++] = (uint32_t)len;
    for (size_t e = len; e > 0;) {
        size_t s = (size_t)lat[e].start;
        bool unk = ug->unk_id >= 0 && lat[e].id == ug->unk_id;
        bool prev_unk = s > 0 && ug->unk_id >= 0 && lat[s].id == ug->unk_id;
        if (!(unk && prev_unk)) cuts[n_cuts++] = (uint32_t)s;
        e = s;
    }
    for (size_t k = n_cuts - 1; k > 0; k--)
        if (emit_piece(ug, w, cuts[k], cuts[k - 1], ids, offs) != 0) return -1;
    return 0;
}
