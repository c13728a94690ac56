/* Every allocation in embp goes through these, so a test can make the Nth one fail. */
#ifndef EMBP_CORE_ALLOC_H
#define EMBP_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *embp_malloc(size_t n);
void *embp_calloc(size_t count, size_t size);  /* checks count * size for overflow */
void *embp_realloc(void *p, size_t n);
void embp_free(void *p);                       /* NULL is a no-op */
char *embp_strdup(const char *s);
char *embp_strndup(const char *s, size_t n);
/* size bytes aligned to 64 (cache line, AVX-512 register); free with embp_free_aligned. */
void *embp_malloc_aligned(size_t size);
void embp_free_aligned(void *p);

/* Drops const from a pointer the owner allocated (or mapped) and now frees; through uintptr_t so
 * -Wcast-qual keeps watching every other cast. */
static inline void *embp_unconst(const void *p) {
    return (void *)(uintptr_t)p;
}

/* Test hook: the fail_after-th allocation from now (0 = the next) and all after it fail;
 * a negative value turns failure off. Counted per thread, so one test thread's setting does not
 * hit another's work. */
void embp_alloc_fail_after(long fail_after);
/* Test hook: only the nth allocation from now (0 = the next) fails, the ones after succeed
 * (a transient shortage: the error path itself must then work). */
void embp_alloc_fail_once(long nth);
/* 1 when an allocation on this thread was made to fail since the last of the two calls above:
 * a sweep over 1st, 2nd, ... ends at the first run that no failure reached. */
int embp_alloc_injected(void);

#endif
