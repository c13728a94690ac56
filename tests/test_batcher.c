/* The batcher (src/runtime/batcher.c) on the tiny fixture: requests from many threads, mixed
 * into shared batches and split across them, get the rows each text gets alone; the alone rows
 * match the ONNX Runtime peer; a full queue refuses instead of growing.
 * Not bit for bit: oneDNN picks its GEMM blocking by M (the batch's packed token count), so a
 * row's dot products sum in a different order in a different batch. Measured max |diff| is
 * ~1e-9 on tiny; we allow 1e-5 (the peer check allows 1e-4), so a row from another request
 * (|diff| ~0.1) still fails. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "runtime/batcher.h"

#define MAX_TEXTS 96
#define BATCH_TOL 1e-5f /* max |diff| batched vs alone; see above */

typedef struct {
    embp_model *m;
    int n, dim;
    int32_t ids[MAX_TEXTS][512];
    int lens[MAX_TEXTS];
    float alone[MAX_TEXTS][1024];
    embp_batcher *b;
} world;

static embp_status embed_cb(void *ctx, const int32_t *const *ids, const int *lens, int n,
                            float *out, embp_error *err) {
    return embp_embed_tokens(ctx, ids, lens, n, 0, out, err);
}

/* Loads tiny, tokenizes the peer's texts and embeds each alone (no batcher yet). */
static world *setup_world(void) {
    world *w = calloc(1, sizeof *w);
    char *dir = tu_fixture("tiny");
    embp_error err;
    if (embp_model_load(dir, NULL, &w->m, &err) != EMBP_OK)
        fail_msg("load %s: %s", dir, err.msg);
    free(dir);
    embp_model_info info;
    embp_model_get_info(w->m, &info);
    w->dim = info.dim;
    char *pp = tu_fixture("tiny.peer.jsonl");
    json_t *peer = tu_read_jsonl(pp);
    free(pp);
    w->n = (int)json_array_size(peer) < MAX_TEXTS ? (int)json_array_size(peer) : MAX_TEXTS;
    for (int i = 0; i < w->n; i++) {
        json_t *row = json_array_get(peer, (size_t)i);
        const char *t = json_string_value(json_object_get(row, "text"));
        assert_int_equal(embp_tokenize(w->m, t, strlen(t), 1, w->ids[i], 512, &w->lens[i], NULL,
                                       &err), EMBP_OK);
        const int32_t *p[1] = {w->ids[i]};
        assert_int_equal(embp_embed_tokens(w->m, p, &w->lens[i], 1, 0, w->alone[i], &err),
                         EMBP_OK);
        json_t *emb = json_object_get(row, "embedding");
        double ref[1024];
        for (int k = 0; k < w->dim; k++)
            ref[k] = json_number_value(json_array_get(emb, (size_t)k));
        double cos = tu_cosine(w->alone[i], ref, w->dim);
        if (cos < 0.99999)
            fail_msg("text %d alone: cosine %.7f to the peer (max diff %.3g)", i, cos,
                     tu_maxdiff(w->alone[i], ref, w->dim));
    }
    json_decref(peer);
    return w;
}

typedef struct {
    world *w;
    int first, count, reps;
    int failures;
    char msg[256];
} client;

/* Submits requests of `count` consecutive texts (wrapping) `reps` times and compares rows. */
static void *client_main(void *arg) {
    client *c = arg;
    world *w = c->w;
    const int32_t *ids[MAX_TEXTS];
    int lens[MAX_TEXTS], which[MAX_TEXTS];
    float *out = malloc((size_t)c->count * (size_t)w->dim * sizeof(float));
    for (int r = 0; r < c->reps; r++) {
        for (int k = 0; k < c->count; k++) {
            which[k] = (c->first + r + k * 7) % w->n;
            ids[k] = w->ids[which[k]];
            lens[k] = w->lens[which[k]];
        }
        embp_batch_job job = {.ids = ids, .lens = lens, .n = c->count, .out = out};
        if (embp_batcher_run(w->b, &job) != EMBP_BATCH_OK || job.status != EMBP_OK) {
            snprintf(c->msg, sizeof c->msg, "run failed: %.200s", job.err.msg);
            c->failures++;
            continue;
        }
        for (int k = 0; k < c->count; k++) {
            const float *got = out + (size_t)k * (size_t)w->dim, *want = w->alone[which[k]];
            for (int d = 0; d < w->dim; d++) {
                if (fabsf(got[d] - want[d]) > BATCH_TOL) {
                    snprintf(c->msg, sizeof c->msg, "text %d dim %d: batched %.9g, alone %.9g",
                             which[k], d, (double)got[d], (double)want[d]);
                    c->failures++;
                    break;
                }
            }
        }
    }
    free(out);
    return NULL;
}

static void test_mixed_concurrent_requests_get_the_rows_of_each_text_alone(void **state) {
    (void)state;
    world *w = setup_world();
    embp_batcher_opts o = {.embed = embed_cb, .ctx = w->m, .dim = w->dim,
                           .max_batch_tokens = 96, .max_wait_ms = 3,
                           .max_queue_tokens = 1 << 20};
    embp_error err;
    assert_int_equal(embp_batcher_create(&o, &w->b, &err), EMBP_OK);
    enum { N_CLIENTS = 6 };
    client cs[N_CLIENTS];
    pthread_t th[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        /* One client sends all texts at once: more tokens than a batch holds, so it splits. */
        cs[i] = (client){.w = w, .first = i * 5, .count = i == 0 ? w->n : 1 + i, .reps = 6};
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    for (int i = 0; i < N_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        if (cs[i].failures)
            fail_msg("client %d: %d mismatches, e.g. %s", i, cs[i].failures, cs[i].msg);
    }
    embp_batcher_stats st;
    embp_batcher_get_stats(w->b, &st);
    if (st.mixed_batches == 0 || st.split_jobs == 0)
        fail_msg("the test did not exercise batching: %ld batches, %ld mixed, %ld split",
                 st.batches, st.mixed_batches, st.split_jobs);
    embp_batcher_free(w->b);
    embp_model_free(w->m);
    free(w);
}

/* Holds the worker inside a batch until released, so the queue fills deterministically. */
typedef struct {
    embp_model *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
} gate;

static embp_status gated_embed(void *ctx, const int32_t *const *ids, const int *lens, int n,
                               float *out, embp_error *err) {
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->released)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return embp_embed_tokens(g->m, ids, lens, n, 0, out, err);
}

static void *run_job(void *arg) {
    void **a = arg;
    embp_batcher_run(a[0], a[1]);
    return NULL;
}

static void test_full_queue_refuses_instead_of_growing(void **state) {
    (void)state;
    world *w = setup_world();
    gate g = {.m = w->m, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    embp_batcher_opts o = {.embed = gated_embed, .ctx = &g, .dim = w->dim,
                           .max_batch_tokens = 4096, .max_wait_ms = 0,
                           .max_queue_tokens = w->lens[0] + w->lens[1]};
    embp_error err;
    assert_int_equal(embp_batcher_create(&o, &w->b, &err), EMBP_OK);
    const int32_t *ids[3] = {w->ids[0], w->ids[1], w->ids[2]};
    float out[3][1024];
    embp_batch_job j0 = {.ids = ids, .lens = w->lens, .n = 1, .out = out[0]};
    embp_batch_job j1 = {.ids = ids + 1, .lens = w->lens + 1, .n = 1, .out = out[1]};
    embp_batch_job j2 = {.ids = ids + 2, .lens = w->lens + 2, .n = 1, .out = out[2]};
    void *a0[2] = {w->b, &j0}, *a1[2] = {w->b, &j1};
    pthread_t t0, t1;
    pthread_create(&t0, NULL, run_job, a0);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) /* j0 is in the model; the queue is empty again */
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    pthread_create(&t1, NULL, run_job, a1);
    while (embp_batcher_queued_tokens(w->b) < w->lens[1])
        ;
    /* j1 waits in the queue; j2 would exceed max_queue_tokens. */
    assert_int_equal(embp_batcher_submit(w->b, &j2), EMBP_BATCH_FULL);
    pthread_mutex_lock(&g.mu);
    g.released = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t0, NULL);
    pthread_join(t1, NULL);
    assert_int_equal(j0.status, EMBP_OK);
    assert_int_equal(j1.status, EMBP_OK);
    for (int d = 0; d < w->dim; d++)
        if (fabsf(out[1][d] - w->alone[1][d]) > BATCH_TOL)
            fail_msg("queued job dim %d: %.9g, alone %.9g", d, (double)out[1][d],
                     (double)w->alone[1][d]);
    embp_batcher_free(w->b);
    embp_model_free(w->m);
    free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_concurrent_requests_get_the_rows_of_each_text_alone),
        cmocka_unit_test(test_full_queue_refuses_instead_of_growing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
