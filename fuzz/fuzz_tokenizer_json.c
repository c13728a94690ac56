/* Fuzzes embp_tokenizer_load_json: arbitrary bytes as tokenizer.json must load or fail with
 * a message, never crash or leak; a loaded tokenizer then encodes a fixed text. */
#include <stdint.h>
#include <stdlib.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    embp_tokenizer *t = NULL;
    embp_error err;
    embp_status st = embp_tokenizer_load_json((const char *)data, size, "fuzz", &t, &err);
    if (st != EMBP_OK) {
        if (t || err.msg[0] == '\0') abort();
        return 0;
    }
    static const char text[] = "Hello, [SEP] W\xc3\xb6rld! \xe4\xb8\xad\xe6\x96\x87 <s> hey";
    int32_t ids[128];
    int n = 0;
    st = embp_tokenizer_encode(t, text, sizeof text - 1, 16, ids, 128, &n, NULL, &err);
    if (st != EMBP_OK && st != EMBP_EINVAL) abort();
    embp_tokenizer_free(t);
    return 0;
}
