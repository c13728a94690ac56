/* One queue, one model worker thread. Batches form by token budget and a short wait; rows go
 * back to their requests by slot. Not a scheduler across models: one batcher per model. */
#include "runtime/batcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

typedef struct {
    embp_batch_job *job;
    int seq;
} slot;

struct embp_batcher {
    embp_batcher_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;
    embp_batch_job *head, *tail; /* queued requests in arrival order */
    int n_jobs;                  /* requests in that list */
    long queued_tokens;
    int stop;
    embp_batcher_stats stats;
    int last_done; /* requests the last batch finished: how many the next one waits for */
    /* The batch being run: (max_batch_seqs) slots, id pointers, lengths, ... (one block that
     * slots starts, alloc_slot_arrays); (seqs, dim) rows. */
    slot *slots;
    const int32_t **ids;
    int *lens, *skip; /* skip: each slot's prompt ids pooling leaves out (embed_skip) */
    const int32_t **types; /* each slot's token types (score; NULL: type 0) */
    float *rows;
    embp_batch_job **finished; /* (max_batch_seqs) requests completed by the last batch */
    struct qhead *heap;        /* (heap_cap >= n_jobs) length_grouping's shortest-first lane */
    int heap_cap;
    embp_batcher_observer obs; /* all zero: nobody watches */
};

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
    return (a > c) - (a < c);
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void) {
    return now_us() / 1000;
}

/* ---------------------------------------------------------------- worker */

/* Under mu: waits for work, then for the batch to fill: up to max_wait_ms after the oldest
 * arrival, until the queue holds a full budget or as many requests as the last batch finished.
 * Clients that got their answers from a batch send their next requests within a moment of one
 * another; the first to arrive must not start a pass alone (and hold the rest for a whole
 * pass). A lone client (the last batch finished one request) never waits. Returns 0 when
 * stopping with nothing queued. */
static int wait_for_batch(embp_batcher *b) {
    while (!b->head && !b->stop)
        pthread_cond_wait(&b->work, &b->mu);
    if (!b->head)
        return 0;
    int64_t deadline = b->head->enqueued_ms + b->o.max_wait_ms;
    while (b->queued_tokens < b->o.max_batch_tokens && !b->stop &&
           b->n_jobs < b->last_done) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (long)(left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&b->work, &b->mu, &ts) == ETIMEDOUT)
            break;
    }
    return 1;
}

/* ------------------------------------------------------- forming a batch */

/* Index of the k-th sequence of j in the order it is taken. */
static int seq_at(const embp_batch_job *j, int k) {
    return j->order ? (int)(j->order[k] & 0xffffffff) : k;
}

static int next_len(const embp_batch_job *j) {
    return j->lens[seq_at(j, j->next_seq)];
}

/* Under mu: moves the next sequence of j into slot n of the batch being formed. */
static void take_seq(embp_batcher *b, int n, embp_batch_job *j, int *n_jobs) {
    int seq = seq_at(j, j->next_seq), len = j->lens[seq];
    if (j->batch_mark != b->stats.batches + 1) { /* first sequence of j in this batch */
        j->batch_mark = b->stats.batches + 1;
        (*n_jobs)++;
        if (++j->n_batches == 2)
            b->stats.split_jobs++;
        if (j->n_batches == 1 && b->obs.on_start)
            b->obs.on_start(b->obs.ctx, (double)(now_us() - j->enqueued_us) / 1e6);
    }
    b->slots[n] = (slot){j, seq};
    b->ids[n] = j->ids[seq];
    b->types[n] = j->types ? j->types[seq] : NULL;
    b->lens[n] = len;
    b->skip[n] = j->skip ? j->skip[seq] : 0;
    j->next_seq++;
    j->tokens_left -= len;
    b->queued_tokens -= len;
}

/* Under mu: takes sequences in arrival order from the first job with any left, while they fit
 * max_tokens and max_seqs (the first always does). Returns the new count; *used grows. */
static int take_fifo(embp_batcher *b, int n, long *used, long max_tokens, int max_seqs,
                     int *n_jobs) {
    for (embp_batch_job *j = b->head; j && n < max_seqs;) {
        if (j->next_seq == j->n) {
            j = j->qnext;
            continue;
        }
        if (j->run) /* a job run alone: the batch stops here, it goes next */
            break;
        int len = next_len(j);
        if (n > 0 && *used + len > max_tokens)
            break;
        take_seq(b, n++, j, n_jobs);
        *used += len;
    }
    return n;
}

/* The shortest-first lane's heap of jobs, keyed by (length of the job's next sequence, rank in
 * the queue): a k-way merge of the jobs' own shortest-first orders. */
typedef struct qhead {
    embp_batch_job *job;
    int rank;
} qhead;

static int qhead_less(const qhead *x, const qhead *y) {
    int lx = next_len(x->job), ly = next_len(y->job);
    return lx != ly ? lx < ly : x->rank < y->rank;
}

static void sift_down(qhead *h, int n, int i) {
    for (;;) {
        int m = i, l = 2 * i + 1, r = l + 1;
        if (l < n && qhead_less(&h[l], &h[m]))
            m = l;
        if (r < n && qhead_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        qhead t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Under mu: fills the batch (n slots taken so far) shortest first over all jobs, up to the
 * budget. Returns the new count, or -1 when the heap cannot grow (nothing taken). */
static int take_shortest(embp_batcher *b, int n, long *used, int *n_jobs) {
    if (b->n_jobs > b->heap_cap) {
        int cap = b->n_jobs > 2 * b->heap_cap ? b->n_jobs : 2 * b->heap_cap;
        qhead *h = embp_realloc(b->heap, (size_t)cap * sizeof *h);
        if (!h)
            return -1;
        b->heap = h;
        b->heap_cap = cap;
    }
    qhead *h = b->heap;
    int m = 0, rank = 0;
    for (embp_batch_job *j = b->head; j; j = j->qnext, rank++)
        if (j->next_seq < j->n && !j->run)
            h[m++] = (qhead){j, rank};
    for (int i = m / 2 - 1; i >= 0; i--)
        sift_down(h, m, i);
    while (m > 0 && n < b->o.max_batch_seqs) {
        embp_batch_job *j = h[0].job;
        int len = next_len(j);
        if (n > 0 && *used + len > b->o.max_batch_tokens)
            break; /* the shortest left does not fit, so nothing else does */
        take_seq(b, n++, j, n_jobs);
        *used += len;
        if (j->next_seq == j->n)
            h[0] = h[--m];
        sift_down(h, m, 0);
    }
    return n;
}

/* Under mu: unlinks the jobs whose every sequence is taken (they wait for rows, not a batch). */
static void drop_taken(embp_batcher *b) {
    embp_batch_job **pp = &b->head, *prev = NULL;
    while (*pp) {
        embp_batch_job *j = *pp;
        if (j->next_seq == j->n) {
            *pp = j->qnext;
            b->n_jobs--;
        } else {
            prev = j;
            pp = &j->qnext;
        }
    }
    b->tail = prev;
}

/* Under mu: takes the next batch into b->slots (see batcher.h for the order); a request whose
 * last sequence is taken leaves the queue. Returns the count; *tokens gets their tokens. */
static int take_batch(embp_batcher *b, long *tokens) {
    int n = 0, n_jobs = 0;
    long used = 0;
    if (!b->o.length_grouping) {
        n = take_fifo(b, 0, &used, b->o.max_batch_tokens, b->o.max_batch_seqs, &n_jobs);
    } else {
        int half_seqs = b->o.max_batch_seqs / 2 > 0 ? b->o.max_batch_seqs / 2 : 1;
        n = take_fifo(b, 0, &used, b->o.max_batch_tokens / 2, half_seqs, &n_jobs);
        int k = take_shortest(b, n, &used, &n_jobs);
        if (k < 0) /* out of memory for the heap: arrival order for the rest */
            k = take_fifo(b, n, &used, b->o.max_batch_tokens, b->o.max_batch_seqs, &n_jobs);
        n = k;
    }
    drop_taken(b);
    if (n_jobs > 1)
        b->stats.mixed_batches++;
    *tokens = used;
    return n;
}

/* Job j's sequences shortest first, ties by index, into j->order; NULL (index order) when
 * there is one sequence or no memory, which only costs the ordering. Not under mu. */
static void sort_job(embp_batch_job *j) {
    j->order = NULL;
    if (j->n < 2 || !(j->order = embp_malloc((size_t)j->n * sizeof *j->order)))
        return;
    for (int i = 0; i < j->n; i++)
        j->order[i] = (uint64_t)(uint32_t)j->lens[i] << 32 | (uint32_t)i;
    qsort(j->order, (size_t)j->n, sizeof *j->order, cmp_u64);
}

/* Under mu: removes job (still queued with untaken sequences) from the queue. */
static void unqueue(embp_batcher *b, embp_batch_job *job) {
    embp_batch_job **pp = &b->head, *prev = NULL;
    while (*pp && *pp != job) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (!*pp)
        return;
    *pp = job->qnext;
    if (b->tail == job)
        b->tail = prev;
    b->n_jobs--;
    b->queued_tokens -= job->tokens_left;
    job->tokens_left = 0;
}

/* Completes j: on_done, then wakes a waiter in embp_batcher_run. Either may free j at once, so
 * nothing here reads j after handing it over. */
static void finish_job(embp_batch_job *j) {
    void (*cb)(embp_batch_job *) = j->on_done;
    pthread_mutex_t *mu = j->wait_mu;
    pthread_cond_t *cv = j->wait_cv;
    if (!mu) {
        j->done = 1;
        if (cb)
            cb(j);
        return;
    }
    if (cb)
        cb(j);
    pthread_mutex_lock(mu);
    j->done = 1;
    pthread_cond_signal(cv);
    pthread_mutex_unlock(mu);
}

/* Under mu: slot i's row goes to its request, or st (not EMBP_OK) fails that request (and
 * drops its untaken sequences). */
static void deliver_slot(embp_batcher *b, int i, embp_status st, const embp_error *err) {
    embp_batch_job *j = b->slots[i].job;
    if (st == EMBP_OK && j->status == EMBP_OK) {
        size_t dim = (size_t)b->o.dim;
        memcpy(j->out + (size_t)b->slots[i].seq * dim, b->rows + (size_t)i * dim,
               dim * sizeof(float));
    } else if (j->status == EMBP_OK) {
        j->status = st;
        j->err = *err;
        unqueue(b, j);
        j->rows_left -= j->n - j->next_seq; /* never taken: nothing to wait for */
        j->next_seq = j->n;
    }
    j->rows_left--;
}

/* Under mu: puts the requests of the n slots with nothing left in b->finished; returns how
 * many. Nothing here touches a request after it is listed: its waiter may free it at once. */
static int collect_finished(embp_batcher *b, int n) {
    int n_done = 0;
    for (int i = 0; i < n; i++) {
        embp_batch_job *j = b->slots[i].job;
        if (j->rows_left == 0) {
            j->rows_left = -1; /* listed once even when it holds several slots */
            embp_free(j->order);
            j->order = NULL;
            b->finished[n_done++] = j;
        }
    }
    return n_done;
}

/* Embeds slots first .. first + n - 1 into rows: with their types (a reranker) or skips when
 * the model takes them. */
static embp_status run_embed(embp_batcher *b, int first, int n, float *rows, embp_error *err) {
    if (b->o.score)
        return b->o.score(b->o.ctx, b->ids + first, b->types + first, b->lens + first, n, rows,
                          err);
    if (b->o.embed_skip)
        return b->o.embed_skip(b->o.ctx, b->ids + first, b->lens + first, b->skip + first, n,
                               rows, err);
    return b->o.embed(b->o.ctx, b->ids + first, b->lens + first, n, rows, err);
}

/* Runs the n slots taken (mu not held) and delivers them (under mu). A pass that fails is
 * re-run one sequence at a time, so that the sequence that caused it (a bad input, or one too
 * big for the memory left) fails only its own request and the others get their rows: a batch
 * mixes requests of different clients, and one must not learn of another's failure. */
static void run_batch(embp_batcher *b, int n) {
    embp_error err;
    embp_error_clear(&err);
    embp_status st = run_embed(b, 0, n, b->rows, &err);
    if (st == EMBP_OK || n == 1) {
        pthread_mutex_lock(&b->mu);
        for (int i = 0; i < n; i++)
            deliver_slot(b, i, st, &err);
        return;
    }
    for (int i = 0; i < n; i++) {
        embp_error_clear(&err);
        embp_status si = run_embed(b, i, 1, b->rows + (size_t)i * (size_t)b->o.dim, &err);
        pthread_mutex_lock(&b->mu);
        deliver_slot(b, i, si, &err);
        if (i + 1 < n)
            pthread_mutex_unlock(&b->mu);
    }
}

/* Under mu: the head job has its own run: takes it out of the queue and runs it alone (mu not
 * held while it runs); returns with mu held. */
static void run_alone(embp_batcher *b) {
    embp_batch_job *j = b->head;
    b->stats.batches++;
    b->stats.sequences += j->n - j->next_seq;
    b->stats.tokens += j->tokens_left;
    unqueue(b, j);
    j->next_seq = j->n;
    j->rows_left = -1;
    embp_free(j->order);
    j->order = NULL;
    pthread_mutex_unlock(&b->mu);
    embp_error_clear(&j->err);
    j->status = j->run(b->o.ctx, j, &j->err);
    finish_job(j);
    pthread_mutex_lock(&b->mu);
    b->last_done = 1;
}

static void *worker(void *arg) {
    embp_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    while (wait_for_batch(b)) {
        if (b->head->run) {
            run_alone(b);
            continue;
        }
        long tokens;
        int n = take_batch(b, &tokens);
        b->stats.batches++;
        b->stats.sequences += n;
        b->stats.tokens += tokens;
        pthread_mutex_unlock(&b->mu);
        run_batch(b, n); /* returns with mu held */
        int n_done = collect_finished(b, n);
        b->last_done = n_done;
        if (b->obs.on_pass) /* before any answer: a client then sees its pass counted */
            b->obs.on_pass(b->obs.ctx, n, tokens);
        pthread_mutex_unlock(&b->mu);
        for (int i = 0; i < n_done; i++)
            finish_job(b->finished[i]);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---------------------------------------------------------------- API */

static void batcher_release(embp_batcher *b) {
    embp_free(b->slots); /* and the other per-slot arrays */
    embp_free_aligned(b->rows);
    embp_free(b->heap);
    embp_free(b);
}

/* The per-slot arrays, s entries each, zeroed, carved from one block that b->slots starts
 * (each at a multiple of 16 bytes). 0, or -1 when out of memory. */
static int alloc_slot_arrays(embp_batcher *b, size_t s) {
#define SLOT_BYTES(field) ((s * sizeof *b->field + 15) & ~(size_t)15)
    size_t off_ids = SLOT_BYTES(slots), off_types = off_ids + SLOT_BYTES(ids);
    size_t off_lens = off_types + SLOT_BYTES(types), off_skip = off_lens + SLOT_BYTES(lens);
    size_t off_finished = off_skip + SLOT_BYTES(skip);
    char *block = embp_calloc(1, off_finished + SLOT_BYTES(finished));
#undef SLOT_BYTES
    if (!block)
        return -1;
    b->slots = (void *)block;
    b->ids = (void *)(block + off_ids);
    b->types = (void *)(block + off_types);
    b->lens = (void *)(block + off_lens);
    b->skip = (void *)(block + off_skip);
    b->finished = (void *)(block + off_finished);
    return 0;
}

embp_status embp_batcher_create(const embp_batcher_opts *opts, embp_batcher **out,
                                embp_error *err) {
    *out = NULL;
    if ((!opts->embed && !opts->embed_skip && !opts->score) || opts->dim < 1 || opts->max_batch_tokens < 1 || opts->max_wait_ms < 0 ||
        opts->max_queue_tokens < 1 || opts->max_batch_seqs < 0)
        return embp_fail(err, EMBP_EINVAL, "batcher: bad options (dim %d, max_batch_tokens %d, "
                         "max_wait_ms %d, max_queue_tokens %ld)", opts->dim,
                         opts->max_batch_tokens, opts->max_wait_ms, opts->max_queue_tokens);
    embp_batcher *b = embp_calloc(1, sizeof *b);
    if (!b)
        return embp_fail(err, EMBP_ENOMEM, "batcher: out of memory");
    b->o = *opts;
    if (b->o.max_batch_seqs == 0)
        b->o.max_batch_seqs = 1024;
    size_t s = (size_t)b->o.max_batch_seqs;
    b->rows = embp_malloc_aligned(s * (size_t)b->o.dim * sizeof(float));
    if (alloc_slot_arrays(b, s) != 0 || !b->rows) {
        batcher_release(b);
        return embp_fail(err, EMBP_ENOMEM, "batcher: out of memory for %zu rows of %d", s,
                         opts->dim);
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    if (pthread_create(&b->thread, NULL, worker, b) != 0) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->work);
        batcher_release(b);
        return embp_fail(err, EMBP_ENOMEM, "batcher: cannot start the worker thread");
    }
    *out = b;
    return EMBP_OK;
}

void embp_batcher_free(embp_batcher *b) {
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    batcher_release(b);
}

embp_batch_submit embp_batcher_submit(embp_batcher *b, embp_batch_job *job) {
    long tokens = 0;
    for (int i = 0; i < job->n; i++)
        tokens += job->lens[i];
    job->status = EMBP_OK;
    embp_error_clear(&job->err);
    job->next_seq = job->n_batches = job->done = 0;
    job->rows_left = job->n;
    job->tokens_left = tokens;
    job->qnext = NULL;
    job->batch_mark = 0;
    job->order = NULL;
    if (b->o.length_grouping)
        sort_job(job);
    job->enqueued_us = now_us();
    job->enqueued_ms = job->enqueued_us / 1000;
    pthread_mutex_lock(&b->mu);
    embp_batch_submit r = EMBP_BATCH_OK;
    if (b->stop)
        r = EMBP_BATCH_STOPPED;
    else if (b->queued_tokens > 0 && b->queued_tokens + tokens > b->o.max_queue_tokens)
        r = EMBP_BATCH_FULL;
    if (r == EMBP_BATCH_OK && job->n > 0) {
        if (b->tail)
            b->tail->qnext = job;
        else
            b->head = job;
        b->tail = job;
        b->n_jobs++;
        b->queued_tokens += tokens;
        pthread_cond_signal(&b->work);
    }
    pthread_mutex_unlock(&b->mu);
    if (r != EMBP_BATCH_OK || job->n == 0) {
        embp_free(job->order); /* the worker never sees this job */
        job->order = NULL;
    }
    if (r == EMBP_BATCH_OK && job->n == 0)
        finish_job(job);
    return r;
}

/* Drops job's sequences not yet taken into a batch (its client is gone). Returns 1 when nothing
 * of it is running either, so the caller must complete it (the worker never will). */
static int cancel_job(embp_batcher *b, embp_batch_job *job) {
    int finish = 0;
    pthread_mutex_lock(&b->mu);
    if (job->next_seq < job->n) {
        unqueue(b, job);
        job->rows_left -= job->n - job->next_seq;
        job->next_seq = job->n;
        if (job->status == EMBP_OK)
            embp_fail(&job->err, job->status = EMBP_EINTERNAL, "the client went away");
        if (job->rows_left == 0) {
            job->rows_left = -1;
            embp_free(job->order);
            job->order = NULL;
            finish = 1;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return finish;
}

embp_batch_submit embp_batcher_run_while(embp_batcher *b, embp_batch_job *job,
                                         int (*gone)(void *arg), void *arg, int poll_ms) {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    job->wait_mu = &mu;
    job->wait_cv = &cv;
    embp_batch_submit r = embp_batcher_submit(b, job);
    if (r == EMBP_BATCH_OK) {
        pthread_mutex_lock(&mu);
        while (!job->done) {
            if (!gone || r == EMBP_BATCH_CANCELED) {
                pthread_cond_wait(&cv, &mu);
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)poll_ms * 1000000;
            ts.tv_sec += ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            if (pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT || job->done)
                continue;
            pthread_mutex_unlock(&mu);
            if (gone(arg)) {
                r = EMBP_BATCH_CANCELED;
                if (cancel_job(b, job))
                    finish_job(job);
            }
            pthread_mutex_lock(&mu);
        }
        pthread_mutex_unlock(&mu);
    }
    job->wait_mu = NULL;
    job->wait_cv = NULL;
    pthread_mutex_destroy(&mu);
    pthread_cond_destroy(&cv);
    return r;
}

embp_batch_submit embp_batcher_run(embp_batcher *b, embp_batch_job *job) {
    return embp_batcher_run_while(b, job, NULL, NULL, 0);
}

int embp_batcher_full(embp_batcher *b) {
    pthread_mutex_lock(&b->mu);
    int full = b->queued_tokens > 0 && b->queued_tokens >= b->o.max_queue_tokens;
    pthread_mutex_unlock(&b->mu);
    return full;
}

void embp_batcher_observe(embp_batcher *b, const embp_batcher_observer *o) {
    pthread_mutex_lock(&b->mu);
    if (o)
        b->obs = *o;
    else
        memset(&b->obs, 0, sizeof b->obs);
    pthread_mutex_unlock(&b->mu);
}

long embp_batcher_queued_tokens(embp_batcher *b) {
    pthread_mutex_lock(&b->mu);
    long t = b->queued_tokens;
    pthread_mutex_unlock(&b->mu);
    return t;
}

int embp_batcher_queued_requests(embp_batcher *b) {
    pthread_mutex_lock(&b->mu);
    int n = b->n_jobs;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void embp_batcher_get_stats(embp_batcher *b, embp_batcher_stats *out) {
    pthread_mutex_lock(&b->mu);
    *out = b->stats;
    pthread_mutex_unlock(&b->mu);
}
