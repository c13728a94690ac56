/* isa_peak.h: the instruction set's limit on this CPU, for the benchmarks: the issue rate of
 * independent fp32 FMA, vdpbf16ps and vpdpbusd chains (12 accumulators, more than latency x
 * pipes on any x86 core) per core, as GFLOP/s (GOP/s for int8: a multiply and an add per
 * product). Timed on each thread's own CPU clock (CLOCK_THREAD_CPUTIME_ID), so a machine shared
 * with other processes gives the rate of the time the thread ran, not of the wall clock. */
#ifndef EMBP_BENCH_ISA_PEAK_H
#define EMBP_BENCH_ISA_PEAK_H

#include <immintrin.h>
#include <time.h>

#include "core/cpu.h"

static double isa_thread_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One step of the 12 chains; the empty asm makes each accumulator opaque to the compiler, so
 * chains that start equal are never merged into one. */
#define ISA_CHAINS(op)                                                                         \
    do {                                                                                       \
        a0 = op(a0), a1 = op(a1), a2 = op(a2), a3 = op(a3), a4 = op(a4), a5 = op(a5);          \
        a6 = op(a6), a7 = op(a7), a8 = op(a8), a9 = op(a9), a10 = op(a10), a11 = op(a11);      \
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));     \
        __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));   \
    } while (0)

/* Defines NAME(iters, sink): seconds of thread CPU time for `iters` x 12 instructions OP(a) on
 * 12 accumulators of type VT starting at INIT; SUM folds one accumulator into *sink so none is
 * dead code. */
#define ISA_LOOP(NAME, TARGET, VT, INIT, OP, SUM)                                              \
    __attribute__((target(TARGET))) static double NAME(long iters, float *sink) {              \
        VT a0 = INIT, a1 = INIT, a2 = INIT, a3 = INIT, a4 = INIT, a5 = INIT, a6 = INIT;         \
        VT a7 = INIT, a8 = INIT, a9 = INIT, a10 = INIT, a11 = INIT;                             \
        double t = isa_thread_s();                                                             \
        for (long i = 0; i < iters; i++)                                                       \
            ISA_CHAINS(OP);                                                                    \
        t = isa_thread_s() - t;                                                                \
        VT all[12] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};                        \
        for (int j = 0; j < 12; j++)                                                           \
            *sink += SUM(all[j]);                                                              \
        return t;                                                                              \
    }

#define FMA256(a) _mm256_fmadd_ps(a, _mm256_set1_ps(0.999999f), _mm256_set1_ps(1e-7f))
#define FMA512(a) _mm512_fmadd_ps(a, _mm512_set1_ps(0.999999f), _mm512_set1_ps(1e-7f))
#define BF16(a)                                                                                \
    _mm512_dpbf16_ps(a, (__m512bh)_mm512_set1_epi16(0x3f80), (__m512bh)_mm512_set1_epi16(0x3380))
#define VNNI(a) _mm512_dpbusd_epi32(a, _mm512_set1_epi8(3), _mm512_set1_epi8(-2))
#define LANE0(v) ((float)(v)[0])

ISA_LOOP(isa_fma256, "avx2,fma", __m256, _mm256_set1_ps(1.0f), FMA256, LANE0)
ISA_LOOP(isa_fma512, "avx512f", __m512, _mm512_set1_ps(1.0f), FMA512, LANE0)
ISA_LOOP(isa_bf16, "avx512f,avx512bf16", __m512, _mm512_setzero_ps(), BF16, LANE0)
ISA_LOOP(isa_vnni, "avx512f,avx512vnni", __m512i, _mm512_setzero_si512(), VNNI, LANE0)

typedef struct {
    double fma, bf16, vnni; /* per core, G(FL)OP/s; 0 where the CPU lacks the instruction */
    int fma_bits;           /* 512 or 256 */
} isa_peak;

/* The best of 5 runs of ~0.1 s each on one thread. */
static double isa_best(double (*f)(long, float *), double ops_per_iter) {
    float sink = 0.0f;
    double best = 0.0;
    long iters = 1 << 22;
    for (int r = 0; r < 5; r++) {
        double t = f(iters, &sink);
        double g = ops_per_iter * (double)iters / t / 1e9;
        best = g > best ? g : best;
    }
    return sink == 12345.0f ? -best : best;
}

static isa_peak isa_measure(const embp_cpu *c) {
    isa_peak p = {0};
    if (embp_cpu_has_avx512(c)) {
        p.fma = isa_best(isa_fma512, 12 * 16 * 2), p.fma_bits = 512;
        if (c->avx512_bf16)
            p.bf16 = isa_best(isa_bf16, 12 * 16 * 2 * 2);
        if (c->avx512_vnni)
            p.vnni = isa_best(isa_vnni, 12 * 16 * 4 * 2);
    } else if (embp_cpu_has_avx2(c)) {
        p.fma = isa_best(isa_fma256, 12 * 8 * 2), p.fma_bits = 256;
    }
    return p;
}

#endif
