/* The batcher: one queue of tokenized sequences from all requests and ONE worker thread that
 * forms batches by a token budget and runs the model on them. HTTP threads only submit and wait.
 * A batch may mix sequences of several requests and split a large request; each sequence
 * keeps its slot, so every request gets exactly its own rows, or an error.
 *
 * Which sequences a batch takes (only matters when more than one batch is waiting):
 * - length_grouping off: arrival order. A short request waits behind every token queued before it.
 * - length_grouping on: two lanes per batch. The FIFO lane first takes sequences in arrival order
 *   (the oldest request first) up to half the token budget and half max_batch_seqs, always at
 *   least one sequence. The rest of the budget then goes shortest first over every sequence still
 *   queued, of all requests; ties by request arrival, then by position in the request. Within a
 *   request, both lanes take its sequences shortest first.
 *   So a short request is not stuck behind a large request of long texts (it rides in the next
 *   batch unless half a budget of shorter tokens waits), and nothing starves: the FIFO lane moves
 *   the oldest request by at least one sequence and up to half a budget every batch, so a request
 *   waits at most about twice the batches it would wait in arrival order. A token share rather
 *   than an age: a batch takes 1 ms to seconds, so any fixed age is always or never exceeded.
 *   The model packs tokens without padding, so grouping saves no FLOPs and every row is what the
 *   sequence gets in any other batch; it changes only who waits. */
#ifndef EMBP_RUNTIME_BATCHER_H
#define EMBP_RUNTIME_BATCHER_H

#include <pthread.h>
#include <stdint.h>

#include "core/status.h"

/* ids[i] has lens[i] ids; out gets n rows of dim floats. Runs on the worker thread only, so
 * a model that is not thread-safe (embp_embed_tokens) is safe here. */
typedef embp_status (*embp_batch_embed_fn)(void *ctx, const int32_t *const *ids, const int *lens,
                                           int n, float *out, embp_error *err);

/* The same with skip[i]: how many leading ids of sequence i pooling leaves out (a prompt's,
 * when the model's Pooling has include_prompt false). */
typedef embp_status (*embp_batch_embed_skip_fn)(void *ctx, const int32_t *const *ids,
                                                const int *lens, const int *skip, int n,
                                                float *out, embp_error *err);

/* The same with types[i] (NULL: all 0): sequence i's token types, a reranker's (query, text)
 * pair (the text's ids of type 1 in BERT). */
typedef embp_status (*embp_batch_score_fn)(void *ctx, const int32_t *const *ids,
                                           const int32_t *const *types, const int *lens, int n,
                                           float *out, embp_error *err);

typedef struct {
    embp_batch_embed_fn embed;
    embp_batch_embed_skip_fn embed_skip; /* used instead of embed when set (jobs' skip) */
    embp_batch_score_fn score; /* a reranker's: used instead of both when set (jobs' types) */
    void *ctx;
    int dim;              /* floats per output row */
    int max_batch_tokens; /* token budget of one batch (a longer sequence runs alone) */
    int max_batch_seqs;   /* sequences in one batch; 0: 1024 */
    int max_wait_ms;      /* how long the oldest sequence may wait for a batch to fill: until the
                           * queue holds the budget or as many requests as the last batch
                           * finished (a lone client never waits) */
    long max_queue_tokens; /* queued tokens beyond which submit refuses (EMBP_BATCH_FULL) */
    int length_grouping;   /* nonzero: shortest first with a FIFO lane (see above) */
} embp_batcher_opts;

typedef struct embp_batcher embp_batcher;

/* A request: n sequences in, n rows out. The caller fills the first block, keeps ids, lens and
 * out alive until on_done runs (or embp_batcher_run returns), and leaves the rest alone. */
typedef struct embp_batch_job {
    const int32_t *const *ids;
    const int32_t *const *types; /* NULL: every token of type 0 (embeddings) */
    const int *lens;
    int n;
    float *out;                                  /* n * dim floats */
    const int *skip; /* NULL, or n counts of leading ids pooling leaves out (embed_skip) */
    void (*on_done)(struct embp_batch_job *job); /* on the worker thread; may be NULL */
    void *user;
    /* NULL: the job's sequences are embedded with the batcher's embed, packed with others.
     * Set: the worker runs run(ctx, job, err) for the whole job, alone, in its turn (another
     * output than one row per sequence: /embed_all's vector per token into out). */
    embp_status (*run)(void *ctx, struct embp_batch_job *job, embp_error *err);
    /* Result, valid once done: EMBP_OK and every row written, or an error and no rows. */
    embp_status status;
    embp_error err;
    /* Private to the batcher. */
    int next_seq, rows_left, n_batches, done; /* next_seq counts taken sequences */
    long tokens_left, batch_mark;
    uint64_t *order; /* length_grouping: (len << 32 | index), ascending; NULL: index order */
    int64_t enqueued_ms, enqueued_us;
    struct embp_batch_job *qnext;
    pthread_mutex_t *wait_mu;
    pthread_cond_t *wait_cv;
} embp_batch_job;

typedef enum {
    EMBP_BATCH_OK,
    EMBP_BATCH_FULL,
    EMBP_BATCH_STOPPED,
    EMBP_BATCH_CANCELED /* embp_batcher_run_while: the client went away */
} embp_batch_submit;

typedef struct {
    long batches, sequences, tokens;
    long mixed_batches; /* batches holding sequences of more than one request */
    long split_jobs;    /* requests whose sequences ran in more than one batch */
} embp_batcher_stats;

/* Starts the worker thread. *out owns it; free with embp_batcher_free. */
embp_status embp_batcher_create(const embp_batcher_opts *opts, embp_batcher **out /* OUT */,
                                embp_error *err);
/* Finishes every queued request, then stops the worker. NULL is fine. */
void embp_batcher_free(embp_batcher *b);

/* Queues job. EMBP_BATCH_FULL: the queue holds more than max_queue_tokens with it (a request
 * alone in an empty queue is always taken, so a big one is slow, never refused forever).
 * EMBP_BATCH_STOPPED: the batcher is shutting down. Either way on_done is not called. */
embp_batch_submit embp_batcher_submit(embp_batcher *b, embp_batch_job *job);

/* Submits job and waits for it. Returns the submit result; on EMBP_BATCH_OK job->status and
 * job->out hold the answer. */
embp_batch_submit embp_batcher_run(embp_batcher *b, embp_batch_job *job);

/* Like embp_batcher_run, but every poll_ms while it waits calls gone(arg); when that returns
 * nonzero (the client disconnected), the job's sequences not yet taken into a batch are
 * dropped, and it returns EMBP_BATCH_CANCELED once the ones running are done (no rows).
 * gone NULL: embp_batcher_run. */
embp_batch_submit embp_batcher_run_while(embp_batcher *b, embp_batch_job *job,
                                         int (*gone)(void *arg), void *arg, int poll_ms);

/* 1 when submit would refuse any job now (EMBP_BATCH_FULL): the queue already holds
 * max_queue_tokens. A caller checks it before the work of preparing a job. */
int embp_batcher_full(embp_batcher *b);

/* Who watches a batcher (the server's metrics). Both run on the worker thread under the
 * batcher's lock, so they must be quick and must not call the batcher. */
typedef struct {
    void (*on_start)(void *ctx, double wait_s);        /* a request's first sequence is taken
                                                        * into a batch wait_s after submit */
    void (*on_pass)(void *ctx, int seqs, long tokens); /* a forward pass ran */
    void *ctx;
} embp_batcher_observer;

/* Sets b's observer (a copy of *o; NULL: none). Once it returns, no call of the previous
 * observer is running or will run. */
void embp_batcher_observe(embp_batcher *b, const embp_batcher_observer *o);

/* Tokens now waiting in the queue, and counters since creation. */
long embp_batcher_queued_tokens(embp_batcher *b);
int embp_batcher_queued_requests(embp_batcher *b); /* requests with sequences not yet taken */
void embp_batcher_get_stats(embp_batcher *b, embp_batcher_stats *out /* OUT */);

#endif
