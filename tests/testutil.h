/* Shared test helpers: where the fixtures are, reading files and the peer's JSON lines. */
#ifndef EMBP_TESTS_TESTUTIL_H
#define EMBP_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "embp/embp.h"

/* $EMBP_FIXTURES (made by tests/make_fixtures.sh), joined with a relative path. Static buffer
 * per call site is not needed: returns heap memory the caller frees with free(). */
char *tu_fixture(const char *fmt, ...);
/* $EMBP_SHARED, $EMBP_SOURCE, $EMBP_BIN (the embp binary). */
const char *tu_shared(void);
const char *tu_source(void);
const char *tu_bin(void);
/* The whole file; *len gets its size. NULL when unreadable. Free with free(). */
char *tu_read_file(const char *path, size_t *len);
/* One JSON value per non-empty line of path, as a JSON array. Fails the test if unreadable. */
json_t *tu_read_jsonl(const char *path);
/* A fake environment for the library's getenv hooks: tu_getenv looks name up in tu_env, a
 * NULL-terminated list of NAME, VALUE pairs the test sets (NULL: nothing is set). */
extern const char *const *tu_env;
const char *tu_getenv(const char *name);
/* A fresh temporary directory (mkdtemp); free the string with free(). */
char *tu_tmpdir(void);
/* The embp_precision whose embp_precision_str is name (the tests name plans as text); fails
 * the test for an unknown name. */
embp_precision tu_precision(const char *name);

/* Cosine similarity and max |a-b| of two n-vectors. */
double tu_cosine(const float *a, const double *b, int n);
double tu_maxdiff(const float *a, const double *b, int n);

#endif
