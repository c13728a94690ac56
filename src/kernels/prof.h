/* prof.h: an optional per-op profile of forward passes, for bench_forward --profile. A caller
 * (the benchmark) owns an embp_prof and hands it to a model; the forward pass and the matmul
 * wrapper then add the wall time of each step to its op. Every step ends in a barrier (the
 * parallel regions' and oneDNN's stream wait), so wall time between marks is the step's time
 * on all threads. With no profile attached the cost is one NULL test per step. */
#ifndef EMBP_KERNELS_PROF_H
#define EMBP_KERNELS_PROF_H

#include "core/clock.h"

typedef enum {
    EMBP_OP_EMBED,     /* word + position + type, embedding LayerNorm */
    EMBP_OP_GEMM_QKV,  /* the four GEMMs proper (with oneDNN's fused bias/GELU where it runs) */
    EMBP_OP_GEMM_OUT,
    EMBP_OP_GEMM_FFN_IN,
    EMBP_OP_GEMM_FFN_OUT,
    EMBP_OP_ATTENTION, /* softmax(q k^T) v per sequence and head */
    EMBP_OP_LAYERNORM, /* the two residual LayerNorms of each layer */
    EMBP_OP_CONVERT,   /* fp32 -> bf16 activations before a bf16 GEMM (bert: where x is written) */
    EMBP_OP_QUANTIZE,  /* fp32 -> u8 activations before an int8 GEMM (bert: where x is written) */
    EMBP_OP_EPILOGUE,  /* int8: s32 -> fp32 with scales, zero point and bias (and GELU) */
    EMBP_OP_GELU,      /* GELU outside a GEMM (rotenc.c's gated MLP; int4 fuses its own) */
    EMBP_OP_POOL,      /* pooling and normalization (runtime) */
    EMBP_OP_N
} embp_op;

typedef struct {
    double sec[EMBP_OP_N];
    double cpu[EMBP_OP_N];   /* process CPU time: all threads, spinning included; with one
                              * thread, the op's work, steady on a machine shared with others */
    double flops[EMBP_OP_N]; /* GEMMs: 2 M N K per call, M the rows asked for */
    long calls[EMBP_OP_N];
    embp_op gemm;            /* the GEMM op the next embp_linear_forward counts under */
} embp_prof;

typedef struct {
    double wall, cpu;
} embp_prof_clock;

/* Now, when p profiles (zeros otherwise: no clock is read). */
static inline embp_prof_clock embp_prof_start(const embp_prof *p) {
    embp_prof_clock c = {0.0, 0.0};
    if (p) {
        c.wall = embp_clock_s(CLOCK_MONOTONIC);
        c.cpu = embp_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    }
    return c;
}

/* Adds the time since *t to op and moves *t to now; nothing when p is NULL. */
static inline void embp_prof_mark(embp_prof *p, embp_op op, embp_prof_clock *t) {
    if (!p)
        return;
    embp_prof_clock now = embp_prof_start(p);
    p->sec[op] += now.wall - t->wall;
    p->cpu[op] += now.cpu - t->cpu;
    p->calls[op]++;
    *t = now;
}

static inline const char *embp_op_name(embp_op op) {
    static const char *const names[EMBP_OP_N] = {
        "embedding", "GEMM qkv", "GEMM attn-out", "GEMM ffn-in", "GEMM ffn-out", "attention",
        "layernorm", "convert bf16", "quantize u8", "int8 epilogue", "gelu", "pooling"};
    return names[op];
}

#endif
