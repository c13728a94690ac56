/* tests/test_rope.c: the rotary part (src/model/rope.h) against hand-computed rotations in double
 * precision and RoPE's defining property: the dot product of a query rotated to position m and a
 * key rotated to position n depends on m - n only. The families that use it are checked against
 * transformers in their own tests. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "model/rope.h"

/* Position 0 is the identity; position p rotates each pair (i, i + dim/2) by p / theta^(2i/dim). */
static void test_rotation_is_the_hand_computed_one(void **state) {
    (void)state;
    enum { DIM = 8, HEAD = 10, NH = 2 }; /* 2 features per head past the rotated 8 pass through */
    embp_rope r;
    embp_error err;
    assert_int_equal(embp_rope_init(&r, DIM, 10000.0, 300, &err), EMBP_OK);
    float x[NH * HEAD], orig[NH * HEAD];
    for (int i = 0; i < NH * HEAD; i++)
        orig[i] = (float)sin(1.0 + 0.7 * i);
    int positions[] = {0, 1, 17, 299};
    for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
        int p = positions[k];
        memcpy(x, orig, sizeof x);
        embp_rope_apply(&r, x, p, NH, HEAD);
        for (int h = 0; h < NH; h++) {
            const float *o = orig + h * HEAD;
            const float *y = x + h * HEAD;
            for (int i = 0; i < DIM / 2; i++) {
                double a = p / pow(10000.0, 2.0 * i / DIM);
                double y0 = o[i] * cos(a) - o[i + DIM / 2] * sin(a);
                double y1 = o[i + DIM / 2] * cos(a) + o[i] * sin(a);
                assert_float_equal(y[i], y0, 2e-5 * (1 + p / 100.0));
                assert_float_equal(y[i + DIM / 2], y1, 2e-5 * (1 + p / 100.0));
            }
            for (int i = DIM; i < HEAD; i++)
                assert_float_equal(y[i], o[i], 0); /* partial rotary: untouched */
        }
    }
    embp_rope_free(&r);
}

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* q at m, k at n: the score depends on m - n only, so shifting both keeps it. */
static void test_scores_depend_on_relative_position(void **state) {
    (void)state;
    enum { DIM = 64 };
    embp_rope r;
    embp_error err;
    assert_int_equal(embp_rope_init(&r, DIM, 10000.0, 1024, &err), EMBP_OK);
    float q[DIM], k[DIM], qa[DIM], ka[DIM];
    for (int i = 0; i < DIM; i++)
        q[i] = (float)cos(0.3 * i), k[i] = (float)sin(0.11 * i + 0.5);
    double ref = 0;
    for (int shift = 0; shift <= 900; shift += 100) {
        memcpy(qa, q, sizeof q);
        memcpy(ka, k, sizeof k);
        embp_rope_apply(&r, qa, 7 + shift, 1, DIM);
        embp_rope_apply(&r, ka, 3 + shift, 1, DIM);
        double s = dot(qa, ka, DIM);
        if (shift == 0)
            ref = s;
        assert_float_equal(s, ref, 2e-3);
        assert_float_equal(dot(qa, qa, DIM), dot(q, q, DIM), 1e-3); /* a rotation keeps norms */
    }
    embp_rope_free(&r);
}

static void test_bad_shapes_are_refused(void **state) {
    (void)state;
    embp_rope r;
    embp_error err;
    assert_int_equal(embp_rope_init(&r, 7, 10000.0, 10, &err), EMBP_EINVAL);
    assert_non_null(strstr(err.msg, "dim 7"));
    assert_int_equal(embp_rope_init(&r, 8, 0.0, 10, &err), EMBP_EINVAL);
    assert_int_equal(embp_rope_init(&r, 8, 10000.0, 0, &err), EMBP_EINVAL);
    embp_rope_free(&r); /* after a refusal: nothing to free, no crash */
}

TU_MAIN(cmocka_unit_test(test_rotation_is_the_hand_computed_one),
        cmocka_unit_test(test_scores_depend_on_relative_position),
        cmocka_unit_test(test_bad_shapes_are_refused))
