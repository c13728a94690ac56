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
#include "io/config.h"
#include "model/arch.h"

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
/* tu_read_jsonl of the fixture file name (e.g. "tiny.peer.jsonl"). */
json_t *tu_fixture_jsonl(const char *name);
/* A fake environment for the library's getenv hooks: tu_getenv looks name up in tu_env, a
 * NULL-terminated list of NAME, VALUE pairs the test sets (NULL: nothing is set). */
extern const char *const *tu_env;
const char *tu_getenv(const char *name);
/* jansson allocating through embp's hooks (json_set_alloc_funcs(tu_json_alloc, embp_free)), so
 * that a test failing embp's allocations fails jansson's too; tu_json_failed turns 1 when one
 * of them failed (the test clears it). */
extern int tu_json_failed;
void *tu_json_alloc(size_t n);
/* A fresh temporary directory (mkdtemp); free the string with free(). */
char *tu_tmpdir(void);
/* The embp_precision whose embp_precision_str is name (the tests name plans as text); fails
 * the test for an unknown name. */
embp_precision tu_precision(const char *name);

/* config.json text parsed by embp_config_parse_config_json into *c (zeroed first; "c" is the
 * file name its messages give); fails the test with the parser's message unless it parses. */
void tu_model_config(const char *json, embp_model_config *c);

/* The architecture entry embp_arch_find gives config.json's model_type (NULL: none written,
 * BERT's); NULL with *err set when embp has none. */
const embp_arch *tu_arch(const char *model_type, embp_error *err);

/* A copy of fixture folder `fixture` in a fresh temporary directory; remove it with
 * tu_remove_dir. */
char *tu_fixture_copy(const char *fixture);
/* A copy of fixture folder `fixture` in a fresh temporary directory, with the F32 value vals[i]
 * written at flat index at[i] of tensor names[i] in its model.safetensors (a weight the tests
 * corrupt on purpose). Returns the directory; remove it with tu_remove_dir. */
char *tu_fixture_copy_with_values(const char *fixture, const char *const *names, const long *at,
                                  const float *vals, int n);
/* ids[0..n) with their tokens from t, on stderr after label: what a failed comparison shows. */
struct embp_tokenizer;
void tu_print_ids(const struct embp_tokenizer *t, const char *label, const int32_t *ids, int n);
/* Writes text to path (created or truncated); fails the test when it cannot. */
void tu_write_file(const char *path, const char *text);
/* rm -rf dir, then free(dir). */
void tu_remove_dir(char *dir);
/* Cosine similarity and max |a-b| of two n-vectors. A NaN or infinity in either vector gives
 * a NaN cosine and an infinite max |a-b|: both fail `!(c >= min)` and `!(d <= max)`. */
double tu_cosine(const float *a, const double *b, int n);
double tu_maxdiff(const float *a, const double *b, int n);
/* Running worst values that keep a NaN once seen (`c < worst ? c : worst` drops it): the
 * smaller / larger of worst and x, NaN when either is. Check the result with `!(w >= bound)`
 * or `!(w <= bound)` so a NaN fails. */
double tu_worst_min(double worst, double x);
double tu_worst_max(double worst, double x);

/* A case named `name` that runs fn with *state = arg: one function, a case per argument (a
 * fixture's name, a file's). */
#define TU_CASE(name, fn, arg) {name, fn, NULL, NULL, (void *)(arg)}

/* main() of a test whose cases every CPU runs:
 *     TU_MAIN(cmocka_unit_test(test_one),
 *             cmocka_unit_test(test_two))
 * (a test with paths for one CPU feature uses tu_run_paths below). */
#define TU_MAIN(...)                                                                               \
    int main(void) {                                                                               \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                                           \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

/* Cases that need one code path (an instruction set, a kernel table). cmocka 1.1.5's skip()
 * exits 0, so a skipped case would count as passed: instead each path is its own ctest test,
 * "<binary>.<path>" (CMakeLists.txt finds the TU_PATH("name", ...) lines in the source), which
 * runs `<binary> <path>`. When `missing` returns a reason the test prints it and exits 77 and
 * ctest reports it as Skipped; scripts/test.sh lists the reasons after the summary. `missing`
 * reads embp_cpu_get(), so EMBP_CPU_FEATURES=avx2 on an AVX-512 machine skips the AVX-512
 * paths as an AVX2 machine would. */
typedef struct {
    const char *name; /* NULL: the cases every CPU runs (the binary with no argument) */
    const struct CMUnitTest *tests;
    size_t n;
    const char *(*missing)(void); /* NULL or returns NULL: this CPU runs the path */
} tu_path;
#define TU_ALWAYS(tests) {NULL, tests, sizeof tests / sizeof tests[0], NULL}
#define TU_PATH(name, tests, missing) {name, tests, sizeof tests / sizeof tests[0], missing}
/* main() of a test with paths: runs the group argv[1] names (the NULL-named one without an
 * argument); 77 when the CPU lacks it, 2 for an unknown name. */
int tu_run_paths(int argc, char **argv, const tu_path *paths, size_t n);
/* `missing` functions for the common paths: NULL when embp_cpu_get() has the features, else
 * which are absent and whether EMBP_CPU_FEATURES masked them. */
const char *tu_missing_avx2(void);
const char *tu_missing_avx512(void);
const char *tu_missing_avx512_bf16(void);
const char *tu_missing_avx512_vnni(void);

#endif
