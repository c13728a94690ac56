/* Fuzzes embp_tokenizer_decode: arbitrary bytes as tokenizer.json (the corpus: small files
 * with every decoder); a loaded tokenizer decodes the ids of a fixed text, every id in turn
 * (out-of-range ones too), and ids taken from the input's bytes, with and without the special
 * tokens. Decode must succeed (or say its decoder is unsupported) with valid UTF-8 of the
 * length it reports, never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

static void decode_checked(const embp_tokenizer *t, const int32_t *ids, size_t n) {
    for (int skip = 0; skip < 2; skip++) {
        char *out = NULL;
        size_t len = 0;
        embp_error err;
        embp_status st = embp_tokenizer_decode(t, ids, n, skip, &out, &len, &err);
        if (st == EMBP_EUNSUPPORTED && !out) continue;
        const char *why;
        if (st != EMBP_OK || !out || out[len] != '\0' || embp_utf8_check(out, len, &why) != len)
            abort();
        embp_free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    embp_tokenizer *t = NULL;
    embp_error err;
    if (embp_tokenizer_load_json((const char *)data, size, "fuzz", &t, &err) != EMBP_OK) return 0;
    static const char text[] = "Hello, [SEP] W\xc3\xb6rld! \xe4\xb8\xad\xe6\x96\x87 <s> hey";
    int32_t ids[256];
    int n = 0;
    if (embp_tokenizer_encode(t, text, sizeof text - 1, 0, ids, 256, &n, NULL, &err) == EMBP_OK)
        decode_checked(t, ids, (size_t)n);
    int vocab = embp_tokenizer_vocab_size(t);
    for (int32_t first = -2; first < vocab + 2; first += 64) {
        int k = 0;
        for (int32_t id = first; id < first + 64 && k < 256; id++)
            ids[k++] = id;
        decode_checked(t, ids, (size_t)k);
    }
    size_t k = 0;
    for (size_t i = 0; i + 1 < size && k < 256; i += 2)
        ids[k++] = (int32_t)((data[i] << 8 | data[i + 1]) % (uint32_t)(vocab + 3));
    decode_checked(t, ids, k);
    decode_checked(t, NULL, 0);
    embp_tokenizer_free(t);
    return 0;
}
