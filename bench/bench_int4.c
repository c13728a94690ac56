/* bench_int4: the int4 GEMM (the variant kernels.h's table holds here) against oneDNN's bf16 and
 * fp32 matmul at the same shapes, in one run. oneDNN gets prepacked weights (format_tag any,
 * reordered once) and a primitive for this fixed M (never runtime M with blocked weights: that
 * falls to a reference kernel), and bf16 activations converted outside the timing; the int4
 * timing includes its own activation conversion. Results are checked against the scalar
 * reference (first rows) before timing. Usage: bench_int4 [--quick] (M = 16 only) [--cpu-time]
 * [--shape MxKxN] (that shape alone, instead of the table's). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/fp.h"
#include "kernels/dnnl_compat.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

/* --cpu-time: process CPU time instead of the wall clock (with OMP_NUM_THREADS=1, each call's
 * work, steadier on a machine shared with other processes). */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * ldexp(1.0, -52) - 1.0);
}

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        dnnl_status_t s_ = (x);                                                                    \
        if (s_ != dnnl_success) {                                                                  \
            fprintf(stderr, "oneDNN: %s failed (%d)\n", #x, (int)s_);                              \
            return -1.0;                                                                           \
        }                                                                                          \
    } while (0)

/* Best-of time in ms of oneDNN matmul [m,k] x [k,n] in dt (bf16 or f32); impl gets its name.
 * w is [n, k] fp32 (torch layout, so B is tag ba). -1 on failure. */
static double time_dnnl(dnnl_engine_t eng, dnnl_stream_t st, dnnl_data_type_t dt, int m, int k,
                        int n, const float *a, const float *w, char *impl, size_t impl_size) {
    dnnl_memory_desc_t a_md = EMBP_DNNL_MD_INIT, b_any = EMBP_DNNL_MD_INIT;
    dnnl_memory_desc_t b_src = EMBP_DNNL_MD_INIT, c_md = EMBP_DNNL_MD_INIT;
    dnnl_memory_desc_t a32_md = EMBP_DNNL_MD_INIT; /* leak on failure: a benchmark that exits */
    CHECK(embp_dnnl_md_2d(&a_md, m, k, dt, dnnl_ab));
    CHECK(embp_dnnl_md_2d(&a32_md, m, k, dnnl_f32, dnnl_ab));
    CHECK(embp_dnnl_md_2d(&b_any, k, n, dt, dnnl_format_tag_any));
    CHECK(embp_dnnl_md_2d(&b_src, k, n, dnnl_f32, dnnl_ba));
    CHECK(embp_dnnl_md_2d(&c_md, m, n, dnnl_f32, dnnl_ab));
    dnnl_primitive_desc_t pd;
    if (embp_dnnl_matmul_pd(&pd, eng, embp_dnnl_md_ref(&a_md), embp_dnnl_md_ref(&b_any), NULL,
                            embp_dnnl_md_ref(&c_md), NULL) != dnnl_success) {
        snprintf(impl, impl_size, "unimplemented");
        return -1.0;
    }
    const char *name = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    snprintf(impl, impl_size, "%s", name);
    embp_dnnl_cmd b_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t am, a32, bsrc, bm, cm;
    CHECK(dnnl_memory_create(&am, embp_dnnl_md_ref(&a_md), eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&a32, embp_dnnl_md_ref(&a32_md), eng, (void *)(uintptr_t)a));
    CHECK(dnnl_memory_create(&bsrc, embp_dnnl_md_ref(&b_src), eng, (void *)(uintptr_t)w));
    CHECK(dnnl_memory_create(&bm, b_md, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&cm, embp_dnnl_md_ref(&c_md), eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r, mm;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, embp_dnnl_md_ref(&b_src), eng, b_md, eng,
                                             NULL));
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, bsrc}, {DNNL_ARG_TO, bm}};
    CHECK(dnnl_primitive_execute(r, st, 2, rargs)); /* weights prepacked once */
    dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_destroy(r);
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, embp_dnnl_md_ref(&a32_md), eng,
                                             embp_dnnl_md_ref(&a_md), eng, NULL));
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t aargs[2] = {{DNNL_ARG_FROM, a32}, {DNNL_ARG_TO, am}};
    CHECK(dnnl_primitive_execute(r, st, 2, aargs)); /* activations to dt outside the timing */
    CHECK(dnnl_stream_wait(st));
    CHECK(dnnl_primitive_create(&mm, pd));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    double best = 1e30, t_end = now() + 0.4;
    for (int rep = 0; rep < 3 || (now() < t_end && rep < 50); rep++) {
        double t0 = now();
        CHECK(dnnl_primitive_execute(mm, st, 3, args));
        CHECK(dnnl_stream_wait(st));
        double dt_ = now() - t0;
        best = dt_ < best ? dt_ : best;
    }
    dnnl_primitive_destroy(mm), dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd), dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(am), dnnl_memory_destroy(a32), dnnl_memory_destroy(bsrc);
    dnnl_memory_destroy(bm), dnnl_memory_destroy(cm);
    embp_dnnl_md_free(&a_md), embp_dnnl_md_free(&a32_md), embp_dnnl_md_free(&b_any);
    embp_dnnl_md_free(&b_src), embp_dnnl_md_free(&c_md);
    return best * 1e3;
}

/* Best-of ms of kern; checks its first rows against the scalar reference first. Returns -1 on
 * a wrong result. */
static double time_int4(const embp_int4_kernel *kern, int m, int k, int n, const float *a,
                        const uint8_t *q, const uint16_t *sc, double *maxrel) {
    embp_int4_weights w, wr;
    embp_error err;
    const embp_int4_kernel *ref = kern->int8_compute ? &embp_int4_scalar_int8 : &embp_int4_scalar;
    if (embp_int4_pack(kern, q, sc, n, k, 32, &w, &err) != EMBP_OK ||
        embp_int4_pack(ref, q, sc, n, k, 32, &wr, &err) != EMBP_OK) {
        fprintf(stderr, "pack: %s\n", err.msg);
        return -1.0;
    }
    float *c = embp_malloc_aligned(sizeof(float) * m * n);
    float *cr = embp_malloc_aligned(sizeof(float) * 4 * n);
    void *scratch = embp_malloc_aligned(kern->scratch_bytes(m, k) + 64);
    int mc = m < 4 ? m : 4;
    kern->gemm(&w, a, m, NULL, NULL, c, scratch);
    embp_int4_gemm(ref, &wr, a, mc, NULL, NULL, cr, NULL, &err);
    *maxrel = 0.0;
    double cmax = 0.0;
    for (int i = 0; i < mc * n; i++)
        cmax = fmax(cmax, fabs(cr[i]));
    for (int i = 0; i < mc * n; i++)
        *maxrel = fmax(*maxrel, fabs(c[i] - cr[i]) / cmax);
    double best = 1e30, t_end = now() + 0.4;
    for (int rep = 0; rep < 3 || (now() < t_end && rep < 50); rep++) {
        double t0 = now();
        kern->gemm(&w, a, m, NULL, NULL, c, scratch);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    embp_free_aligned(c), embp_free_aligned(cr), embp_free_aligned(scratch);
    embp_int4_weights_free(&w), embp_int4_weights_free(&wr);
    return *maxrel > 1e-4 ? -1.0 : best * 1e3;
}

static void run_shape(dnnl_engine_t eng, dnnl_stream_t st, const embp_int4_kernel *kern, int m,
                      int k, int n) {
    float *a = embp_malloc_aligned(sizeof(float) * m * k);
    float *w = embp_malloc_aligned(sizeof(float) * n * k);
    uint8_t *q = embp_malloc_aligned((size_t)n * k / 2);
    uint16_t *sc = embp_malloc_aligned(sizeof(uint16_t) * n * (k / 32));
    for (size_t i = 0; i < (size_t)m * k; i++)
        a[i] = frand();
    for (size_t i = 0; i < (size_t)n * k; i++)
        w[i] = 0.05f * frand();
    embp_quant_int4(w, n, k, 32, q, sc, NULL);
    double rel, t4 = time_int4(kern, m, k, n, a, q, sc, &rel);
    char ib[128], if32[128];
    double tb = time_dnnl(eng, st, dnnl_bf16, m, k, n, a, w, ib, sizeof ib);
    double tf = time_dnnl(eng, st, dnnl_f32, m, k, n, a, w, if32, sizeof if32);
    double gf = 2e-6 * m * k * n;
    printf("| %4d | %4d | %4d | %8.3f | %6.1f | %8.3f | %-22.22s | %8.3f | %-22.22s | %5.2f | %5.2f "
           "| %.1e |\n", m, k, n, t4, t4 > 0 ? gf / t4 : 0.0, tb, ib, tf, if32,
           tb > 0 && t4 > 0 ? tb / t4 : 0.0, tf > 0 && t4 > 0 ? tf / t4 : 0.0, rel);
    fflush(stdout);
    embp_free_aligned(a), embp_free_aligned(w), embp_free_aligned(q), embp_free_aligned(sc);
}

int main(int argc, char **argv) {
    int quick = 0, sm = 0, sk = 0, sn = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc &&
                 sscanf(argv[++i], "%dx%dx%d", &sm, &sk, &sn) == 3 && sm > 0 && sk > 0 && sn > 0 &&
                 sk % 32 == 0)
            ;
        else if (!strcmp(argv[i], "--cpu-time"))
            g_clock = CLOCK_PROCESS_CPUTIME_ID;
        else
            return fprintf(stderr, "usage: bench_int4 [--quick] [--cpu-time] [--shape MxKxN] (K a "
                                   "multiple of 32)\n"), 2;
    }
    static const int kn[][2] = {{384, 1152}, {384, 384},  {384, 1536}, {1536, 384},
                                {768, 2304}, {768, 3072}, {3072, 768}};
    const embp_cpu *cpu = embp_cpu_get();
    const embp_int4_kernel *kern = embp_kernels_pick(cpu)->int4[0];
    char feats[256];
    embp_cpu_features_str(cpu, feats, sizeof feats);
    time_t t = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", gmtime(&t));
    printf("# bench_int4 %s UTC, %s, features: %s, threads %d, int4 kernel %s (group 32)\n", date,
           cpu->brand, feats, omp_get_max_threads(), kern->name);
    printf("# times are best-of-N ms (%s); ratio = oneDNN time / int4 time (>= 0.8 meets the bf16 "
           "target); maxrel = |int4 - scalar ref| / max|ref| on the first rows\n",
           g_clock == CLOCK_MONOTONIC ? "wall clock" : "process CPU time");
    printf("| M | K | N | int4 ms | GFLOP/s | dnnl bf16 ms | bf16 impl | dnnl f32 ms | f32 impl "
           "| bf16/int4 | f32/int4 | maxrel |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&st, eng, dnnl_stream_default_flags) != dnnl_success)
        return 1;
    static const int ms[] = {16, 4096};
    if (sm)
        run_shape(eng, st, kern, sm, sk, sn);
    for (int mi = 0; mi < (sm ? 0 : quick ? 1 : 2); mi++)
        for (size_t s = 0; s < sizeof kn / sizeof kn[0]; s++)
            run_shape(eng, st, kern, ms[mi], kn[s][0], kn[s][1]);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}
