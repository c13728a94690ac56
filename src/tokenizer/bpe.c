/* tokenizer.json "model" of type BPE (GPT-2, RoBERTa, Qwen2 and friends): a word becomes its
 * characters (with continuing_subword_prefix / end_of_word_suffix, unknowns fused or not, byte
 * fallback), then pairs merge lowest rank first, leftmost among equals, through a binary heap
 * with stale entries skipped: HF's Word::merge_all step for step, so ties break the same way.
 * Merges come as "a b" strings (older files) or ["a", "b"] lists (newer ones). */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

static uint32_t mix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k;
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

/* The merge of pair (a, b), or NULL. */
static const embp_merge_slot *merge_find(const embp_bpe *m, int32_t a, int32_t b) {
    if (!m->merges) return NULL;
    uint64_t k = pair_key(a, b);
    for (uint32_t i = mix64(k) & m->merge_mask;; i = (i + 1) & m->merge_mask) {
        const embp_merge_slot *s = &m->merges[i];
        if (s->new_id < 0) return NULL;
        if (s->key == k) return s;
    }
}

/* Splits merges[i] into its two halves; 0, or -1 when it is neither form. */
static int merge_halves(json_t *e, const char **a, size_t *na, const char **b, size_t *nb) {
    if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
        json_is_string(json_array_get(e, 1))) {
        *a = json_string_value(json_array_get(e, 0));
        *na = json_string_length(json_array_get(e, 0));
        *b = json_string_value(json_array_get(e, 1));
        *nb = json_string_length(json_array_get(e, 1));
        return 0;
    }
    if (!json_is_string(e)) return -1;
    const char *s = json_string_value(e), *sp = strchr(s, ' ');
    if (!sp || strchr(sp + 1, ' ')) return -1; /* HF: exactly two parts */
    *a = s;
    *na = (size_t)(sp - s);
    *b = sp + 1;
    *nb = strlen(sp + 1);
    return 0;
}

static embp_status merges_build(json_t *arr, const char *name, embp_bpe *m, embp_error *err) {
    size_t count = json_array_size(arr);
    uint32_t n_slots = 16;
    while (n_slots < 2 * count)
        n_slots *= 2;
    m->merge_mask = n_slots - 1;
    m->merges = embp_malloc(n_slots * sizeof *m->merges);
    char *buf = embp_malloc(2 * m->vocab.max_len + 2);
    if (!m->merges || !buf) {
        embp_free(buf);
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory for %zu merges", name, count);
    }
    memset(m->merges, 0xFF, n_slots * sizeof *m->merges);
    embp_status st = EMBP_OK;
    for (size_t i = 0; i < count && !st; i++) {
        const char *a, *b;
        size_t na, nb;
        if (merge_halves(json_array_get(arr, i), &a, &na, &b, &nb) != 0) {
            st = embp_fail(err, EMBP_EFORMAT,
                           "%s: model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", name, i);
            break;
        }
        int32_t ia = embp_vocab_find(&m->vocab, "", 0, a, na);
        int32_t ib = embp_vocab_find(&m->vocab, "", 0, b, nb);
        /* HF: the merged token is a + b without b's first prefix_len bytes */
        size_t skip = m->n_prefix < nb ? m->n_prefix : nb;
        int32_t inew = -1;
        if (ia >= 0 && ib >= 0 && na + nb - skip <= 2 * m->vocab.max_len) {
            memcpy(buf, a, na);
            memcpy(buf + na, b + skip, nb - skip);
            inew = embp_vocab_find(&m->vocab, "", 0, buf, na + nb - skip);
        }
        if (inew < 0) {
            st = embp_fail(err, EMBP_EFORMAT,
                           "%s: model.merges[%zu] (\"%.*s\" + \"%.*s\"): a part or the merged "
                           "token is not in model.vocab",
                           name, i, (int)(na < 32 ? na : 32), a, (int)(nb < 32 ? nb : 32), b);
            break;
        }
        uint64_t k = pair_key(ia, ib);
        uint32_t at = mix64(k) & m->merge_mask;
        while (m->merges[at].new_id >= 0 && m->merges[at].key != k)
            at = (at + 1) & m->merge_mask;
        m->merges[at].key = k; /* a pair listed twice: the later entry wins, as in HF's map */
        m->merges[at].rank = (uint32_t)i;
        m->merges[at].new_id = inew;
    }
    embp_free(buf);
    return st;
}

static embp_status dup_str(json_t *j, const char *key, const char *name, char **out, size_t *n,
                           embp_error *err) {
    const char *s = NULL;
    embp_status st = embp_json_str(j, key, NULL, &s, name, "model", err);
    if (st || !s) return st;
    *n = strlen(s);
    if (!(*out = embp_strdup(s))) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    return EMBP_OK;
}

embp_status embp_bpe_parse(json_t *j, const char *name, embp_bpe *m, embp_error *err) {
    memset(m, 0, sizeof *m);
    json_t *vocab = json_object_get(j, "vocab"), *merges = json_object_get(j, "merges");
    const char *unk = NULL;
    embp_status st;
    json_t *drop = json_object_get(j, "dropout");
    if (!json_is_object(vocab))
        return embp_fail(err, EMBP_EFORMAT, "%s: model.vocab missing or not an object", name);
    if (merges && !json_is_null(merges) && !json_is_array(merges))
        return embp_fail(err, EMBP_EFORMAT, "%s: model.merges must be a list", name);
    if (json_is_number(drop) && json_number_value(drop) > 0)
        return embp_fail(err, EMBP_EUNSUPPORTED,
                         "%s: model.dropout %g is not supported (random merges; use null)", name,
                         json_number_value(drop));
    if ((st = embp_vocab_from_object(vocab, name, &m->vocab, err)) ||
        (st = embp_json_str(j, "unk_token", NULL, &unk, name, "model", err)) ||
        (st = dup_str(j, "continuing_subword_prefix", name, &m->prefix, &m->n_prefix, err)) ||
        (st = dup_str(j, "end_of_word_suffix", name, &m->suffix, &m->n_suffix, err)) ||
        (st = embp_json_bool(j, "fuse_unk", false, &m->fuse_unk, name, "model", err)) ||
        (st = embp_json_bool(j, "byte_fallback", false, &m->byte_fallback, name, "model", err)) ||
        (st = embp_json_bool(j, "ignore_merges", false, &m->ignore_merges, name, "model", err)))
        return st;
    m->unk_id = -1;
    if (unk && (m->unk_id = embp_vocab_find(&m->vocab, "", 0, unk, strlen(unk))) < 0)
        return embp_fail(err, EMBP_EFORMAT, "%s: model.unk_token \"%.64s\" is not in model.vocab",
                         name, unk);
    embp_vocab_byte_ids(&m->vocab, m->byte_ids);
    return merges_build(merges, name, m, err);
}

void embp_bpe_clear(embp_bpe *m) {
    if (!m) return;
    embp_vocab_clear(&m->vocab);
    embp_free(m->merges);
    embp_free(m->prefix);
    embp_free(m->suffix);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- merging */

typedef struct {
    int32_t id, prev, next; /* prev/next: neighbour symbols, -1 at the ends */
    uint32_t len;           /* bytes of the word it stands for, as HF's Word counts them */
    bool gone;
} symbol;

typedef struct {
    uint32_t rank, pos;
    int32_t new_id;
} cand;

static bool before(const cand *x, const cand *y) { /* x pops before y */
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(cand *h, size_t *n, cand c) {
    size_t i = (*n)++;
    while (i > 0 && before(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && before(&h[c + 1], &h[c])) c++;
        if (!before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

/* The word's initial symbols, as HF's BPE::merge_word builds them, each with HF's byte length
 * (a char's bytes without prefix or suffix; 1 per byte-fallback id, prefix and suffix bytes
 * included; an unknown run's bytes), from which its offsets follow. */
static int initial_symbols(const embp_bpe *m, const char *w, size_t len, symbol *sy, size_t *n_sy,
                           char *tmp) {
    size_t n = 0;
    int32_t unk = -1; /* pending unknown (fused or not) */
    uint32_t unk_len = 0;
    for (size_t i = 0; i < len;) {
        size_t cl = 1;
        while (i + cl < len && ((unsigned char)w[i + cl] & 0xC0) == 0x80)
            cl++;
        size_t k = 0;
        if (i > 0 && m->prefix) {
            memcpy(tmp, m->prefix, m->n_prefix);
            k = m->n_prefix;
        }
        memcpy(tmp + k, w + i, cl);
        k += cl;
        if (i + cl == len && m->suffix) {
            memcpy(tmp + k, m->suffix, m->n_suffix);
            k += m->n_suffix;
        }
        i += cl;
        int32_t id = embp_vocab_find(&m->vocab, "", 0, tmp, k);
        if (id >= 0) {
            if (unk >= 0) sy[n].len = unk_len, sy[n++].id = unk;
            unk = -1;
            sy[n].len = (uint32_t)cl, sy[n++].id = id;
            continue;
        }
        if (m->byte_fallback) {
            bool all = true;
            for (size_t b = 0; b < k && all; b++)
                all = m->byte_ids[(unsigned char)tmp[b]] >= 0;
            if (all) { /* HF leaves a pending unknown pending here */
                for (size_t b = 0; b < k; b++)
                    sy[n].len = 1, sy[n++].id = m->byte_ids[(unsigned char)tmp[b]];
                continue;
            }
        }
        if (m->unk_id < 0) continue; /* no unk token: the char is dropped */
        if (unk >= 0 && m->fuse_unk) {
            unk_len += (uint32_t)cl;
            continue;
        }
        if (unk >= 0) sy[n].len = unk_len, sy[n++].id = unk;
        unk = m->unk_id;
        unk_len = (uint32_t)cl;
    }
    if (unk >= 0) sy[n].len = unk_len, sy[n++].id = unk;
    for (size_t i = 0; i < n; i++) {
        sy[i].prev = (int32_t)i - 1;
        sy[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
        sy[i].gone = false;
    }
    *n_sy = n;
    return 0;
}

int embp_bpe_tokenize(const embp_bpe *m, const char *w, size_t len, embp_idbuf *ids,
                      embp_scratch *sc, embp_alignbuf *offs) {
    if (len == 0) return 0;
    if (m->ignore_merges) {
        int32_t id = embp_vocab_find(&m->vocab, "", 0, w, len);
        if (id >= 0)
            return embp_idbuf_push(ids, id) || (offs && embp_alignbuf_push(offs, 0, (uint32_t)len));
    }
    /* A char gives one symbol, or under byte fallback one per byte of prefix + char + suffix:
     * at most len + (prefix + suffix) per char symbols; a merge pushes at most two entries. */
    size_t per = m->n_prefix + 1 + m->n_suffix;
    size_t max_sy = len * per + 1;
    size_t need = max_sy * sizeof(symbol) + 3 * max_sy * sizeof(cand) + per + 8;
    if (len > (SIZE_MAX / 64) / (per + 4) || embp_scratch_reserve(sc, need) != 0) return -1;
    symbol *sy = sc->p;
    cand *heap = (cand *)(sy + max_sy);
    char *tmp = (char *)(heap + 3 * max_sy);
    size_t n_sy = 0, n_heap = 0;
    initial_symbols(m, w, len, sy, &n_sy, tmp);
    for (size_t i = 0; i + 1 < n_sy; i++) {
        const embp_merge_slot *g = merge_find(m, sy[i].id, sy[i + 1].id);
        if (g) heap_push(heap, &n_heap, (cand){g->rank, (uint32_t)i, g->new_id});
    }
    while (n_heap > 0) {
        cand top = heap_pop(heap, &n_heap);
        symbol *cur = &sy[top.pos];
        if (cur->gone || cur->next < 0) continue;
        symbol *right = &sy[cur->next];
        const embp_merge_slot *g = merge_find(m, cur->id, right->id);
        if (!g || g->new_id != top.new_id) continue; /* a stale entry */
        cur->id = top.new_id;
        cur->len += right->len;
        right->gone = true;
        cur->next = right->next;
        if (right->next >= 0) sy[right->next].prev = (int32_t)top.pos;
        if (cur->prev >= 0 && (g = merge_find(m, sy[cur->prev].id, cur->id)))
            heap_push(heap, &n_heap, (cand){g->rank, (uint32_t)cur->prev, g->new_id});
        if (cur->next >= 0 && (g = merge_find(m, cur->id, sy[cur->next].id)))
            heap_push(heap, &n_heap, (cand){g->rank, top.pos, g->new_id});
    }
    uint32_t pos = 0;
    for (size_t i = 0; i < n_sy; i++) {
        if (sy[i].gone) continue;
        if (embp_idbuf_push(ids, sy[i].id) != 0 ||
            (offs && embp_alignbuf_push(offs, pos, pos + sy[i].len) != 0))
            return -1;
        pos += sy[i].len;
    }
    return 0;
}
