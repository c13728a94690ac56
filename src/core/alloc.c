/* Allocator wrappers with a per-thread failure injector for out-of-memory tests. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Thread-local on purpose: a test counts only its own thread's allocations. This is test
 * machinery, not state the library reads for its behaviour. */
static _Thread_local long fail_countdown = -1;
static _Thread_local int fail_once; /* the failing allocation is the only one */
static _Thread_local int failed;    /* an allocation was made to fail since the last setting */

static int should_fail(void) {
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0) {
        failed = 1;
        if (fail_once)
            fail_countdown = -1;
        return 1;
    }
    fail_countdown--;
    return 0;
}

void embp_alloc_fail_after(long fail_after) {
    fail_countdown = fail_after;
    fail_once = 0;
    failed = 0;
}

void embp_alloc_fail_once(long nth) {
    fail_countdown = nth;
    fail_once = 1;
    failed = 0;
}

int embp_alloc_injected(void) {
    return failed;
}

void *embp_malloc(size_t n) {
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *embp_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *embp_realloc(void *p, size_t n) {
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void embp_free(void *p) {
    free(p);
}

char *embp_strndup(const char *s, size_t n) {
    char *d = embp_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *embp_strdup(const char *s) {
    return s ? embp_strndup(s, strlen(s)) : NULL;
}

void *embp_malloc_aligned(size_t size) {
    if (should_fail())
        return NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size)
        return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void embp_free_aligned(void *p) {
    free(p);
}
