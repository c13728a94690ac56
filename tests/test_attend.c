/* tests/test_attend.c: model/attend.c's blocked attention with an online softmax against a
 * double-precision attention that builds each row's whole score vector with the mask
 * (softmax(q k^T scale + mask) v): causal and bidirectional, windows on either side, GQA and
 * MHA, sequences shorter and longer than a block (64 queries, 128 keys), packed batches, q/k/v
 * interleaved in one fused row as the models store them; for every kernel table. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/attend.h"

/* out for one sequence (L tokens at row 0 of the spec's buffers) in double. */
static void reference(const embp_attend_spec *a, int t0, int L, double *out /* (L, NH, D) */) {
    int D = a->D, NH = a->n_q_heads, grp = NH / a->n_kv_heads;
    double *s = malloc((size_t)L * sizeof(double));
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < L; i++) {
            const float *q = a->q + (size_t)(t0 + i) * a->q_stride + (size_t)h * D;
            double mx = -INFINITY, sum = 0.0;
            for (int j = 0; j < L; j++) {
                int seen = (!a->causal || j <= i) && (a->left < 0 || j >= i - a->left) &&
                           (a->right < 0 || j <= i + a->right);
                const float *k = a->k + (size_t)(t0 + j) * a->kv_stride + (size_t)(h / grp) * D;
                double d = 0.0;
                for (int c = 0; c < D; c++)
                    d += (double)q[c] * k[c];
                s[j] = seen ? d * a->scale : -INFINITY;
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < L; j++)
                sum += (s[j] = s[j] == -INFINITY ? 0.0 : exp(s[j] - mx));
            for (int c = 0; c < D; c++) {
                double o = 0.0;
                for (int j = 0; j < L; j++)
                    o += s[j] * a->v[(size_t)(t0 + j) * a->kv_stride + (size_t)(h / grp) * D + c];
                out[((size_t)i * NH + h) * D + c] = o / sum;
            }
        }
    free(s);
}

typedef struct {
    int NH, NKV, D, causal, left, right;
    int n, lens[3];
} attend_case;

static void run_case(const embp_kernels *k, const attend_case *c) {
    int T = 0, offsets[4] = {0};
    for (int s = 0; s < c->n; s++)
        offsets[s + 1] = (T += c->lens[s]);
    int D = c->D, stride = (c->NH + 2 * c->NKV) * D, threads = 2;
    float *qkv = malloc((size_t)T * stride * sizeof(float));
    float *out = malloc((size_t)T * c->NH * D * sizeof(float));
    float *scr = malloc(embp_attend_scratch_floats(D) * threads * sizeof(float));
    double *ref = malloc((size_t)T * c->NH * D * sizeof(double));
    for (size_t i = 0; i < (size_t)T * stride; i++) /* scores of a few units: softmax not flat */
        qkv[i] = (float)(2.0 * sin(0.37 * (double)i + 0.1 * (double)(i % 7)));
    embp_attend_spec a = {.D = D, .n_q_heads = c->NH, .n_kv_heads = c->NKV, .q = qkv,
                          .k = qkv + (size_t)c->NH * D, .v = qkv + (size_t)(c->NH + c->NKV) * D,
                          .q_stride = stride, .kv_stride = stride, .out = out,
                          .out_stride = c->NH * D, .scale = 1.0f / sqrtf((float)D),
                          .causal = c->causal, .left = c->left, .right = c->right};
    embp_attend(k, &a, offsets, c->n, scr, threads);
    double worst = 0.0;
    for (int s = 0; s < c->n; s++) {
        reference(&a, offsets[s], c->lens[s], ref + (size_t)offsets[s] * c->NH * D);
    }
    for (size_t i = 0; i < (size_t)T * c->NH * D; i++) {
        double e = fabs(out[i] - ref[i]);
        worst = e > worst ? e : worst;
    }
    if (worst > 2e-5)
        fail_msg("%s: NH %d NKV %d D %d causal %d window [%d, %d] lens %d/%d/%d: max |diff| %.3g",
                 k->name, c->NH, c->NKV, c->D, c->causal, c->left, c->right, c->lens[0],
                 c->lens[1], c->lens[2], worst);
    free(qkv), free(out), free(scr), free(ref);
}

static void test_attend_matches_masked_softmax(void **state) {
    const embp_kernels *k = *state ? (const embp_kernels *)*state : &embp_kernels_scalar;
    static const attend_case cases[] = {
        {8, 2, 64, 1, -1, -1, 3, {1, 70, 300}},  /* Qwen3: causal GQA, blocks crossed */
        {4, 4, 32, 0, -1, -1, 2, {129, 5, 0}},   /* an encoder: bidirectional MHA */
        {4, 1, 16, 1, 99, -1, 1, {260, 0, 0}},   /* a causal sliding window of 100 */
        {2, 2, 24, 0, 64, 64, 2, {200, 130, 0}}, /* ModernBERT's local window */
        {2, 1, 8, 0, 3, 0, 1, {40, 0, 0}},       /* odd sizes: D under one vector */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(k, &cases[i]);
}

int main(int argc, char **argv) {
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_attend_matches_masked_softmax),
    };
    const struct CMUnitTest avx2[] = {cmocka_unit_test_prestate(
        test_attend_matches_masked_softmax, (void *)(uintptr_t)&embp_kernels_avx2)};
    const struct CMUnitTest avx512[] = {cmocka_unit_test_prestate(
        test_attend_matches_masked_softmax, (void *)(uintptr_t)&embp_kernels_avx512)};
    const tu_path paths[] = {
        TU_ALWAYS(always),
        TU_PATH("avx2", avx2, tu_missing_avx2),
        TU_PATH("avx512", avx512, tu_missing_avx512),
    };
    return tu_run_paths(argc, argv, paths, sizeof paths / sizeof paths[0]);
}
