/* Whole-file helpers shared by the commands that write model folders (embp quantize, the demo
 * model). Not for weights: those are mapped (io/safetensors.h). */
#ifndef EMBP_CORE_FILE_H
#define EMBP_CORE_FILE_H

#include "core/status.h"

/* Copies the regular file from to `to` (created or truncated). EMBP_EIO naming the file that
 * failed and why. */
embp_status embp_copy_file(const char *from, const char *to, embp_error *err);

#endif
