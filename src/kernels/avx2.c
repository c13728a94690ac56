/* The AVX2 kernel table: simd_body.h at 8 lanes, fp16 through F16C. */
#include "kernels/kernels.h"

#define VW 8
#include "kernels/simd_body.h"

const embp_kernels embp_kernels_avx2 = EMBP_SIMD_TABLE("avx2", &embp_int4_avx2, NULL, NULL);
