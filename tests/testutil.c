/* Shared test helpers. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/file.h"
#include "tokenizer/tokenizer.h"

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

int tu_json_failed;

void *tu_json_alloc(size_t n) {
    void *p = embp_malloc(n);
    tu_json_failed |= !p;
    return p;
}

const embp_arch *tu_arch(const char *model_type, embp_error *err) {
    embp_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (model_type)
        snprintf(cfg.model_type, sizeof cfg.model_type, "%s", model_type);
    return embp_arch_find(&cfg, err);
}

void tu_model_config(const char *json, embp_model_config *c) {
    memset(c, 0, sizeof *c);
    embp_error err;
    if (embp_config_parse_config_json(json, strlen(json), "c", c, &err) != EMBP_OK)
        fail_msg("%s: %s", json, err.msg);
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
    char *buf;
    size_t n;
    embp_error err;
    if (embp_read_file(path, 0, &buf, &n, &err) != EMBP_OK)
        return NULL;
    if (len)
        *len = n;
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

json_t *tu_fixture_jsonl(const char *name) {
    char *p = tu_fixture("%s", name);
    json_t *rows = tu_read_jsonl(p);
    free(p);
    return rows;
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

char *tu_fixture_copy(const char *fixture) {
    char *src = tu_fixture("%s", fixture), *dir = tu_tmpdir(), cmd[2200];
    if (!dir)
        fail_msg("cannot make a temporary directory");
    snprintf(cmd, sizeof cmd, "cp -r '%s/.' '%s/'", src, dir);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
    free(src);
    return dir;
}

char *tu_fixture_copy_with_values(const char *fixture, const char *const *names, const long *at,
                                  const float *vals, int n) {
    char *dir = tu_fixture_copy(fixture), path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t len = 0;
    char *file = tu_read_file(path, &len);
    uint64_t hlen = 0;
    if (!file || len < 8)
        fail_msg("cannot read %s", path);
    memcpy(&hlen, file, 8);
    json_t *h = json_loadb(file + 8, (size_t)hlen, 0, NULL);
    for (int i = 0; i < n; i++) {
        json_t *t = json_object_get(h, names[i]);
        json_t *offs = json_object_get(t, "data_offsets");
        size_t off = 8 + (size_t)hlen + (size_t)json_integer_value(json_array_get(offs, 0));
        size_t end = 8 + (size_t)hlen + (size_t)json_integer_value(json_array_get(offs, 1));
        const char *dtype = json_string_value(json_object_get(t, "dtype"));
        if (!dtype || strcmp(dtype, "F32") != 0 || off + 4 * (size_t)at[i] + 4 > end)
            fail_msg("%s: tensor %s is not F32 or has no element %ld", path, names[i], at[i]);
        memcpy(file + off + 4 * (size_t)at[i], &vals[i], 4);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file, 1, len, f) != len || fclose(f) != 0)
        fail_msg("cannot write %s", path);
    json_decref(h);
    free(file);
    return dir;
}

void tu_print_ids(const embp_tokenizer *t, const char *label, const int32_t *ids, int n) {
    fprintf(stderr, "  %s (%d):", label, n);
    for (int i = 0; i < n; i++) {
        const char *tok = embp_tokenizer_id_to_token(t, ids[i]);
        fprintf(stderr, " %d:%s", (int)ids[i], tok ? tok : "?");
    }
    fprintf(stderr, "\n");
}

void tu_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

void tu_remove_dir(char *dir) {
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
    free(dir);
}

double tu_cosine(const float *a, const double *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return NAN;
        ab += a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / (sqrt(aa) * sqrt(bb) + 1e-300);
}

double tu_maxdiff(const float *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return INFINITY;
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

double tu_worst_min(double worst, double x) {
    return isnan(worst) || isnan(x) ? NAN : x < worst ? x : worst;
}

double tu_worst_max(double worst, double x) {
    return isnan(worst) || isnan(x) ? NAN : x > worst ? x : worst;
}

int tu_run_paths(int argc, char **argv, const tu_path *paths, size_t n) {
    const char *want = argc > 1 ? argv[1] : NULL;
    for (size_t i = 0; i < n; i++) {
        const tu_path *p = &paths[i];
        if (want ? !p->name || strcmp(p->name, want) != 0 : p->name != NULL)
            continue;
        const char *why = p->missing ? p->missing() : NULL;
        if (why) {
            /* One line scripts/test.sh greps from ctest's log to say why it was skipped. */
            const char *bin = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
            printf("embp-skip: %s.%s: %s (%zu case%s not run)\n", bin, p->name, why, p->n,
                   p->n == 1 ? "" : "s");
            fflush(stdout);
            return 77;
        }
        return _cmocka_run_group_tests(p->name ? p->name : "always", p->tests, p->n, NULL, NULL);
    }
    fprintf(stderr, "%s: no path '%s'\n", argv[0], want ? want : "(default)");
    return 2;
}

/* "this CPU lacks <what>" plus the mask when EMBP_CPU_FEATURES removed features. */
static const char *lacks(const char *what) {
    static char buf[256];
    const embp_cpu *cpu = embp_cpu_get();
    if (cpu->masked[0])
        snprintf(buf, sizeof buf, "this CPU lacks %s (EMBP_CPU_FEATURES=%s masks %s)", what,
                 getenv("EMBP_CPU_FEATURES"), cpu->masked);
    else
        snprintf(buf, sizeof buf, "this CPU lacks %s", what);
    return buf;
}

const char *tu_missing_avx2(void) {
    return embp_cpu_has_avx2(embp_cpu_get()) ? NULL : lacks("AVX2+FMA+F16C");
}

const char *tu_missing_avx512(void) {
    return embp_cpu_has_avx512(embp_cpu_get()) ? NULL : lacks("AVX-512 F/BW/VL");
}

const char *tu_missing_avx512_bf16(void) {
    const embp_cpu *c = embp_cpu_get();
    return embp_cpu_has_avx512(c) && c->avx512_bf16 ? NULL : lacks("AVX-512 F/BW/VL + AVX512_BF16");
}

const char *tu_missing_avx512_vnni(void) {
    const embp_cpu *c = embp_cpu_get();
    return embp_cpu_has_avx512(c) && c->avx512_vnni ? NULL : lacks("AVX-512 F/BW/VL + AVX512_VNNI");
}
