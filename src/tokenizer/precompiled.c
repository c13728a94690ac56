/* The "Precompiled" normalizer: SentencePiece's compiled character map, as XLM-R, T5 and the
 * e5 family ship it (base64 in "precompiled_charsmap"). Layout, as HF's spm_precompiled crate
 * reads it: a little-endian u32 byte size of the trie, the trie (a Darts double array of u32
 * units), then the replacement strings, NUL-terminated, back to back. A unit holds a label
 * (low byte, plus bit 31), a has-leaf bit (8), an offset (bits 10.. shifted left by 8 when
 * bit 9 is set) and, in a leaf, a value (the low 31 bits): the replacement's byte index.
 * Applied as HF does: per extended grapheme cluster (under 6 bytes) the shortest key that
 * prefixes it replaces the whole cluster; otherwise char by char. Hand-written: the format is
 * SentencePiece's own and no Debian library reads it. */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Standard base64 (padding optional) into a new buffer; -1 on a bad char or no memory. */
static int b64_decode(const char *s, size_t n, unsigned char **out, size_t *len) {
    unsigned char *o = embp_malloc(n / 4 * 3 + 4);
    if (!o) return -1;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') break;
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            embp_free(o);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = o;
    *len = k;
    return 0;
}

embp_status embp_precompiled_parse(json_t *j, const char *name, embp_precompiled *pc,
                                   embp_error *err) {
    json_t *s = json_object_get(j, "precompiled_charsmap");
    unsigned char *blob = NULL;
    size_t len = 0;
    if (!json_is_string(s))
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: normalizer Precompiled: precompiled_charsmap must be a base64 string",
                         name);
    if (b64_decode(json_string_value(s), json_string_length(s), &blob, &len) != 0)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: normalizer Precompiled: precompiled_charsmap is not valid base64",
                         name);
    uint32_t trie = len >= 4 ? (uint32_t)blob[0] | (uint32_t)blob[1] << 8 |
                                   (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24
                             : 0;
    if (len < 4 || trie % 4 != 0 || trie == 0 || trie > len - 4) {
        embp_free(blob);
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: normalizer Precompiled: precompiled_charsmap is %zu bytes with a "
                         "trie of %u: not a SentencePiece charsmap",
                         name, len, trie);
    }
    pc->n_units = trie / 4;
    pc->units = embp_malloc(trie);
    pc->n_strings = len - 4 - trie;
    pc->strings = embp_malloc(pc->n_strings + 1);
    if (!pc->units || !pc->strings) {
        embp_free(blob);
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    }
    for (uint32_t i = 0; i < pc->n_units; i++) {
        const unsigned char *u = blob + 4 + 4 * i;
        pc->units[i] =
            (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(pc->strings, blob + 4 + trie, pc->n_strings);
    pc->strings[pc->n_strings] = '\0';
    embp_free(blob);
    return EMBP_OK;
}

void embp_precompiled_clear(embp_precompiled *pc) {
    embp_free(pc->units);
    embp_free(pc->strings);
    memset(pc, 0, sizeof *pc);
}

static uint32_t unit_offset(uint32_t u) {
    return (u >> 10) << ((u & (1u << 9)) >> 6);
}

/* The replacement for the shortest key prefixing key[0..n), as an index into strings, or -1
 * (spm_precompiled's common_prefix_search, first result). Out-of-range positions (a corrupt
 * map) end the search. */
static int64_t lookup(const embp_precompiled *pc, const unsigned char *key, size_t n) {
    uint32_t pos = unit_offset(pc->units[0]);
    for (size_t i = 0; i < n; i++) {
        if (key[i] == 0) break;
        pos ^= key[i];
        if (pos >= pc->n_units) return -1;
        uint32_t u = pc->units[pos];
        if ((u & ((1u << 31) | 0xFF)) != key[i]) return -1;
        pos ^= unit_offset(u);
        if (pos >= pc->n_units) return -1;
        if ((u >> 8) & 1) {
            uint32_t v = pc->units[pos] & 0x7FFFFFFFu;
            return v < pc->n_strings ? (int64_t)v : -1;
        }
    }
    return -1;
}

/* Appends the replacement at strings[at] (to its NUL) to out as code points; with chg, HF's
 * changes for it replacing n_old chars (its Precompiled `replace`: the first chars replace one
 * each; extra new chars are insertions; fewer new chars: the last one, or the char written
 * before them when there is none, also removes the rest). */
static int push_replacement(const embp_precompiled *pc, int64_t at, embp_cpbuf *out,
                            embp_idbuf *chg, size_t n_old) {
    const char *s = pc->strings + at;
    size_t n = strlen(s), n0 = out->n;
    const char *why;
    if (embp_utf8_check(s, n, &why) != n) return 0; /* not UTF-8: HF would fail; drop it */
    if (embp_utf8_decode(s, n, out) != 0) return -1;
    if (!chg) return 0;
    size_t n_new = out->n - n0;
    for (size_t k = 0; k < n_new; k++)
        if (embp_idbuf_push(chg, k < n_old ? 0 : 1) != 0) return -1;
    if (n_new < n_old && chg->n > 0) chg->p[chg->n - 1] -= (int32_t)(n_old - n_new);
    return 0;
}

static int apply(const embp_precompiled *pc, const embp_cpbuf *in, embp_cpbuf *out,
                 embp_idbuf *chg) {
    out->n = 0;
    if (chg) chg->n = 0;
    if (embp_cpbuf_reserve(out, in->n) != 0) return -1;
    int32_t state = 0;
    unsigned char key[32];
    for (size_t g = 0; g < in->n;) {
        size_t ge = g + 1;
        while (ge < in->n && !embp_uc_grapheme_break(in->p[ge - 1], in->p[ge], &state))
            ge++;
        size_t bytes = 0;
        for (size_t i = g; i < ge && bytes < 6; i++)
            bytes += (size_t)embp_utf8_put(in->p[i], (char *)key + bytes);
        int64_t at = bytes < 6 ? lookup(pc, key, bytes) : -1;
        if (at >= 0) {
            if (push_replacement(pc, at, out, chg, ge - g) != 0) return -1;
        } else {
            for (size_t i = g; i < ge; i++) {
                int k = embp_utf8_put(in->p[i], (char *)key);
                at = lookup(pc, key, (size_t)k);
                if (at >= 0 ? push_replacement(pc, at, out, chg, 1)
                            : embp_cpbuf_push(out, in->p[i]) || (chg && embp_idbuf_push(chg, 0)))
                    return -1;
            }
        }
        g = ge;
    }
    return 0;
}

int embp_precompiled_apply(const embp_precompiled *pc, const embp_cpbuf *in, embp_cpbuf *out) {
    return apply(pc, in, out, NULL);
}

int embp_precompiled_apply_changes(const embp_precompiled *pc, const embp_cpbuf *in,
                                   embp_cpbuf *out, embp_idbuf *changes) {
    return apply(pc, in, out, changes);
}
