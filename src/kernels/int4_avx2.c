/* AVX2 int4 GEMM (int4.h, bf16 numerics in fp32 FMA): the fallback for CPUs without
 * AVX512_BF16. A is rounded to bf16 once into scratch (kept as fp32), each weight group is
 * unpacked once to fp32 and dotted with every row of A, and C accumulates group by group. */
#include <immintrin.h>
#include <string.h>

#include "core/fp.h"
#include "kernels/int4.h"

static size_t scratch_avx2(int m, int k) {
    return (size_t)m * k * sizeof(float) + 64;
}

/* 8 values of a quant.h row from k (a multiple of 8): 4 bytes -> 8 floats q - 8. */
static inline __m256 unpack8(const uint8_t *row, int k) {
    uint32_t b;
    memcpy(&b, row + k / 2, 4);
    __m256i v = _mm256_set1_epi32((int)b);
    v = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    v = _mm256_sub_epi32(_mm256_and_si256(v, _mm256_set1_epi32(15)), _mm256_set1_epi32(8));
    return _mm256_cvtepi32_ps(v);
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Column j over all m rows of ab (bf16-rounded A as fp32). */
static void column(const embp_int4_weights *w, const float *ab, int m, int j, float *c) {
    int n = w->n, k = w->k, g = w->group_size, ng = k / g;
    const uint8_t *row = w->q + (size_t)j * k / 2;
    __m256 wq[256 / 8];
    for (int b = 0; b < ng; b++) {
        float s = embp_fp16_to_f32(w->scales[(size_t)j * ng + b]);
        for (int t = 0; t < g / 8; t++)
            wq[t] = unpack8(row, b * g + 8 * t);
        for (int i = 0; i < m; i++) {
            const float *ar = ab + (size_t)i * k + b * g;
            __m256 acc = _mm256_setzero_ps();
            for (int t = 0; t < g / 8; t++)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(ar + 8 * t), wq[t], acc);
            c[(size_t)i * n + j] += hsum8(acc) * s;
        }
    }
}

static void gemm_avx2(const embp_int4_weights *w, const float *a, int m, const float *bias,
                      float *c, void *scratch) {
    float *ab = scratch;
    for (size_t i = 0; i < (size_t)m * w->k; i++)
        ab[i] = embp_bf16_to_f32(embp_f32_to_bf16(a[i]));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < w->n; j++)
            c[(size_t)i * w->n + j] = 0.0f;
#pragma omp parallel for schedule(static) if ((size_t)m * w->n * w->k > (1u << 18))
    for (int j = 0; j < w->n; j++)
        column(w, ab, m, j, c);
    if (bias)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < w->n; j++)
                c[(size_t)i * w->n + j] += bias[j];
}

const embp_int4_kernel embp_int4_avx2 = {"avx2", 0, EMBP_INT4_LAYOUT_ROWS, gemm_avx2,
                                         scratch_avx2};
