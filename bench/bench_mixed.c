/* Throughput on a mixed-length corpus, the way the server runs it: texts tokenized, packed end
 * to end into batches by a token budget (no padding), one forward per batch. Tokenizing is
 * inside the timing, as it is in the peer's (bench/peer_bench.mjs mixed). Runs at least one
 * whole pass over the corpus.
 *   bench_mixed MODEL_DIR CORPUS [--seconds S] [--precision P] [--budget TOKENS] [--threads N]
 * Prints one JSON line: threads, tokens/s, sentences/s, weight bytes, resident memory after
 * load and after the run (VmRSS, VmHWM). Checks the vectors (finite, unit length) before
 * timing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/cpu.h"
#include "runtime/model.h"
#include "settings/config.h"

/* VmRSS or VmHWM of this process in bytes. */
static long proc_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            kb = atol(line + strlen(field) + 1);
    if (f)
        fclose(f);
    return kb * 1024;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *corpus = NULL;
    double seconds = 5;
    int budget = 4096;
    embp_load_opts o;
    embp_load_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            /* text is the settings layer's to parse (settings/config.h) */
            if (embp_config_parse_precision(argv[++i], "auto|fp32|fp16|bf16|int8|int4",
                                            &o.precision) != 0)
                return fprintf(stderr, "bench: --precision %s: unknown\n", argv[i]), 2;
        }
        else if (!strcmp(argv[i], "--budget") && i + 1 < argc)
            budget = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            o.n_threads = atoi(argv[++i]);
        else if (!dir)
            dir = argv[i];
        else
            corpus = argv[i];
    }
    if (!dir || !corpus)
        return fprintf(stderr, "usage: bench_mixed MODEL_DIR CORPUS [--seconds S] "
                       "[--precision P] [--budget TOKENS] [--threads N]\n"), 2;
    o.max_batch_tokens = budget;
    embp_model *m;
    embp_error err;
    if (embp_model_load(dir, &o, &m, &err) != EMBP_OK)
        return fprintf(stderr, "bench: %s\n", err.msg), 1;
    embp_model_info info;
    embp_model_get_info(m, &info);
    long rss_load = proc_kb("VmRSS:");
    FILE *f = fopen(corpus, "r");
    if (!f)
        return fprintf(stderr, "bench: cannot open %s\n", corpus), 1;
    int cap = 4096, n = 0;
    char **lines = malloc((size_t)cap * sizeof *lines), line[8192];
    while (n < cap && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        lines[n++] = strdup(line);
    }
    fclose(f);
    if (n == 0)
        return fprintf(stderr, "bench: %s has no lines\n", corpus), 1;
    /* One batch: lines from `first` while their tokens fit the budget (at least one line). */
    int32_t *ids = malloc(((size_t)budget + (size_t)info.max_seq_len) * sizeof *ids);
    int *off = malloc(((size_t)budget + 2) * sizeof *off);
    float *out = malloc(((size_t)budget + 1) * info.dim * sizeof *out);
    long tokens = 0, sentences = 0;
    double t0 = embp_clock_s(CLOCK_MONOTONIC), el = 0;
    int checked = 0;
    /* Whole passes over the corpus (at least one, then until --seconds), as the peers run it
     * (bench/peer_bench.mjs mixed): every line is in the figure. */
    for (int s = 0; (el = embp_clock_s(CLOCK_MONOTONIC) - t0) < seconds || sentences < n || !checked;
         s %= n) {
        int count = 0, k, full;
        off[0] = 0;
        while (s + count < n) {
            const char *t = lines[s + count];
            if (embp_tokenize(m, t, strlen(t), 1, ids + off[count], info.max_seq_len, &k, &full,
                              &err) != EMBP_OK)
                return fprintf(stderr, "bench: line %d: %s\n", s + count + 1, err.msg), 1;
            if (count > 0 && off[count] + k > budget)
                break; /* re-tokenized first in the next batch, as the server would queue it */
            off[count + 1] = off[count] + k;
            count++;
        }
        if (embp_model_embed_packed(m, ids, off, count, 0, out, &err) != EMBP_OK)
            return fprintf(stderr, "bench: %s\n", err.msg), 1;
        for (int r = 0; !checked && r < count; r++) {
            double sq = 0;
            for (int j = 0; j < info.dim; j++)
                sq += (double)out[r * info.dim + j] * out[r * info.dim + j];
            if (!isfinite(sq) || (info.normalize && fabs(sqrt(sq) - 1) > 1e-3))
                return fprintf(stderr, "bench: row %d has norm %g\n", r, sqrt(sq)), 1;
        }
        checked = 1;
        tokens += off[count];
        sentences += count;
        s += count;
    }
    el = embp_clock_s(CLOCK_MONOTONIC) - t0;
    printf("{\"engine\":\"embp\",\"model\":\"%s\",\"storage\":\"%s\",\"compute\":\"%s\","
           "\"threads\":%d,\"tokens_per_second\":%.1f,\"sentences_per_second\":%.1f,\"weight_bytes\":%zu,"
           "\"rss_after_load\":%ld,\"rss_after_run\":%ld,\"rss_peak\":%ld}\n",
           info.name, info.storage, info.compute,
           o.n_threads > 0 ? o.n_threads : embp_cpu_get()->n_cores, (double)tokens / el, (double)sentences / el,
           info.weight_bytes, rss_load, proc_kb("VmRSS:"), proc_kb("VmHWM:"));
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines), free(ids), free(off), free(out);
    embp_model_free(m);
    return 0;
}
