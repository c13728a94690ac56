/* How embp's OpenMP threads wait, which the settings layer chooses for a process because the
 * library cannot: libgomp (GCC's OpenMP runtime, which Debian's oneDNN also runs on) reads
 * GOMP_SPINCOUNT and OMP_WAIT_POLICY once, in its constructor, before main, and has no call to
 * change them afterwards (its spin counts are hidden symbols). A thread that finishes its share
 * of a parallel region first spins up to GOMP_SPINCOUNT iterations (300000 by default:
 * milliseconds) for its partners before it sleeps on a futex; when other processes hold the
 * cores, the partner it waits for is descheduled and the spinning takes the CPU it needs
 * (bench/oversub.sh measures it). So a program sets embp's default before libgomp starts: it
 * re-executes itself once with the variable set. The user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY
 * always wins. */
#ifndef EMBP_SETTINGS_OPENMP_H
#define EMBP_SETTINGS_OPENMP_H

#include <stddef.h>

/* embp's spin count, measured with bench/oversub.sh (MiniLM-shaped, 2 threads, 2-core EPYC): on
 * idle cores 1000 is libgomp's default within noise (int8 32x128 27.1k tokens/s against
 * 27.6k, 1x16 p50 0.39 ms against 0.41), where 100 or OMP_WAIT_POLICY=passive lose ~40% and
 * 4-6x at 1x16 (a region's partner then sleeps between regions); with the cores
 * oversubscribed it took int8 32x128 from ~280 to ~5,000 tokens/s and fp32 from ~750 to
 * ~870-1,090. It is also what libgomp itself uses when it knows it has more threads than CPUs (its
 * "throttled" count). */
#define EMBP_OPENMP_SPINCOUNT "1000"

/* When neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY is set, sets GOMP_SPINCOUNT to embp's
 * default and re-executes this program (/proc/self/exe: the same pid, argv, open files), so
 * libgomp starts with it. Call first thing in main, before any thread or file is opened.
 * Returns when there is nothing to do, or when the exec failed (the process then runs on
 * libgomp's own defaults, and embp_openmp_describe says so). */
void embp_openmp_apply_default(char **argv);

/* What this process's OpenMP waits run on, and where it came from, for `embp info` and /info:
 * "GOMP_SPINCOUNT=1000 (embp's default)", "OMP_WAIT_POLICY=passive (environment)", or
 * "libgomp's defaults". Returns buf. */
const char *embp_openmp_describe(char *buf, size_t size);

#endif
