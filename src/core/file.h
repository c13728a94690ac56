/* Whole-file helpers: the one reader of a whole small file (config.json, tokenizer.json, a test's
 * or a fuzz target's input) and the copy the commands that write model folders use (embp
 * quantize, the demo model). Not for weights: those are mapped (io/safetensors.h). */
#ifndef EMBP_CORE_FILE_H
#define EMBP_CORE_FILE_H

#include <stddef.h>

#include "core/status.h"

/* Reads the whole file at path into *out (embp_malloc, NUL-terminated, free with embp_free),
 * its length without the NUL in *len. max > 0 refuses a larger file (EMBP_EIO naming the file,
 * its size and the limit); 0: any size. EMBP_EIO "PATH: cannot open: REASON", "cannot read",
 * "short read"; EMBP_ENOMEM naming the file and its size. *out is NULL on any error. */
embp_status embp_read_file(const char *path, size_t max, char **out, size_t *len,
                           embp_error *err);

/* Copies the regular file from to `to` (created or truncated). EMBP_EIO naming the file that
 * failed and why. */
embp_status embp_copy_file(const char *from, const char *to, embp_error *err);

#endif
