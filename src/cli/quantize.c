/* embp quantize IN OUT --precision int8|int4|bf16|fp16: writes a model folder whose weights are
 * already at that storage precision (runtime/quantize.c; layout in docs/QUANTIZED_FORMAT.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "embp/embp.h"

static void usage(FILE *f) {
    fputs("usage: embp quantize IN OUT --precision int8|int4|bf16|fp16 [flags]\n\n"
          "Writes the model folder IN to OUT with its weights stored at a precision, so that\n"
          "loading OUT takes no fp32 weights and no quantizing pass, and memory holds only what\n"
          "the storage costs. int8: dense layers per output channel (fp32 scales); int4: dense\n"
          "layers in groups of --group-size along K (fp16 scales); embeddings, LayerNorm and\n"
          "biases stay fp32. bf16/fp16: every float tensor converted (a plain HF checkpoint).\n"
          "Config, tokenizer and pooling files are copied; ONNX/PyTorch weights are not.\n"
          "Then it embeds a probe set with OUT and with IN at fp32 and records the cosine\n"
          "(mean, min) in OUT/embp_quantize.json; embp info and /info show it.\n"
          "OUT loads with nothing else set: its storage comes from the file.\n\n"
          "flags:\n"
          "  --precision P      int8, int4, bf16 or fp16 (required)\n"
          "  --group-size N     int4 group along K: 16, 32 (default), 64, 128, 256\n"
          "  --method M         rtn (round to nearest, the only method; gptq, awq,\n"
          "                     bitsandbytes... are refused with the reason)\n"
          "  --no-fidelity      do not measure against IN's fp32\n"
          "  --force            write into a non-empty OUT, replacing its files\n"
          "  -h, --help         this text\n", f);
}

int embp_cli_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    embp_quantize_opts o = {EMBP_PRECISION_UNSET, 0, EMBP_QUANT_RTN, 1, 0};
    embp_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            /* any name the settings table knows; the library says which it quantizes to */
            if (embp_config_parse_precision(argv[++i], "fp32|fp16|bf16|int8|int4", &o.storage)) {
                fprintf(stderr, "embp quantize: --precision %s: allowed values int8, int4, bf16, "
                        "fp16\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--group-size") && i + 1 < argc) {
            char *end;
            long g = strtol(argv[++i], &end, 10);
            if (*end || g < 1 || g > 4096) {
                fprintf(stderr, "embp quantize: --group-size %s: allowed 16, 32, 64, 128, 256\n",
                        argv[i]);
                return 2;
            }
            o.group_size = (int)g;
        } else if (!strcmp(a, "--method") && i + 1 < argc) {
            if (embp_config_parse_method(argv[++i], "--method", &o.method, &err) != EMBP_OK) {
                fprintf(stderr, "embp quantize: %s\n", err.msg);
                return 2;
            }
        } else if (!strcmp(a, "--no-fidelity")) {
            o.measure_fidelity = 0;
        } else if (!strcmp(a, "--force")) {
            o.overwrite = 1;
        } else if (a[0] != '-' && !in) {
            in = a;
        } else if (a[0] != '-' && !out) {
            out = a;
        } else {
            fprintf(stderr, "embp quantize: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!in || !out || !o.storage) {
        fprintf(stderr, "embp quantize: %s\n\n", !in || !out ? "IN and OUT folders are required"
                                                            : "--precision is required");
        usage(stderr);
        return 2;
    }
    embp_quantize_report r;
    if (embp_model_quantize(in, out, &o, &r, &err) != EMBP_OK) {
        fprintf(stderr, "embp quantize: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s: weights %.1f MiB (from %.1f MiB, %.2fx)", out, r.bytes_out / 1048576.0,
           r.bytes_in / 1048576.0, r.bytes_in ? (double)r.bytes_out / (double)r.bytes_in : 0.0);
    if (!isnan(r.fidelity_mean))
        printf("; fidelity to fp32 (%s): mean cosine %.5f, min %.5f", r.plan, r.fidelity_mean,
               r.fidelity_min);
    printf("\n");
    return 0;
}
