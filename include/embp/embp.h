/* embp.h: load a Hugging Face embedding model folder and embed text with it.
 *
 *     embp_model *m = NULL;
 *     embp_error err;
 *     if (embp_model_load("/models/all-MiniLM-L6-v2", NULL, &m, &err) != EMBP_OK) {
 *         fprintf(stderr, "embp: %s\n", err.msg);
 *         return 1;
 *     }
 *     const char *texts[] = {"hello world"};
 *     float v[384];
 *     embp_embed_texts(m, texts, NULL, 1, 0, 1, v, &err);
 *     embp_model_free(m);                       // NULL is fine
 *
 * Everything here is thread-safe except where a comment says otherwise: embp_embed_* calls on
 * one model must not overlap (the server's batcher serializes them); tokenizing may run on any
 * number of threads at once.
 */
#ifndef EMBP_EMBP_H
#define EMBP_EMBP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EMBP_BUILD) && defined(__GNUC__)
#define EMBP_API __attribute__((visibility("default")))
#else
#define EMBP_API
#endif

/* ---------------------------------------------------------------- status */

/* clang-format off */
#define EMBP_STATUS_LIST(X)                                                   \
    X(EMBP_OK,          "ok")                                                 \
    X(EMBP_EINVAL,      "invalid argument")                                   \
    X(EMBP_EIO,         "cannot read file")                                   \
    X(EMBP_EFORMAT,     "malformed model file")                               \
    X(EMBP_EUNSUPPORTED,"unsupported model or feature")                       \
    X(EMBP_ENOMEM,      "out of memory")                                      \
    X(EMBP_ETOOLONG,    "input longer than the model's maximum length")       \
    X(EMBP_ECONFIG,     "invalid configuration")                              \
    X(EMBP_EDEVICE,     "not supported by this CPU")                          \
    X(EMBP_EINTERNAL,   "internal error")
/* clang-format on */

typedef enum {
#define EMBP_X(code, msg) code,
    EMBP_STATUS_LIST(EMBP_X) /* append only: the values are ABI */
#undef EMBP_X
} embp_status;

/* A status and a message naming the file, the field and the value that failed. */
typedef struct {
    embp_status code;
    char msg[512];
} embp_error;

/* A static string for s, never NULL. */
EMBP_API const char *embp_status_str(embp_status s);

/* ---------------------------------------------------------------- model */

typedef struct embp_model embp_model; /* opaque: fields live in src/runtime/model.c */

typedef enum {
    EMBP_POOLING_MEAN,
    EMBP_POOLING_CLS,
    EMBP_POOLING_MAX,
    EMBP_POOLING_LASTTOKEN,
    EMBP_POOLING_MEAN_SQRT_LEN,
    EMBP_POOLING_WEIGHTEDMEAN, /* added later: position-weighted mean (weights 1, 2, ...) */
} embp_pooling;

/* A number format, as asked for in embp_load_opts: the shorthand `precision` takes any value;
 * `storage` (weights in memory) takes FP32..INT4; `compute` (what the GEMM multiplies) takes
 * FP32, BF16 or INT8. EMBP_PRECISION_UNSET (zero) means "not given". */
typedef enum {
    EMBP_PRECISION_UNSET,
    EMBP_PRECISION_AUTO, /* measure the plans this CPU runs fast and keep the fastest that meets
                          * the fidelity floors; precision only */
    EMBP_PRECISION_FP32,
    EMBP_PRECISION_FP16,
    EMBP_PRECISION_BF16,
    EMBP_PRECISION_INT8,
    EMBP_PRECISION_INT4,
} embp_precision;

/* "auto", "fp32" ... "int4"; "" for EMBP_PRECISION_UNSET, "?" out of range. Static. */
EMBP_API const char *embp_precision_str(embp_precision p);

/* How int8/int4 weights are made. Only round-to-nearest at load exists: GPTQ, AWQ and the like
 * need calibration data or their own checkpoint formats, which embp does not read. */
typedef enum {
    EMBP_QUANT_RTN,
} embp_quant_method;

/* A per-model precision choice: it wins over embp_load_opts' precision/storage/compute for the
 * model whose name (embp_load_opts.name, else the folder's name) is `model`. */
typedef struct {
    const char *model;
    embp_precision precision, storage, compute; /* as in embp_load_opts; at least one given */
    int group_size;                             /* int4 group; 0: quant_group_size */
} embp_precision_override;

/* How to load a model. Call embp_load_opts_init, then set what you need (zero-initializing
 * works for every field above the line "added after the first release"). Values are typed:
 * text settings (EMB_PROVIDER_* variables, flags) are the command line's to parse. Strings and
 * arrays are borrowed for the duration of embp_model_load only. An invalid value is
 * EMBP_ECONFIG naming the field (e.g. "embp_load_opts.quant_group_size = 48"). */
typedef struct {
    const char *name;          /* id shown by the API; NULL: the folder's name */
    embp_precision precision;  /* any value; UNSET: fp32 */
    embp_precision storage;    /* FP32|FP16|BF16|INT8|INT4; UNSET: from precision */
    embp_precision compute;    /* FP32|BF16|INT8; UNSET: from precision (or from storage) */
    embp_quant_method quantization_method; /* EMBP_QUANT_RTN (zero) */
    int quant_group_size;      /* int4 group along K: 16|32|64|128|256; 0: 32 */
    int strict;                /* nonzero: a precision the CPU cannot run is an error */
    int n_threads;             /* compute threads; 0: one per core */
    int max_batch_tokens;      /* tokens per forward pass; 0: 1024, or max_seq_len if longer */
    /* Fields below were added after the first release: embp_load_opts_init() sets them. */
    const embp_precision_override *precision_overrides; /* n_precision_overrides entries; the
                               * entry for this model's name wins over the fields above */
    int n_precision_overrides;
    int enable_quantization;   /* -1 (default): allowed; 0: int8/int4 are refused and auto never
                                * picks them; 1: allowed */
    double fidelity_floor_mean; /* cosines to fp32 on the probe set that auto needs to keep a */
    double fidelity_floor_min;  /* plan (mean and minimum), each in [0, 1]; init: 0.999, 0.995 */
    const char *fidelity_cache_dir; /* where measured fidelity is cached; NULL: not cached */
    int measure_fidelity;     /* nonzero: measure the plan against fp32 at load, even when not
                               * auto (auto always measures its candidates) */
    int warmup_tokens;        /* > 0: at load, one 1-token pass, then the GEMM primitives of every
                               * row count embp computes (its buckets) up to this many tokens,
                               * made without computing, so the first requests find them made
                               * (a server sets it; each new batch size otherwise costs ~0.5 ms
                               * per distinct layer shape on its first use) */
    const char *default_prompt_name; /* the prompt applied when a call names none (see
                               * "prompts" below): a key of the folder's prompts, "" for no
                               * default; NULL: the folder's default_prompt_name. A name the
                               * folder lacks fails the load, naming the ones it has */
} embp_load_opts;

EMBP_API void embp_load_opts_init(embp_load_opts *opts);

/* Loads the model folder at dir. On EMBP_OK, *out owns the model; free it with
 * embp_model_free(). On error *out is NULL and err (if not NULL) names the file and the field
 * that failed. opts may be NULL for defaults. */
EMBP_API embp_status embp_model_load(const char *dir, const embp_load_opts *opts,
                                     embp_model **out /* OUT */, embp_error *err);
EMBP_API void embp_model_free(embp_model *m);

/* What a loaded model is. Strings point into the model and live as long as it. */
typedef struct {
    const char *name;         /* id used in the API */
    const char *path;         /* folder it was loaded from */
    const char *architecture; /* config.json architectures[0], e.g. "BertModel" */
    int hidden, layers, heads, intermediate, vocab_size, max_position;
    int max_seq_len;          /* tokens per input, special tokens included */
    int dim;                  /* embedding size (hidden, unless a Dense module changes it) */
    embp_pooling pooling;
    int normalize;            /* 1: output vectors have unit length */
    int is_demo;              /* 1: seeded random weights, vectors carry no meaning */
    size_t weight_bytes;      /* bytes of weights held in memory */
    const char *storage, *compute, *accumulation; /* resolved precision plan */
    const char *plan_reason;  /* why the plan differs from the request; "" if it does not */
    /* Fields below were added after the first release. */
    const char *requested;    /* the precision asked for, e.g. "auto", "int8", "storage int4 +
                               * compute bf16", "fp32 (default)" */
    const char *plan_desc;    /* one line for logs: requested, resolved, memory, reasons */
    int quant_group_size;     /* int4 group along K; 0 unless storage is int4 */
    double fidelity_mean;     /* to fp32 on the built-in probe set (fidelity_measure says how);
                               * NaN: not measured */
    double fidelity_min;
    int n_prompts;            /* the folder's prompts (embp_model_prompt lists them) */
    const char *default_prompt_name; /* the prompt applied when none is named; NULL: none */
    int include_prompt;       /* 0: pooling leaves a prompt's tokens out */
    int n_dense;              /* Dense modules after pooling (fp32; dim is the last's output) */
    int num_labels;           /* 1: a reranker (a cross-encoder, config.json architectures
                               * *ForSequenceClassification): embp_score_pairs scores it, and
                               * embp_embed_* give its encoder's pooled states; 0: an embedder */
    const char *fidelity_measure; /* what fidelity_mean/min measure: "cosine" (an embedder: the
                               * probe texts' vectors) or "score_pearson" (a reranker: per
                               * probe query, the Pearson r of its logits against each probe
                               * text, as users get them) */
} embp_model_info;

EMBP_API void embp_model_get_info(const embp_model *m, embp_model_info *out /* OUT */);
EMBP_API const char *embp_pooling_str(embp_pooling p);

/* ---------------------------------------------------------------- tokens */

/* Tokenizes UTF-8 text of len bytes, special tokens included, into ids (room for cap ids).
 * truncate nonzero: keeps the first max_seq_len tokens (special tokens kept, as
 * sentence-transformers does). truncate zero: a longer input is EMBP_ETOOLONG.
 * *n gets the number of ids written; *n_full (may be NULL) the count before truncation.
 * Invalid UTF-8 is EMBP_EINVAL. Thread-safe. */
EMBP_API embp_status embp_tokenize(const embp_model *m, const char *text, size_t len,
                                   int truncate, int32_t *ids, int cap, int *n /* OUT */,
                                   int *n_full /* OUT */, embp_error *err);

/* The token string of id, or NULL when id is out of range. */
EMBP_API const char *embp_token_str(const embp_model *m, int32_t id);

/* ---------------------------------------------------------------- embeddings */

/* Embeds n sequences of token ids (special tokens included, as embp_tokenize writes them).
 * ids[i] has lens[i] ids, 1 <= lens[i] <= max_seq_len, each in [0, vocab_size).
 * dims: 0 for the full dimension, else 1..dim: keep the first dims values (matryoshka) and
 * re-normalize if the model normalizes. out gets n rows of (dims ? dims : dim) floats.
 * Not thread-safe on one model. */
EMBP_API embp_status embp_embed_tokens(embp_model *m, const int32_t *const *ids, const int *lens,
                                       int n, int dims, float *out, embp_error *err);

/* Tokenizes and embeds n texts; lens may be NULL for NUL-terminated texts. The model's default
 * prompt, if it has one, goes before each (embp_embed_texts_prompt chooses another). */
EMBP_API embp_status embp_embed_texts(embp_model *m, const char *const *texts,
                                      const size_t *lens, int n, int dims, int truncate,
                                      float *out, embp_error *err);

/* ---------------------------------------------------------------- prompts (added later) */

/* sentence-transformers prompts: config_sentence_transformers.json's "prompts" (name -> text)
 * and "default_prompt_name". A prompt is text put before each input text before tokenizing, so
 * its tokens count toward max_seq_len (truncation cuts the input's end, never the prompt's);
 * when the model's Pooling has include_prompt false, pooling leaves the prompt's tokens out.
 * Token-id inputs take no prompt. E.g. an e5 model: {"query": "query: ", "passage":
 * "passage: "}; embed a search with prompt_name "query", documents with "passage". */
typedef struct {
    const char *prompt;      /* literal text; wins over prompt_name (sentence-transformers
                              * ignores prompt_name then); "" means no prompt */
    const char *prompt_name; /* a key of the model's prompts */
} embp_prompt;

/* Prompt i of m (0 <= i < info.n_prompts): its name, and its text in *text (may be NULL);
 * NULL when i is out of range. */
EMBP_API const char *embp_model_prompt(const embp_model *m, int i, const char **text /* OUT */);

/* The prompt text p chooses for m, as sentence-transformers' encode(prompt=, prompt_name=):
 * p->prompt when set; else the prompt named p->prompt_name (an unknown name is EMBP_EINVAL
 * naming it and the model's names); else (p NULL, or both NULL) the default prompt, or "".
 * *text lives as long as m and p. */
EMBP_API embp_status embp_prompt_resolve(const embp_model *m, const embp_prompt *p,
                                         const char **text /* OUT */, embp_error *err);

/* embp_tokenize of prompt followed by text (prompt NULL or "": none). *n_prompt (may be NULL)
 * gets how many leading ids pooling leaves out: when the model's Pooling has include_prompt
 * false and there is a prompt, the prompt's own token count (tokenized alone, truncated alike)
 * less one when it ends in a special token, as sentence-transformers counts it; else 0.
 * Thread-safe. */
EMBP_API embp_status embp_tokenize_prompt(const embp_model *m, const char *prompt,
                                          const char *text, size_t len, int truncate,
                                          int32_t *ids, int cap, int *n /* OUT */,
                                          int *n_full /* OUT */, int *n_prompt /* OUT */,
                                          embp_error *err);

/* embp_embed_tokens with the first skip[i] ids of input i left out of pooling (the n_prompt of
 * embp_tokenize_prompt; skip NULL: none; each >= 0). Not thread-safe on one model. */
EMBP_API embp_status embp_embed_tokens_skip(embp_model *m, const int32_t *const *ids,
                                            const int *lens, const int *skip, int n, int dims,
                                            float *out, embp_error *err);

/* embp_embed_texts with the prompt p chooses (embp_prompt_resolve; NULL: the default prompt).
 * embp_embed_texts is this with p NULL. Not thread-safe on one model. */
EMBP_API embp_status embp_embed_texts_prompt(embp_model *m, const embp_prompt *p,
                                             const char *const *texts, const size_t *lens,
                                             int n, int dims, int truncate, float *out,
                                             embp_error *err);
/* ---------------------------------------------------------------- reranking (added later) */

/* Scores n (query, texts[i]) pairs with a reranker (embp_model_info.num_labels 1): each pair
 * tokenized with the tokenizer's pair template ([CLS] query [SEP] text [SEP], the text's
 * tokens of type 1; RoBERTa's <s> query </s></s> text </s>); truncate nonzero: cut to
 * max_seq_len tokens as HF tokenizers' longest_first does (the longer of the two loses tokens
 * first), zero: a longer pair is EMBP_ETOOLONG. text_lens may be NULL for NUL-terminated
 * texts. out gets n raw logits (sigmoid them for a relevance in (0, 1)). An embedding model is
 * EMBP_EUNSUPPORTED. Not thread-safe on one model. */
EMBP_API embp_status embp_score_pairs(embp_model *m, const char *query, size_t query_len,
                                      const char *const *texts, const size_t *text_lens, int n,
                                      int truncate, float *out, embp_error *err);

/* ---------------------------------------------------------------- fidelity (added later) */

/* Measures how far m's precision plan moves its vectors: embeds a built-in probe set of 42
 * varied sentences with m and with an fp32 model built from the folder m was loaded from
 * (parsed once: its weights are mapped again, not its tokenizer re-read), and stores the mean and
 * minimum cosine in m (embp_model_info.fidelity_mean/min). cache_dir (may be NULL) holds
 * measured figures keyed by weights file and plan. Not thread-safe on one model. */
EMBP_API embp_status embp_model_measure_fidelity(embp_model *m, const char *cache_dir,
                                                 embp_error *err);

/* ---------------------------------------------------------------- quantizing ahead */

typedef struct {
    embp_precision storage;  /* EMBP_PRECISION_INT8, _INT4, _BF16 or _FP16 */
    int group_size;          /* int4: 16..256, a power of two dividing K; 0 means 32 */
    embp_quant_method method; /* EMBP_QUANT_RTN (round to nearest), the only one */
    int measure_fidelity; /* nonzero: embed the probe set with the result and with in's fp32 */
    int overwrite;       /* nonzero: out may be a non-empty folder (its files are replaced) */
} embp_quantize_opts;

typedef struct {
    size_t bytes_in, bytes_out;         /* the weight files */
    double fidelity_mean, fidelity_min; /* NaN when not measured */
    char plan[64];                      /* plan the fidelity was measured with: "int4/bf16/g32" */
} embp_quantize_report;

/* Writes the model folder `in` to `out` with the dense layers' weights quantized (int8, int4)
 * or every float tensor converted (bf16, fp16), laid out as docs/QUANTIZED_FORMAT.md says,
 * plus out/embp_quantize.json (method, group size, source, fidelity). The other files of the
 * folder (config, tokenizer, pooling) are copied; other weight files (ONNX, PyTorch) are not.
 * Loading out then needs no fp32 weights and no re-quantizing. report may be NULL. */
EMBP_API embp_status embp_model_quantize(const char *in, const char *out,
                                         const embp_quantize_opts *opts,
                                         embp_quantize_report *report /* OUT */,
                                         embp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* EMBP_EMBP_H */
