/* The AVX-512 kernel tables: simd_body.h at 16 lanes, fp16 through vcvtph2ps; one table per
 * int4 kernel set the CPU may run (kernels.h). */
#include "kernels/kernels.h"

#include <immintrin.h>

#define VW 16
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef uint32_t vu __attribute__((vector_size(64)));
typedef uint16_t vh __attribute__((vector_size(32)));
typedef uint8_t vb __attribute__((vector_size(16)));

static inline vf cvt_ph(const uint16_t *p) {
    return (vf)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

static inline vf splat(float x) {
    return (vf)_mm512_set1_ps(x);
}

/* a * b + c in one rounding: ISO C mode compiles with -ffp-contract=off, so plain a * b + c
 * would never become an FMA. */
static inline vf fmadd(vf a, vf b, vf c) {
    return (vf)_mm512_fmadd_ps(a, b, c);
}

#include "kernels/simd_body.h"

/* clang-format off */
const embp_kernels embp_kernels_avx512           = EMBP_SIMD_TABLE("avx512", &embp_int4_avx2, NULL);
const embp_kernels embp_kernels_avx512_bf16      = EMBP_SIMD_TABLE("avx512", &embp_int4_avx512_bf16,
                                                                   NULL);
const embp_kernels embp_kernels_avx512_vnni      = EMBP_SIMD_TABLE("avx512", &embp_int4_avx2,
                                                                   &embp_int4_avx512_vnni);
const embp_kernels embp_kernels_avx512_bf16_vnni = EMBP_SIMD_TABLE("avx512", &embp_int4_avx512_bf16,
                                                                   &embp_int4_avx512_vnni);
/* clang-format on */
