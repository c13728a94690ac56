/* matmul.h: the dense layers y = x W + b (optionally GELU) on oneDNN's matmul.
 * x is (M, K) f32, W is (K, N) given in torch Linear's layout (N, K), y is (M, N) f32. Weights
 * are converted once at load to the compute type and reordered into the primitive's preferred
 * blocked layout; primitives are made for fixed M buckets (runtime M with blocked weights falls
 * to oneDNN's reference kernel: seconds per call) and cached per linear.
 *
 * Compute types: f32 (x f32, W f32); bf16 (x converted to bf16 per call, W bf16, dst f32);
 * int8 (x quantized per token to u8 with zero point 128, W s8 with per-output-channel scales,
 * s32 accumulators scaled back in our epilogue). Bias and GELU are oneDNN post-ops for f32 and
 * bf16, and part of the epilogue for int8. The int4 types run embp's own kernels
 * (kernels/int4.h), GELU fused; except int4/bf16 on an AVX-512 BF16 CPU from 512 rows a call
 * (below, EMBP_MM_INT4_BF16).
 */
#ifndef EMBP_KERNELS_MATMUL_H
#define EMBP_KERNELS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/kernels.h"
#include "kernels/prof.h"

/* INT4_BF16 / INT4_INT8: weights stay int4 (group-wise, kernels/quant.h) and run through
 * embp's own int4 kernels (kernels/int4.h) with bf16 or int8 numerics. INT4_BF16 where the
 * avx512_bf16 int4 kernel runs, at 512 rows a call or more: each call dequantizes the linear's
 * weights to bf16 into the engine's scratch (K x N x 2 bytes, 1.2 MB for MiniLM's ffn; the
 * weights stay int4 in memory) and runs oneDNN's bf16 matmul on them, as EMBP_MM_BF16 does
 * (bias and GELU its post-ops): y = bias + sum_k bf16(x) bf16(q s) in fp32, the weight q s
 * (exact in fp32) rounded once to bf16, where the int4 kernel multiplies by q and scales each
 * group's fp32 sum by s. Below 512 rows the int4 kernel, reading 4x fewer weight bytes, wins. */
typedef enum {
    EMBP_MM_F32,
    EMBP_MM_BF16,
    EMBP_MM_INT8,
    EMBP_MM_INT4_BF16,
    EMBP_MM_INT4_INT8
} embp_mm_type;

/* "fp32", "bf16", "int8", "int4/bf16", "int4/int8" */
const char *embp_mm_type_str(embp_mm_type t);

/* The rows a call with M rows computes: M itself up to 32 (a short sentence; exact rows took
 * 10-20% off a 17-token pass against steps of 4), then M rounded up to 4 (M <= 64), 16 (<= 256),
 * 128 (<= 2048) or 512.
 * x and y must have room for that many rows; the extra rows are scratch. */
int embp_mm_bucket(int M);

/* One oneDNN engine and stream plus the per-call scratch of the bf16/int8 paths, shared by all
 * linears of a model. Calls on one engine must not overlap. max_m: the largest M a call passes. */
typedef struct embp_mm_engine embp_mm_engine;
embp_status embp_mm_engine_create(const embp_kernels *k, int max_m, embp_mm_engine **out /* OUT */,
                                  embp_error *err);
void embp_mm_engine_free(embp_mm_engine *e); /* NULL is fine; free its linears first */
/* Adds every later call's conversion, GEMM and epilogue time to p (kernels/prof.h); NULL stops. */
void embp_mm_engine_set_prof(embp_mm_engine *e, embp_prof *p);

typedef struct embp_linear embp_linear;

/* w is (N, K) f32 (torch Linear's weight), bias (N) or NULL; both are copied/converted, so
 * the caller may free them after. gelu nonzero: y = GELU_erf(x W + b). The int8 type
 * quantizes w per output channel (round to nearest, scale = max |row| / 127). */
embp_status embp_linear_create(embp_mm_engine *e, const float *w, const float *bias, int K, int N,
                               embp_mm_type compute, int gelu, embp_linear **out /* OUT */,
                               embp_error *err);
/* The same with w used where it is, not copied (a tensor of a mapped file): fp32 (t F32) or
 * bf16 (t BF16) values (N, K) that must outlive the linear; the primitives read that layout, the
 * same bits as packed. oneDNN 2.6 copies such weights per call: bf16 measured 3-4x slower at 1-16
 * rows, fp32 inconclusive there, both equal at 64-512 (bench/bench_in_place.c), so the model
 * loaders pack. */
embp_status embp_linear_create_in_place(embp_mm_engine *e, const void *w, embp_mm_type t,
                                        const float *bias, int K, int N, int gelu,
                                        embp_linear **out /* OUT */, embp_error *err);
/* The same from weights already quantized: w (N, K) s8 with scales (N), y = x (w * scale)^T. */
embp_status embp_linear_create_s8(embp_mm_engine *e, const int8_t *w, const float *scales,
                                  const float *bias, int K, int N, int gelu,
                                  embp_linear **out /* OUT */, embp_error *err);
/* int4 weights: w (N, K) f32 quantized group-wise (group g along K, round to nearest, fp16
 * scales) and packed for the fastest int4 kernel this CPU runs with the numerics of compute
 * (EMBP_MM_INT4_BF16 or EMBP_MM_INT4_INT8); EMBP_EDEVICE when no kernel can (int8 numerics
 * need AVX-512 VNNI). kernel_name (may be NULL) gets the variant's static name. */
embp_status embp_linear_create_int4(embp_mm_engine *e, const float *w, const float *bias, int K,
                                    int N, int g, embp_mm_type compute, int gelu,
                                    embp_linear **out /* OUT */, const char **kernel_name,
                                    embp_error *err);
/* The same from int4 weights already quantized (quant.h's format: q (N, K/2) bytes, scales
 * (N, K/g) fp16), as embp quantize writes them. */
embp_status embp_linear_create_int4_q(embp_mm_engine *e, const uint8_t *q, const uint16_t *scales,
                                      const float *bias, int K, int N, int g,
                                      embp_mm_type compute, int gelu, embp_linear **out /* OUT */,
                                      const char **kernel_name, embp_error *err);
void embp_linear_free(embp_linear *l); /* NULL is fine */

/* What runs an int4 linear of kernel k (the plan's and embp info's "kernel"): k's name, and for
 * avx512_bf16 with bf16 numerics the oneDNN path from 512 rows (EMBP_MM_INT4_BF16). */
const char *embp_mm_int4_path(const embp_int4_kernel *k);

/* y (M, N) = x (M, K) W + b. x and y have room for embp_mm_bucket(M) rows. The first call for
 * a bucket creates its primitive (~0.5 ms); later ones reuse it. */
embp_status embp_linear_forward(embp_linear *l, const float *x, int M, float *y, embp_error *err);

/* The same, when y is only next's input: an int8 linear followed by an int8 next quantizes its
 * rows for next in its epilogue (while they are in cache); a bf16 one followed by a bf16 next
 * has oneDNN write bf16 for next directly. Both leave y unwritten. next's forward with x == y
 * then skips its own conversion. Other types: as embp_linear_forward. Any other call on the
 * engine in between drops the converted rows (and next then reads y: don't). */
embp_status embp_linear_forward_chain(embp_linear *l, const float *x, int M, float *y,
                                      const embp_linear *next, embp_error *err);

/* The same conversion at the producer of x: a parallel step that writes rows of x (a LayerNorm,
 * the embeddings, attention) converts each thread's rows [r0, r1) for next (bf16, or u8 with
 * per-row scales: the bytes next's forward would make) while they are in cache, then, once
 * every row of x is written and converted, embp_linear_set_ready(next, x, M) from one thread;
 * next's forward with that x and M then skips its own conversion and its parallel region.
 * Types without an activation conversion (fp32, int4 but for int4/bf16 from 512 rows, which
 * converts to bf16) and a NULL next ignore both. Any other
 * call on the engine in between drops the rows, as for embp_linear_forward_chain. */
void embp_linear_convert_rows(const embp_linear *next, const float *x, int r0, int r1);
void embp_linear_set_ready(const embp_linear *next, const float *x, int M);

/* The compute type l runs in. */
embp_mm_type embp_linear_type(const embp_linear *l);

/* Bytes held for the packed weights, bias and scales. */
size_t embp_linear_bytes(const embp_linear *l);
/* oneDNN's implementation name for bucket(M), e.g. "brg:avx512_core" (creates it if needed). */
const char *embp_linear_impl(embp_linear *l, int M);

/* Makes the primitive of every bucket up to max_m rows (as a forward of that many rows would on
 * first use) for each oneDNN linear on e, without computing: a model's warm-up. A bf16 linear
 * chained into the next (embp_linear_forward_chain) settles its output type on its first
 * forward: run one before, or its primitives are made again then. Identical shapes hit
 * oneDNN's primitive cache, so a model's layers cost one creation per shape and bucket. */
embp_status embp_mm_engine_prepare(embp_mm_engine *e, int max_m, embp_error *err);

/* Times a pure (M, K) x (K, N) GEMM of the given type for about `seconds`, on random data;
 * returns GFLOP/s (2 M N K per call), or a negative value with err set. For machine peak. */
double embp_mm_peak_gflops(embp_mm_type t, int M, int K, int N, double seconds, embp_error *err);

#endif
