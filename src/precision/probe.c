/* Probe sentences, cosine fidelity and the fidelity cache (probe.h). */
#include "precision/probe.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- probe set */

static const char *const probe[] = {
    "The quick brown fox jumps over the lazy dog.",
    "hello world",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "I love this product! It works perfectly, 10/10 would buy again.",
    "Terrible service... waited 45 minutes and nobody came.",
    "The meeting is scheduled for 3:30 PM on Tuesday, March 14th, 2023.",
    "Pi is approximately 3.14159265358979, and e is about 2.71828.",
    "Order #A-1029384 shipped via UPS; tracking 1Z999AA10123456784.",
    "def fibonacci(n): return n if n < 2 else fibonacci(n-1) + fibonacci(n-2)",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "素早い茶色の狐がのろまな犬を飛び越える。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
    "Ο γρήγορος καφέ αλεπού πηδά πάνω από το τεμπέλικο σκυλί.",
    "Machine learning models map text to dense vectors; similar meanings land close together.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The mitochondria is the powerhouse of the cell.",
    "In 1969, Apollo 11 landed on the Moon, and Neil Armstrong took the first step.",
    "Wait—what?! No way... that's IMPOSSIBLE!!!",
    "(a) first item; (b) second item; [c] third item; {d} fourth item.",
    "email: jane.doe@example.com, phone: +1 (555) 123-4567",
    "https://example.org/path/to/page?query=value&lang=en#section-2",
    "🙂 emoji and symbols: ★ ♥ → ∑ ∞ ≈ ≠",
    "a",
    "Yes.",
    "no no no no no no no no no no no no no no no no",
    "The temperature dropped to -12.5°C overnight, breaking the 1987 record.",
    "Revenue grew 23% year over year to $4.7 billion in Q3.",
    "How do I reset my password if I no longer have access to my email account?",
    "Customers who bought this item also bought a charger and a protective case.",
    "Once upon a time, in a kingdom far away, there lived a curious young inventor who built "
    "machines from scraps she found at the market, and one day one of them began to talk.",
    "The defendant's motion to dismiss is denied; the court finds that the plaintiff has stated "
    "a claim upon which relief can be granted under the applicable statute.",
    "Take two tablets every 6 hours with food; do not exceed 8 tablets in 24 hours.",
    "ERROR 2024-01-15T08:23:11Z worker-3 connection reset by peer (retry 3/5)",
    "Mix 200 g flour, 2 eggs and 300 ml milk; rest the batter for 30 minutes.",
};

const char *const *embp_probe_texts(int *n) {
    *n = (int)(sizeof probe / sizeof probe[0]);
    return probe;
}

/* ---------------------------------------------------------------- fidelity */

/* Cosine of two dim-vectors in double; the zero and non-finite cases as probe.h says. */
static double cosine(const float *a, const float *b, int dim) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int i = 0; i < dim; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (!isfinite(ab) || !isfinite(aa) || !isfinite(bb))
        return 0.0;
    if (aa == 0.0 || bb == 0.0)
        return aa == bb ? 1.0 : 0.0;
    return ab / (sqrt(aa) * sqrt(bb));
}

embp_status embp_fidelity(const float *a, const float *ref, int n, int dim, double *mean,
                          double *min, embp_error *err) {
    if (n <= 0 || dim <= 0)
        return embp_fail(err, EMBP_EINVAL, "fidelity: n = %d rows of dim = %d, both must be > 0",
                         n, dim);
    double sum = 0.0, lo = INFINITY;
    for (int i = 0; i < n; i++) {
        double c = cosine(a + (size_t)i * dim, ref + (size_t)i * dim, dim);
        sum += c;
        lo = c < lo ? c : lo;
    }
    *mean = sum / n, *min = lo;
    return EMBP_OK;
}

embp_status embp_fidelity_scores(const float *a, const float *ref, int rows, int cols,
                                 double *mean, double *min, embp_error *err) {
    if (rows <= 0 || cols <= 1)
        return embp_fail(err, EMBP_EINVAL, "score fidelity: %d rows of %d scores; need rows > 0 "
                         "and at least 2 scores a row", rows, cols);
    double sum = 0.0, lo = INFINITY;
    for (int i = 0; i < rows; i++) {
        const float *x = a + (size_t)i * cols, *y = ref + (size_t)i * cols;
        double mx = 0.0, my = 0.0, sxy = 0.0, sxx = 0.0, syy = 0.0;
        int finite = 1;
        for (int j = 0; j < cols; j++) {
            finite &= isfinite(x[j]) && isfinite(y[j]);
            mx += x[j], my += y[j];
        }
        mx /= cols, my /= cols;
        for (int j = 0; finite && j < cols; j++) {
            sxy += (x[j] - mx) * (y[j] - my);
            sxx += (x[j] - mx) * (x[j] - mx);
            syy += (y[j] - my) * (y[j] - my);
        }
        /* two constant rows that agree count as 1; else a constant row as 0 */
        double r = !finite ? 0.0
                   : sxx > 0.0 && syy > 0.0 ? sxy / sqrt(sxx * syy)
                   : sxx == 0.0 && syy == 0.0 && mx == my ? 1.0 : 0.0;
        sum += r;
        lo = r < lo ? r : lo;
    }
    *mean = sum / rows, *min = lo;
    return EMBP_OK;
}

/* ---------------------------------------------------------------- cache */

static int entry_matches(json_t *e, const embp_fidelity_key *key) {
    const char *model = json_string_value(json_object_get(e, "model"));
    const char *plan = json_string_value(json_object_get(e, "plan"));
    json_t *size = json_object_get(e, "size"), *mtime = json_object_get(e, "mtime");
    return model && plan && json_is_integer(size) && json_is_integer(mtime) &&
           strcmp(model, key->model) == 0 && strcmp(plan, key->plan) == 0 &&
           json_integer_value(size) == key->size && json_integer_value(mtime) == key->mtime;
}

/* Loads cache_path's entries array: a new empty one when the file does not exist. */
static embp_status load_cache(const char *path, json_t **root, json_t **entries,
                              embp_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT) {
        *root = json_pack("{s:i, s:[]}", "version", 1, "entries");
    } else if (!f) {
        return embp_fail(err, EMBP_EIO, "%s: cannot open fidelity cache: %s", path,
                         strerror(errno));
    } else {
        json_error_t je;
        *root = json_loadf(f, 0, &je);
        fclose(f);
        if (!*root)
            return embp_fail(err, EMBP_EFORMAT, "%s: fidelity cache is not JSON (line %d: %s)",
                             path, je.line, je.text);
    }
    if (!*root)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", path);
    *entries = json_object_get(*root, "entries");
    json_t *version = json_object_get(*root, "version");
    if (!json_is_array(*entries) || !json_is_integer(version) || json_integer_value(version) != 1) {
        json_decref(*root);
        return embp_fail(err, EMBP_EFORMAT, "%s: fidelity cache needs {\"version\": 1, "
                         "\"entries\": [...]}", path);
    }
    return EMBP_OK;
}

embp_status embp_fidelity_cache_get(const char *cache_path, const embp_fidelity_key *key,
                                    int *found, double *mean, double *min, embp_error *err) {
    json_t *root, *entries, *e;
    *found = 0;
    embp_status rc = load_cache(cache_path, &root, &entries, err);
    if (rc != EMBP_OK)
        return rc;
    size_t i;
    json_array_foreach(entries, i, e) {
        json_t *m = json_object_get(e, "mean"), *n = json_object_get(e, "min");
        if (entry_matches(e, key) && json_is_number(m) && json_is_number(n)) {
            *found = 1, *mean = json_number_value(m), *min = json_number_value(n);
            break;
        }
    }
    json_decref(root);
    return EMBP_OK;
}

embp_status embp_fidelity_cache_put(const char *cache_path, const embp_fidelity_key *key,
                                    double mean, double min, embp_error *err) {
    json_t *root, *entries, *e;
    embp_status rc = load_cache(cache_path, &root, &entries, err);
    if (rc != EMBP_OK)
        return rc;
    size_t i;
    for (i = json_array_size(entries); i-- > 0;)
        if (entry_matches(json_array_get(entries, i), key))
            json_array_remove(entries, i);
    e = json_pack("{s:s, s:I, s:I, s:s, s:f, s:f}", "model", key->model, "size",
                  (json_int_t)key->size, "mtime", (json_int_t)key->mtime, "plan", key->plan,
                  "mean", mean, "min", min);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", cache_path);
    if (!e || json_array_append_new(entries, e) != 0)
        rc = embp_fail(err, EMBP_ENOMEM, "%s: out of memory", cache_path);
    else if (json_dump_file(root, tmp, JSON_INDENT(1)) != 0 || rename(tmp, cache_path) != 0)
        rc = embp_fail(err, EMBP_EIO, "%s: cannot write fidelity cache: %s", cache_path,
                       strerror(errno));
    json_decref(root);
    return rc;
}
