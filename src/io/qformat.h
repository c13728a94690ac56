/* qformat: the quantized-weight format `embp quantize` writes and embp loads, "embp-quantized-1"
 * (users' page: docs/QUANTIZED_FORMAT.md). Reader and writer of the format's own parts; what to
 * quantize (model/) and the rounding (kernels/quant.h) are not here.
 *
 * Container: one ordinary model.safetensors (io/safetensors.h), tensors named as in the source.
 * __metadata__:
 *   "format"          "pt"
 *   "embp.format"     "embp-quantized-1" (a later layout gets a new number)
 *   "embp.storage"    "int8" | "int4" | "bf16" | "fp16": the storage a load uses when none is asked
 *   "embp.method"     "rtn" (round to nearest, half to even; no calibration)
 *   "embp.group_size" int4 only: the group g along K, decimal, a power of two in 16..256
 * A quantized weight W, torch's (N, K) (row n = output channel), is stored as the tensor W's
 * name with its scales beside it, named as the weight plus "_scale":
 *   int8  W        I8  [N, K]    q in -127..127
 *         W_scale  F32 [N]       s[n] = max_k |W[n][k]| / 127;            W[n][k] ~ q s[n]
 *   int4  W        U8  [N, K/2]  byte i of row n: k = 2i in the low nibble, k = 2i+1 in the high
 *                                one, each q + 8 (q in -7..7, offset binary as ggml's Q4_0)
 *         W_scale  F16 [N, K/g]  s[n][j] = fp16(max |W| over group j / 7); W[n][k] ~ q s[n][k/g]
 * int8 and int4 files hold the dense layers that way and the word-embedding table as int8 per
 * row; everything else F32. bf16 and fp16 files are plain checkpoints (every float tensor BF16
 * or F16, no scales). All of a linear's stacked weights (Q, K, V) share one form and g.
 */
#ifndef EMBP_IO_QFORMAT_H
#define EMBP_IO_QFORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/safetensors.h"

#define EMBP_QF_FORMAT   "embp-quantized-1"
#define EMBP_QF_META_MAX 5 /* __metadata__ pairs a file carries at most */

/* How a weight tensor is stored: floats (F32, F16, BF16), or quantized by embp quantize. */
typedef enum { EMBP_QF_FLOAT, EMBP_QF_INT8, EMBP_QF_INT4 } embp_qf_form;

/* ---------------------------------------------------------------- reading */

typedef struct {
    const char *storage; /* "int8", "int4", "bf16", "fp16" (static), or NULL: an ordinary file */
    int group_size;      /* int4: 16..256; else 0 */
} embp_qf_meta;

/* What st's __metadata__ says. An "embp.storage" outside the four, or an int4 file without a
 * group size in 16..256, is EMBP_EFORMAT naming desc (the file) and the key. */
embp_status embp_qf_meta_read(const embp_safetensors *st, const char *desc,
                              embp_qf_meta *out /* OUT */, embp_error *err);

/* I8: int8, U8: int4, anything else: floats. */
embp_qf_form embp_qf_form_of(const embp_st_tensor *t);

/* A quantized weight as stored, pointing into st's mapping (valid until st is closed). */
typedef struct {
    embp_qf_form form;
    const void *q;      /* int8: (N, K) int8; int4: (N, K/2) bytes */
    const void *scales; /* int8: (N) float; int4: (N, K/g) fp16 */
    int group_size;     /* int4: g; int8: 0 */
} embp_qf_weight;

/* w, a tensor of st whose form is int8 or int4, holding an (N, K) weight: checks its dtype and
 * shape and those of its "_scale" tensor, and points *out at both. Errors (EMBP_EFORMAT) name
 * the file and the tensor. */
embp_status embp_qf_weight_read(const embp_safetensors *st, const embp_st_tensor *w, int N, int K,
                                embp_qf_weight *out /* OUT */, embp_error *err);

/* ---------------------------------------------------------------- writing */

/* The tensors a quantized (N, K) weight of form f (int8 or int4, group g) is written as. */
typedef struct {
    embp_dtype q_dtype, s_dtype;
    int s_dims;
    int64_t q_shape[2], s_shape[2];
} embp_qf_layout;
void embp_qf_layout_of(embp_qf_form f, int N, int K, int g, embp_qf_layout *out /* OUT */);

/* buf = weight's name + "_scale". */
void embp_qf_scale_name(const char *weight, char *buf, size_t size);

/* The __metadata__ of a file at storage ("int8", "int4", "bf16", "fp16"; group_size for int4)
 * into keys/vals (EMBP_QF_META_MAX each; static strings, or grp for the group's digits).
 * Returns the number of pairs. */
int embp_qf_meta_pairs(const char *storage, int group_size, char grp[16], const char **keys,
                       const char **vals);

#endif
