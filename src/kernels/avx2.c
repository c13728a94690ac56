/* The AVX2 kernel table: simd_body.h at 8 lanes, fp16 through F16C. */
#include "kernels/kernels.h"

#include <immintrin.h>

#define VW 8
typedef float vf __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(32)));
typedef uint32_t vu __attribute__((vector_size(32)));
typedef uint16_t vh __attribute__((vector_size(16)));
typedef uint8_t vb __attribute__((vector_size(8)));

static inline vf cvt_ph(const uint16_t *p) {
    return (vf)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline vf splat(float x) {
    return (vf)_mm256_set1_ps(x);
}

/* a * b + c in one rounding: ISO C mode compiles with -ffp-contract=off, so plain a * b + c
 * would never become an FMA. */
static inline vf fmadd(vf a, vf b, vf c) {
    return (vf)_mm256_fmadd_ps(a, b, c);
}

#include "kernels/simd_body.h"

const embp_kernels embp_kernels_avx2 = EMBP_SIMD_TABLE("avx2", &embp_int4_avx2, NULL);
