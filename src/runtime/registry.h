/* The model registry: the models a process runs, each loaded from its folder under its typed
 * options, its context capped, with a batcher when concurrent requests share it; and the
 * request rules the server and the command line both apply (the context cap, matryoshka
 * dimensions), so that `embp serve` and `embp embed` cannot drift. */
#ifndef EMBP_RUNTIME_REGISTRY_H
#define EMBP_RUNTIME_REGISTRY_H

#include <jansson.h>
#include <stdint.h>

#include "core/log.h"
#include "embp/embp.h"
#include "runtime/batcher.h"

/* A model as the server and the command line see it. */
typedef struct {
    embp_model *model;
    embp_model_info info;
    int max_seq_len;       /* info.max_seq_len capped by max_context_length */
    embp_batcher *batcher; /* NULL unless loaded with_batcher */
} embp_registry_model;

typedef struct {
    int max_context_length; /* caps each model's max_seq_len; 0: the model's */
    int with_batcher;       /* start a batcher per model (a server); 0: called directly */
    int max_wait_ms;        /* the batchers' options (runtime/batcher.h) */
    long max_queue_tokens;
    int length_grouping;
    embp_logger log; /* where the demo model's warning goes; all zero: text */
} embp_registry_opts;

/* Loads paths[i] with opts[i] into (*out)[i], i < n (heap array). A demo model is announced
 * with a WARN line; two models of the same name are EMBP_ECONFIG. Errors name the library's
 * fields (embp_load_opts): the caller names its settings. Free with embp_registry_free. */
embp_status embp_registry_load(const char *const *paths, const embp_load_opts *opts, int n,
                               const embp_registry_opts *ro, embp_registry_model **out /* OUT */,
                               embp_error *err);

/* Stops the batchers (finishing queued work) and frees the models. NULL is fine. */
void embp_registry_free(embp_registry_model *m, int n);

/* A model alias: another name a client may use for a served model (EMB_PROVIDER_MODEL_ALIASES:
 * e.g. text-embedding-3-small for all-MiniLM-L6-v2). */
typedef struct {
    char alias[256];
    char target[256]; /* a served model's id */
} embp_model_alias;

/* The model a request's name means: a served id first, else an alias's target; NULL when
 * neither. *alias_of (may be NULL) gets the alias row used, or NULL. */
embp_registry_model *embp_registry_find(embp_registry_model *m, int n,
                                        const embp_model_alias *aliases, int n_aliases,
                                        const char *name, const embp_model_alias **alias_of);

/* Writes the served ids and the aliases, comma separated, into out (for "not found" messages:
 * "a, b (aliases: x -> a)"). */
void embp_registry_names(const embp_registry_model *m, int n, const embp_model_alias *aliases,
                         int n_aliases, char *out, size_t size);

/* Tokenizes text for m: special tokens as the tokenizer's post-processor adds them, and at
 * most m->max_seq_len ids (the post-processor's closing tokens kept, whatever the model).
 * ids has room for m->max_seq_len. *n_full gets the count before truncation. truncate zero
 * and a longer input: EMBP_ETOOLONG (the caller words it: HTTP 400 context_length_exceeded, a
 * CLI message). */
embp_status embp_registry_tokenize(const embp_registry_model *m, const char *text, size_t len,
                                   int truncate, int32_t *ids, int *n /* OUT */,
                                   int *n_full /* OUT */, embp_error *err);
/* The same for prompt followed by text (prompt NULL or "": none; embp_prompt_resolve chooses
 * it); *n_prompt (may be NULL) gets the leading ids pooling leaves out, for the batch job's
 * skip (embp_tokenize_prompt). */
embp_status embp_registry_tokenize_prompt(const embp_registry_model *m, const char *prompt,
                                          const char *text, size_t len, int truncate,
                                          int32_t *ids, int *n /* OUT */, int *n_full /* OUT */,
                                          int *n_prompt /* OUT */, embp_error *err);

/* embp_registry_tokenize for a reranker's (a, b) pair: the tokenizer's pair template, token
 * types into types, b cut to its first max_b ids (<= 0: not; Cohere's max_tokens_per_doc),
 * then truncated longest_first (from each sequence's start when from_left) to m->max_seq_len
 * ids when truncate, else EMBP_ETOOLONG for a longer pair. ids and types have room for
 * m->max_seq_len. */
embp_status embp_registry_tokenize_pair(const embp_registry_model *m, const char *a,
                                        size_t a_len, const char *b, size_t b_len, int truncate,
                                        int from_left, int max_b, int32_t *ids, int32_t *types,
                                        int *n /* OUT */, int *n_full /* OUT */, embp_error *err);

/* What a model serves, for the routes and /v1/models: "reranker" (a cross-encoder: /rerank,
 * /v1/rerank) or "embedding" (/v1/embeddings). Static. */
const char *embp_registry_kind(const embp_model_info *i);

/* embp_registry_tokenize_prompt cutting from the left (TEI's truncation_direction "left"): the
 * last tokens of prompt + text kept, the special tokens around them as always; a long input
 * loses its prompt first, as in TEI. *n_prompt (may be NULL) gets 0: pooling keeps whatever of
 * the prompt is left, even for a model whose Pooling has include_prompt false. */
embp_status embp_registry_tokenize_left(const embp_registry_model *m, const char *prompt,
                                        const char *text, size_t len, int truncate, int32_t *ids,
                                        int *n /* OUT */, int *n_full /* OUT */,
                                        int *n_prompt /* OUT */, embp_error *err);

/* A batch job's run (runtime/batcher.h) for TEI's /embed_all: ctx is the model, job->out gets
 * each sequence's token vectors (embp_model_token_states) back to back, sum(lens) rows of the
 * hidden size. */
embp_status embp_registry_token_states(void *ctx, embp_batch_job *job, embp_error *err);

/* The "precision" object of a model for /v1/models, /info and `embp info --json`: requested,
 * resolved storage/compute/accumulation, int4 group, the reasons, one line, and the fidelity to
 * fp32 (null until measured). New reference. */
json_t *embp_registry_precision_json(const embp_model_info *i);

/* The "prompts" object of a model for /v1/models and `embp info --json`: prompts (name ->
 * text), default_prompt_name (null: none), include_prompt. New reference. */
json_t *embp_registry_prompts_json(const embp_registry_model *m);

#endif
