/* Throughput on a mixed-length corpus, the way the server runs it: texts tokenized, packed end
 * to end into batches by a token budget (no padding), one forward per batch.
 *   bench_mixed MODEL_DIR CORPUS [--seconds S] [--precision P] [--budget TOKENS]
 * Prints one JSON line: tokens/s, sentences/s, weight bytes, resident memory after load and
 * after the run (VmRSS, VmHWM). Checks the vectors (finite, unit length) before timing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/model.h"
#include "server/config.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
            /* text is the settings layer's to parse (server/config.h) */
            if (embp_config_parse_precision(argv[++i], "auto|fp32|fp16|bf16|int8|int4",
                                            &o.precision) != 0)
                return fprintf(stderr, "bench: --precision %s: unknown\n", argv[i]), 2;
        }
        else if (!strcmp(argv[i], "--budget") && i + 1 < argc)
            budget = atoi(argv[++i]);
        else if (!dir)
            dir = argv[i];
        else
            corpus = argv[i];
    }
    if (!dir || !corpus)
        return fprintf(stderr, "usage: bench_mixed MODEL_DIR CORPUS [--seconds S] "
                       "[--precision P] [--budget TOKENS]\n"), 2;
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
    int cap = 4096, n = 0, total = 0;
    int32_t *ids = malloc((size_t)cap * 300 * sizeof *ids);
    int *off = malloc(((size_t)cap + 1) * sizeof *off);
    char line[8192];
    off[0] = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        int k, full;
        if (embp_tokenize(m, line, strlen(line), 1, ids + total, info.max_seq_len, &k, &full,
                          &err) != EMBP_OK)
            return fprintf(stderr, "bench: %s\n", err.msg), 1;
        total += k;
        off[++n] = total;
    }
    fclose(f);
    float *out = malloc((size_t)n * info.dim * sizeof *out);
    /* batches: consecutive sentences while they fit the budget */
    long tokens = 0, sentences = 0;
    double t0 = now_s(), el = 0;
    int checked = 0;
    while ((el = now_s() - t0) < seconds || !checked) {
        for (int s = 0; s < n;) {
            int e = s + 1;
            while (e < n && off[e + 1] - off[s] <= budget)
                e++;
            int boff[4097];
            for (int j = s; j <= e; j++)
                boff[j - s] = off[j] - off[s];
            if (embp_model_embed_packed(m, ids + off[s], boff, e - s, 0, out, &err) != EMBP_OK)
                return fprintf(stderr, "bench: %s\n", err.msg), 1;
            for (int r = 0; !checked && r < e - s; r++) {
                double sq = 0;
                for (int j = 0; j < info.dim; j++)
                    sq += (double)out[r * info.dim + j] * out[r * info.dim + j];
                if (!isfinite(sq) || (info.normalize && fabs(sqrt(sq) - 1) > 1e-3))
                    return fprintf(stderr, "bench: row %d has norm %g\n", r, sqrt(sq)), 1;
            }
            checked = 1;
            tokens += off[e] - off[s];
            sentences += e - s;
            s = e;
            if (now_s() - t0 >= seconds)
                break;
        }
    }
    el = now_s() - t0;
    printf("{\"engine\":\"embp\",\"model\":\"%s\",\"storage\":\"%s\",\"compute\":\"%s\","
           "\"tokens_per_second\":%.1f,\"sentences_per_second\":%.1f,\"weight_bytes\":%zu,"
           "\"rss_after_load\":%ld,\"rss_after_run\":%ld,\"rss_peak\":%ld}\n",
           info.name, info.storage, info.compute, (double)tokens / el, (double)sentences / el,
           info.weight_bytes, rss_load, proc_kb("VmRSS:"), proc_kb("VmHWM:"));
    free(ids), free(off), free(out);
    embp_model_free(m);
    return 0;
}
