/* Internals of embp_model for the loader, the server, the batcher and the benchmarks: building
 * a model from a parsed folder under a plan, and embedding an already-packed batch.
 *
 * One load (runtime/plan_load.c, embp_model_load):
 *     embp_folder_open(dir)                  config, tokenizer, tensor index: once
 *     embp_precision_request_from_opts(opts) the typed request, checked
 *     embp_plan_resolve[_file](...)          one embp_plan, before any weight is packed
 *     embp_model_build(folder, plan)         the runnable model (auto: one per candidate, on the
 *                                            same folder, until one meets the fidelity floors)
 */
#ifndef EMBP_RUNTIME_MODEL_H
#define EMBP_RUNTIME_MODEL_H

#include "embp/embp.h"
#include "model/arch.h"
#include "precision/plan.h"
#include "runtime/folder.h"

/* A model of f under plan (NULL: fp32), sized as o says (NULL: defaults; o's name names it).
 * The model borrows f (its config, tokenizer and, while building, its weights) until
 * embp_model_own_folder hands f over. */
embp_status embp_model_build(embp_folder *f, const embp_plan *plan, const embp_load_opts *o,
                             embp_model **out /* OUT */, embp_error *err);
/* m frees its folder with itself. */
void embp_model_own_folder(embp_model *m);
/* o's name, else dir's last component; heap, embp_free it. */
char *embp_model_name_for(const char *dir, const embp_load_opts *o);

/* ids holds n sequences concatenated, sequence i being ids[offsets[i] .. offsets[i+1]);
 * offsets[n] <= embp_model_max_batch_tokens(m). Runs one forward pass and writes n rows of
 * (dims ? dims : dim) floats to out (pooled, normalized, truncated as embp_embed_tokens).
 * Ids and lengths are checked (EMBP_EINVAL naming the sequence). Never allocates. Not
 * thread-safe on one model. */
/* The last layer's vector of every token of one sequence ids[0..len), before pooling (TEI's
 * /embed_all): out gets len rows of the hidden size. len <= embp_model_max_batch_tokens(m).
 * Not thread-safe (the model's batcher worker calls it). */
embp_status embp_model_token_states(embp_model *m, const int32_t *ids, int len, float *out,
                                    embp_error *err);

embp_status embp_model_embed_packed(embp_model *m, const int32_t *ids, const int *offsets, int n,
                                    int dims, float *out, embp_error *err);

int embp_model_max_batch_tokens(const embp_model *m);

/* The token-id rule at every boundary (embp_embed_tokens, the server's request check): each of
 * n inputs has 1..max_len ids, each in [0, vocab_size). Returns EMBP_OK, or EMBP_ETOOLONG /
 * EMBP_EINVAL with *bad_input and *bad_token (-1 when the length is wrong) saying where; the
 * caller words the message. */
int embp_tokens_find_invalid(const int32_t *const *ids, const int *lens, int n, int max_len,
                             int vocab_size, int *bad_input, int *bad_token);
/* That rule for m (its max_seq_len and vocabulary), as an error naming the input. */
embp_status embp_model_check_tokens(const embp_model *m, const int32_t *const *ids,
                                    const int *lens, int n, embp_error *err);
/* embp_embed_tokens without the check, for ids a boundary already checked (the server's
 * request, through the batcher); _skip with each input's leading ids pooling leaves out (the
 * prompt's, embp_tokenize_prompt's n_prompt; NULL: none). */
embp_status embp_model_embed_checked(embp_model *m, const int32_t *const *ids, const int *lens,
                                     int n, int dims, float *out, embp_error *err);
embp_status embp_model_embed_checked_skip(embp_model *m, const int32_t *const *ids,
                                          const int *lens, const int *skip, int n, int dims,
                                          float *out, embp_error *err);

/* A cross-encoder's (embp_model_info.num_labels > 0) pass: ids, types (NULL: all 0) and
 * offsets as embp_model_embed_packed's; out gets n rows of num_labels raw logits (the
 * classification head on each sequence's first token, model/classifier.h). EMBP_EUNSUPPORTED
 * on a model without a head. Never allocates. Not thread-safe on one model. */
embp_status embp_model_score_packed(embp_model *m, const int32_t *ids, const int32_t *types,
                                    const int *offsets, int n, float *out, embp_error *err);
/* The same over n checked sequences (ids[i], types[i] of lens[i]; types or a row of it NULL:
 * type 0), as many passes as max_batch_tokens needs; a non-finite logit is EMBP_EINTERNAL. */
embp_status embp_model_score_checked(embp_model *m, const int32_t *const *ids,
                                     const int32_t *const *types, const int *lens, int n,
                                     float *out, embp_error *err);

/* Tokenizes the pair (a, b) with the post-processor's pair template (BERT: [CLS] a [SEP] b
 * [SEP], b's ids of type 1; RoBERTa: <s> a </s></s> b </s>), b first cut to its first max_b ids
 * (<= 0: not), then truncated longest_first to max_len ids (<= 0: not), from the start of each
 * sequence when from_left (tokenizer.h). */
embp_status embp_model_tokenize_pair(const embp_model *m, const char *a, size_t a_len,
                                     const char *b, size_t b_len, int max_len, int from_left,
                                     int max_b, int32_t *ids, int32_t *types, int cap,
                                     int *n /* OUT */, int *n_full /* OUT */, embp_error *err);

/* Tokenizes text with the post-processor's special tokens, truncated to max_len ids (special
 * tokens kept; <= 0: not truncated). Writes at most cap ids; *n_full (may be NULL) gets the
 * count before truncation. embp_tokenize is this with max_len = max_seq_len. */
embp_status embp_model_tokenize(const embp_model *m, const char *text, size_t len, int max_len,
                                int32_t *ids, int cap, int *n /* OUT */, int *n_full /* OUT */,
                                embp_error *err);

/* embp_model_tokenize of prompt followed by text (prompt NULL or "": none); *n_prompt (may be
 * NULL) as embp_tokenize_prompt's, the prompt truncated at max_len alike. */
embp_status embp_model_tokenize_prompt(const embp_model *m, const char *prompt,
                                       const char *text, size_t len, int max_len, int32_t *ids,
                                       int cap, int *n /* OUT */, int *n_full /* OUT */,
                                       int *n_prompt /* OUT */, embp_error *err);

/* The plan m runs, as the planner resolved it (fidelity NaN until measured). */
void embp_model_set_plan(embp_model *m, const embp_plan *p);
void embp_model_get_plan(const embp_model *m, embp_plan *out /* OUT */);
/* The folder m was built from. */
embp_folder *embp_model_folder(const embp_model *m);
/* Mean and minimum cosine between m's and ref's embeddings of the probe set (plan_load.c). */
embp_status embp_model_fidelity_between(embp_model *m, embp_model *ref, double *mean, double *min,
                                        embp_error *err);
/* Adds each later pass's per-op wall time to p (kernels/prof.h; bench_forward --profile); NULL
 * stops. */
void embp_model_set_prof(embp_model *m, embp_prof *p);
/* The kernel table the model runs ("avx512", "avx2", "scalar"). */
const char *embp_model_kernels(const embp_model *m);

/* One 1-token pass, then every GEMM row bucket's primitive up to `tokens` made without computing
 * (see model.c). */
embp_status embp_model_warm_up(embp_model *m, int tokens, embp_error *err);
/* Lets whichever thread runs the model own the cores (see model.c). */
void embp_model_release_openmp_team(void);

#endif
