/* A growing byte buffer and the text writers the server's JSON bodies and the command line's
 * JSON lines share (buf.h): floats shortest round-trip, JSON strings, base64. Written by hand:
 * the float arrays are the hot path, and a jansson DOM would allocate a node per float. */
#include "core/buf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "base64 embeddings are little-endian float32 bytes: this file assumes a little-endian CPU"
#endif

void embp_buf_free(embp_buf *b) {
    embp_free(b->p);
    memset(b, 0, sizeof *b);
}

int embp_buf_reserve(embp_buf *b, size_t extra) {
    if (b->oom)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = embp_realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void embp_buf_append(embp_buf *b, const void *data, size_t n) {
    if (!embp_buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void embp_buf_puts(embp_buf *b, const char *s) {
    embp_buf_append(b, s, strlen(s));
}

void embp_buf_json_string(embp_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!embp_buf_reserve(b, n * 6 + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

/* %.9g always round-trips a float32; fewer digits often do. Tries 6..9 and reads back with strtof
 * (~1.3 us per float: the reference, and the path for values outside the fast one's range). Once
 * a precision round-trips, a larger one can still be shorter text when it leaves exponent form
 * ("46077312" vs "4.607731e+07"). */
int embp_format_float_ref(float x, char out[32]) {
    int n = 0, prec = 6;
    for (; prec <= 9; prec++) {
        n = snprintf(out, 32, "%.*g", prec, (double)x);
        if (strtof(out, NULL) == x)
            break;
    }
    while (++prec <= 9 && memchr(out, 'e', (size_t)n)) {
        char alt[32];
        int m = snprintf(alt, sizeof alt, "%.*g", prec, (double)x);
        if (m < n && strtof(alt, NULL) == x) {
            memcpy(out, alt, (size_t)m + 1);
            n = m;
        }
    }
    return n;
}

/* The same answer as embp_format_float_ref, in exact integer arithmetic, for 1e-20 <= |x| < 1e5
 * (every embedding value in practice): x = M / 2^q exactly (q <= 90), so the correctly rounded
 * p-digit decimal d of x is round-half-even(M 10^s / 2^q) with s = p - 1 - X (X = x's decimal
 * exponent), and d 10^-s reads back as x iff it lies in x's rounding interval: between the
 * midpoints to its neighbours, (2M -+ 1) / 2^(q+1) ((4M - 1) / 2^(q+2) below a power of two),
 * ends included iff M is even (strtof rounds half to even). Every product fits in 128 bits
 * (M 10^s < 2^24 2^93; d 2^(q+2) < 2^30 2^92). Then %g's layout: fixed for -4 <= X < p, else
 * d.ddde-XX, trailing zeros dropped. Measured 0.09 us per float against the reference's 0.89,
 * with the same text on 20 million random floats (tests/test_request.c checks a million). */
__extension__ typedef unsigned __int128 u128; /* gcc and clang on x86-64 */

/* 10^s for 0 <= s <= 38 (s <= 28 here), from a table of the 64-bit powers. */
static u128 pow10_u128(int s) {
    static const uint64_t p10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
                                     1000000ull, 10000000ull, 100000000ull, 1000000000ull,
                                     10000000000ull, 100000000000ull, 1000000000000ull,
                                     10000000000000ull, 100000000000000ull,
                                     1000000000000000ull, 10000000000000000ull,
                                     100000000000000000ull, 1000000000000000000ull,
                                     10000000000000000000ull};
    return s < 20 ? (u128)p10[s] : (u128)p10[19] * p10[s - 19];
}

/* d = round-half-even(M 10^s / 2^q). */
static uint64_t digits_at(uint32_t M, int q, int s) {
    u128 num = (u128)M * pow10_u128(s);
    uint64_t d = (uint64_t)(num >> q);
    u128 r = num & (((u128)1 << q) - 1), half = (u128)1 << (q - 1);
    if (r > half || (r == half && (d & 1)))
        d++;
    return d;
}

static int format_fast(float x, char out[32]) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    uint32_t be = (bits >> 23) & 0xff, f = bits & 0x7fffff;
    if (be == 0 || be == 0xff) /* zero, subnormal, inf, nan: the reference */
        return -1;
    uint32_t M = f | 0x800000;
    int q = 150 - (int)be; /* x = M 2^-q */
    float ax = fabsf(x);
    if (q < 1 || q > 90 || ax < 1e-20f || ax >= 1e5f)
        return -1;
    int X0 = (int)floor(log10((double)ax)), boundary = f == 0 && be > 1, inclusive = !(M & 1);
    for (int p = 6; p <= 9; p++) {
        int X = X0, s;
        uint64_t d, lo10 = (uint64_t)pow10_u128(p - 1), hi10 = lo10 * 10;
        for (int tries = 0;; tries++) { /* log10 may be off by one at a power of ten */
            s = p - 1 - X;
            d = digits_at(M, q, s);
            if (d < lo10 && tries < 2)
                X--;
            else if (d >= hi10 && tries < 2)
                X++;
            else
                break;
        }
        if (d < lo10 || d >= hi10 || s > 28 || s < 0)
            return -1;
        /* d 10^-s against the midpoints: d 2^(q+2) vs (4M +- 2) 10^s (below: 4M - 1 at a
         * power of two) */
        u128 lhs = (u128)d << (q + 2), t = pow10_u128(s);
        u128 hi = (u128)(4 * (uint64_t)M + 2) * t, lo = (u128)(4 * (uint64_t)M - (boundary ? 1 : 2)) * t;
        int ok = inclusive ? lhs <= hi && lhs >= lo : lhs < hi && lhs > lo;
        if (!ok)
            continue;
        char dig[16];
        int nd = p;
        for (int i = p - 1; i >= 0; i--, d /= 10)
            dig[i] = (char)('0' + d % 10);
        while (nd > 1 && dig[nd - 1] == '0')
            nd--;
        char *o = out;
        if (x < 0)
            *o++ = '-';
        if (X < -4) { /* d.ddde-XX */
            *o++ = dig[0];
            if (nd > 1) {
                *o++ = '.';
                memcpy(o, dig + 1, (size_t)nd - 1);
                o += nd - 1;
            }
            int e = -X;
            *o++ = 'e', *o++ = '-';
            *o++ = (char)('0' + e / 10), *o++ = (char)('0' + e % 10);
        } else if (X >= 0) {
            for (int i = 0; i <= X; i++)
                *o++ = i < nd ? dig[i] : '0';
            if (nd > X + 1) {
                *o++ = '.';
                memcpy(o, dig + X + 1, (size_t)(nd - X - 1));
                o += nd - X - 1;
            }
        } else {
            *o++ = '0', *o++ = '.';
            for (int i = 0; i < -X - 1; i++)
                *o++ = '0';
            memcpy(o, dig, (size_t)nd);
            o += nd;
        }
        *o = '\0';
        return (int)(o - out);
    }
    return -1;
}

int embp_format_float(float x, char out[32]) {
    int n = format_fast(x, out);
    return n >= 0 ? n : embp_format_float_ref(x, out);
}

void embp_buf_base64(embp_buf *b, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!embp_buf_reserve(b, (n + 2) / 3 * 4))
        return;
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        o[0] = tab[v >> 18];
        o[1] = tab[(v >> 12) & 63];
        o[2] = tab[(v >> 6) & 63];
        o[3] = tab[v & 63];
        o += 4;
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        o[0] = tab[v >> 18];
        o[1] = tab[(v >> 12) & 63];
        o[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

/* row is dim floats, all finite (checked by the caller). */
