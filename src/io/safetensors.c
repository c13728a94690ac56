/* safetensors reader (mmap) and writer. The header is untrusted: see safetensors.h. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

/* A header bigger than this is refused before parsing: real ones are well under 1 MiB
 * (the safetensors crate itself stops at 100 MB). */
#define ST_MAX_HEADER (100u << 20)
#define ST_MAX_FILES 1024

typedef struct {
    char *path;
    const uint8_t *base; /* whole file image */
    size_t size;
    int mapped;          /* 1: munmap on close; 0: borrowed buffer */
} st_file;

struct embp_safetensors {
    st_file *files;
    int n_files;
    embp_st_tensor *tensors; /* sorted by name once loading is done */
    int n_tensors, cap_tensors;
    char **meta; /* key, value, key, value ... of the first file */
    int n_meta;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [EMBP_DT_F32] = {"F32", 4}, [EMBP_DT_F16] = {"F16", 2}, [EMBP_DT_BF16] = {"BF16", 2},
    [EMBP_DT_I8] = {"I8", 1},   [EMBP_DT_U8] = {"U8", 1},   [EMBP_DT_I16] = {"I16", 2},
    [EMBP_DT_I32] = {"I32", 4}, [EMBP_DT_I64] = {"I64", 8}, [EMBP_DT_F64] = {"F64", 8},
    [EMBP_DT_BOOL] = {"BOOL", 1},
};

const char *embp_dtype_name(embp_dtype t) {
    return (unsigned)t < sizeof dtypes / sizeof dtypes[0] ? dtypes[t].name : "?";
}

size_t embp_dtype_size(embp_dtype t) {
    return (unsigned)t < sizeof dtypes / sizeof dtypes[0] ? dtypes[t].size : 0;
}

static int dtype_parse(const char *s, embp_dtype *out) {
    for (unsigned i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (embp_dtype)i;
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- parsing one file */

static embp_status add_tensor(embp_safetensors *st, embp_st_tensor *t, embp_error *err) {
    if (st->n_tensors == st->cap_tensors) {
        int cap = st->cap_tensors ? st->cap_tensors * 2 : 64;
        void *p = embp_realloc(st->tensors, (size_t)cap * sizeof *st->tensors);
        if (!p)
            return embp_fail(err, EMBP_ENOMEM, "out of memory reading tensor list");
        st->tensors = p;
        st->cap_tensors = cap;
    }
    st->tensors[st->n_tensors++] = *t;
    return EMBP_OK;
}

/* Fills t's dtype, shape and byte range from the header entry v; data_len is the data
 * section's size. */
static embp_status parse_entry(const char *fname, const char *name, json_t *v, size_t data_len,
                               const uint8_t *data, embp_st_tensor *t, embp_error *err) {
    memset(t, 0, sizeof *t);
    if (!json_is_object(v))
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': header entry is not an object",
                         fname, name);
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape");
    json_t *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !dtype_parse(json_string_value(dt), &t->dtype))
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': dtype %s is not one of F32 F16 "
                         "BF16 I8 U8 I16 I32 I64 F64 BOOL", fname, name,
                         json_is_string(dt) ? json_string_value(dt) : "(missing)");
    if (!json_is_array(shape) || json_array_size(shape) > EMBP_ST_MAX_DIMS)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': shape must be an array of at most "
                         "%d integers", fname, name, EMBP_ST_MAX_DIMS);
    t->n_dims = (int)json_array_size(shape);
    uint64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': shape[%d] is not a "
                             "non-negative integer", fname, name, i);
        t->shape[i] = json_integer_value(d);
        if (t->shape[i] && n > (UINT64_MAX / 8) / (uint64_t)t->shape[i])
            return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': shape overflows", fname, name);
        n *= (uint64_t)t->shape[i];
    }
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)))
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': data_offsets must be [begin, end]",
                         fname, name);
    json_int_t b = json_integer_value(json_array_get(off, 0));
    json_int_t e = json_integer_value(json_array_get(off, 1));
    if (b < 0 || e < b || (uint64_t)e > data_len)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] outside "
                         "the data section of %zu bytes", fname, name, (long long)b, (long long)e,
                         data_len);
    uint64_t want = n * dtypes[t->dtype].size;
    if ((uint64_t)(e - b) != want)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s': %lld bytes for %" PRIu64 " %s "
                         "elements (expected %" PRIu64 ")", fname, name, (long long)(e - b), n,
                         dtypes[t->dtype].name, want);
    t->n_elems = (int64_t)n;
    t->nbytes = (size_t)want;
    t->data = data + b;
    return EMBP_OK;
}

static int cmp_by_data(const void *a, const void *b) {
    const embp_st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const embp_st_tensor *)a)->name, ((const embp_st_tensor *)b)->name);
}

/* Tensors [first, n) come from one file: their byte ranges must not overlap. */
static embp_status check_overlap(embp_safetensors *st, int first, const char *fname,
                                 embp_error *err) {
    int n = st->n_tensors - first;
    if (n < 2)
        return EMBP_OK;
    embp_st_tensor *t = st->tensors + first;
    qsort(t, (size_t)n, sizeof *t, cmp_by_data);
    for (int i = 1; i < n; i++)
        if ((const uint8_t *)t[i - 1].data + t[i - 1].nbytes > (const uint8_t *)t[i].data)
            return embp_fail(err, EMBP_EFORMAT, "%s: tensors '%s' and '%s' overlap", fname,
                             t[i - 1].name, t[i].name);
    return EMBP_OK;
}

static embp_status parse_metadata(embp_safetensors *st, const char *fname, json_t *m,
                                  embp_error *err) {
    if (!json_is_object(m))
        return embp_fail(err, EMBP_EFORMAT, "%s: __metadata__ is not an object", fname);
    if (st->n_files > 1 || st->meta)
        return EMBP_OK; /* shards: the first file's metadata speaks for the set */
    size_t n = json_object_size(m);
    st->meta = embp_calloc(2 * n + 1, sizeof *st->meta);
    if (!st->meta)
        return embp_fail(err, EMBP_ENOMEM, "out of memory reading %s metadata", fname);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (!json_is_string(v))
            return embp_fail(err, EMBP_EFORMAT, "%s: __metadata__ '%s' is not a string", fname, k);
        st->meta[2 * st->n_meta] = embp_strdup(k);
        st->meta[2 * st->n_meta + 1] = embp_strdup(json_string_value(v));
        st->n_meta++;
        if (!st->meta[2 * st->n_meta - 2] || !st->meta[2 * st->n_meta - 1])
            return embp_fail(err, EMBP_ENOMEM, "out of memory reading %s metadata", fname);
    }
    return EMBP_OK;
}

/* Parses the file image f (already in st->files) and appends its tensors. */
static embp_status parse_file(embp_safetensors *st, const st_file *f, embp_error *err) {
    const char *fname = f->path;
    if (f->size < 8)
        return embp_fail(err, EMBP_EFORMAT, "%s: %zu bytes is too short for a safetensors file "
                         "(8-byte header length first)", fname, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->base[i];
    if (hlen > ST_MAX_HEADER || hlen > f->size - 8)
        return embp_fail(err, EMBP_EFORMAT, "%s: header length %" PRIu64 " exceeds the file "
                         "size %zu (or the %u-byte limit): truncated or not safetensors", fname,
                         hlen, f->size, ST_MAX_HEADER);
    json_error_t je;
    json_t *root = json_loadb((const char *)f->base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return embp_fail(err, EMBP_EFORMAT, "%s: header JSON: %s at byte %d", fname, je.text,
                         je.position);
    embp_status s = EMBP_OK;
    if (!json_is_object(root)) {
        s = embp_fail(err, EMBP_EFORMAT, "%s: header is not a JSON object", fname);
        goto done;
    }
    const uint8_t *data = f->base + 8 + hlen;
    size_t data_len = f->size - 8 - (size_t)hlen;
    int first = st->n_tensors;
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (strcmp(name, "__metadata__") == 0) {
            s = parse_metadata(st, fname, v, err);
        } else {
            embp_st_tensor t;
            s = parse_entry(fname, name, v, data_len, data, &t, err);
            if (s == EMBP_OK) {
                t.file = f->path;
                t.name = embp_strdup(name);
                s = t.name ? add_tensor(st, &t, err)
                           : embp_fail(err, EMBP_ENOMEM, "out of memory reading %s", fname);
                if (s != EMBP_OK)
                    embp_free(embp_unconst(t.name));
            }
        }
        if (s != EMBP_OK)
            goto done;
    }
    s = check_overlap(st, first, fname, err);
done:
    json_decref(root);
    return s;
}

/* ---------------------------------------------------------------- opening */

static embp_safetensors *st_new(void) {
    return embp_calloc(1, sizeof(embp_safetensors));
}

static embp_status add_file(embp_safetensors *st, st_file *f, embp_error *err) {
    void *p = embp_realloc(st->files, (size_t)(st->n_files + 1) * sizeof *st->files);
    if (!p) { /* f is not st's yet: release it here */
        embp_fail(err, EMBP_ENOMEM, "out of memory opening %s", f->path);
        if (f->mapped)
            munmap(embp_unconst(f->base), f->size);
        embp_free(f->path);
        return EMBP_ENOMEM;
    }
    st->files = p;
    st->files[st->n_files++] = *f;
    return parse_file(st, &st->files[st->n_files - 1], err);
}

static embp_status map_file(const char *path, st_file *f, embp_error *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return embp_fail(err, EMBP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return embp_fail(err, EMBP_EIO, "%s: not a regular file", path);
    }
    f->size = (size_t)sb.st_size;
    f->path = embp_strdup(path);
    if (!f->path) {
        close(fd);
        return embp_fail(err, EMBP_ENOMEM, "out of memory opening %s", path);
    }
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            embp_free(f->path);
            return embp_fail(err, EMBP_EIO, "%s: mmap: %s", path, strerror(errno));
        }
        f->base = m;
        f->mapped = 1;
    } else {
        f->base = (const uint8_t *)"";
    }
    close(fd);
    return EMBP_OK;
}

static embp_status finish(embp_safetensors *st, embp_safetensors **out, embp_status s) {
    if (s != EMBP_OK) {
        embp_st_close(st);
        return s;
    }
    if (st->n_tensors > 1)
        qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_by_name);
    *out = st;
    return EMBP_OK;
}

embp_status embp_st_open_file(const char *path, embp_safetensors **out, embp_error *err) {
    *out = NULL;
    embp_safetensors *st = st_new();
    if (!st)
        return embp_fail(err, EMBP_ENOMEM, "out of memory opening %s", path);
    st_file f;
    embp_status s = map_file(path, &f, err);
    if (s == EMBP_OK)
        s = add_file(st, &f, err);
    return finish(st, out, s);
}

embp_status embp_st_open_buffer(const void *buf, size_t len, const char *name_for_errors,
                                embp_safetensors **out, embp_error *err) {
    *out = NULL;
    embp_safetensors *st = st_new();
    st_file f = {embp_strdup(name_for_errors ? name_for_errors : "(buffer)"), buf, len, 0};
    if (!st || !f.path) {
        embp_free(st);
        embp_free(f.path);
        return embp_fail(err, EMBP_ENOMEM, "out of memory parsing %s", name_for_errors);
    }
    return finish(st, out, add_file(st, &f, err));
}

/* Shards: model.safetensors.index.json's weight_map names the files; each is opened once and
 * every name in the map must be found in the file it names. */
static embp_status open_index(const char *dir, const char *index_path, embp_safetensors *st,
                              embp_error *err) {
    json_error_t je;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return embp_fail(err, EMBP_EFORMAT, "%s: %s (line %d)", index_path, je.text, je.line);
    embp_status s = EMBP_OK;
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        s = embp_fail(err, EMBP_EFORMAT, "%s: field 'weight_map' missing or not an object",
                      index_path);
        goto done;
    }
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v) {
        const char *file = json_string_value(v);
        if (!file || !*file || strchr(file, '/') || strcmp(file, "..") == 0) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: weight_map['%s'] must be a file name in the "
                          "model folder", index_path, name);
            goto done;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        int have = 0;
        for (int i = 0; i < st->n_files && !have; i++)
            have = strcmp(st->files[i].path, path) == 0;
        if (!have) {
            if (st->n_files >= ST_MAX_FILES) {
                s = embp_fail(err, EMBP_EFORMAT, "%s: more than %d shards", index_path,
                              ST_MAX_FILES);
                goto done;
            }
            st_file f;
            if ((s = map_file(path, &f, err)) != EMBP_OK || (s = add_file(st, &f, err)) != EMBP_OK)
                goto done;
        }
    }
    if (st->n_tensors > 1)
        qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_by_name);
    json_object_foreach(map, name, v) {
        const embp_st_tensor *t = embp_st_find(st, name);
        char want[4096];
        snprintf(want, sizeof want, "%s/%s", dir, json_string_value(v));
        if (!t || strcmp(t->file, want) != 0) { /* the file itself, not a name containing it */
            s = embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' is not in %s", index_path, name,
                          json_string_value(v));
            goto done;
        }
    }
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0) {
            s = embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' appears in two shards", index_path,
                          st->tensors[i].name);
            goto done;
        }
done:
    json_decref(root);
    return s;
}

embp_status embp_st_open_dir(const char *dir, embp_safetensors **out, embp_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (access(path, F_OK) != 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (access(path, F_OK) != 0)
            return embp_fail(err, EMBP_EIO, "%s: no model.safetensors (nor a sharded "
                             "model.safetensors.index.json) in the model folder", dir);
        return embp_st_open_file(path, out, err);
    }
    *out = NULL;
    embp_safetensors *st = st_new();
    if (!st)
        return embp_fail(err, EMBP_ENOMEM, "out of memory opening %s", path);
    return finish(st, out, open_index(dir, path, st, err));
}

void embp_st_close(embp_safetensors *st) {
    if (!st)
        return;
    for (int i = 0; i < st->n_files; i++) {
        if (st->files[i].mapped)
            munmap(embp_unconst(st->files[i].base), st->files[i].size);
        embp_free(st->files[i].path);
    }
    for (int i = 0; i < st->n_tensors; i++)
        embp_free(embp_unconst(st->tensors[i].name));
    for (int i = 0; i < 2 * st->n_meta; i++)
        embp_free(st->meta[i]);
    embp_free(st->meta);
    embp_free(st->files);
    embp_free(st->tensors);
    embp_free(st);
}

/* ---------------------------------------------------------------- queries */

const embp_st_tensor *embp_st_find(const embp_safetensors *st, const char *name) {
    embp_st_tensor key = {.name = name};
    if (!st->n_tensors)
        return NULL;
    return bsearch(&key, st->tensors, (size_t)st->n_tensors, sizeof key, cmp_by_name);
}

int embp_st_count(const embp_safetensors *st) {
    return st->n_tensors;
}

const embp_st_tensor *embp_st_at(const embp_safetensors *st, int i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

static void shape_str(char *buf, size_t n, const int64_t *dims, int nd) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

embp_status embp_st_expect_shape(const embp_st_tensor *t, int64_t d0, int64_t d1,
                                 embp_error *err) {
    int nd = d1 > 0 ? 2 : 1;
    if (t->n_dims == nd && t->shape[0] == d0 && (nd == 1 || t->shape[1] == d1))
        return EMBP_OK;
    char got[96], exp[96];
    int64_t want[2] = {d0, d1};
    shape_str(got, sizeof got, t->shape, t->n_dims);
    shape_str(exp, sizeof exp, want, nd);
    return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' (%s) has shape %s, expected %s from "
                     "config.json", t->file, t->name, embp_dtype_name(t->dtype), got, exp);
}

const char *embp_st_metadata(const embp_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

/* Index of the first element of t (F32, F16 or BF16) from `from` whose exponent bits are all
 * ones (NaN or infinity), or -1. Works on the raw bits, so it needs no alignment and no float
 * conversion. */
static int64_t first_nonfinite_from(const embp_st_tensor *t, int64_t from) {
    const uint8_t *p = t->data;
    if (t->dtype == EMBP_DT_F32) {
        for (int64_t i = from; i < t->n_elems; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u)
                return i;
        }
    } else if (t->dtype == EMBP_DT_F16 || t->dtype == EMBP_DT_BF16) {
        uint16_t mask = t->dtype == EMBP_DT_F16 ? 0x7c00 : 0x7f80;
        for (int64_t i = from; i < t->n_elems; i++) {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            if ((u & mask) == mask)
                return i;
        }
    }
    return -1;
}

/* The elements of a block the scan reads without a branch (a loop the compiler vectorizes; the
 * branching one above ran at a quarter of memory speed), then locates the first bad one. */
enum { SCAN_BLOCK = 4096 };

static int block_nonfinite(const uint8_t *p, size_t n, size_t size, uint32_t mask) {
    uint32_t bad = 0;
    if (size == 4)
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            bad |= (u & mask) == mask;
        }
    else
        for (size_t i = 0; i < n; i++) {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            bad |= (uint32_t)((u & mask) == mask);
        }
    return bad != 0;
}

/* The scan reads every page of the file once and releases them every few MB as it goes
 * (embp_st_release_range), so a scan of a 2.4 GB file holds a few MB of it, not the file, nor
 * its 600 MB token table. */
#define SCAN_RELEASE_BYTES ((size_t)4 << 20)

static int64_t first_nonfinite(const embp_safetensors *st, const embp_st_tensor *t) {
    size_t size = embp_dtype_size(t->dtype);
    uint32_t mask = t->dtype == EMBP_DT_F32    ? 0x7f800000u
                    : t->dtype == EMBP_DT_F16  ? 0x7c00u
                    : t->dtype == EMBP_DT_BF16 ? 0x7f80u
                                               : 0;
    if (!mask)
        return -1;
    const uint8_t *p = t->data, *kept = p; /* [kept, scanned) is still resident */
    for (int64_t i = 0; i < t->n_elems; i += SCAN_BLOCK) {
        size_t n = t->n_elems - i < SCAN_BLOCK ? (size_t)(t->n_elems - i) : SCAN_BLOCK;
        const uint8_t *b = p + (size_t)i * size;
        if (block_nonfinite(b, n, size, mask))
            return first_nonfinite_from(t, i);
        if ((size_t)(b + n * size - kept) >= SCAN_RELEASE_BYTES) {
            embp_st_release_range(st, kept, (size_t)(b + n * size - kept));
            kept = b + n * size;
        }
    }
    return -1;
}

embp_status embp_st_check_finite(const embp_safetensors *st, embp_error *err) {
    for (int i = 0; i < st->n_tensors; i++) {
        int64_t at = first_nonfinite(st, &st->tensors[i]);
        embp_st_release_tensor(st, &st->tensors[i]);
        if (at >= 0)
            return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' holds NaN or infinity (element "
                             "%lld): the weights are corrupt", st->tensors[i].file,
                             st->tensors[i].name, (long long)at);
    }
    return EMBP_OK;
}

size_t embp_st_mapped_bytes(const embp_safetensors *st) {
    size_t n = 0;
    for (int i = 0; i < st->n_files; i++)
        n += st->files[i].mapped ? st->files[i].size : 0;
    return n;
}

void embp_st_release_pages(embp_safetensors *st) {
    for (int i = 0; i < st->n_files; i++)
        if (st->files[i].mapped && st->files[i].size)
            madvise(embp_unconst(st->files[i].base), st->files[i].size, MADV_DONTNEED);
}

void embp_st_release_range(const embp_safetensors *st, const void *p, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    const uint8_t *d = p;
    for (int i = 0; page > 0 && i < st->n_files; i++) {
        const st_file *f = &st->files[i];
        if (!f->mapped || d < f->base || d + n > f->base + f->size)
            continue;
        /* whole pages only: a neighbour's bytes on a shared page stay mapped */
        uintptr_t lo = ((uintptr_t)d + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
        uintptr_t hi = ((uintptr_t)d + n) & ~((uintptr_t)page - 1);
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
        return;
    }
}

void embp_st_release_tensor(const embp_safetensors *st, const embp_st_tensor *t) {
    embp_st_release_range(st, t->data, t->nbytes);
}

/* ---------------------------------------------------------------- writing */

static json_t *header_json(const embp_st_write_tensor *ts, int n, const char *const *mk,
                           const char *const *mv, int n_meta, uint64_t *data_len) {
    json_t *root = json_object();
    if (n_meta > 0) {
        json_t *m = json_object();
        for (int i = 0; i < n_meta; i++)
            json_object_set_new(m, mk[i], json_string(mv[i]));
        json_object_set_new(root, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t count = 1;
        json_t *shape = json_array();
        for (int d = 0; d < ts[i].n_dims; d++) {
            count *= (uint64_t)ts[i].shape[d];
            json_array_append_new(shape, json_integer(ts[i].shape[d]));
        }
        uint64_t bytes = count * embp_dtype_size(ts[i].dtype);
        json_t *e = json_object();
        json_object_set_new(e, "dtype", json_string(embp_dtype_name(ts[i].dtype)));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets",
                            json_pack("[II]", (json_int_t)off, (json_int_t)(off + bytes)));
        json_object_set_new(root, ts[i].name, e);
        off += bytes;
    }
    *data_len = off;
    return root;
}

embp_status embp_st_write(const char *path, const embp_st_write_tensor *tensors, int n,
                          const char *const *meta_keys, const char *const *meta_vals, int n_meta,
                          embp_error *err) {
    uint64_t data_len;
    json_t *root = header_json(tensors, n, meta_keys, meta_vals, n_meta, &data_len);
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr)
        return embp_fail(err, EMBP_ENOMEM, "%s: cannot build the header", path);
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7; /* data 8-byte aligned */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(hdr);
        return embp_fail(err, EMBP_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen;
    for (size_t i = hlen; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    free(hdr);
    for (int i = 0; ok && i < n; i++) {
        size_t bytes = embp_dtype_size(tensors[i].dtype);
        for (int d = 0; d < tensors[i].n_dims; d++)
            bytes *= (size_t)tensors[i].shape[d];
        ok = fwrite(tensors[i].data, 1, bytes, f) == bytes;
    }
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return embp_fail(err, EMBP_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return EMBP_OK;
}
