/* embp quantize: a model folder rewritten with its weights at a storage precision, so that
 * loading it needs neither the fp32 weights nor a quantization pass, and memory holds only what
 * the storage costs. The format (names, dtypes, metadata) is io/qformat.h's, which also reads
 * it back; docs/QUANTIZED_FORMAT.md is the users' page. Quantization is the same
 * code as at load (kernels/quant.h, round to nearest), so a quantized folder embeds exactly as
 * its source does when loaded with the same plan. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/fp.h"
#include "io/qformat.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "model/arch.h"
#include "precision/plan.h"
#include "precision/probe.h"
#include "precision/request.h"
#include "runtime/folder.h"
#include "runtime/model.h"

/* Files of a model folder that hold weights in another form: never copied (the point of the
 * output is its own model.safetensors). */
static int is_weight_file(const char *name) {
    static const char *const exact[] = {"model.safetensors", "model.safetensors.index.json",
                                        "pytorch_model.bin", "pytorch_model.bin.index.json",
                                        "tf_model.h5", "flax_model.msgpack", "rust_model.ot",
                                        "onnx", "openvino", "embp_quantize.json"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(name, exact[i]) == 0)
            return 1;
    size_t n = strlen(name);
    return (n > 12 && strcmp(name + n - 12, ".safetensors") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".bin") == 0);
}

/* Copies the folder from -> to (both existing), skipping the model's weight files (at the top:
 * a module folder's own weights, 2_Dense/model.safetensors, are the module's and copied) and
 * hidden entries; depth bounds recursion through symlinked loops. */
static embp_status copy_tree(const char *from, const char *to, int depth, embp_error *err) {
    if (depth > 4)
        return EMBP_OK;
    DIR *d = opendir(from);
    if (!d)
        return embp_fail(err, EMBP_EIO, "cannot read folder %s: %s", from, strerror(errno));
    embp_status rc = EMBP_OK;
    struct dirent *e;
    char src[PATH_MAX], dst[PATH_MAX];
    struct stat sb;
    while (rc == EMBP_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' || (depth == 0 && is_weight_file(e->d_name)))
            continue;
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        if (stat(src, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (mkdir(dst, 0755) != 0 && errno != EEXIST)
                rc = embp_fail(err, EMBP_EIO, "cannot create %s: %s", dst, strerror(errno));
            else
                rc = copy_tree(src, dst, depth + 1, err);
        } else if (S_ISREG(sb.st_mode)) {
            rc = embp_copy_file(src, dst, err);
        }
    }
    closedir(d);
    return rc;
}

/* ---------------------------------------------------------------- tensors */

/* The tensors to write; each name and data is owned (freed through embp_unconst). */
typedef struct {
    embp_st_write_tensor *t;
    int n, cap;
} out_tensors;

/* Appends a tensor; o takes data, and frees it when this fails. */
static embp_status add(out_tensors *o, const char *name, embp_dtype dt, int nd,
                       const int64_t *shape, void *data, embp_error *err) {
    char *nm = embp_strdup(name);
    if (nm && o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 256;
        embp_st_write_tensor *t = embp_realloc(o->t, (size_t)cap * sizeof *t);
        if (t)
            o->t = t, o->cap = cap;
    }
    if (!nm || o->n == o->cap) {
        embp_free(nm);
        embp_free(data);
        return embp_fail(err, EMBP_ENOMEM, "out of memory listing tensors");
    }
    embp_st_write_tensor *w = &o->t[o->n++];
    memset(w, 0, sizeof *w);
    w->name = nm, w->dtype = dt, w->n_dims = nd, w->data = data;
    memcpy(w->shape, shape, (size_t)nd * sizeof *shape);
    return EMBP_OK;
}

static void out_free(out_tensors *o) {
    for (int i = 0; i < o->n; i++) {
        embp_free(embp_unconst(o->t[i].name));
        embp_free(embp_unconst(o->t[i].data));
    }
    embp_free(o->t);
}

/* t's values as fp32 (a new buffer), or NULL with err set; the conversions are the kernel
 * table's, as at load (model/bert_load.c). */
static float *as_f32(const embp_kernels *k, const embp_st_tensor *t, embp_error *err) {
    size_t n = (size_t)t->n_elems;
    float *f = embp_malloc((n ? n : 1) * sizeof *f);
    if (!f)
        embp_fail(err, EMBP_ENOMEM, "out of memory converting '%s'", t->name);
    else if (t->dtype == EMBP_DT_F32)
        memcpy(f, t->data, n * sizeof *f);
    else if (t->dtype == EMBP_DT_F16)
        k->fp16_to_f32(t->data, f, n);
    else
        k->bf16_to_f32(t->data, f, n);
    return f;
}

static int is_float(embp_dtype d) {
    return d == EMBP_DT_F32 || d == EMBP_DT_F16 || d == EMBP_DT_BF16;
}

/* Whether name ends with the word table's name in one of the families (BERT's, Qwen3's). */
static int word_table(const char *name) {
    static const char *const ends[] = {"embeddings.word_embeddings.weight", "embed_tokens.weight"};
    size_t nl = strlen(name);
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t wl = strlen(ends[i]);
        if (nl >= wl && strcmp(name + nl - wl, ends[i]) == 0)
            return 1;
    }
    return 0;
}

/* One input tensor into o, as storage s says; dense_weight (the family's, model/arch.h) names
 * the linear layers' weights that int8 and int4 quantize. */
static embp_status convert(const embp_kernels *k, const embp_st_tensor *t, embp_storage s, int g,
                           int (*dense_weight)(const char *), out_tensors *o, embp_error *err) {
    size_t n = (size_t)t->n_elems;
    if (!is_float(t->dtype)) { /* ids, masks: as they are */
        void *copy = embp_malloc(t->nbytes ? t->nbytes : 1);
        if (!copy)
            return embp_fail(err, EMBP_ENOMEM, "out of memory copying '%s'", t->name);
        memcpy(copy, t->data, t->nbytes);
        return add(o, t->name, t->dtype, t->n_dims, t->shape, copy, err);
    }
    float *f = as_f32(k, t, err);
    if (!f)
        return err->code;
    int dense = dense_weight(t->name) && t->n_dims == 2;
    int words = t->n_dims == 2 && word_table(t->name);
    if (s == EMBP_STORAGE_FP16 || s == EMBP_STORAGE_BF16) {
        uint16_t *h = embp_malloc((n ? n : 1) * sizeof *h);
        if (!h) {
            embp_free(f);
            return embp_fail(err, EMBP_ENOMEM, "out of memory converting '%s'", t->name);
        }
        for (size_t i = 0; i < n; i++)
            h[i] = s == EMBP_STORAGE_FP16 ? embp_f32_to_fp16(f[i]) : embp_f32_to_bf16(f[i]);
        embp_free(f);
        return add(o, t->name, s == EMBP_STORAGE_FP16 ? EMBP_DT_F16 : EMBP_DT_BF16, t->n_dims,
                   t->shape, h, err);
    }
    if (!dense && !words) /* position embeddings, LayerNorm, biases: fp32, as at load */
        return add(o, t->name, EMBP_DT_F32, t->n_dims, t->shape, f, err);
    /* q and its scales: int8 per row (the word table is int8 for int4 files too), else int4 */
    int N = (int)t->shape[0], K = (int)t->shape[1], int8 = s == EMBP_STORAGE_INT8 || words;
    embp_qf_layout lay;
    embp_qf_layout_of(int8 ? EMBP_QF_INT8 : EMBP_QF_INT4, N, K, g, &lay);
    void *q = NULL, *sc = NULL;
    embp_status rc = EMBP_OK;
    embp_error why;
    if (!int8 && (rc = embp_quant_int4_check(K, g, &why)) != EMBP_OK)
        rc = embp_fail(err, rc, "tensor '%s' (K = %d): %s", t->name, K, why.msg);
    else if (!(q = embp_malloc(int8 ? n : n / 2)) ||
             !(sc = embp_malloc((size_t)N * (int8 ? sizeof(float) : (size_t)(K / g) * 2))))
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory quantizing '%s'", t->name);
    else
        rc = int8 ? embp_quant_int8(f, N, K, q, sc, err) : embp_quant_int4(f, N, K, g, q, sc, err);
    embp_free(f);
    char sname[300];
    embp_qf_scale_name(t->name, sname, sizeof sname);
    if (rc == EMBP_OK) { /* add takes q (and sc) whatever it returns */
        rc = add(o, t->name, lay.q_dtype, 2, lay.q_shape, q, err);
        q = NULL;
    }
    if (rc == EMBP_OK) {
        rc = add(o, sname, lay.s_dtype, lay.s_dims, lay.s_shape, sc, err);
        sc = NULL;
    }
    embp_free(q);
    embp_free(sc);
    return rc;
}

/* ---------------------------------------------------------------- the folder */

static embp_status check_opts(const char *in, const char *out, const embp_quantize_opts *o,
                              embp_storage *s, int *g, embp_error *err) {
    int st = embp_precision_to_storage(o->storage);
    if (st < 0 || st == EMBP_STORAGE_FP32)
        return embp_fail(err, EMBP_ECONFIG, "quantize: embp_quantize_opts.storage = %s (%d): "
                         "allowed values int8, int4, bf16, fp16", embp_precision_str(o->storage),
                         (int)o->storage);
    *s = (embp_storage)st;
    *g = o->group_size ? o->group_size : 32;
    if (*g < 16 || *g > 256 || (*g & (*g - 1)))
        return embp_fail(err, EMBP_ECONFIG, "quantize: group size %d (embp_quantize_opts."
                         "group_size): allowed 16, 32, 64, 128, 256", *g);
    if (o->method != EMBP_QUANT_RTN)
        return embp_fail(err, EMBP_ECONFIG, "quantize: embp_quantize_opts.method = %d: allowed "
                         "EMBP_QUANT_RTN (round to nearest)", (int)o->method);
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(in, a))
        return embp_fail(err, EMBP_EIO, "quantize: cannot open model folder %s: %s", in,
                         strerror(errno));
    if (realpath(out, b) && strcmp(a, b) == 0)
        return embp_fail(err, EMBP_EINVAL, "quantize: output %s is the input folder", out);
    DIR *d = opendir(out);
    if (d) {
        struct dirent *e;
        int empty = 1;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                empty = 0;
        closedir(d);
        if (!empty && !o->overwrite)
            return embp_fail(err, EMBP_EINVAL, "quantize: output folder %s exists and is not "
                             "empty (--force replaces its files)", out);
    }
    return EMBP_OK;
}

/* Creates out (when missing) and removes a stale index a replaced folder may hold. */
static embp_status prepare_out(const char *out, embp_error *err) {
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return embp_fail(err, EMBP_EIO, "quantize: cannot create %s: %s", out, strerror(errno));
    char stale[PATH_MAX]; /* an index left by an earlier folder would win over our file */
    snprintf(stale, sizeof stale, "%s/model.safetensors.index.json", out);
    if (unlink(stale) != 0 && errno != ENOENT)
        return embp_fail(err, EMBP_EIO, "quantize: cannot remove %s: %s", stale, strerror(errno));
    return EMBP_OK;
}

static embp_status write_record(const char *in, const char *out, embp_storage s, int g,
                                const embp_quantize_report *r, embp_error *err) {
    char path[PATH_MAX], src[PATH_MAX], when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *j = json_object();
    json_object_set_new(j, "format", json_string(EMBP_QF_FORMAT));
    json_object_set_new(j, "storage", json_string(embp_storage_str(s)));
    json_object_set_new(j, "method", json_string("rtn"));
    if (s == EMBP_STORAGE_INT4)
        json_object_set_new(j, "group_size", json_integer(g));
    json_object_set_new(j, "source", json_string(realpath(in, src) ? src : in));
    json_object_set_new(j, "created", json_string(when));
    json_object_set_new(j, "weight_bytes_in", json_integer((json_int_t)r->bytes_in));
    json_object_set_new(j, "weight_bytes_out", json_integer((json_int_t)r->bytes_out));
    if (!isnan(r->fidelity_mean)) {
        int n;
        embp_probe_texts(&n);
        json_object_set_new(j, "fidelity",
                            json_pack("{s:s, s:f, s:f, s:i, s:s}", "plan", r->plan, "mean",
                                      r->fidelity_mean, "min", r->fidelity_min, "probe_texts", n,
                                      "reference", "fp32 of the source folder"));
    }
    snprintf(path, sizeof path, "%s/embp_quantize.json", out);
    int bad = json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    return bad ? embp_fail(err, EMBP_EIO, "cannot write %s", path) : EMBP_OK;
}

/* Mean and minimum cosine of out's model (its own plan) to ref (fp32 of the source) over the
 * probe texts, and the plan out loads with. */
static embp_status measure(const char *out, embp_model *ref, embp_quantize_report *r,
                           embp_error *err) {
    embp_model *q = NULL;
    embp_load_opts o;
    embp_load_opts_init(&o);
    o.max_batch_tokens = embp_model_max_batch_tokens(ref);
    embp_status rc = embp_model_load(out, &o, &q, err);
    if (rc == EMBP_OK)
        rc = embp_model_fidelity_between(q, ref, &r->fidelity_mean, &r->fidelity_min, err);
    if (rc == EMBP_OK) {
        embp_plan p;
        embp_model_get_plan(q, &p);
        embp_plan_key(&p, r->plan, sizeof r->plan);
    }
    embp_model_free(q);
    return rc;
}

/* The source folder, parsed once (runtime/folder.h), and its fp32 model: building it checks
 * every file before anything is written, and with keep_ref it stays as the reference fidelity
 * is measured against (else *ref is NULL). A folder embp quantize wrote is refused. */
static embp_status open_source(const char *in, int keep_ref, embp_folder **f, embp_model **ref,
                               const embp_arch **arch, embp_error *err) {
    *f = NULL, *ref = NULL;
    embp_status rc = embp_folder_open(in, f, err);
    if (rc == EMBP_OK && (*f)->file_storage >= 0)
        rc = embp_fail(err, EMBP_EINVAL, "quantize: %s was already written by embp quantize "
                       "(storage %s); quantize the original folder", in,
                       embp_storage_str((embp_storage)(*f)->file_storage));
    if (rc == EMBP_OK && !(*arch = embp_arch_find(&(*f)->cfg, err)))
        rc = EMBP_EUNSUPPORTED;
    if (rc == EMBP_OK) {
        embp_load_opts lo;
        embp_load_opts_init(&lo);
        /* a budget the probe set's batches fill, and at least one sequence of the model's
         * (Qwen3-Embedding: 8192 tokens; a fixed 4096 refused that folder) */
        int len = (*f)->cfg.max_seq_len;
        lo.max_batch_tokens = len > 4096 ? len : 4096;
        rc = embp_model_build(*f, NULL, &lo, ref, err);
    }
    if (!keep_ref) {
        embp_model_free(*ref);
        *ref = NULL;
    }
    return rc;
}

embp_status embp_model_quantize(const char *in, const char *out, const embp_quantize_opts *opts,
                                embp_quantize_report *report, embp_error *err) {
    embp_quantize_report local;
    embp_quantize_report *r = report ? report : &local;
    embp_error local_err; /* the converters read err->code back */
    if (!err)
        err = &local_err;
    memset(r, 0, sizeof *r);
    r->fidelity_mean = r->fidelity_min = NAN;
    embp_storage s = EMBP_STORAGE_INT8;
    int g = 32;
    embp_status rc;
    if (!in || !out || !opts)
        return embp_fail(err, EMBP_EINVAL, "quantize: input, output and options are required");
    if ((rc = check_opts(in, out, opts, &s, &g, err)))
        return rc;
    embp_folder *f;
    embp_model *ref;
    const embp_arch *arch = NULL;
    const embp_safetensors *st = NULL;
    if ((rc = open_source(in, opts->measure_fidelity, &f, &ref, &arch, err)) ||
        (rc = embp_folder_weights(f, &st, err)) || (rc = prepare_out(out, err))) {
        embp_model_free(ref);
        embp_folder_free(f);
        return rc;
    }
    out_tensors o = {0};
    r->bytes_in = embp_st_mapped_bytes(st);
    const embp_kernels *k = embp_kernels_pick(embp_cpu_get());
    for (int i = 0; rc == EMBP_OK && i < embp_st_count(st); i++) {
        rc = convert(k, embp_st_at(st, i), s, g, arch->dense_weight, &o, err);
        embp_st_release_tensor(st, embp_st_at(st, i)); /* read once: the source's pages go */
    }
    char path[PATH_MAX], grp[16];
    const char *mk[EMBP_QF_META_MAX], *mv[EMBP_QF_META_MAX];
    int n_meta = embp_qf_meta_pairs(embp_storage_str(s), g, grp, mk, mv);
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    if (rc == EMBP_OK)
        rc = embp_st_write(path, o.t, o.n, mk, mv, n_meta, err);
    out_free(&o);
    embp_folder_release_weights(f);
    struct stat sb;
    if (rc == EMBP_OK && stat(path, &sb) == 0)
        r->bytes_out = (size_t)sb.st_size;
    if (rc == EMBP_OK)
        rc = copy_tree(in, out, 0, err);
    if (rc == EMBP_OK && opts->measure_fidelity)
        rc = measure(out, ref, r, err);
    embp_model_free(ref);
    embp_folder_free(f);
    if (rc == EMBP_OK)
        rc = write_record(in, out, s, g, r, err);
    return rc;
}
