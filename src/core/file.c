/* Whole-file helpers (file.h). */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

embp_status embp_read_file(const char *path, size_t max, char **out, size_t *len,
                           embp_error *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return embp_fail(err, EMBP_EIO, "%s: cannot open: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) != 0)
        size = -1;
    char *buf = NULL;
    size_t got = 0;
    embp_status rc = EMBP_OK;
    if (size < 0)
        rc = embp_fail(err, EMBP_EIO, "%s: cannot read: %s", path, strerror(errno));
    else if (max && (size_t)size > max)
        rc = embp_fail(err, EMBP_EIO, "%s: %ld bytes, larger than the %zu this file may have",
                       path, size, max);
    else if (!(buf = embp_malloc((size_t)size + 1)))
        rc = embp_fail(err, EMBP_ENOMEM, "%s: out of memory for %ld bytes", path, size);
    else if ((got = fread(buf, 1, (size_t)size, f)) != (size_t)size)
        rc = embp_fail(err, EMBP_EIO, "%s: short read (%zu of %ld bytes)", path, got, size);
    fclose(f);
    if (rc != EMBP_OK) {
        embp_free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return EMBP_OK;
}

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
