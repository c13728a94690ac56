/* The precision plan: which storage precision (weights in memory), compute precision (what
 * the matrix units multiply) and accumulation (fp32, always) a model runs with, resolved
 * against what this CPU can run, with the reasons whenever the result differs from the request.
 * The request comes from embp_load_opts (typed; precision/request.h checks it and names the
 * field on error); this file is the vocabulary and resolution. Text (EMB_PROVIDER_* variables,
 * flags) is parsed once, by the settings table (server/config.h), never here.
 *
 *     embp_precision_request req;
 *     if (embp_precision_request_from_opts(opts, &req, &err) != EMBP_OK) ...
 *     embp_plan plan;
 *     if (embp_plan_resolve(&req, "all-MiniLM-L6-v2", embp_cpu_get(), req.strict, &plan, &err)
 *         != EMBP_OK) ...
 *     log("%s", plan.desc);        // "storage int4 (g32, fp16 scales) compute bf16 ..."
 *     embp_precision_request_free(&req);
 */
#ifndef EMBP_PRECISION_PLAN_H
#define EMBP_PRECISION_PLAN_H

#include <stddef.h>

#include "core/cpu.h"
#include "core/status.h"
#include "embp/embp.h"

/* ---------------------------------------------------------------- vocabulary */

/* How weights sit in memory (or in the file, for a request). Values grow at the end only. */
typedef enum {
    EMBP_STORAGE_FP32,
    EMBP_STORAGE_FP16,
    EMBP_STORAGE_BF16,
    EMBP_STORAGE_INT8, /* per output channel, symmetric, fp32 scale per channel */
    EMBP_STORAGE_INT4, /* group-wise along K, symmetric, fp16 scale per group (kernels/quant.h) */
    EMBP_STORAGE_COUNT
} embp_storage;

/* What the GEMM multiplies. Accumulation is fp32 in every case (int32 inside an int8 group,
 * then fp32); LayerNorm, softmax, GELU and pooling always run in fp32. */
typedef enum {
    EMBP_COMPUTE_FP32,
    EMBP_COMPUTE_BF16,
    EMBP_COMPUTE_INT8, /* u8 activations per token (zero point 128) x s8 weights */
    EMBP_COMPUTE_COUNT
} embp_compute;

/* "fp32" ... "int4"; "?" for a value out of range. Static strings. */
const char *embp_storage_str(embp_storage s);
const char *embp_compute_str(embp_compute c);
/* The enum value for s, or -1. Exact lowercase names only. */
int embp_storage_parse(const char *s);
int embp_compute_parse(const char *s);

/* ---------------------------------------------------------------- the pair table */

/* One storage/compute pair embp can run. memory is what RAM holds after load: a pair whose
 * storage has no matmul on x86 (fp16), or whose compute needs another format, is converted
 * once at load, and then memory costs what the compute format costs, not what was asked. */
typedef struct {
    embp_storage storage;
    embp_compute compute;
    embp_storage memory;
    const char *bytes;  /* bytes per weight incl. scales, as a formula: "0.5 + 2/g" */
    const char *needs;  /* CPU features for the fast path, "" when any x86-64 will do */
    const char *engine; /* "oneDNN" or "embp int4 kernel" */
    const char *note;
} embp_precision_pair;

/* The table, in a fixed order; *n gets its length. Static. */
const embp_precision_pair *embp_precision_pairs(int *n /* OUT */);
/* The entry for (s, c), or NULL when embp cannot run that pair. */
const embp_precision_pair *embp_precision_pair_find(embp_storage s, embp_compute c);
/* Bytes per weight of memory format m, incl. scales: int8 has one fp32 scale per output
 * channel of k weights (k <= 0 leaves it out), int4 one fp16 scale per group. */
double embp_precision_bytes_per_weight(embp_storage m, int group_size, int k);
/* Writes the table as a Markdown table (for the README and `embp info`) into buf; returns
 * the length it needed, as snprintf does. */
size_t embp_precision_pairs_markdown(char *buf, size_t size);

/* ---------------------------------------------------------------- request */

/* One precision choice: a shorthand (embp_precision, embp.h), or storage and/or compute (-1
 * for not given). */
typedef struct {
    embp_precision precision;
    int storage;    /* embp_storage or -1 */
    int compute;    /* embp_compute or -1 */
    int group_size; /* 0: the request's group size */
} embp_precision_spec;

typedef struct {
    const char *model;    /* borrowed from embp_load_opts.precision_overrides */
    embp_precision_spec spec;
} embp_precision_model_spec;

/* What embp_load_opts asks for, checked (precision/request.h). */
typedef struct {
    embp_precision_spec global;     /* precision, storage, compute */
    int group_size;                 /* quant_group_size, default 32 */
    int quantization_enabled;       /* enable_quantization, default 1 */
    int strict;                     /* strict, default 0 */
    double fidelity_mean_min;       /* fidelity_floor_mean, default 0.999 */
    double fidelity_min_min;        /* fidelity_floor_min, default 0.995 */
    embp_precision_model_spec *overrides; /* precision_overrides, owned array */
    int n_overrides;
} embp_precision_request;

/* ---------------------------------------------------------------- plan */

#define EMBP_PLAN_REASONS    4
#define EMBP_PLAN_REASON_LEN 200

typedef struct {
    int requested_storage, requested_compute; /* as asked, after shorthands; -1 for auto */
    embp_storage storage;   /* resolved storage precision (what the weights are made into) */
    embp_compute compute;   /* resolved compute precision */
    embp_storage memory;    /* what RAM holds: storage, or the compute format when converted */
    const char *accumulation; /* "fp32", always */
    int group_size;         /* int4 group along K; 0 unless storage is int4 */
    int is_auto;            /* 1: from auto; run the candidates and embp_plan_pick() */
    int prequantized;       /* 1: the folder was written by embp quantize; its fidelity is the
                             * one recorded against the source (embp_quantize.json) */
    const char *kernel;     /* the int4 kernel variant ("avx512_bf16", ...), "" otherwise */
    double bytes_per_weight; /* memory per weight, incl. int4 group scales (not int8's per
                              * channel scales: 4/K more, see embp_precision_bytes_per_weight) */
    int n_reasons;
    char reasons[EMBP_PLAN_REASONS][EMBP_PLAN_REASON_LEN]; /* why it differs from the request */
    double fidelity_mean, fidelity_min; /* cosine to fp32 on the probe set; NaN until measured */
    char desc[320];         /* one line for logs */
} embp_plan;

/* Resolves req for model_name (picks its override, if any) on cpu into *out.
 * Precedence: per-model override > explicit storage/compute > global precision > fp32.
 * Explicit storage or compute replaces the global shorthand entirely; the half not given
 * follows from the half given (storage int4 -> compute bf16, compute int8 -> storage int8).
 * A compute precision cpu cannot run falls back to the next best with a reason; with strict
 * (or req->strict) nonzero that is EMBP_EDEVICE carrying the same reason. A pair embp cannot
 * run, or int8/int4 while quantization is disabled, is EMBP_ECONFIG. Auto resolves to fp32
 * with is_auto set: the caller measures embp_plan_auto_candidates() and picks. */
embp_status embp_plan_resolve(const embp_precision_request *req, const char *model_name,
                              const embp_cpu *cpu, int strict, embp_plan *out /* OUT */,
                              embp_error *err);

/* The same for a folder written by embp quantize, whose file holds file_storage weights (int4
 * with group file_group). Nothing asked, or auto, takes the file's storage (no auto candidates:
 * the fp32 weights are not there). int8/int4 files run only at their own storage: another
 * explicit storage is EMBP_ECONFIG naming file_desc (the file) and what to do. fp16/bf16 files
 * are ordinary float checkpoints: any storage may be asked of them. */
embp_status embp_plan_resolve_file(const embp_precision_request *req, const char *model_name,
                                   const embp_cpu *cpu, int strict, embp_storage file_storage,
                                   int file_group, const char *file_desc,
                                   embp_plan *out /* OUT */, embp_error *err);

/* The plans auto may choose on cpu, fastest first, fp32 always last; at most cap written,
 * returns how many. Quantized plans only when req->quantization_enabled. */
int embp_plan_auto_candidates(const embp_precision_request *req, const embp_cpu *cpu,
                              embp_plan *out /* OUT */, int cap);

/* Index of the first candidate whose measured fidelity meets mean >= mean_min and
 * min >= min_min; else the index of the fp32 plan (the last one). */
int embp_plan_pick(const embp_plan *cands, int n, double mean_min, double min_min);

/* "int4/bf16/g32": the storage/compute/group key of a plan (fidelity cache, logs). */
void embp_plan_key(const embp_plan *p, char *buf, size_t size);

#endif
