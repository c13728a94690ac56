/* Canonical ordering (src/tokenizer/unicode.c) against utf8proc's own NFD and NFC on random
 * runs of combining marks, and a 1 MiB run of alternating marks (issue 12, item 1): the
 * insertion sort it replaces took minutes on that input (quadratic), so the ctest TIMEOUT of
 * this test catches a regression by minutes, not by a timed assertion. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/unicode.h"

/* Starters and marks of several combining classes (1, 7, 9, 202, 216, 220, 230, 232, 233,
 * 234, 240) plus composable letters, so NFC has work to do after the ordering. */
static const uint32_t pool[] = {'a',    'e',    'o',    0x5D0,  0x0334, 0x093C, 0x094D,
                                0x0327, 0x031B, 0x0316, 0x0301, 0x0300, 0x0308, 0x302A,
                                0x035C, 0x035D, 0x0345, 0x00E9, 0x1E69, 0x0323, 0x0307};

/* utf8proc's NFD (compose 0) or NFC of in[0..n), as code points into out; returns the count. */
static size_t reference(const uint32_t *in, size_t n, int compose, uint32_t *out, size_t cap) {
    utf8proc_uint8_t *u8 = malloc(n * 4 + 1);
    assert_non_null(u8);
    size_t blen = 0;
    for (size_t i = 0; i < n; i++)
        blen += (size_t)utf8proc_encode_char((utf8proc_int32_t)in[i], u8 + blen);
    u8[blen] = 0;
    utf8proc_uint8_t *norm = compose ? utf8proc_NFC(u8) : utf8proc_NFD(u8);
    free(u8);
    assert_non_null(norm);
    size_t cnt = 0;
    for (utf8proc_ssize_t i = 0; norm[i];) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(norm + i, -1, &c);
        assert_true(k > 0 && cnt < cap);
        out[cnt++] = (uint32_t)c;
        i += k;
    }
    free(norm);
    return cnt;
}

static void test_ordering_matches_utf8proc_on_random_mark_runs(void **state) {
    (void)state;
    srand(12);
    enum { MAXN = 300 };
    uint32_t in[MAXN], want[MAXN * 4];
    embp_cpbuf got = {0};
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + (size_t)rand() % (iter < 2000 ? 12 : MAXN);
        for (size_t i = 0; i < n; i++) /* mostly marks: long runs of non-starters */
            in[i] = pool[(size_t)rand() % 4 == 0 ? (size_t)rand() % 4
                                                  : (size_t)rand() % (sizeof pool / 4)];
        for (int compose = 0; compose < 2; compose++) {
            size_t m = reference(in, n, compose, want, sizeof want / 4);
            assert_int_equal(embp_uc_normalize(in, n, false, compose, &got), 0);
            if (got.n != m || memcmp(got.p, want, m * 4) != 0)
                fail_msg("iteration %d (n %zu, compose %d): %zu code points, utf8proc %zu", iter,
                         n, compose, got.n, m);
        }
    }
    embp_cpbuf_free(&got);
}

/* U+0301 (class 230) and U+0316 (class 220) alternating, 2^18 each (1 MiB of UTF-8): the
 * canonical order is every U+0316 first, then every U+0301 (stable within a class). */
static void test_long_alternating_mark_run_is_ordered_in_linear_time(void **state) {
    (void)state;
    size_t half = (size_t)1 << 18, n = 2 * half;
    uint32_t *in = malloc(n * sizeof *in);
    assert_non_null(in);
    in[0] = 'a';
    for (size_t i = 1; i < n; i++)
        in[i] = (i & 1) ? 0x301 : 0x316;
    embp_cpbuf got = {0};
    assert_int_equal(embp_uc_normalize(in, n, false, false, &got), 0);
    assert_int_equal(got.n, n);
    assert_int_equal(got.p[0], 'a');
    size_t n316 = half - 1; /* in[2], in[4], ..., in[n-2] */
    for (size_t i = 1; i < n; i++)
        if (got.p[i] != (i <= n316 ? 0x316u : 0x301u))
            fail_msg("code point %zu is U+%04X", i, (unsigned)got.p[i]);
    embp_cpbuf_free(&got);
    free(in);
}

TU_MAIN(cmocka_unit_test(test_ordering_matches_utf8proc_on_random_mark_runs),
        cmocka_unit_test(test_long_alternating_mark_run_is_ordered_in_linear_time))
