/* The AVX-512 kernel tables: simd_body.h at 16 lanes, fp16 through vcvtph2ps; one table per
 * int4 kernel set the CPU may run (kernels.h). */
#include "kernels/kernels.h"

#define VW 16
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
