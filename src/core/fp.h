/* fp16 and bf16 scalar conversions (the row kernels in kernels/ do it in bulk). */
#ifndef EMBP_CORE_FP_H
#define EMBP_CORE_FP_H

#include <stdint.h>
#include <string.h>

/* A float's IEEE-754 bits and back (memcpy: the defined way to pun in C). */
static inline uint32_t embp_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float embp_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float embp_bf16_to_f32(uint16_t h) {
    return embp_f32_from_bits((uint32_t)h << 16);
}

/* Round to nearest even; NaN stays NaN. */
static inline uint16_t embp_f32_to_bf16(float f) {
    uint32_t u = embp_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static inline float embp_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    return embp_f32_from_bits(u);
}

/* Round to nearest even, overflow to infinity. */
static inline uint16_t embp_f32_to_fp16(float f) {
    uint32_t u = embp_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00);
    if (a >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00);
    if (a < 0x38800000u) { /* below fp16's smallest normal: subnormal or zero */
        /* + 2^-1 aligns 2^-24 steps to the mantissa's last bit, rounding even */
        uint32_t r = embp_f32_bits(embp_f32_from_bits(a) + 0.5f);
        return (uint16_t)(sign | (r - 0x3f000000u));
    }
    uint32_t m = a + 0xc8000fffu + ((a >> 13) & 1); /* rebias exponent by -112, round even */
    return (uint16_t)(sign | (m >> 13));
}

#endif
