/* The CPU probe: which instruction sets this machine (and its OS) can run.
 * embp_cpu_get() is the one piece of global state in embp: it runs CPUID once (call_once)
 * and applies the EMBP_CPU_FEATURES mask, e.g. "-avx512_bf16,-avx512_vnni", so every
 * fallback path can be tested on a machine that has the feature. A mask also caps oneDNN at the
 * masked CPU's level (dnnl_set_max_cpu_isa, process-wide): kernels/matmul.c applies it once,
 * before embp's first oneDNN object, since core/ does not link oneDNN. */
#ifndef EMBP_CORE_CPU_H
#define EMBP_CORE_CPU_H

#include "core/status.h"

/* clang-format off */
#define EMBP_CPU_FEATURE_LIST(X) \
    X(avx2)        X(fma)         X(f16c)        X(avx512f)     X(avx512bw)    \
    X(avx512vl)    X(avx512_bf16) X(avx512_vnni) X(avx_vnni)    X(avx512_fp16) \
    X(amx_tile)    X(amx_bf16)    X(amx_int8)
/* clang-format on */

typedef struct {
#define EMBP_X(name) unsigned char name;
    EMBP_CPU_FEATURE_LIST(EMBP_X)
#undef EMBP_X
    int n_cores;        /* CPUs this process may run on */
    char vendor[13];    /* "AuthenticAMD", "GenuineIntel" */
    char brand[49];     /* "AMD EPYC ..." */
    char masked[128];   /* features removed by the mask, comma separated; "" if none */
} embp_cpu;

/* The probed CPU with EMBP_CPU_FEATURES applied. Never NULL; lives for the process. A bad
 * mask is reported once on stderr and ignored; embp_cpu_mask() reports it as an error. */
const embp_cpu *embp_cpu_get(void);

/* The CPU as probed, before any mask. */
const embp_cpu *embp_cpu_get_unmasked(void);

/* Applies mask ("-avx512_bf16,-avx512_vnni" or "avx2" to keep only up to AVX2) to *base into
 * *out. Removing a feature removes the ones that need it (no avx512f: no avx512_bf16).
 * "avx2", "avx512" and "scalar" name levels: keep only what that level implies. */
embp_status embp_cpu_mask(const embp_cpu *base, const char *mask, embp_cpu *out /* OUT */,
                          embp_error *err);

/* Writes "avx2 fma f16c avx512f ..." (features present) into buf. */
void embp_cpu_features_str(const embp_cpu *cpu, char *buf, size_t size);

/* 1 when the CPU has what the AVX-512 kernels need (F, BW, VL); similarly for AVX2 (+FMA, F16C). */
int embp_cpu_has_avx512(const embp_cpu *cpu);
int embp_cpu_has_avx2(const embp_cpu *cpu);

#endif
