/* embp's OpenMP wait default for a process (settings/openmp.h says why it is an exec). */
#include "settings/openmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set beside GOMP_SPINCOUNT by the re-exec, holding the value embp chose: a process reading the
 * same value there knows the spin count is embp's default, not the user's; a set marker also
 * stops a second exec. Children inherit both, and with them the same default. */
#define MARK "EMBP_OPENMP_DEFAULT"

void embp_openmp_apply_default(char **argv) {
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY") || getenv(MARK)) return;
    if (setenv("GOMP_SPINCOUNT", EMBP_OPENMP_SPINCOUNT, 1) == 0 &&
        setenv(MARK, EMBP_OPENMP_SPINCOUNT, 1) == 0)
        execv("/proc/self/exe", argv); /* returns only on failure (no /proc, say) */
    unsetenv("GOMP_SPINCOUNT");        /* libgomp runs on its defaults: describe says so */
    unsetenv(MARK);
}

const char *embp_openmp_describe(char *buf, size_t size) {
    const char *spin = getenv("GOMP_SPINCOUNT"), *policy = getenv("OMP_WAIT_POLICY");
    const char *mark = getenv(MARK);
    if (spin && !policy && mark && !strcmp(spin, mark))
        snprintf(buf, size,
                 "GOMP_SPINCOUNT=%s (embp's default; set GOMP_SPINCOUNT or "
                 "OMP_WAIT_POLICY to choose)",
                 spin);
    else if (spin || policy)
        snprintf(buf, size, "%s%s%s%s%s (environment)", spin ? "GOMP_SPINCOUNT=" : "",
                 spin ? spin : "", spin && policy ? ", " : "", policy ? "OMP_WAIT_POLICY=" : "",
                 policy ? policy : "");
    else
        snprintf(buf, size, "libgomp's defaults (GOMP_SPINCOUNT 300000)");
    return buf;
}
