/* The batcher (src/runtime/batcher.c) on the tiny fixture: requests from many threads, mixed
 * into shared batches and split across them, get the rows each text gets alone; the alone rows
 * match the ONNX Runtime peer; a full queue refuses instead of growing. With length_grouping,
 * the same, plus the order batches take sequences in (seen through the embed callback, with the
 * worker held between batches so the queue is the same on every run: no timing).
 * Not bit for bit: oneDNN picks its GEMM blocking by M (the batch's packed token count), so a
 * row's dot products sum in a different order in a different batch. Measured max |diff| is
 * ~1e-9 on tiny; we allow 1e-5 (the peer check allows 1e-4), so a row from another request
 * (|diff| ~0.1) still fails. */
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
        if (!(cos >= 0.99999))
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
                if (!(fabsf(got[d] - want[d]) <= BATCH_TOL)) {
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

static void run_mixed_clients(int length_grouping) {
    world *w = setup_world();
    embp_batcher_opts o = {.embed = embed_cb, .ctx = w->m, .dim = w->dim,
                           .max_batch_tokens = 96, .max_wait_ms = 3,
                           .max_queue_tokens = 1 << 20, .length_grouping = length_grouping};
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
    for (int i = 0; i < N_CLIENTS; i++) /* all joined before a failure leaves the test */
        pthread_join(th[i], NULL);
    for (int i = 0; i < N_CLIENTS; i++)
        if (cs[i].failures)
            fail_msg("client %d: %d mismatches, e.g. %s", i, cs[i].failures, cs[i].msg);
    embp_batcher_stats st;
    embp_batcher_get_stats(w->b, &st);
    if (st.mixed_batches == 0 || st.split_jobs == 0)
        fail_msg("the test did not exercise batching: %ld batches, %ld mixed, %ld split",
                 st.batches, st.mixed_batches, st.split_jobs);
    embp_batcher_free(w->b);
    embp_model_free(w->m);
    free(w);
}

static void test_mixed_concurrent_requests_get_the_rows_of_each_text_alone(void **state) {
    (void)state;
    run_mixed_clients(0);
}

static void test_length_grouping_gives_each_text_its_rows_alone(void **state) {
    (void)state;
    run_mixed_clients(1);
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
        if (!(fabsf(out[1][d] - w->alone[1][d]) <= BATCH_TOL))
            fail_msg("queued job dim %d: %.9g, alone %.9g", d, (double)out[1][d],
                     (double)w->alone[1][d]);
    embp_batcher_free(w->b);
    embp_model_free(w->m);
    free(w);
}

/* ------------------------------------------------------- length grouping */

#define MAX_BATCHES 64
#define MAX_BATCH_SEQS 256

/* Records each batch (which texts, as rows of world) and holds the worker in batch k until the
 * test releases it; released = INT_MAX lets every batch through. */
typedef struct {
    world *w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
    int n[MAX_BATCHES];
    int text[MAX_BATCHES][MAX_BATCH_SEQS];
} stepper;

static int text_of(const world *w, const int32_t *ids) {
    for (int t = 0; t < w->n; t++)
        if (ids == w->ids[t])
            return t;
    return -1;
}

static embp_status stepped_embed(void *ctx, const int32_t *const *ids, const int *lens, int n,
                                 float *out, embp_error *err) {
    stepper *s = ctx;
    pthread_mutex_lock(&s->mu);
    int k = s->entered++;
    if (k < MAX_BATCHES) {
        s->n[k] = n;
        for (int i = 0; i < n; i++)
            s->text[k][i] = text_of(s->w, ids[i]);
    }
    pthread_cond_broadcast(&s->cv);
    while (s->released <= k)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return embp_embed_tokens(s->w->m, ids, lens, n, 0, out, err);
}

/* Returns once the worker is inside batch k (it stays there until step_release(s, k + 1)). */
static void step_wait(stepper *s, int k) {
    pthread_mutex_lock(&s->mu);
    while (s->entered <= k)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void step_release(stepper *s, int released) {
    pthread_mutex_lock(&s->mu);
    s->released = released;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void start_stepped(world *w, stepper *s, int max_batch_tokens, int length_grouping) {
    s->w = w;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    embp_batcher_opts o = {.embed = stepped_embed, .ctx = s, .dim = w->dim,
                           .max_batch_tokens = max_batch_tokens,
                           .max_batch_seqs = MAX_BATCH_SEQS, .max_wait_ms = 0,
                           .max_queue_tokens = 1 << 20, .length_grouping = length_grouping};
    embp_error err;
    assert_int_equal(embp_batcher_create(&o, &w->b, &err), EMBP_OK);
}

/* One request of texts (rows of world), submitted without waiting. */
typedef struct {
    embp_batch_job job;
    const int32_t *ids[MAX_TEXTS];
    int lens[MAX_TEXTS], which[MAX_TEXTS];
    float *out;
} req;

static void req_submit(world *w, req *r, const int *which, int n) {
    assert_true(n >= 1 && n <= MAX_TEXTS);
    for (int k = 0; k < n; k++) {
        r->which[k] = which[k];
        r->ids[k] = w->ids[which[k]];
        r->lens[k] = w->lens[which[k]];
    }
    r->out = malloc((size_t)n * (size_t)w->dim * sizeof(float));
    r->job = (embp_batch_job){.ids = r->ids, .lens = r->lens, .n = n, .out = r->out};
    assert_int_equal(embp_batcher_submit(w->b, &r->job), EMBP_BATCH_OK);
}

/* After embp_batcher_free (which finishes every request): each row is its text's row alone. */
static void req_check(const world *w, req *r, const char *name) {
    if (!r->job.done || r->job.status != EMBP_OK)
        fail_msg("request %s: done %d, status %d (%s)", name, r->job.done, r->job.status,
                 r->job.err.msg);
    for (int k = 0; k < r->job.n; k++) {
        const float *got = r->out + (size_t)k * (size_t)w->dim, *want = w->alone[r->which[k]];
        for (int d = 0; d < w->dim; d++)
            if (!(fabsf(got[d] - want[d]) <= BATCH_TOL))
                fail_msg("request %s row %d (text %d) dim %d: batched %.9g, alone %.9g", name, k,
                         r->which[k], d, (double)got[d], (double)want[d]);
    }
    free(r->out);
}

/* by[] gets the rows of world shortest first (ties by row). */
static void sort_by_len(const world *w, int *by) {
    for (int i = 0; i < w->n; i++) {
        int k = i;
        for (; k > 0 && w->lens[by[k - 1]] > w->lens[i]; k--)
            by[k] = by[k - 1];
        by[k] = i;
    }
}

static void print_batch(const world *w, const char *what, const int *text, int n) {
    fprintf(stderr, "%s:", what);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %d(len %d)", text[i], w->lens[text[i]]);
    fprintf(stderr, "\n");
}

/* The scene: the worker is held in batch 0 while the queue gets, in this order, L (the 8
 * longest texts, longest first, one request), M (4 middle-length texts, one request), S0..S2 (the
 * 3 shortest, one request each). The budget B is the 4 longest texts, so L alone is more than a
 * batch, and in arrival order batch 1 holds L's first 4 texts and nothing else. */
enum { SC_L, SC_M, SC_S0, SC_S1, SC_S2, SC_REQS };
static const int sc_count[SC_REQS] = {8, 4, 1, 1, 1};

typedef struct {
    world *w;
    stepper st;
    req r[SC_REQS], gate;
    int B;
} scene;

static scene *run_scene(int length_grouping) {
    scene *c = calloc(1, sizeof *c);
    world *w = c->w = setup_world();
    int by[MAX_TEXTS] = {0}, n = w->n;
    assert_true(n >= 40);
    sort_by_len(w, by);
    for (int i = 0; i < 4; i++)
        c->B += w->lens[by[n - 1 - i]];
    start_stepped(w, &c->st, c->B, length_grouping);
    int g = by[n / 2 + 5];
    req_submit(w, &c->gate, &g, 1);
    step_wait(&c->st, 0);
    int which[SC_REQS][8];
    for (int i = 0; i < 8; i++)
        which[SC_L][i] = by[n - 1 - i];
    for (int i = 0; i < 4; i++)
        which[SC_M][i] = by[n / 2 - 2 + i];
    for (int i = 0; i < 3; i++)
        which[SC_S0 + i][0] = by[i];
    for (int r = 0; r < SC_REQS; r++)
        req_submit(w, &c->r[r], which[r], sc_count[r]);
    step_release(&c->st, INT_MAX);
    embp_batcher_free(w->b); /* runs everything queued */
    req_check(w, &c->gate, "gate");
    static const char *names[SC_REQS] = {"L", "M", "S0", "S1", "S2"};
    for (int r = 0; r < SC_REQS; r++)
        req_check(w, &c->r[r], names[r]);
    return c;
}

static void free_scene(scene *c) {
    embp_model_free(c->w->m);
    free(c->w);
    free(c);
}

static int in_batch(const stepper *s, int k, int text) {
    for (int i = 0; i < s->n[k]; i++)
        if (s->text[k][i] == text)
            return 1;
    return 0;
}

typedef struct {
    int text, len, rank, pos, taken;
} cand;

static int cand_cmp(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->len != b->len)
        return a->len - b->len;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    return a->pos - b->pos;
}

/* Batch 1 as batcher.h specifies it, worked out by sorting all queued sequences at once (the
 * batcher merges per-request orders with a heap): L's texts shortest first while they fit B/2
 * (the first always), then everything left by (length, request, position) while it fits B. */
static int expected_batch1(const scene *c, int *want) {
    cand all[16];
    int m = 0, n = 0;
    long used = 0;
    for (int r = 0; r < SC_REQS; r++)
        for (int k = 0; k < sc_count[r]; k++)
            all[m++] = (cand){c->r[r].which[k], c->r[r].lens[k], r, k, 0};
    qsort(all, (size_t)m, sizeof *all, cand_cmp);
    for (int i = 0; i < m; i++) {
        if (all[i].rank != SC_L)
            continue;
        if (n > 0 && used + all[i].len > c->B / 2)
            break;
        want[n++] = all[i].text;
        used += all[i].len;
        all[i].taken = 1;
    }
    for (int i = 0; i < m; i++) {
        if (all[i].taken)
            continue;
        if (used + all[i].len > c->B)
            break;
        want[n++] = all[i].text;
        used += all[i].len;
    }
    return n;
}

static void test_length_grouping_takes_short_requests_past_a_long_one(void **state) {
    (void)state;
    scene *c = run_scene(1);
    const world *w = c->w;
    int want[16], n_want = expected_batch1(c, want);
    int same = c->st.n[1] == n_want;
    for (int i = 0; same && i < n_want; i++)
        same = c->st.text[1][i] == want[i];
    if (!same || !in_batch(&c->st, 1, c->r[SC_S0].which[0])) {
        print_batch(w, "batch 1 expected", want, n_want);
        print_batch(w, "batch 1 got     ", c->st.text[1], c->st.n[1]);
        fail_msg("length grouping: batch 1 is not the FIFO lane then shortest first (budget %d)",
                 c->B);
    }
    /* Every sequence ran exactly once: the gate, then the 15 queued. */
    int seen = 0;
    for (int k = 1; k < c->st.entered; k++)
        seen += c->st.n[k];
    assert_int_equal(seen, 15);
    free_scene(c);
}

/* The same scene without grouping: the short requests are not in batch 1. This is what makes
 * the test above fail if length_grouping did nothing. */
static void test_without_length_grouping_short_requests_wait_in_arrival_order(void **state) {
    (void)state;
    scene *c = run_scene(0);
    const int *l = c->r[SC_L].which;
    if (c->st.n[1] != 4 || c->st.text[1][0] != l[0] || c->st.text[1][1] != l[1] ||
        c->st.text[1][2] != l[2] || c->st.text[1][3] != l[3]) {
        print_batch(c->w, "batch 1 expected", l, 4);
        print_batch(c->w, "batch 1 got     ", c->st.text[1], c->st.n[1]);
        fail_msg("arrival order: batch 1 should be L's first 4 texts (budget %d)", c->B);
    }
    for (int s = SC_S0; s <= SC_S2; s++)
        assert_false(in_batch(&c->st, 1, c->r[s].which[0]));
    free_scene(c);
}

/* A stream of requests of short texts, each more than a batch, keeps arriving (one per batch,
 * queued while the worker is held); the one long text, queued second, must still run while the
 * stream lasts. Pure shortest-first would run it only after the stream stops. */
static void test_length_grouping_does_not_starve_an_old_long_request(void **state) {
    (void)state;
    enum { ROUNDS = 12 };
    world *w = setup_world();
    int by[MAX_TEXTS] = {0}, n = w->n;
    sort_by_len(w, by);
    int lng = by[n - 1], B = 2 * w->lens[lng];
    int shorts[MAX_TEXTS], n_shorts = 0;
    for (int i = 0; i < n; i++)
        if (2 * w->lens[by[i]] <= w->lens[lng])
            shorts[n_shorts++] = by[i];
    assert_true(n_shorts >= 4);
    stepper *st = calloc(1, sizeof *st);
    start_stepped(w, st, B, 1);
    req *rs = calloc(ROUNDS + 3, sizeof *rs), *greq = &rs[ROUNDS + 1], *lreq = &rs[ROUNDS + 2];
    req_submit(w, greq, &shorts[0], 1);
    step_wait(st, 0);
    /* Round r: shorts, cycling, until they hold 1.5 budgets. */
    int cursor = 0, round_len[ROUNDS + 1];
    for (int r = 0; r <= ROUNDS; r++) {
        int which[MAX_TEXTS], k = 0;
        long tokens = 0;
        while (tokens <= B + B / 2 && k < MAX_TEXTS) {
            which[k] = shorts[cursor++ % n_shorts];
            tokens += w->lens[which[k++]];
        }
        round_len[r] = k;
        req_submit(w, &rs[r], which, k);
        if (r == 0)
            req_submit(w, lreq, &lng, 1);
        if (r == 0)
            continue;
        step_release(st, r); /* batch r - 1 ends; the worker forms batch r from the queue */
        step_wait(st, r);
    }
    int long_batch = -1;
    for (int k = 1; k <= ROUNDS && long_batch < 0; k++)
        if (in_batch(st, k, lng))
            long_batch = k;
    step_release(st, INT_MAX);
    embp_batcher_free(w->b);
    /* Round 0 (queued first) has round_len[0] texts; the FIFO lane takes at least one of them a
     * batch and the long text right after, so it runs by batch round_len[0] + 1 at worst. */
    if (long_batch < 0 || long_batch > round_len[0] + 1) {
        for (int k = 1; k <= ROUNDS; k++)
            print_batch(w, "batch", st->text[k], st->n[k]);
        fail_msg("the long text (%d, len %d) ran in batch %d of the %d under the stream "
                 "(budget %d)", lng, w->lens[lng], long_batch, ROUNDS, B);
    }
    req_check(w, greq, "gate");
    req_check(w, lreq, "long");
    for (int r = 0; r <= ROUNDS; r++)
        req_check(w, &rs[r], "round");
    free(rs);
    free(st);
    embp_model_free(w->m);
    free(w);
}

/* ---------------------------------------------------------------- filling a batch */

static double ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* max_wait_ms is long (2 s) so that waiting and not waiting cannot be confused: a lone request
 * starts at once; after a batch that answered three requests, the next waits for three, and
 * starts as soon as they are queued, not at the deadline. */
static void test_next_batch_waits_for_as_many_requests_as_the_last_answered(void **state) {
    (void)state;
    world *w = setup_world();
    stepper *st = calloc(1, sizeof *st);
    st->w = w;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    embp_batcher_opts o = {.embed = stepped_embed, .ctx = st, .dim = w->dim,
                           .max_batch_tokens = 1 << 16, .max_batch_seqs = MAX_BATCH_SEQS,
                           .max_wait_ms = 2000, .max_queue_tokens = 1 << 20};
    embp_error err;
    assert_int_equal(embp_batcher_create(&o, &w->b, &err), EMBP_OK);
    req r[7];
    int one[1] = {0}, two[1] = {1}, three[1] = {2};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    req_submit(w, &r[0], one, 1);
    step_wait(st, 0);
    double lone = ms_since(&t0);
    print_message("lone request entered the model after %.1f ms\n", lone);
    assert_true(lone < 1000); /* not the 2 s deadline */
    req_submit(w, &r[1], one, 1); /* queued while batch 0 runs */
    req_submit(w, &r[2], two, 1);
    req_submit(w, &r[3], three, 1);
    step_release(st, 1);
    step_wait(st, 1);
    assert_int_equal(st->n[1], 3); /* batch 1: the three that queued meanwhile */
    step_release(st, 2);
    /* batch 1 answered three: one request alone now waits for two more */
    req_submit(w, &r[4], one, 1);
    usleep(100 * 1000);
    pthread_mutex_lock(&st->mu);
    int entered = st->entered;
    pthread_mutex_unlock(&st->mu);
    assert_int_equal(entered, 2); /* still waiting after 100 ms */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    req_submit(w, &r[5], two, 1);
    req_submit(w, &r[6], three, 1);
    step_wait(st, 2);
    double filled = ms_since(&t0);
    print_message("third request queued: the batch started %.1f ms later\n", filled);
    assert_true(filled < 1000);
    assert_int_equal(st->n[2], 3);
    step_release(st, INT_MAX);
    embp_batcher_free(w->b);
    w->b = NULL;
    for (int i = 0; i < 7; i++)
        req_check(w, &r[i], "filled");
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
    embp_model_free(w->m);
    free(w);
}

/* A row of the types test: 1000 x the sequence's first id + the sum of its types (-1: no types
 * row reached the callback), so a row shows whose ids and whose types it was given. */
static embp_status types_embed(void *ctx, const int32_t *const *ids, const int32_t *const *types,
                               const int *lens, int n, float *out, embp_error *err) {
    (void)ctx, (void)err;
    for (int i = 0; i < n; i++) {
        int sum = 0;
        for (int j = 0; types[i] && j < lens[i]; j++)
            sum += types[i][j];
        out[i] = 1000.0f * (float)ids[i][0] + (types[i] ? (float)sum : -1.0f);
    }
    return EMBP_OK;
}

/* A reranker's pairs carry token types: each sequence's types reach the callback beside its
 * ids, through batches that split a request (a budget of two sequences) and mix it with one
 * without types (NULL: the callback gets NULL rows, read as type 0). */
static void test_token_types_ride_with_their_sequences(void **state) {
    (void)state;
    enum { N = 5, LEN = 3 };
    int32_t ids[2][N][LEN], types[N][LEN];
    const int32_t *id_rows[2][N], *type_rows[N];
    int lens[N];
    float out[2][N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < LEN; j++) {
            ids[0][i][j] = 10 + i, ids[1][i][j] = 20 + i;
            types[i][j] = j >= LEN - i % 3; /* i % 3 ids of type 1 at the end */
        }
        id_rows[0][i] = ids[0][i], id_rows[1][i] = ids[1][i], type_rows[i] = types[i];
        lens[i] = LEN;
    }
    embp_batcher_opts o = {.score = types_embed, .dim = 1, .max_batch_tokens = 2 * LEN,
                           .max_wait_ms = 0, .max_queue_tokens = 1000};
    embp_batcher *b;
    embp_error err;
    assert_int_equal(embp_batcher_create(&o, &b, &err), EMBP_OK);
    embp_batch_job typed = {.ids = id_rows[0], .types = type_rows, .lens = lens, .n = N,
                            .out = out[0]};
    embp_batch_job plain = {.ids = id_rows[1], .lens = lens, .n = N, .out = out[1]};
    assert_int_equal(embp_batcher_submit(b, &typed), EMBP_BATCH_OK);
    assert_int_equal(embp_batcher_run(b, &plain), EMBP_BATCH_OK);
    embp_batcher_free(b); /* finishes the queued work */
    assert_int_equal(typed.status, EMBP_OK);
    assert_int_equal(plain.status, EMBP_OK);
    for (int i = 0; i < N; i++) {
        assert_float_equal(out[0][i], 1000.0f * (float)(10 + i) + (float)(i % 3), 0.0f);
        assert_float_equal(out[1][i], 1000.0f * (float)(20 + i) - 1.0f, 0.0f);
    }
}

/* A job with its own run (TEI's /embed_all) runs alone, once, in its turn: its sequences never
 * reach the embed callback (neither lane packs them with others), the requests queued around
 * it get their rows alone, and it runs before the requests queued after it in arrival order. */
static int alone_runs, alone_after_batches;

static embp_status run_alone_job(void *ctx, embp_batch_job *job, embp_error *err) {
    (void)err;
    stepper *s = ctx;
    pthread_mutex_lock(&s->mu);
    alone_runs++;
    alone_after_batches = s->entered;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < job->n; i++) /* its out: the lengths, as a token-vector job sizes it */
        job->out[i] = (float)job->lens[i];
    return EMBP_OK;
}

static void check_run_alone(int length_grouping) {
    world *w = setup_world();
    stepper *st = calloc(1, sizeof *st);
    int by[MAX_TEXTS] = {0};
    sort_by_len(w, by);
    start_stepped(w, st, 1 << 16, length_grouping);
    alone_runs = 0;
    req first, before, x, after;
    int g = by[0], b2[2] = {by[1], by[2]}, xs[2] = {by[3], by[4]}, a2[2] = {by[5], by[6]};
    req_submit(w, &first, &g, 1);
    step_wait(st, 0);
    req_submit(w, &before, b2, 2);
    x.job = (embp_batch_job){0};
    for (int k = 0; k < 2; k++) {
        x.which[k] = xs[k];
        x.ids[k] = w->ids[xs[k]];
        x.lens[k] = w->lens[xs[k]];
    }
    float xout[2] = {0};
    x.job = (embp_batch_job){.ids = x.ids, .lens = x.lens, .n = 2, .out = xout,
                             .run = run_alone_job};
    assert_int_equal(embp_batcher_submit(w->b, &x.job), EMBP_BATCH_OK);
    req_submit(w, &after, a2, 2);
    step_release(st, INT_MAX);
    embp_batcher_free(w->b);
    req_check(w, &first, "first");
    req_check(w, &before, "before");
    req_check(w, &after, "after");
    assert_int_equal(alone_runs, 1);
    assert_true(x.job.done && x.job.status == EMBP_OK);
    assert_true(xout[0] == (float)w->lens[xs[0]] && xout[1] == (float)w->lens[xs[1]]);
    for (int k = 0; k < st->entered && k < MAX_BATCHES; k++)
        for (int i = 0; i < st->n[k]; i++)
            if (st->text[k][i] == xs[0] || st->text[k][i] == xs[1])
                fail_msg("the run-alone job's text %d went to the embed callback in batch %d",
                         st->text[k][i], k);
    if (!length_grouping) /* arrival order: first, "before", then the job, then "after" */
        assert_int_equal(alone_after_batches, 2);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
    embp_model_free(w->m);
    free(w);
}

static void test_a_job_with_its_own_run_runs_alone_in_its_turn(void **state) {
    (void)state;
    check_run_alone(0);
    check_run_alone(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_job_with_its_own_run_runs_alone_in_its_turn),
        cmocka_unit_test(test_mixed_concurrent_requests_get_the_rows_of_each_text_alone),
        cmocka_unit_test(test_full_queue_refuses_instead_of_growing),
        cmocka_unit_test(test_token_types_ride_with_their_sequences),
        cmocka_unit_test(test_length_grouping_gives_each_text_its_rows_alone),
        cmocka_unit_test(test_length_grouping_takes_short_requests_past_a_long_one),
        cmocka_unit_test(test_without_length_grouping_short_requests_wait_in_arrival_order),
        cmocka_unit_test(test_length_grouping_does_not_starve_an_old_long_request),
        cmocka_unit_test(test_next_batch_waits_for_as_many_requests_as_the_last_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
