/* Throughput and latency of one model folder, texts in and vectors out, next to the machine's
 * GEMM peak.
 *   bench_forward MODEL_DIR [--seconds S] [--threads N] [--precision P] [--storage S]
 *                 [--compute C] [--group-size G]     (P, S, C, G: as embp's flags of those names)
 *                 [--profile PASSES] [--peaks] [--batch-only] [--no-peak]
 * Prints the threads it ran with, tokens/s at batch 32 x 128, p50/p99 latency at 1 x 16,
 * achieved GFLOP/s, and a pure oneDNN GEMM's GFLOP/s measured in the same run. Each timed call
 * tokenizes, embeds and pools the same texts `peer.mjs bench` times (B texts of L - 2 words
 * cycling through ten common ones: L tokens each with [CLS] and [SEP]), so both sides time the
 * same work. Checks the token count and the vectors before timing them.
 * --profile: the instruction set's limit on this CPU (isa_peak.h) and a per-op profile of
 * PASSES forward passes at 32 x 128 and at 1 x 16, each GEMM's rate against that limit.
 * --peaks: pure GEMMs of every type at the model's four shapes (M 4096), and their time ratios
 * to fp32 (the speed-up each plan's GEMMs allow).
 * --batch-only: only the 32 x 128 figure (for sampling profilers: bench/profile.sh).
 * --no-peak: without the pure GEMM peak after the figures (bench/oversub.sh times many runs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "core/cpu.h"
#include "isa_peak.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"
#include "runtime/model.h"
#include "settings/config.h"
#include "settings/openmp.h"

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

/* B sequences of L ids (random ids in the vocabulary): the profile times the forward pass from
 * ids, without tokenizing. */
static void make_batch(const embp_model_info *info, int B, int L, int32_t *ids, int *off) {
    uint32_t r = 42;
    off[0] = 0;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < L; t++) {
            r = r * 1664525u + 1013904223u;
            ids[b * L + t] = (int32_t)((r >> 8) % (uint32_t)info->vocab_size);
        }
        off[b + 1] = (b + 1) * L;
    }
}

/* The limit of the instructions a plan's GEMMs run, per core: int8 numerics on vpdpbusd, bf16 on
 * vdpbf16ps, fp32 on FMA. */
static double plan_limit(const char *compute, const isa_peak *p, const char **what) {
    if (strstr(compute, "int8") && p->vnni > 0)
        return *what = "vpdpbusd", p->vnni;
    if (strstr(compute, "bf16") && p->bf16 > 0)
        return *what = "vdpbf16ps", p->bf16;
    return *what = p->fma_bits == 512 ? "FMA zmm" : "FMA ymm", p->fma;
}

/* softmax alone over as many rows as attention runs (B sequences x heads x L rows of L), each
 * thread over one head's (L, L) block again and again, in cache as attention's score rows are:
 * the share of softmax inside the attention op, in process CPU time (the cpu ms column's). */
static double softmax_ms(const embp_model_info *info, int B, int L, int passes) {
    const embp_kernels *k = embp_kernels_pick(embp_cpu_get());
    int blocks = B * info->heads * passes * info->layers;
    double t = embp_clock_s(CLOCK_PROCESS_CPUTIME_ID);
#pragma omp parallel
    {
        float *x = malloc((size_t)L * L * sizeof *x), *src = malloc((size_t)L * L * sizeof *x);
        for (int i = 0; i < L * L; i++)
            src[i] = (float)(i % 97) * 0.01f;
#pragma omp for schedule(static)
        for (int blk = 0; blk < blocks; blk++) {
            memcpy(x, src, (size_t)L * L * sizeof *x); /* fresh scores: softmax overwrote them */
            for (int r = 0; r < L; r++)
                k->softmax(x + (size_t)r * L, L);
        }
        free(x), free(src);
    }
    return 1e3 * (embp_clock_s(CLOCK_PROCESS_CPUTIME_ID) - t) / passes;
}

static void profile(embp_model *m, const embp_model_info *info, int B, int L, int passes,
                    int threads, const isa_peak *isa) {
    embp_prof p;
    memset(&p, 0, sizeof p);
    double times[1];
    run(m, info, B, L, 0.0, times, 1); /* checks the vectors; primitives for this bucket exist */
    int32_t *ids = malloc((size_t)B * L * sizeof *ids);
    int *off = malloc((size_t)(B + 1) * sizeof *off);
    float *out = malloc((size_t)B * info->dim * sizeof *out);
    make_batch(info, B, L, ids, off);
    embp_error err = {0};
    embp_model_set_prof(m, &p);
    double t0 = now_s(), c0 = embp_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int n = 0;
    for (; n < passes; n++)
        if (embp_model_embed_packed(m, ids, off, B, 0, out, &err) != EMBP_OK)
            exit((fprintf(stderr, "bench: %s\n", err.msg), 1));
    double wall = 1e3 * (now_s() - t0) / n;
    double cpu_ms = 1e3 * (embp_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / n;
    free(ids), free(off), free(out);
    embp_model_set_prof(m, NULL);
    const char *what;
    double lim = plan_limit(info->compute, isa, &what) * threads;
    printf("profile %d x %d, %s, %d passes: %.2f ms per pass (%.2f ms CPU); limit %s %.0f G/s "
           "(%d threads)\n", B, L, info->compute, n, wall, cpu_ms, what, lim, threads);
    printf("  %-15s %9s %7s %9s %9s %9s %10s %9s\n", "op", "ms/pass", "share", "cpu ms", "G/s",
           "of limit", "G/cpu-s", "of core");
    double sum = 0.0, sum_cpu = 0.0;
    for (int op = 0; op < EMBP_OP_N; op++) {
        if (!p.calls[op])
            continue;
        double ms = 1e3 * p.sec[op] / n, cms = 1e3 * p.cpu[op] / n;
        sum += ms, sum_cpu += cms;
        printf("  %-15s %9.3f %6.1f%% %9.3f", embp_op_name((embp_op)op), ms, 100 * ms / wall,
               cms);
        if (p.flops[op] > 0) {
            double g = p.flops[op] / p.sec[op] / 1e9, gc = p.flops[op] / p.cpu[op] / 1e9;
            printf(" %9.1f %8.0f%% %10.1f %8.0f%%", g, 100 * g / lim, gc,
                   100 * gc * threads / lim);
        }
        printf("\n");
    }
    printf("  %-15s %9.3f %6.1f%% %9.3f\n", "other (untimed)", wall - sum,
           100 * (wall - sum) / wall, cpu_ms - sum_cpu);
    printf("  (cpu ms: process CPU time, all threads; G/cpu-s: work per CPU second, against one "
           "core's limit)\n");
    if (p.calls[EMBP_OP_ATTENTION])
        printf("  attention's softmax alone (same rows in cache, refilled each time; %d threads): "
               "%.3f CPU ms/pass\n", threads,
               softmax_ms(info, B, L, passes));
}

/* Pure GEMMs at the model's shapes (M 4096) for each type; prints each type's total time over
 * fp32's: the speed-up its GEMMs allow a plan. */
static void peaks(const embp_model_info *info, double seconds) {
    int H = info->hidden, I = info->intermediate;
    int shapes[4][2] = {{H, 3 * H}, {H, H}, {H, I}, {I, H}};
    const embp_cpu *cpu = embp_cpu_get();
    struct {
        embp_mm_type t;
        const char *name;
    } runs[4] = {{EMBP_MM_F32, "fp32"},
                 {EMBP_MM_BF16, "bf16"},
                 {EMBP_MM_INT8, "int8"},
                 {EMBP_MM_INT4_BF16, "int4/bf16"}};
    double base = 0.0;
    embp_error err = {0};
    for (int r = 0; r < 4; r++) {
        if ((runs[r].t == EMBP_MM_BF16 || runs[r].t == EMBP_MM_INT4_BF16) && !cpu->avx512_bf16)
            continue;
        double total = 0.0;
        printf("peaks %-11s", runs[r].name);
        for (int s = 0; s < 4; s++) {
            int K = shapes[s][0], N = shapes[s][1];
            double c0 = embp_clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s();
            double g = embp_mm_peak_gflops(runs[r].t, 4096, K, N, seconds / 8, &err);
            /* the share of the run the process had the CPU for: wall rate / that = the rate
             * per CPU-second, steadier on a shared machine (includes setup and spinning) */
            double share = (embp_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / (now_s() - w0);
            if (g <= 0) {
                printf(" (failed: %s)", err.msg);
                total = -1;
                break;
            }
            total += 2.0 * 4096 * K * N / g / 1e9;
            printf("  %dx%d %6.1f (%.0f/cpu-s)", K, N, g, g / share);
        }
        if (r == 0)
            base = total;
        if (total > 0)
            printf("  G/s; model GEMMs %.2f ms, %.2fx fp32\n", 1e3 * total, base / total);
        else
            printf("\n");
    }
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    double seconds = 3.0;
    int prof_passes = 0, do_peaks = 0, batch_only = 0, no_peak = 0;
    embp_openmp_apply_default(argv); /* as embp's commands run: may re-execute, once */
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
        else if (!strcmp(argv[i], "--profile") && i + 1 < argc)
            prof_passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--peaks"))
            do_peaks = 1;
        else if (!strcmp(argv[i], "--batch-only"))
            batch_only = 1;
        else if (!strcmp(argv[i], "--no-peak"))
            no_peak = 1;
        else
            dir = argv[i];
    }
    if (!dir)
        return fprintf(stderr, "usage: bench_forward MODEL_DIR [--seconds S] [--threads N] "
                       "[--precision P] [--storage S] [--compute C] [--group-size G] "
                       "[--profile PASSES] [--peaks] [--batch-only] [--no-peak]\n"), 2;
    embp_model *m = NULL;
    embp_error err = {0};
    if (embp_model_load(dir, &o, &m, &err) != EMBP_OK)
        return fprintf(stderr, "bench: %s\n", err.msg), 1;
    embp_model_info info;
    embp_model_get_info(m, &info);
    const embp_cpu *cpu = embp_cpu_get();
    char omp[160];
    printf("model %s: H %d, %d layers, storage %s, compute %s, kernels %s, %d threads on %d "
           "cores, %s\nopenmp %s\n", info.name, info.hidden, info.layers, info.storage,
           info.compute, embp_model_kernels(m), o.n_threads > 0 ? o.n_threads : cpu->n_cores,
           cpu->n_cores, cpu->brand, embp_openmp_describe(omp, sizeof omp));
    if (prof_passes > 0) {
        int threads = o.n_threads > 0 ? o.n_threads : cpu->n_cores;
        isa_peak isa = isa_measure(cpu);
        printf("isa limit per core: FMA %d-bit %.1f GFLOP/s, vdpbf16ps %.1f GFLOP/s, vpdpbusd "
               "%.1f GOP/s\n", isa.fma_bits, isa.fma, isa.bf16, isa.vnni);
        profile(m, &info, 32, 128, prof_passes, threads, &isa);
        profile(m, &info, 1, 16, prof_passes * 20, threads, &isa);
        if (do_peaks)
            peaks(&info, seconds);
        embp_model_free(m);
        return 0;
    }
    if (do_peaks)
        peaks(&info, seconds);
    enum { CAP = 1 << 20 };
    double *times = malloc(CAP * sizeof *times);
    int n = run(m, &info, 32, 128, seconds, times, CAP);
    report(&info, 32, 128, times, n);
    if (batch_only) {
        free(times);
        embp_model_free(m);
        return 0;
    }
    n = run(m, &info, 1, 16, seconds, times, CAP);
    report(&info, 1, 16, times, n);
    embp_mm_type types[3] = {EMBP_MM_F32, EMBP_MM_BF16, EMBP_MM_INT8};
    for (int t = 0; t < 3 && !no_peak; t++) {
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
