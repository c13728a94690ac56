/* The models' vocabulary: token strings by id and an open-addressing hash table over their
 * bytes, from tokenizer.json's "vocab" (an object token -> id for WordPiece and BPE, a list of
 * [token, score] for Unigram). Hand-written: the lookup is the tokenizer's inner loop. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

/* FNV-1a over pre then s, so "##" + piece hashes without being copied together. */
static uint32_t hash2(const char *pre, size_t n_pre, const char *s, size_t n) {
    uint32_t h = EMBP_HASH_INIT;
    for (size_t i = 0; i < n_pre; i++)
        h = embp_hash_step(h, (unsigned char)pre[i]);
    for (size_t i = 0; i < n; i++)
        h = embp_hash_step(h, (unsigned char)s[i]);
    return h;
}

int32_t embp_vocab_find_hashed(const embp_vocab *v, uint32_t h, const char *s, size_t n) {
    if (!v->slots || n > v->max_len) return -1;
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const embp_vocab_slot *slot = &v->slots[i];
        if (slot->id < 0) return -1;
        if (slot->hash == h && v->lens[slot->id] == n && memcmp(v->tokens[slot->id], s, n) == 0)
            return slot->id;
    }
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

embp_status embp_vocab_from_object(json_t *vocab, const char *name, embp_vocab *v,
                                   embp_error *err) {
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

/* Unigram's "vocab": [[token, score], ...], ids in list order. A token listed twice keeps its
 * last id for lookups, as HF's token_to_ids map does (the vocab size still counts both). */
embp_status embp_vocab_from_list(json_t *list, const char *name, embp_vocab *v, double **scores,
                                 embp_error *err) {
    size_t count = json_array_size(list), bytes = 0;
    if (count == 0 || count >= INT32_MAX / 4)
        return embp_fail(err, EMBP_EFORMAT, "%s: model.vocab must be a non-empty list", name);
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(list, i);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1)))
            return embp_fail(err, EMBP_EFORMAT, "%s: model.vocab[%zu] must be [token, score]", name,
                             i);
        bytes += json_string_length(json_array_get(e, 0)) + 1;
    }
    uint32_t n_slots = 16;
    while (n_slots < 2 * count)
        n_slots *= 2;
    v->n_ids = v->n_tokens = (int32_t)count;
    v->mask = n_slots - 1;
    v->arena = embp_malloc(bytes + 1);
    v->tokens = embp_calloc(count + 1, sizeof *v->tokens);
    v->lens = embp_calloc(count + 1, sizeof *v->lens);
    v->slots = embp_malloc(n_slots * sizeof *v->slots);
    *scores = embp_calloc(count + 1, sizeof **scores);
    if (!v->arena || !v->tokens || !v->lens || !v->slots || !*scores)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory for %zu tokens", name, count);
    memset(v->slots, 0xFF, n_slots * sizeof *v->slots);
    char *at = v->arena;
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(list, i);
        json_t *s = json_array_get(e, 0);
        size_t len = json_string_length(s);
        int32_t id = (int32_t)i;
        memcpy(at, json_string_value(s), len + 1);
        v->tokens[id] = at;
        v->lens[id] = (uint32_t)len;
        at += len + 1;
        (*scores)[i] = json_number_value(json_array_get(e, 1));
        if (len > v->max_len) v->max_len = len;
        int32_t old = embp_vocab_find(v, "", 0, v->tokens[id], len);
        if (old < 0) {
            vocab_insert(v, id);
            continue;
        }
        for (uint32_t k = 0; k <= v->mask; k++) /* the same token again: the new id wins */
            if (v->slots[k].id == old) v->slots[k].id = id;
    }
    return EMBP_OK;
}

void embp_vocab_clear(embp_vocab *v) {
    embp_free(v->arena);
    embp_free(v->tokens);
    embp_free(v->lens);
    embp_free(v->slots);
    memset(v, 0, sizeof *v);
}

int embp_scratch_reserve(embp_scratch *s, size_t bytes) {
    if (bytes <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < bytes)
        cap *= 2;
    void *p = embp_realloc(s->p, cap);
    if (!p) return -1;
    s->p = p;
    s->cap = cap;
    return 0;
}

void embp_vocab_byte_ids(const embp_vocab *v, int32_t ids[256]) {
    for (int b = 0; b < 256; b++) {
        char tok[8];
        snprintf(tok, sizeof tok, "<0x%02X>", b);
        ids[b] = embp_vocab_find(v, "", 0, tok, strlen(tok));
    }
}
