/* Fuzz target: the response writer. The input's bytes are float32 rows; every finite float must
 * format to the shortest text that reads back bit-exactly, the JSON body must parse back to the
 * same floats, and base64 must decode to the same bytes. Non-finite rows must be refused. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/response.h"

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static void check_base64(const float *x, size_t n) {
    embp_buf b = {0};
    embp_buf_base64(&b, (const unsigned char *)x, n * 4);
    if (b.oom)
        return;
    if (b.len != (n * 4 + 2) / 3 * 4)
        __builtin_trap();
    unsigned char *back = malloc(n * 4 + 3);
    size_t k = 0;
    for (size_t i = 0; i + 3 < b.len + 1 && i < b.len; i += 4) {
        int v[4];
        for (int j = 0; j < 4; j++)
            v[j] = b.p[i + j] == '=' ? 0 : b64val(b.p[i + j]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            __builtin_trap();
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        back[k++] = (unsigned char)(w >> 16);
        back[k++] = (unsigned char)(w >> 8);
        back[k++] = (unsigned char)w;
    }
    if (k < n * 4 || memcmp(back, x, n * 4) != 0)
        __builtin_trap();
    free(back);
    embp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = size / 4;
    if (n == 0 || n > 4096)
        return 0;
    float *x = malloc(n * sizeof *x);
    memcpy(x, data, n * 4);
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            finite = 0;
            continue;
        }
        char s[32];
        int len = embp_format_float(x[i], s);
        float y = strtof(s, NULL);
        if (len <= 0 || len >= 32 || memcmp(&y, &x[i], 4) != 0)
            __builtin_trap(); /* must read back bit-exactly (-0 included) */
    }
    check_base64(x, n);
    embp_buf b = {0};
    int ok = embp_response_embeddings(&b, x, 1, (int)n,
                                     &(embp_response_opts){.model = "m", .prompt_tokens = 1});
    if (ok != finite && !b.oom)
        __builtin_trap(); /* a NaN or infinity must be refused, finite rows answered */
    if (ok) {
        json_t *j = json_loadb(b.p, b.len, 0, NULL);
        json_t *e = json_object_get(json_array_get(json_object_get(j, "data"), 0), "embedding");
        if (!j || json_array_size(e) != n)
            __builtin_trap();
        for (size_t i = 0; i < n; i++) {
            float y = (float)json_number_value(json_array_get(e, i));
            if (y != x[i])
                __builtin_trap();
        }
        json_decref(j);
    }
    embp_buf_free(&b);
    free(x);
    return 0;
}
