/* runtime/pooling.c on hand-computed values: every mode with a prompt left out (skip), as
 * sentence-transformers masks it (Pooling._forward_padded), including a sequence that is all
 * prompt; the Dense activations; Normalize and matryoshka after Dense. The same code against
 * sentence-transformers itself: test_modules_reference. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "runtime/pooling.h"

/* Two sequences of H = 2: rows 0..3 (4 tokens) and row 4 (1 token). */
static const float h[] = {1, 10, 2, 20, 3, 30, 4, -40, 5, 50};
static const int offsets[] = {0, 4, 5};

static void expect_rows(embp_pooling mode, const int *skip, const double *want) {
    float out[4];
    embp_pool_rows(mode, h, offsets, skip, 2, 2, out);
    for (int i = 0; i < 4; i++)
        if (!(fabs(out[i] - want[i]) <= 1e-6 * (1 + fabs(want[i]))) &&
            !(isinf(want[i]) && out[i] == want[i]))
            fail_msg("%s, skip %s: value %d is %g, expected %g", embp_pooling_str(mode),
                     skip ? "given" : "none", i, out[i], want[i]);
}

static void test_modes_without_and_with_a_prompt(void **state) {
    (void)state;
    const int skip[] = {2, 1}; /* sequence 1 is all prompt */
    /* no skip */
    expect_rows(EMBP_POOLING_MEAN, NULL, (double[]){2.5, 5, 5, 50});
    expect_rows(EMBP_POOLING_CLS, NULL, (double[]){1, 10, 5, 50});
    expect_rows(EMBP_POOLING_MAX, NULL, (double[]){4, 30, 5, 50});
    expect_rows(EMBP_POOLING_LASTTOKEN, NULL, (double[]){4, -40, 5, 50});
    expect_rows(EMBP_POOLING_MEAN_SQRT_LEN, NULL, (double[]){5, 10, 5, 50});
    /* weights 1..4: (1 + 4 + 9 + 16) / 10, (10 + 40 + 90 - 160) / 10 */
    expect_rows(EMBP_POOLING_WEIGHTEDMEAN, NULL, (double[]){3, -2, 5, 50});
    /* the first two rows left out; the all-prompt sequence gets what ST gives */
    expect_rows(EMBP_POOLING_MEAN, skip, (double[]){3.5, -5, 0, 0});
    expect_rows(EMBP_POOLING_CLS, skip, (double[]){3, 30, 5, 50});
    expect_rows(EMBP_POOLING_MAX, skip, (double[]){4, 30, -INFINITY, -INFINITY});
    expect_rows(EMBP_POOLING_LASTTOKEN, skip, (double[]){4, -40, 0, 0});
    expect_rows(EMBP_POOLING_MEAN_SQRT_LEN, skip, (double[]){7 / sqrt(2), -10 / sqrt(2), 0, 0});
    /* the rows kept keep their weights 3 and 4: (9 + 16) / 7, (90 - 160) / 7 */
    expect_rows(EMBP_POOLING_WEIGHTEDMEAN, skip, (double[]){25.0 / 7, -10, 0, 0});
}

/* embp_pool_skip (no Dense) equals embp_pool_rows then embp_pool_finish. */
static void test_pool_skip_is_rows_then_finish(void **state) {
    (void)state;
    const int skip[] = {1, 0};
    float a[4], b[4];
    embp_pool_skip(EMBP_POOLING_WEIGHTEDMEAN, 1, h, offsets, skip, 2, 2, 2, a);
    embp_pool_rows(EMBP_POOLING_WEIGHTEDMEAN, h, offsets, skip, 2, 2, b);
    embp_pool_finish(b, 2, 2, 2, 1, b);
    for (int i = 0; i < 4; i++)
        assert_float_equal(a[i], b[i], 1e-7);
}

static void test_dense_activations_and_finish(void **state) {
    (void)state;
    const float W[] = {1, 2, -1, 0.5f, 0, 0}; /* (3, 2) */
    const float bias[] = {0.5f, -1, 0};
    const float x[] = {1, -2, 3, 4}; /* two rows */
    const double pre[] = {1 - 4 + 0.5, -1 - 1 - 1, 0, 3 + 8 + 0.5, -3 + 2 - 1, 0};
    embp_dense_config d = {.in = 2, .out = 3, .bias = 1};
    for (int a = EMBP_ACT_IDENTITY; a <= EMBP_ACT_GELU; a++) {
        d.act = (embp_activation)a;
        float y[6];
        embp_dense_apply(&d, W, bias, x, 2, y);
        for (int i = 0; i < 6; i++) {
            double v = pre[i], want = a == EMBP_ACT_TANH      ? tanh(v)
                                      : a == EMBP_ACT_RELU    ? (v > 0 ? v : 0)
                                      : a == EMBP_ACT_SIGMOID ? 1 / (1 + exp(-v))
                                      : a == EMBP_ACT_GELU    ? 0.5 * v * (1 + erf(v / sqrt(2)))
                                                              : v;
            assert_float_equal(y[i], want, 1e-6);
        }
    }
    float y[6];
    d.act = EMBP_ACT_IDENTITY;
    embp_dense_apply(&d, W, NULL, x, 2, y); /* bias false */
    assert_float_equal(y[0], -3, 1e-6);
    /* Normalize over all 3, then matryoshka 2: row 0 (-2.5, -3, 0) -> first 2 at unit length */
    embp_dense_apply(&d, W, bias, x, 2, y);
    embp_pool_finish(y, 2, 3, 2, 1, y);
    double n = sqrt(2.5 * 2.5 + 9);
    assert_float_equal(y[0], -2.5 / n, 1e-6);
    assert_float_equal(y[1], -3 / n, 1e-6);
    n = sqrt(11.5 * 11.5 + 4);
    assert_float_equal(y[2], 11.5 / n, 1e-6);
    assert_float_equal(y[3], -2 / n, 1e-6);
}

TU_MAIN(cmocka_unit_test(test_modes_without_and_with_a_prompt),
        cmocka_unit_test(test_pool_skip_is_rows_then_finish),
        cmocka_unit_test(test_dense_activations_and_finish))
