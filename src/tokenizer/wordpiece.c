/* tokenizer.json "model" of type WordPiece: the vocabulary (hash table over token bytes) and
 * greedy longest-match-first splitting of a word into "word" "##piece" ... as HF does. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

/* FNV-1a over pre then s, so "##" + piece hashes without being copied together. */
static uint32_t hash2(const char *pre, size_t n_pre, const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n_pre; i++)
        h = (h ^ (unsigned char)pre[i]) * 16777619u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int32_t embp_vocab_find(const embp_vocab *v, const char *pre, size_t n_pre, const char *s,
                        size_t n) {
    if (!v->slots || n_pre + n > v->max_len) return -1;
    uint32_t h = hash2(pre, n_pre, s, n);
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const embp_vocab_slot *slot = &v->slots[i];
        if (slot->id < 0) return -1;
        if (slot->hash != h || v->lens[slot->id] != n_pre + n) continue;
        const char *t = v->tokens[slot->id];
        if (memcmp(t, pre, n_pre) == 0 && memcmp(t + n_pre, s, n) == 0) return slot->id;
    }
}

/* ---------------------------------------------------------------- loading */

/* First pass over "vocab": checks every id, finds the largest and the bytes needed. */
static embp_status vocab_scan(json_t *vocab, const char *name, int32_t *max_id, size_t *bytes,
                              embp_error *err) {
    const char *key;
    json_t *val;
    *max_id = -1;
    *bytes = 0;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= INT32_MAX)
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: model.vocab[\"%.64s\"]: id must be an integer in [0, 2^31-1)",
                             name, key);
        int32_t id = (int32_t)json_integer_value(val);
        if (id > *max_id) *max_id = id;
        *bytes += strlen(key) + 1;
    }
    size_t count = json_object_size(vocab);
    if ((size_t)*max_id >= 2 * count + 1024)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: model.vocab: ids are too sparse (largest %" PRId32 " for %zu tokens)",
                         name, *max_id, count);
    return EMBP_OK;
}

static void vocab_insert(embp_vocab *v, int32_t id) {
    uint32_t h = hash2("", 0, v->tokens[id], v->lens[id]);
    uint32_t i = h & v->mask;
    while (v->slots[i].id >= 0)
        i = (i + 1) & v->mask;
    v->slots[i].hash = h;
    v->slots[i].id = id;
}

static embp_status vocab_build(json_t *vocab, const char *name, embp_vocab *v, embp_error *err) {
    int32_t max_id;
    size_t bytes, count = json_object_size(vocab);
    embp_status st = vocab_scan(vocab, name, &max_id, &bytes, err);
    if (st) return st;
    uint32_t n_slots = 16;
    while (n_slots < 2 * count)
        n_slots *= 2;
    v->n_ids = max_id + 1;
    v->n_tokens = (int32_t)count;
    v->mask = n_slots - 1;
    v->arena = embp_malloc(bytes + 1);
    v->tokens = embp_calloc((size_t)v->n_ids + 1, sizeof *v->tokens);
    v->lens = embp_calloc((size_t)v->n_ids + 1, sizeof *v->lens);
    v->slots = embp_malloc(n_slots * sizeof *v->slots);
    if (!v->arena || !v->tokens || !v->lens || !v->slots)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory for %zu tokens", name, count);
    memset(v->slots, 0xFF, n_slots * sizeof *v->slots); /* id -1: empty */
    const char *key;
    json_t *val;
    char *at = v->arena;
    json_object_foreach(vocab, key, val) {
        int32_t id = (int32_t)json_integer_value(val);
        size_t len = strlen(key);
        if (v->tokens[id])
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: model.vocab: id %" PRId32 " is given to both \"%.64s\" and "
                             "\"%.64s\"",
                             name, id, v->tokens[id], key);
        memcpy(at, key, len + 1);
        v->tokens[id] = at;
        v->lens[id] = (uint32_t)len;
        at += len + 1;
        if (len > v->max_len) v->max_len = len;
        vocab_insert(v, id);
    }
    return EMBP_OK;
}

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
        (st = parse_limits(j, name, wp, err)) || (st = vocab_build(vocab, name, &wp->vocab, err)))
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
    embp_free(wp->vocab.arena);
    embp_free(wp->vocab.tokens);
    embp_free(wp->vocab.lens);
    embp_free(wp->vocab.slots);
    embp_free(wp->prefix);
    memset(wp, 0, sizeof *wp);
}

/* ---------------------------------------------------------------- tokenizing */

int embp_idbuf_push(embp_idbuf *b, int32_t id) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        int32_t *p = embp_realloc(b->p, cap * sizeof *p);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = id;
    return 0;
}

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

int embp_wordpiece_tokenize(const embp_wordpiece *wp, const uint32_t *cp, size_t n, embp_idbuf *ids,
                            char **bytes, size_t *bytes_cap) {
    if (n > (size_t)wp->max_chars) return embp_idbuf_push(ids, wp->unk_id);
    if (*bytes_cap < 4 * n + 1) {
        char *b = embp_realloc(*bytes, 4 * n + 1);
        if (!b) return -1;
        *bytes = b;
        *bytes_cap = 4 * n + 1;
    }
    char *w = *bytes;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)embp_utf8_put(cp[i], w + len);
    size_t first = ids->n;
    for (size_t start = 0; start < len;) {
        int32_t id = -1;
        size_t end = longest_piece(wp, w, start, len, &id);
        if (end == start) { /* a piece matches nothing: the whole word is unknown */
            ids->n = first;
            return embp_idbuf_push(ids, wp->unk_id);
        }
        if (embp_idbuf_push(ids, id) != 0) return -1;
        start = end;
    }
    return 0;
}
