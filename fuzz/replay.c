/* Replays a fuzz target's corpus without libFuzzer (as SQLite's fuzzcheck does): every file in
 * the folder(s) given goes through LLVMFuzzerTestOneInput once. A crash, an assert or a
 * sanitizer report fails the run; so does an empty corpus. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    char *buf;
    size_t len;
    embp_error err;
    if (embp_read_file(path, 0, &buf, &len, &err) != EMBP_OK) {
        fprintf(stderr, "replay: %s\n", err.msg);
        return -1;
    }
    /* An exact-size copy, as libFuzzer passes: ASan then catches a read one byte past the
     * input, which the reader's terminating NUL would hide. */
    uint8_t *exact = malloc(len ? len : 1);
    int rc = exact ? 0 : -1;
    if (exact) {
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
    }
    free(exact);
    embp_free(buf);
    if (rc)
        fprintf(stderr, "replay: out of memory for %s\n", path);
    return rc;
}

int main(int argc, char **argv) {
    int count = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or folder\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a]) != 0)
                return 1;
            count++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            if (run_file(path) != 0) {
                closedir(d);
                return 1;
            }
            count++;
        }
        if (d)
            closedir(d);
    }
    printf("replayed %d inputs\n", count);
    return count > 0 ? 0 : 1;
}
