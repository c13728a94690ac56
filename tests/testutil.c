/* Shared test helpers. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

const char *tu_shared(void) {
    return env_or("EMBP_SHARED", "../shared");
}
const char *tu_source(void) {
    return env_or("EMBP_SOURCE", ".");
}
const char *tu_bin(void) {
    return env_or("EMBP_BIN", "./embp");
}

char *tu_fixture(const char *fmt, ...) {
    char rel[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    const char *base = env_or("EMBP_FIXTURES", "fixtures");
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

json_t *tu_read_jsonl(const char *path) {
    size_t len;
    char *text = tu_read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s (run tests/make_fixtures.sh)", path);
    json_t *arr = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *v = json_loads(line, JSON_ALLOW_NUL, &je);
        if (!v)
            fail_msg("%s: bad JSON line: %s", path, je.text);
        json_array_append_new(arr, v);
    }
    free(text);
    return arr;
}

const char *const *tu_env;

const char *tu_getenv(const char *name) {
    for (int i = 0; tu_env && tu_env[i]; i += 2)
        if (strcmp(tu_env[i], name) == 0)
            return tu_env[i + 1];
    return NULL;
}

char *tu_tmpdir(void) {
    char tmpl[] = "/tmp/embp-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

double tu_cosine(const float *a, const double *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / (sqrt(aa) * sqrt(bb) + 1e-300);
}

double tu_maxdiff(const float *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > m)
            m = d;
    }
    return m;
}

embp_precision tu_precision(const char *name) {
    for (int p = EMBP_PRECISION_AUTO; p <= EMBP_PRECISION_INT4; p++)
        if (strcmp(embp_precision_str((embp_precision)p), name) == 0)
            return (embp_precision)p;
    fail_msg("no precision named '%s'", name);
    return EMBP_PRECISION_UNSET;
}
