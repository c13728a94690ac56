/* The output encodings of an embedding row: float, base64 (little-endian float32, the OpenAI
 * SDKs' default), and sentence-transformers' quantize_embeddings precisions int8, uint8,
 * binary and ubinary, for vector databases. The one place their arithmetic lives: every HTTP
 * route that returns vectors and `embp embed --encoding` encode through here. Not a model
 * quantizer (runtime/quantize.c). */
#ifndef EMBP_RUNTIME_ENCODING_H
#define EMBP_RUNTIME_ENCODING_H

#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

/* clang-format off */
typedef enum {
    EMBP_ENCODING_FLOAT,   /* a JSON array of floats, shortest round-trip */
    EMBP_ENCODING_BASE64,  /* base64 of the little-endian float32 bytes */
    EMBP_ENCODING_INT8,    /* per-dimension buckets 0..255, minus 128: a JSON array of ints */
    EMBP_ENCODING_UINT8,   /* the same buckets, 0..255 */
    EMBP_ENCODING_BINARY,  /* sign bits (x > 0), 8 per byte, first dimension in the top bit,
                            * zero-padded to whole bytes, each byte minus 128 (int8) */
    EMBP_ENCODING_UBINARY, /* the same bytes, 0..255 */
    EMBP_ENCODING_COUNT
} embp_encoding;
/* clang-format on */

#define EMBP_ENCODING_NAMES "\"float\", \"base64\", \"int8\", \"uint8\", \"binary\", \"ubinary\""

/* "float", "base64", ... into *out; -1 for anything else. */
int embp_encoding_parse(const char *name, embp_encoding *out /* OUT */);
const char *embp_encoding_name(embp_encoding e);

/* The per-dimension ranges int8/uint8 bucket by, as sentence-transformers' `ranges` (shape
 * (2, dim): row 0 the minimums, row 1 the maximums). dim 0: lo[0], hi[0] for every
 * dimension. The default is [-1, 1] for every dimension: no component of a unit vector lies
 * outside it, so it suits normalized models and needs no calibration. */
typedef struct {
    int dim;
    float *lo, *hi; /* dim values each (1 when dim is 0), one heap block at lo */
} embp_quant_ranges;

/* Parses ranges text: "" (the default [-1, 1]), "LO,HI" (one range for every dimension),
 * inline JSON [[min...],[max...]], or the path of a file holding that JSON (what
 * `json.dump(ranges.tolist(), f)` writes for sentence-transformers' ranges). Every minimum
 * must be finite and at most its maximum. Errors name `where` (the caller's setting, e.g.
 * "EMB_PROVIDER_QUANTIZE_RANGES"), the file and the element. */
embp_status embp_quant_ranges_parse(const char *text, const char *where,
                                    embp_quant_ranges *out /* OUT */, embp_error *err);
void embp_quant_ranges_free(embp_quant_ranges *r); /* NULL is fine; leaves *r zeroed */

/* 1 when r applies to a model of model_dim dimensions (r->dim is 0 or model_dim). */
int embp_quant_ranges_fit(const embp_quant_ranges *r, int model_dim);

/* Bytes one row of d floats takes as e (int8/uint8: d; binary/ubinary: ceil(d / 8);
 * float/base64: 4 d). */
int embp_encoding_row_bytes(embp_encoding e, int d);

/* Quantizes row (d floats) as e (int8, uint8, binary or ubinary) into out
 * (embp_encoding_row_bytes bytes; int8 and binary as two's complement). int8/uint8 use the
 * first d dimensions of r, which must fit (embp_quant_ranges_fit). As sentence-transformers
 * computes it, in float32: step = (hi - lo) / 255 (1 where 0), bucket = clamp(floor((x - lo) /
 * step), 0, 255). */
void embp_quantize_row(embp_encoding e, const float *row, int d, const embp_quant_ranges *r,
                       uint8_t *out);

/* Appends row (d finite floats) as e's JSON value: an array of floats or ints, or a base64
 * string. */
void embp_encoding_write(embp_buf *b, embp_encoding e, const float *row, int d,
                         const embp_quant_ranges *r);

#endif
