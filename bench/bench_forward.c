/* Throughput and latency of one model folder, texts in and vectors out, next to the machine's
 * GEMM peak.
 *   bench_forward MODEL_DIR [--seconds S] [--threads N] [--precision P] [--storage S]
 *                 [--compute C] [--group-size G]     (P, S, C, G: as embp's flags of those names)
 * Prints the threads it ran with, tokens/s at batch 32 x 128, p50/p99 latency at 1 x 16,
 * achieved GFLOP/s, and a pure oneDNN GEMM's GFLOP/s measured in the same run. Each timed call
 * tokenizes, embeds and pools the same texts `peer.mjs bench` times (B texts of L - 2 words
 * cycling through ten common ones: L tokens each with [CLS] and [SEP]), so both sides time the
 * same work. Checks the token count and the vectors before timing them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cpu.h"
#include "kernels/matmul.h"
#include "runtime/model.h"
#include "settings/config.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* FLOPs of one sequence of L tokens: the dense layers plus attention's two (L, L, D) products. */
static double flops_per_seq(const embp_model_info *i, int L) {
    double H = i->hidden, I = i->intermediate;
    double dense = 2.0 * L * (3 * H * H + H * H + 2 * H * I);
    return i->layers * (dense + 4.0 * L * L * H);
}

/* peer.mjs bench's texts: text i is L - 2 words, word k = words[(i + k) % 10]. */
static char **make_texts(int B, int L) {
    static const char *const words[10] = {"the", "of", "and", "in", "to",
                                          "was", "he",  "is",  "for", "on"};
    char **t = malloc((size_t)B * sizeof *t);
    for (int i = 0; i < B; i++) {
        t[i] = malloc((size_t)L * 5 + 1);
        char *p = t[i];
        for (int k = 0; k < L - 2; k++)
            p += sprintf(p, "%s%s", k ? " " : "", words[(i + k) % 10]);
    }
    return t;
}

/* The vectors must be finite, and of unit length when the model normalizes. */
static int check_vectors(const embp_model_info *info, const float *v, int B) {
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int j = 0; j < info->dim; j++) {
            if (!isfinite(v[(size_t)b * info->dim + j]))
                return fprintf(stderr, "bench: row %d value %d is not finite\n", b, j), 0;
            s += (double)v[(size_t)b * info->dim + j] * v[(size_t)b * info->dim + j];
        }
        if (info->normalize && fabs(sqrt(s) - 1.0) > 1e-4)
            return fprintf(stderr, "bench: row %d has norm %g, expected 1\n", b, sqrt(s)), 0;
    }
    return 1;
}

/* Runs B x L for `seconds`; fills per-call times (up to cap) and returns calls made. */
static int run(embp_model *m, const embp_model_info *info, int B, int L, double seconds,
               double *times, int cap) {
    char **texts = make_texts(B, L);
    float *out = malloc((size_t)B * info->dim * sizeof *out);
    embp_error err = {0};
    int calls = 0;
    for (int i = 0; i < B; i++) { /* the work is B x L tokens, as the figures say */
        int32_t ids[512];
        int n = 0, full = 0;
        if (embp_tokenize(m, texts[i], strlen(texts[i]), 0, ids, 512, &n, &full, &err) != EMBP_OK ||
            n != L) {
            fprintf(stderr, "bench: text %d is %d tokens, expected %d %s\n", i, n, L, err.msg);
            exit(1);
        }
    }
    if (embp_embed_texts(m, (const char *const *)texts, NULL, B, 0, 0, out, &err) != EMBP_OK ||
        !check_vectors(info, out, B)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    for (double t0 = now_s(), t = t0; t - t0 < seconds && calls < cap;) {
        if (embp_embed_texts(m, (const char *const *)texts, NULL, B, 0, 0, out, &err) != EMBP_OK) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        double t1 = now_s();
        times[calls++] = t1 - t;
        t = t1;
    }
    for (int i = 0; i < B; i++)
        free(texts[i]);
    free(texts), free(out);
    return calls;
}

static void report(const embp_model_info *info, int B, int L, double *times, int n) {
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += times[i];
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    double tps = (double)B * L * n / total, gf = flops_per_seq(info, L) * B * n / total / 1e9;
    printf("batch %2d x %3d: %9.0f tokens/s  %7.1f GFLOP/s  p50 %7.2f ms  p99 %7.2f ms  (%d "
           "calls)\n", B, L, tps, gf, 1e3 * times[n / 2], 1e3 * times[(n * 99) / 100], n);
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    double seconds = 3.0;
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.max_batch_tokens = 4096; /* one pass of 32 x 128 */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            o.n_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            /* text is the settings layer's to parse (settings/config.h) */
            if (embp_config_parse_precision(argv[++i], "auto|fp32|fp16|bf16|int8|int4",
                                            &o.precision) != 0)
                return fprintf(stderr, "bench: --precision %s: unknown\n", argv[i]), 2;
        } else if (!strcmp(argv[i], "--storage") && i + 1 < argc) {
            if (embp_config_parse_precision(argv[++i], "fp32|fp16|bf16|int8|int4", &o.storage))
                return fprintf(stderr, "bench: --storage %s: unknown\n", argv[i]), 2;
        } else if (!strcmp(argv[i], "--compute") && i + 1 < argc) {
            if (embp_config_parse_precision(argv[++i], "fp32|bf16|int8", &o.compute))
                return fprintf(stderr, "bench: --compute %s: unknown\n", argv[i]), 2;
        } else if (!strcmp(argv[i], "--group-size") && i + 1 < argc)
            o.quant_group_size = atoi(argv[++i]);
        else
            dir = argv[i];
    }
    if (!dir)
        return fprintf(stderr, "usage: bench_forward MODEL_DIR [--seconds S] [--threads N] "
                       "[--precision P] [--storage S] [--compute C] [--group-size G]\n"), 2;
    embp_model *m = NULL;
    embp_error err = {0};
    if (embp_model_load(dir, &o, &m, &err) != EMBP_OK)
        return fprintf(stderr, "bench: %s\n", err.msg), 1;
    embp_model_info info;
    embp_model_get_info(m, &info);
    const embp_cpu *cpu = embp_cpu_get();
    printf("model %s: H %d, %d layers, storage %s, compute %s, kernels %s, %d threads on %d "
           "cores, %s\n", info.name, info.hidden, info.layers, info.storage, info.compute,
           embp_model_kernels(m), o.n_threads > 0 ? o.n_threads : cpu->n_cores, cpu->n_cores,
           cpu->brand);
    enum { CAP = 1 << 20 };
    double *times = malloc(CAP * sizeof *times);
    int n = run(m, &info, 32, 128, seconds, times, CAP);
    report(&info, 32, 128, times, n);
    n = run(m, &info, 1, 16, seconds, times, CAP);
    report(&info, 1, 16, times, n);
    embp_mm_type types[3] = {EMBP_MM_F32, EMBP_MM_BF16, EMBP_MM_INT8};
    for (int t = 0; t < 3; t++) {
        if (types[t] == EMBP_MM_BF16 && !embp_cpu_has_avx512(cpu))
            continue;
        double g = embp_mm_peak_gflops(types[t], 4096, info.hidden, info.intermediate,
                                       seconds / 3, &err);
        printf("peak %s GEMM 4096 x %d x %d: %.1f G%s/s\n", embp_mm_type_str(types[t]),
               info.hidden, info.intermediate, g, types[t] == EMBP_MM_INT8 ? "OP" : "FLOP");
    }
    free(times);
    embp_model_free(m);
    return 0;
}
