/* Fuzz target: an embeddings request body through parse, model checks and both encoders. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "server/request.h"
#include "server/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    embp_request_limits lim = {.max_inputs = 64, .default_truncate = 1};
    embp_request r;
    embp_http_error e;
    embp_buf b = {0};
    if (embp_request_parse((const char *)data, size, &lim, &r, &e)) {
        if (r.n_inputs < 1 || r.n_inputs > lim.max_inputs)
            __builtin_trap(); /* accepted requests have 1..max inputs */
        for (int i = 0; i < r.n_inputs; i++)
            if (r.is_tokens ? r.n_ids[i] < 1 : (r.text_lens[i] < 1 ||
                                                strlen(r.texts[i]) != r.text_lens[i]))
                __builtin_trap(); /* no empty input, no NUL inside a text */
        if (embp_request_check_model(&r, 8, 1000, 16, &e)) {
            float rows[8] = {0.5f, -1e-3f, 3.0f, 0.0f, 1e30f, -7.25f, 0.1f, 2.0f};
            int dims = r.dimensions ? r.dimensions : 8;
            embp_quant_ranges qr = {0, (float[]){-1.0f, 1.0f}, NULL}; /* hi follows lo */
            qr.hi = qr.lo + 1;
            embp_response_opts o = {.encoding = r.encoding, .types = r.types,
                                    .n_types = r.n_types, .ranges = &qr,
                                    .model = r.model ? r.model : "m", .texts = r.texts,
                                    .prompt_tokens = 1};
            embp_response_embeddings(&b, rows, 1, dims, &o);
        } else {
            embp_response_error(&b, &e);
        }
        embp_request_free(&r);
    } else {
        if (e.status != 400 && e.status != 500)
            __builtin_trap();
        embp_response_error(&b, &e);
    }
    embp_buf_free(&b);
    return 0;
}
