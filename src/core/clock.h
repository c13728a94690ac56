/* One clock reading in seconds, for the timers that measure (request-preparation bounds,
 * download progress, the profiler, GEMM peaks): CLOCK_MONOTONIC for elapsed time,
 * CLOCK_THREAD_CPUTIME_ID / CLOCK_PROCESS_CPUTIME_ID for CPU time. */
#ifndef EMBP_CORE_CLOCK_H
#define EMBP_CORE_CLOCK_H

#include <time.h>

static inline double embp_clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
