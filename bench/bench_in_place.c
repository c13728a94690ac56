/* bench_in_place: a dense layer on weights used where they are in the file (kernels/matmul.h's
 * embp_linear_create_in_place: torch's (N, K) layout, oneDNN's "ba") against the same weights
 * packed into the primitive's blocked layout (embp_linear_create), over L distinct layers so the
 * weights stream from memory as a 2.4 GB model's do. The loaders pack, and this is why: it
 * decides per type whether a plan that keeps the file's format may skip the copy
 * (model/bert_load.c's dense layers). Both give the same bits (checked here). CPU and wall time
 * of one pass over the L layers, best of R, per row count M.
 * Usage: bench_in_place [K N L R [bf16]] (default 3072 1024 12 5 fp32: Qwen3-0.6B's down). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/fp.h"
#include "kernels/matmul.h"

static double now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int K = argc > 4 ? atoi(argv[1]) : 3072, N = argc > 4 ? atoi(argv[2]) : 1024;
    int L = argc > 4 ? atoi(argv[3]) : 12, R = argc > 4 ? atoi(argv[4]) : 5;
    embp_mm_type t = argc > 5 && strcmp(argv[5], "bf16") == 0 ? EMBP_MM_BF16 : EMBP_MM_F32;
    if (K < 1 || N < 1 || L < 1 || R < 1) {
        fprintf(stderr, "usage: bench_in_place [K N L R [bf16]]\n");
        return 2;
    }
    embp_error err;
    embp_mm_engine *e = NULL;
    if (embp_mm_engine_create(embp_kernels_pick(embp_cpu_get()), 512, &e, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    embp_linear **packed = calloc((size_t)L, sizeof *packed);
    embp_linear **mapped = calloc((size_t)L, sizeof *mapped);
    void **weights = calloc((size_t)L, sizeof *weights);
    size_t n = (size_t)K * N;
    uint32_t r = 1;
    for (int l = 0; l < L; l++) {
        float *w = malloc(n * sizeof *w);
        uint16_t *wb = malloc(n * sizeof *wb);
        for (size_t i = 0; i < n; i++, r = r * 1664525u + 1013904223u) {
            wb[i] = embp_f32_to_bf16(((float)(r >> 8) / 16777216.0f - 0.5f) * 0.05f);
            w[i] = embp_bf16_to_f32(wb[i]);
        }
        weights[l] = t == EMBP_MM_F32 ? (void *)w : (void *)wb;
        if (embp_linear_create(e, w, NULL, K, N, t, 0, &packed[l], &err) ||
            embp_linear_create_in_place(e, weights[l], t, NULL, K, N, 0, &mapped[l], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        free(t == EMBP_MM_F32 ? (void *)wb : (void *)w);
    }
    float *x = embp_malloc_aligned((size_t)512 * K * sizeof *x);
    float *y = embp_malloc_aligned((size_t)512 * N * sizeof *y);
    float *y2 = embp_malloc_aligned((size_t)512 * N * sizeof *y2);
    for (size_t i = 0; i < (size_t)512 * K; i++, r = r * 1664525u + 1013904223u)
        x[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    printf("%s, K %d, N %d, %d layers (%.0f MB of weights), best of %d\n", embp_mm_type_str(t),
           K, N, L, (double)L * n * (t == EMBP_MM_F32 ? 4 : 2) / 1e6, R);
    printf("| M | packed CPU ms | wall ms | in place CPU ms | wall ms | CPU in place / packed |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    const int Ms[] = {1, 16, 64, 512};
    for (int mi = 0; mi < 4; mi++) {
        int M = Ms[mi];
        if (embp_linear_forward(packed[0], x, M, y, &err) ||
            embp_linear_forward(mapped[0], x, M, y2, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (memcmp(y, y2, (size_t)M * N * sizeof *y) != 0)
            printf("M %d: in place and packed differ\n", M);
        double best[2][2] = {{1e9, 1e9}, {1e9, 1e9}};
        for (int rep = 0; rep < R; rep++)
            for (int k = 0; k < 2; k++) {
                embp_linear **ls = k ? mapped : packed;
                double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
                for (int l = 0; l < L; l++)
                    embp_linear_forward(ls[l], x, M, y, &err);
                double c = now(CLOCK_PROCESS_CPUTIME_ID) - c0, w = now(CLOCK_MONOTONIC) - w0;
                best[k][0] = c < best[k][0] ? c : best[k][0];
                best[k][1] = w < best[k][1] ? w : best[k][1];
            }
        printf("| %d | %.1f | %.1f | %.1f | %.1f | %.2f |\n", M, best[0][0] * 1e3,
               best[0][1] * 1e3, best[1][0] * 1e3, best[1][1] * 1e3, best[1][0] / best[0][0]);
    }
    for (int l = 0; l < L; l++) {
        embp_linear_free(packed[l]);
        embp_linear_free(mapped[l]);
        free(weights[l]);
    }
    free(packed), free(mapped), free(weights);
    embp_free_aligned(x), embp_free_aligned(y), embp_free_aligned(y2);
    embp_mm_engine_free(e);
    return 0;
}
