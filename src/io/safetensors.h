/* safetensors: the Hugging Face weight file format, read through mmap.
 *
 * Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON header, then the data.
 * The header maps tensor names to {"dtype": "F32"|"F16"|"BF16"|"I8"|"U8"|"I32"|"I64"|...,
 * "shape": [d0, d1, ...], "data_offsets": [begin, end]} with offsets relative to the start
 * of the data; an optional "__metadata__" maps strings to strings.
 * A sharded model has model.safetensors.index.json: {"weight_map": {name: file}} naming
 * several such files in the same folder.
 *
 * Everything in a header is untrusted: every offset, shape and size is checked against the
 * file before a tensor is handed out (no overlap, inside the data, bytes = product(shape) x
 * dtype size, no overflow, at most 8 dims).
 */
#ifndef EMBP_IO_SAFETENSORS_H
#define EMBP_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum {
    EMBP_DT_F32,
    EMBP_DT_F16,
    EMBP_DT_BF16,
    EMBP_DT_I8,
    EMBP_DT_U8,
    EMBP_DT_I16,
    EMBP_DT_I32,
    EMBP_DT_I64,
    EMBP_DT_F64,
    EMBP_DT_BOOL,
} embp_dtype;

/* "F32" etc. as safetensors spells them; and the element size in bytes. */
const char *embp_dtype_name(embp_dtype t);
size_t embp_dtype_size(embp_dtype t);

#define EMBP_ST_MAX_DIMS 8

typedef struct {
    const char *name;           /* owned by the embp_safetensors */
    embp_dtype dtype;
    int n_dims;
    int64_t shape[EMBP_ST_MAX_DIMS];
    int64_t n_elems;
    const void *data;           /* points into the mapping; valid until embp_st_close */
    size_t nbytes;
    const char *file;           /* file (of a sharded set) the tensor lives in */
} embp_st_tensor;

typedef struct embp_safetensors embp_safetensors;

/* Opens dir/model.safetensors, or the shards named by dir/model.safetensors.index.json when
 * that exists. Maps each file read-only. Errors name the file and the tensor/field. */
embp_status embp_st_open_dir(const char *dir, embp_safetensors **out /* OUT */, embp_error *err);

/* Opens one safetensors file. */
embp_status embp_st_open_file(const char *path, embp_safetensors **out /* OUT */,
                              embp_error *err);

/* Parses a whole safetensors file image already in memory (buf is borrowed and must outlive
 * the result): the fuzz target's entry and the corrupt-file tests' entry. */
embp_status embp_st_open_buffer(const void *buf, size_t len, const char *name_for_errors,
                                embp_safetensors **out /* OUT */, embp_error *err);

void embp_st_close(embp_safetensors *st); /* NULL is fine */

/* The tensor called name, or NULL. */
const embp_st_tensor *embp_st_find(const embp_safetensors *st, const char *name);

/* EMBP_OK when t's shape is (d0) (d1 <= 0) or (d0, d1); else EMBP_EFORMAT naming the file, the
 * tensor, its dtype and both shapes, the expected one "from config.json". */
embp_status embp_st_expect_shape(const embp_st_tensor *t, int64_t d0, int64_t d1,
                                 embp_error *err);
/* All tensors, in no particular order. */
int embp_st_count(const embp_safetensors *st);
const embp_st_tensor *embp_st_at(const embp_safetensors *st, int i);
/* A "__metadata__" value of the (first) file, or NULL. */
const char *embp_st_metadata(const embp_safetensors *st, const char *key);

/* EMBP_EFORMAT naming the first F32/F16/BF16 tensor holding a NaN or an infinity (and where),
 * EMBP_OK when every floating-point tensor is finite. A weight file with them would make every
 * embedding NaN, which a client cannot tell from an answer. Each tensor's pages are released
 * (embp_st_release_tensor) once scanned. */
embp_status embp_st_check_finite(const embp_safetensors *st, embp_error *err);

/* Total bytes of all mapped files, and a hint that the mapped pages are no longer needed
 * (after weights were converted into owned buffers): madvise(MADV_DONTNEED). */
size_t embp_st_mapped_bytes(const embp_safetensors *st);
void embp_st_release_pages(embp_safetensors *st);
/* The same for the whole pages of one tensor, once its bytes were copied: loading then holds
 * one tensor of the file at a time, not the file plus its converted copy. A no-op for a borrowed
 * buffer (embp_st_open_buffer). The mapping stays valid: a later read faults the pages back in. */
void embp_st_release_tensor(const embp_safetensors *st, const embp_st_tensor *t);
/* The same for the whole pages of n bytes from p, inside one of st's files (a tensor read in
 * parts: a large table converted row by row); a no-op for bytes outside them. */
void embp_st_release_range(const embp_safetensors *st, const void *p, size_t n);

/* Writing (embp quantize, the demo model). Tensors are written in the given order. */
typedef struct {
    const char *name;
    embp_dtype dtype;
    int n_dims;
    int64_t shape[EMBP_ST_MAX_DIMS];
    const void *data; /* product(shape) x dtype size bytes */
} embp_st_write_tensor;

/* Writes path atomically (path.tmp then rename). meta_keys/meta_vals: n_meta pairs for
 * "__metadata__" (may be 0). */
embp_status embp_st_write(const char *path, const embp_st_write_tensor *tensors, int n,
                          const char *const *meta_keys, const char *const *meta_vals, int n_meta,
                          embp_error *err);

#endif
