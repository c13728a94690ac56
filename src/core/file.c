/* Whole-file helpers (file.h). */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

embp_status embp_copy_file(const char *from, const char *to, embp_error *err) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    embp_status rc = EMBP_OK;
    char buf[65536];
    size_t n;
    if (!in || !out)
        rc = embp_fail(err, EMBP_EIO, "cannot %s %s: %s", in ? "write" : "read", in ? to : from,
                       strerror(errno));
    while (rc == EMBP_OK && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = embp_fail(err, EMBP_EIO, "cannot write %s: %s", to, strerror(errno));
    if (rc == EMBP_OK && in && ferror(in))
        rc = embp_fail(err, EMBP_EIO, "cannot read %s", from);
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && rc == EMBP_OK)
        rc = embp_fail(err, EMBP_EIO, "cannot write %s: %s", to, strerror(errno));
    return rc;
}
