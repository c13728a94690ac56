/* What the fuzz targets that need files share: a temporary folder, removed when the process
 * exits (libFuzzer runs one process for a whole campaign; the replay binary one per corpus). */
#ifndef EMBP_FUZZ_FUZZUTIL_H
#define EMBP_FUZZ_FUZZUTIL_H

#include <stdio.h>
#include <stdlib.h>

static char fz_dir[64];

static inline void fz_remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
}

/* Makes fz_dir, /tmp/embp_fuzz_<what>_XXXXXX, once; aborts when it cannot. */
static inline const char *fz_tmpdir(const char *what) {
    if (!fz_dir[0]) {
        snprintf(fz_dir, sizeof fz_dir, "/tmp/embp_fuzz_%.20s_XXXXXX", what);
        if (!mkdtemp(fz_dir)) {
            fprintf(stderr, "fuzz: cannot make %s\n", fz_dir);
            abort();
        }
        atexit(fz_remove_dir);
    }
    return fz_dir;
}

/* Writes len bytes to dir/name (created or truncated); aborts when it cannot. */
static inline void fz_write(const char *dir, const char *name, const void *data, size_t len) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
}

#endif
