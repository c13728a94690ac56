/* Fuzz target: a quantized model folder (embp_model_quantize of the tiny fixture, int8 and
 * int4) whose model.safetensors a stranger has tampered with, loaded through the public API
 * (embp_model_load on the folder) and, when it loads, asked for one embedding.
 * The input is a patch, not weights (nothing generated is committed): byte 0 picks int8 (even)
 * or int4 (odd) and whether to truncate (bit 1); then 5-byte records, each a little-endian
 * offset (modulo the file size) and a byte XORed in there; with truncation the first record's
 * offset is where the file ends. Header bytes come first in the file, so small offsets reach
 * the JSON header, dtypes, shapes and the embp metadata; large ones the scales and codes.
 * The base folders come from $EMBP_FIXTURES/tiny (ctest and scripts/fuzz.sh set it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "embp/embp.h"
#include "fuzzutil.h"

static char base[2][512], work[512];
static char *image[2];
static size_t image_len[2];

/* Once: quantizes tiny to int8 and int4 under a temporary folder, and makes the work folder
 * (the same files but model.safetensors, which each input writes). */
static void setup(void) {
    const char *fx = getenv("EMBP_FIXTURES");
    char tiny[512], cmd[4096];
    if (!fx) {
        fprintf(stderr, "fuzz_quantized: set EMBP_FIXTURES (tests/make_fixtures.sh output)\n");
        abort();
    }
    const char *tmpl = fz_tmpdir("quant");
    snprintf(tiny, sizeof tiny, "%s/tiny", fx);
    static const char *kinds[2] = {"int8", "int4"};
    static const embp_precision storages[2] = {EMBP_PRECISION_INT8, EMBP_PRECISION_INT4};
    for (int k = 0; k < 2; k++) {
        snprintf(base[k], sizeof base[k], "%s/%s", tmpl, kinds[k]);
        embp_quantize_opts o = {.storage = storages[k], .group_size = 16};
        embp_error err;
        if (embp_model_quantize(tiny, base[k], &o, NULL, &err) != EMBP_OK) {
            fprintf(stderr, "fuzz_quantized: quantize %s: %s\n", kinds[k], err.msg);
            abort();
        }
        char p[600];
        snprintf(p, sizeof p, "%s/model.safetensors", base[k]);
        if (embp_read_file(p, 0, &image[k], &image_len[k], &err) != EMBP_OK ||
            image_len[k] == 0) {
            fprintf(stderr, "fuzz_quantized: %s\n", err.msg);
            abort();
        }
    }
    snprintf(work, sizeof work, "%s/work", tmpl);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/*.json '%s'/ && cp -r '%s'/1_Pooling "
             "'%s'/ 2>/dev/null; rm -f '%s'/model.safetensors", work, base[0], work, base[0],
             work, work);
    if (system(cmd) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!image[0])
        setup();
    if (size < 1)
        return 0;
    int k = data[0] & 1, truncate = (data[0] >> 1) & 1;
    size_t len = image_len[k];
    unsigned char *buf = malloc(len);
    memcpy(buf, image[k], len);
    for (size_t i = 1; i + 5 <= size; i += 5) {
        uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
                       (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;
        if (truncate && i == 1) {
            len = off % len;
            continue;
        }
        if (len)
            buf[off % len] ^= data[i + 4];
    }
    fz_write(work, "model.safetensors", buf, len);
    free(buf);
    embp_model *m = NULL;
    embp_error err;
    embp_status st = embp_model_load(work, NULL, &m, &err);
    if (getenv("EMBP_FUZZ_VERBOSE")) /* which seeds load, and why the others do not */
        fprintf(stderr, "fuzz_quantized: %s\n", st == EMBP_OK ? "loaded" : err.msg);
    if (st == EMBP_OK) {
        const char *text = "hello world";
        embp_model_info info;
        embp_model_get_info(m, &info);
        float *out = malloc((size_t)info.dim * sizeof *out);
        if (embp_embed_texts(m, &text, NULL, 1, 0, 1, out, &err) == EMBP_OK) {
            for (int j = 0; j < info.dim; j++) /* a loaded model answers with finite numbers */
                if (out[j] != out[j])
                    __builtin_trap();
        }
        free(out);
        embp_model_free(m);
    }
    return 0;
}
