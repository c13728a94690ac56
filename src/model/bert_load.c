/* BERT loading: check the weights against config.json, pack the dense layers as the precision
 * plan says (quantized files through io/qformat.h), size the forward's scratch. The forward pass
 * is bert.c. */
#include "model/bert_impl.h"

#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/fp.h"
#include "io/qformat.h"
#include "kernels/quant.h"

void embp_bert_precision_of(const embp_plan *p, embp_bert_precision *b) {
    *b = (embp_bert_precision){EMBP_MM_F32, EMBP_MM_F32, 0, EMBP_ROUND_NONE, EMBP_TABLE_F32};
    if (!p)
        return;
    if (p->storage == EMBP_STORAGE_INT4) {
        b->compute = p->compute == EMBP_COMPUTE_INT8 ? EMBP_MM_INT4_INT8 : EMBP_MM_INT4_BF16;
        b->group_size = p->group_size;
    } else if (p->compute == EMBP_COMPUTE_INT8) {
        b->compute = EMBP_MM_INT8;
    } else if (p->compute == EMBP_COMPUTE_BF16) {
        b->compute = EMBP_MM_BF16; /* fp16 weights are rounded to fp16 first, then to bf16 */
    }
    b->storage = b->compute;
    /* the word table follows the storage asked, whatever the compute: it is only gathered */
    static const embp_table_format table[] = {EMBP_TABLE_F32, EMBP_TABLE_FP16, EMBP_TABLE_BF16,
                                              EMBP_TABLE_INT8, EMBP_TABLE_INT8};
    b->table = table[p->storage];
    if (p->storage == EMBP_STORAGE_FP16)
        b->round = EMBP_ROUND_FP16;
    else if (p->storage == EMBP_STORAGE_BF16 && p->compute == EMBP_COMPUTE_FP32)
        b->round = EMBP_ROUND_BF16;
}

/* ---------------------------------------------------------------- loading tensors */

/* The tensor of BERT name `name` (renamed by the family's b->rename) under cfg's prefix, or
 * without one, or under "bert." or "roberta." (where task heads nest the encoder). */
static const embp_st_tensor *find_tensor(const embp_bert *b, const embp_safetensors *st,
                                         const char *prefix, const char *name) {
    const char *tries[] = {prefix, "", "bert.", "roberta."};
    char own[160];
    if (b->rename)
        name = b->rename(name, own, sizeof own);
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", tries[i], name);
        const embp_st_tensor *t = embp_st_find(st, full);
        if (t)
            return t;
    }
    return NULL;
}

/* n values of float tensor t from element `at` into dst as fp32. */
static embp_status to_f32(const embp_kernels *k, const embp_st_tensor *t, size_t at, size_t n,
                          float *dst, embp_error *err) {
    const char *p = (const char *)t->data + at * embp_dtype_size(t->dtype);
    if (t->dtype == EMBP_DT_F32)
        memcpy(dst, p, n * sizeof(float));
    else if (t->dtype == EMBP_DT_F16)
        k->fp16_to_f32((const uint16_t *)(const void *)p, dst, n);
    else if (t->dtype == EMBP_DT_BF16)
        k->bf16_to_f32((const uint16_t *)(const void *)p, dst, n);
    else
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' has dtype %s, expected F32, F16 or "
                         "BF16", t->file, t->name, embp_dtype_name(t->dtype));
    return EMBP_OK;
}

/* The tensor of BERT name `name` (renamed), or EMBP_EFORMAT naming it. */
static embp_status need_tensor(const embp_bert *b, const embp_safetensors *st, const char *prefix,
                               const char *name, const embp_st_tensor **t, embp_error *err) {
    char own[160];
    if ((*t = find_tensor(b, st, prefix, name)))
        return EMBP_OK;
    return embp_fail(err, EMBP_EFORMAT, "model.safetensors: tensor '%s%s' is missing", prefix,
                     b->rename ? b->rename(name, own, sizeof own) : name);
}

embp_status embp_bert_tensor_f32(const embp_kernels *k, const embp_safetensors *st,
                                 const embp_st_tensor *t, int d0, int d1, float *dst,
                                 embp_error *err) {
    embp_status rc;
    if ((rc = embp_st_expect_shape(t, d0, d1, err)) ||
        (rc = to_f32(k, t, 0, (size_t)t->n_elems, dst, err)))
        return rc;
    embp_st_release_tensor(st, t);
    return EMBP_OK;
}

/* Converts tensor `name`, expected shape (d0) or (d0, d1) when d1 > 0, into dst (fp32). */
static embp_status load_f32(const embp_bert *b, const embp_safetensors *st, const char *prefix,
                            const char *name, int d0, int d1, float *dst, embp_error *err) {
    const embp_st_tensor *t;
    embp_status rc = need_tensor(b, st, prefix, name, &t, err);
    return rc != EMBP_OK ? rc : embp_bert_tensor_f32(b->k, st, t, d0, d1, dst, err);
}

embp_status embp_bert_load_table(embp_bert *b, const embp_safetensors *st, const char *prefix,
                                 const char *name, int d0, int d1, float **out, embp_error *err) {
    size_t n = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    if (!(*out = embp_malloc_aligned(n * sizeof(float))))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for tensor '%s' (%zu floats)", name, n);
    b->weight_bytes += n * sizeof(float);
    return load_f32(b, st, prefix, name, d0, d1, *out, err);
}

embp_status embp_bert_load_types(embp_bert *b, const embp_safetensors *st, const char *prefix,
                                 const char *name, int type_vocab_size, embp_error *err) {
    /* every row: a pair's second sequence is type 1 (a cross-encoder's document) */
    b->n_types = type_vocab_size > 0 ? type_vocab_size : 1;
    b->no_types = type_vocab_size == 0;
    if (type_vocab_size > 0)
        return embp_bert_load_table(b, st, prefix, name, b->n_types, b->H, &b->type, err);
    if (!(b->type = embp_malloc_aligned((size_t)b->H * sizeof(float))))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for the token type row");
    memset(b->type, 0, (size_t)b->H * sizeof(float));
    return EMBP_OK;
}

/* Whether the word table can be the file's bytes, used in place: its format is the table's
 * (F32, BF16 or F16 for those tables, int8 rows with fp32 scales from embp quantize for an int8
 * table) and its rows are aligned for their element type. */
static int words_in_place(const embp_st_tensor *t, const embp_qf_weight *qw, int stored8,
                          embp_table_format fmt) {
    if (stored8)
        return fmt == EMBP_TABLE_INT8 && (uintptr_t)qw->scales % sizeof(float) == 0;
    embp_dtype want = fmt == EMBP_TABLE_F32 ? EMBP_DT_F32 : fmt == EMBP_TABLE_BF16 ? EMBP_DT_BF16
                      : fmt == EMBP_TABLE_FP16 ? EMBP_DT_F16 : EMBP_DT_I8;
    return t->dtype == want && want != EMBP_DT_I8 &&
           (uintptr_t)t->data % embp_dtype_size(want) == 0;
}

embp_status embp_bert_load_words(embp_bert *b, const embp_safetensors *st, const char *prefix,
                                 embp_table_format fmt, embp_error *err) {
    const embp_st_tensor *t;
    size_t H = (size_t)b->H, n = (size_t)b->V * H, nsc = (size_t)b->V * sizeof(float);
    embp_qf_weight qw = {0};
    embp_status rc;
    b->word_fmt = fmt;
    if ((rc = need_tensor(b, st, prefix, "embeddings.word_embeddings.weight", &t, err)))
        return rc;
    int stored8 = embp_qf_form_of(t) == EMBP_QF_INT8;
    if (stored8 ? (rc = embp_qf_weight_read(st, t, b->V, b->H, &qw, err))
                : (rc = embp_st_expect_shape(t, b->V, b->H, err)))
        return rc;
    size_t bytes = fmt == EMBP_TABLE_F32 ? n * 4 : fmt == EMBP_TABLE_INT8 ? n + nsc : n * 2;
    b->weight_bytes += bytes;
    /* Used in place: the table is only gathered, one row a token, so its pages come in as the
     * rows are used (the finiteness scan checked them; the mapping lives as long as the folder,
     * which the model owns). */
    if (words_in_place(t, &qw, stored8, fmt)) {
        b->word_mapped = 1;
        if (stored8)
            b->word8 = embp_unconst(qw.q), b->word_scale = embp_unconst(qw.scales);
        else if (fmt == EMBP_TABLE_F32)
            b->word = embp_unconst(t->data);
        else
            b->word16 = embp_unconst(t->data);
        return EMBP_OK;
    }
    if (!stored8 && t->dtype != EMBP_DT_F32 && t->dtype != EMBP_DT_F16 && t->dtype != EMBP_DT_BF16)
        return to_f32(b->k, t, 0, 0, NULL, err); /* its dtype, named */
    int ok = fmt == EMBP_TABLE_F32    ? !!(b->word = embp_malloc_aligned(n * sizeof(float)))
             : fmt == EMBP_TABLE_INT8 ? (b->word8 = embp_malloc_aligned(n)) &&
                                            (b->word_scale = embp_malloc_aligned(nsc))
                                      : !!(b->word16 = embp_malloc_aligned(n * sizeof(uint16_t)));
    float *row = embp_malloc_aligned(H * sizeof(float));
    if (!ok || !row) {
        embp_free_aligned(row);
        return embp_fail(err, EMBP_ENOMEM, "out of memory for the word table (%zu MB)",
                         bytes >> 20);
    }
    /* One row at a time (no fp32 copy of a 151k-row table kept in bf16 or int8), the file's
     * pages released every few MB as they are read, so loading holds the table once. */
    const size_t rows_per_release = 1024;
    size_t row_bytes = stored8 ? H : H * embp_dtype_size(t->dtype);
    const char *src = stored8 ? (const char *)qw.q : (const char *)t->data;
    for (int v = 0; v < b->V && rc == EMBP_OK; v++) {
        size_t at = (size_t)v * H;
        if (stored8 && fmt == EMBP_TABLE_INT8) {
            memcpy(b->word8 + at, (const int8_t *)qw.q + at, H);
            memcpy(b->word_scale + v, (const char *)qw.scales + (size_t)v * sizeof(float),
                   sizeof(float));
        } else {
            if (stored8)
                embp_dequant_int8((const int8_t *)qw.q + at, (const float *)qw.scales + v, 1,
                                  b->H, row);
            else
                to_f32(b->k, t, at, H, row, err); /* its dtype is one of the three */
            if (fmt == EMBP_TABLE_F32)
                memcpy(b->word + at, row, H * sizeof(float));
            else if (fmt == EMBP_TABLE_INT8)
                rc = embp_quant_int8(row, 1, b->H, b->word8 + at, b->word_scale + v, err);
            else
                for (size_t c = 0; c < H; c++)
                    b->word16[at + c] = fmt == EMBP_TABLE_BF16 ? embp_f32_to_bf16(row[c])
                                                               : embp_f32_to_fp16(row[c]);
        }
        if ((size_t)(v + 1) % rows_per_release == 0 || v + 1 == b->V) {
            size_t first = (size_t)v + 1 - ((size_t)v % rows_per_release + 1);
            embp_st_release_range(st, src + first * row_bytes,
                                  ((size_t)v + 1 - first) * row_bytes);
        }
    }
    embp_free_aligned(row);
    return rc;
}

static embp_status load_embeddings(embp_bert *b, const embp_model_config *cfg,
                                   const embp_safetensors *st, embp_table_format fmt,
                                   embp_error *err) {
    const char *p = cfg->tensor_prefix;
    embp_status rc;
    if ((rc = embp_bert_load_words(b, st, p, fmt, err)) ||
        (rc = embp_bert_load_table(b, st, p, "embeddings.position_embeddings.weight", b->P, b->H, &b->pos,
                         err)) ||
        (rc = embp_bert_load_table(b, st, p, "embeddings.LayerNorm.weight", b->H, 0, &b->emb_g, err)) ||
        (rc = embp_bert_load_table(b, st, p, "embeddings.LayerNorm.bias", b->H, 0, &b->emb_b, err)))
        return rc;
    return embp_bert_load_types(b, st, p, "embeddings.token_type_embeddings.weight",
                                cfg->type_vocab_size, err);
}

/* ---------------------------------------------------------------- loading layers */

void embp_round_weights(float *w, size_t n, embp_weight_round r) {
    if (r == EMBP_ROUND_BF16)
        for (size_t i = 0; i < n; i++)
            w[i] = embp_bf16_to_f32(embp_f32_to_bf16(w[i]));
    else if (r == EMBP_ROUND_FP16)
        for (size_t i = 0; i < n; i++)
            w[i] = embp_fp16_to_f32(embp_f32_to_fp16(w[i]));
}

static embp_status quant_scratch(embp_bert_loader *ld, embp_qf_form f, embp_error *err) {
    /* each kind's scales in the codes' block, after them at a multiple of 16 bytes */
    size_t at8 = (ld->big + 15) & ~(size_t)15, at4 = (ld->big / 2 + 15) & ~(size_t)15;
    if (f == EMBP_QF_INT8 && !ld->q8 && (ld->q8 = embp_malloc(at8 + ld->maxn * sizeof(float))))
        ld->sc8 = (float *)(void *)(ld->q8 + at8);
    else if (f == EMBP_QF_INT4 && !ld->q4 &&
             (ld->q4 = embp_malloc(at4 + ld->big / 16 * sizeof(uint16_t))))
        ld->sc4 = (uint16_t *)(void *)(ld->q4 + at4);
    if ((f == EMBP_QF_INT8 && (!ld->q8 || !ld->sc8)) || (f == EMBP_QF_INT4 && (!ld->q4 || !ld->sc4)))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for the quantized-weight scratch");
    return EMBP_OK;
}

/* Copies quantized weight w (rows, K) and its scales (io/qformat.h checks both) into ld's scratch
 * from row `at`; *g gets the int4 group size, the same for every part of a linear. */
static embp_status load_quantized(const embp_bert_loader *ld, const embp_st_tensor *w, int rows, int K,
                                  int at, int *g, embp_error *err) {
    embp_qf_weight qw;
    embp_status rc = embp_qf_weight_read(ld->st, w, rows, K, &qw, err);
    if (rc != EMBP_OK)
        return rc;
    if (qw.form == EMBP_QF_INT8) {
        memcpy(ld->q8 + (size_t)at * K, qw.q, (size_t)rows * K);
        memcpy(ld->sc8 + at, qw.scales, (size_t)rows * sizeof(float));
        embp_st_release_tensor(ld->st, w);
        return EMBP_OK;
    }
    int gs = qw.group_size;
    if (*g && *g != gs)
        return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s_scale' has group size %d, its "
                         "siblings %d", w->file, w->name, gs, *g);
    *g = gs;
    memcpy(ld->q4 + (size_t)at * (K / 2), qw.q, (size_t)rows * (K / 2));
    embp_st_release_tensor(ld->st, w);
    memcpy(ld->sc4 + (size_t)at * (K / gs), qw.scales,
           (size_t)rows * (K / gs) * sizeof(uint16_t));
    return EMBP_OK;
}

embp_status embp_bert_load_linear(embp_bert *b, embp_bert_loader *ld, const char *const *names,
                                  int n, int rows, int K, int bias, int gelu, embp_linear **out,
                                  embp_error *err) {
    int each[EMBP_BERT_MAX_PARTS];
    for (int i = 0; i < n && i < EMBP_BERT_MAX_PARTS; i++)
        each[i] = rows;
    return embp_bert_load_parts(b, ld, names, each, n, K, bias, gelu, out, err);
}

/* The dense weights are packed even where the plan keeps the file's format (fp32 from F32, bf16
 * from BF16), unlike the word table: oneDNN 2.6's brgemm on weights where they are (torch's
 * (N, K), kernels/matmul.h's embp_linear_create_in_place) copies them into its blocks on every
 * call. Measured (bench/bench_in_place.c, Qwen3-0.6B's shapes, 12 layers streamed from memory,
 * on a machine at load ~20): bf16 3-4.4x slower at 1-16 rows in every run; fp32 between 0.7x and
 * 6.5x at 1-16 rows from run to run (inconclusive there), equal at 64-512. A short query would
 * pay it, so both pack; rerun the bench on an idle machine before using fp32 in place. Packing
 * reads each tensor once at load and releases its pages: a load holds one tensor of the file. */
embp_status embp_bert_load_parts(embp_bert *b, embp_bert_loader *ld, const char *const *names,
                                 const int *rows, int n, int K, int bias, int gelu,
                                 embp_linear **out, embp_error *err) {
    embp_status rc = EMBP_OK;
    char name[192];
    embp_qf_form form = EMBP_QF_FLOAT;
    int g = 0, N = 0;
    for (int i = 0; i < n; i++)
        N += rows[i];
    if (n < 1 || n > EMBP_BERT_MAX_PARTS || (size_t)N > ld->maxn || (size_t)N * K > ld->big)
        return embp_fail(err, EMBP_EINTERNAL, "loader: %d parts of %d rows x %d exceed its "
                         "scratch (%zu rows, %zu values)", n, N, K, ld->maxn, ld->big);
    for (int i = 0, at = 0; i < n; at += rows[i++]) {
        snprintf(name, sizeof name, "%s.weight", names[i]);
        const embp_st_tensor *t = find_tensor(b, ld->st, ld->prefix, name);
        embp_qf_form f = t ? embp_qf_form_of(t) : EMBP_QF_FLOAT;
        if (i > 0 && f != form && !t) /* found by fuzz_quantized: t was dereferenced */
            return embp_fail(err, EMBP_EFORMAT, "tensor '%s%s' is missing; its siblings (%s) "
                             "are quantized", ld->prefix, name, names[0]);
        if (i > 0 && f != form)
            return embp_fail(err, EMBP_EFORMAT, "%s: tensor '%s' is %s, its siblings (%s) are "
                             "not", t->file, t->name, embp_dtype_name(t->dtype), names[0]);
        form = f;
        if (f == EMBP_QF_FLOAT)
            rc = load_f32(b, ld->st, ld->prefix, name, rows[i], K, ld->w + (size_t)at * K, err);
        else if ((rc = quant_scratch(ld, f, err)) == EMBP_OK)
            rc = load_quantized(ld, t, rows[i], K, at, &g, err);
        if (rc)
            return rc;
        snprintf(name, sizeof name, "%s.bias", names[i]);
        if (bias && (rc = load_f32(b, ld->st, ld->prefix, name, rows[i], 0, ld->bias + at, err)))
            return rc;
    }
    const float *bv = bias ? ld->bias : NULL;
    embp_mm_type c = ld->prec.compute;
    int int4 = c == EMBP_MM_INT4_BF16 || c == EMBP_MM_INT4_INT8;
    if (form == EMBP_QF_INT8 && c == EMBP_MM_INT8)
        rc = embp_linear_create_s8(b->eng, ld->q8, ld->sc8, bv, K, N, gelu, out, err);
    else if (form == EMBP_QF_INT4 && int4)
        rc = embp_linear_create_int4_q(b->eng, ld->q4, ld->sc4, bv, K, N, g, c, gelu, out,
                                       &b->int4_kernel, err);
    else {
        if (form == EMBP_QF_INT8)
            embp_dequant_int8(ld->q8, ld->sc8, N, K, ld->w);
        else if (form == EMBP_QF_INT4)
            embp_dequant_int4(ld->q4, ld->sc4, N, K, g, ld->w);
        else
            embp_round_weights(ld->w, (size_t)N * K, ld->prec.round);
        if (int4)
            rc = embp_linear_create_int4(b->eng, ld->w, bv, K, N, ld->prec.group_size, c, gelu,
                                         out, &b->int4_kernel, err);
        else
            rc = embp_linear_create(b->eng, ld->w, bv, K, N, c, gelu, out, err);
    }
    if (rc)
        return rc;
    b->weight_bytes += embp_linear_bytes(*out);
    return EMBP_OK;
}

/* Loads BERT's layer-i linear of `parts` ("attention.self.query", ...: QKV is three). */
static embp_status load_linear(embp_bert *b, embp_bert_loader *ld, int layer,
                               const char *const *parts, int n, int rows, int K, int gelu,
                               embp_linear **out, embp_error *err) {
    int each[EMBP_BERT_MAX_PARTS] = {rows, rows, rows};
    return embp_bert_load_layer_parts(b, ld, "encoder.layer.", layer, parts, each, n, K, 1, gelu,
                                      out, err);
}

embp_status embp_bert_load_layer_parts(embp_bert *b, embp_bert_loader *ld, const char *layers,
                                       int layer, const char *const *parts, const int *rows,
                                       int n, int K, int bias, int gelu, embp_linear **out,
                                       embp_error *err) {
    char names[EMBP_BERT_MAX_PARTS][160];
    const char *ptrs[EMBP_BERT_MAX_PARTS];
    for (int i = 0; i < n && i < EMBP_BERT_MAX_PARTS; i++) {
        snprintf(names[i], sizeof names[i], "%s%d.%s", layers, layer, parts[i]);
        ptrs[i] = names[i];
    }
    return embp_bert_load_parts(b, ld, ptrs, rows, n, K, bias, gelu, out, err);
}

static embp_status load_ln(embp_bert *b, embp_bert_loader *ld, int layer, const char *what,
                           float **g, float **bias, embp_error *err) {
    char name[160];
    embp_status rc;
    snprintf(name, sizeof name, "encoder.layer.%d.%s.LayerNorm.weight", layer, what);
    if ((rc = embp_bert_load_table(b, ld->st, ld->prefix, name, b->H, 0, g, err)))
        return rc;
    snprintf(name, sizeof name, "encoder.layer.%d.%s.LayerNorm.bias", layer, what);
    return embp_bert_load_table(b, ld->st, ld->prefix, name, b->H, 0, bias, err);
}

static embp_status load_layer(embp_bert *b, embp_bert_loader *ld, int i, embp_error *err) {
    static const char *const qkv[3] = {"attention.self.query", "attention.self.key",
                                       "attention.self.value"};
    static const char *const out[1] = {"attention.output.dense"};
    static const char *const inter[1] = {"intermediate.dense"};
    static const char *const outp[1] = {"output.dense"};
    bert_layer *l = &b->layers[i];
    embp_status rc;
    if ((rc = load_linear(b, ld, i, qkv, 3, b->H, b->H, 0, &l->qkv, err)) ||
        (rc = load_linear(b, ld, i, out, 1, b->H, b->H, 0, &l->out, err)) ||
        (rc = load_linear(b, ld, i, inter, 1, b->I, b->H, 1, &l->ffn_in, err)) ||
        (rc = load_linear(b, ld, i, outp, 1, b->H, b->I, 0, &l->ffn_out, err)) ||
        (rc = load_ln(b, ld, i, "attention.output", &l->ln1_g, &l->ln1_b, err)) ||
        (rc = load_ln(b, ld, i, "output", &l->ln2_g, &l->ln2_b, err)))
        return rc;
    return EMBP_OK;
}

embp_status embp_bert_loader_open(embp_bert_loader *ld, const embp_safetensors *st,
                                  const char *prefix, const embp_bert_precision *prec, int maxn,
                                  int maxk, embp_error *err) {
    size_t big = (size_t)maxn * (size_t)maxk;
    float *w = embp_malloc((big + (size_t)maxn) * sizeof(float)); /* the biases after */
    *ld = (embp_bert_loader){st, prefix, *prec, w, w ? w + big : NULL, big, (size_t)maxn,
                             NULL, NULL, NULL, NULL};
    if (!ld->w) {
        embp_bert_loader_close(ld);
        return embp_fail(err, EMBP_ENOMEM, "out of memory for %zu floats of load scratch", big);
    }
    return EMBP_OK;
}

void embp_bert_loader_close(embp_bert_loader *ld) {
    embp_free(ld->w);  /* and bias */
    embp_free(ld->q8); /* and sc8 */
    embp_free(ld->q4); /* and sc4 */
    memset(ld, 0, sizeof *ld);
}

static embp_status load_layers(embp_bert *b, const embp_model_config *cfg,
                               const embp_safetensors *st, const embp_bert_precision *prec,
                               embp_error *err) {
    embp_bert_loader ld;
    int maxn = b->I > 3 * b->H ? b->I : 3 * b->H;
    embp_status rc = embp_bert_loader_open(&ld, st, cfg->tensor_prefix, prec, maxn, b->H, err);
    for (int i = 0; rc == EMBP_OK && i < b->L; i++)
        rc = load_layer(b, &ld, i, err);
    embp_bert_loader_close(&ld);
    return rc;
}

/* ---------------------------------------------------------------- scratch */

/* One block for every activation of a forward over bucket(max_tokens) rows. */
static embp_status alloc_arena(embp_bert *b, embp_error *err) {
    size_t Tp = (size_t)embp_mm_bucket(b->max_tokens), H = (size_t)b->H;
    b->attn_per_thread = (embp_attn_scratch_floats(b->max_len, b->D) + 15) / 16 * 16;
    size_t sizes[6] = {Tp * H, Tp * H, Tp * H, Tp * 3 * H, Tp * (size_t)b->I,
                       b->attn_per_thread * (size_t)b->n_threads};
    float **ptrs[6] = {&b->x, &b->tmp, &b->ctx, &b->qkv, &b->ffn, &b->attn};
    return embp_bert_arena(&b->arena, sizes, ptrs, 6, b->max_tokens, err);
}

embp_status embp_bert_arena(void **arena, const size_t *sizes, float **const *ptrs, int n,
                            int max_tokens, embp_error *err) {
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (sizes[i] + 15) / 16 * 16;
    if (!(*arena = embp_malloc_aligned(total * sizeof(float))))
        return embp_fail(err, EMBP_ENOMEM, "out of memory for %zu MB of forward scratch "
                         "(max_batch_tokens %d)", total * 4 >> 20, max_tokens);
    /* Not cleared: an allocation this size is fresh zero pages from the kernel, which take no
     * memory until a batch that large touches them, so resident memory follows the largest
     * batch run, not the budget. Rows past a batch's tokens are never read into its results. */
    float *p = *arena;
    for (int i = 0; i < n; i++) {
        *ptrs[i] = p;
        p += (sizes[i] + 15) / 16 * 16;
    }
    return EMBP_OK;
}

/* ---------------------------------------------------------------- load / free */

static embp_status check_config(const embp_model_config *cfg, int max_tokens, int max_len,
                                embp_error *err) {
    if (cfg->hidden < 1 || cfg->heads < 1 || cfg->hidden % cfg->heads || cfg->layers < 1 ||
        cfg->intermediate < 1 || cfg->vocab_size < 1 || cfg->max_position < 1)
        return embp_fail(err, EMBP_ECONFIG, "config.json: hidden_size %d, num_attention_heads "
                         "%d, num_hidden_layers %d, intermediate_size %d, vocab_size %d, "
                         "max_position_embeddings %d do not describe a BERT", cfg->hidden,
                         cfg->heads, cfg->layers, cfg->intermediate, cfg->vocab_size,
                         cfg->max_position);
    if (max_len < 1 || max_len > cfg->max_position - cfg->position_offset || max_tokens < max_len)
        return embp_fail(err, EMBP_EINVAL, "max sequence length %d must be in 1..%d "
                         "(max_position_embeddings - first position %d) and <= max_batch_tokens "
                         "%d", max_len, cfg->max_position - cfg->position_offset,
                         cfg->position_offset, max_tokens);
    return EMBP_OK;
}

embp_status embp_bert_load(const embp_model_config *cfg, const embp_safetensors *st,
                           const embp_plan *plan, int max_tokens, int max_len,
                           int n_threads, embp_bert **out, embp_error *err) {
    return embp_bert_load_renamed(cfg, st, plan, max_tokens, max_len, n_threads, NULL, out, err);
}

embp_status embp_bert_load_renamed(const embp_model_config *cfg, const embp_safetensors *st,
                                   const embp_plan *plan, int max_tokens, int max_len,
                                   int n_threads, embp_bert_rename rename, embp_bert **out,
                                   embp_error *err) {
    embp_status rc;
    *out = NULL;
    if ((rc = check_config(cfg, max_tokens, max_len, err)))
        return rc;
    embp_bert *b = embp_calloc(1, sizeof *b);
    if (!b)
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    *b = (embp_bert){.H = cfg->hidden, .L = cfg->layers, .NH = cfg->heads,
                     .D = cfg->hidden / cfg->heads, .I = cfg->intermediate, .V = cfg->vocab_size,
                     .P = cfg->max_position, .eps = cfg->layer_norm_eps,
                     .pos0 = cfg->position_offset, .pad = cfg->pad_token_id, .rename = rename,
                     .max_tokens = max_tokens, .max_len = max_len,
                     .n_threads = n_threads > 0 ? n_threads : embp_cpu_get()->n_cores,
                     .k = embp_kernels_pick(embp_cpu_get())};
    if (b->n_threads < 1)
        b->n_threads = 1;
    embp_bert_precision bp;
    const embp_bert_precision *prec = &bp;
    embp_bert_precision_of(plan, &bp);
    if (!(b->layers = embp_calloc((size_t)b->L, sizeof *b->layers))) {
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory");
        goto fail;
    }
    omp_set_num_threads(b->n_threads);
    if ((rc = embp_mm_engine_create(b->k, max_tokens, &b->eng, err)) ||
        (rc = load_embeddings(b, cfg, st, prec->table, err)) || (rc = load_layers(b, cfg, st, prec, err)) ||
        (rc = alloc_arena(b, err)))
        goto fail;
    *out = b;
    return EMBP_OK;
fail:
    embp_bert_free(b);
    return rc;
}

void embp_bert_free(embp_bert *b) {
    if (!b)
        return;
    for (int i = 0; b->layers && i < b->L; i++) {
        bert_layer *l = &b->layers[i];
        embp_linear_free(l->qkv);
        embp_linear_free(l->out);
        embp_linear_free(l->ffn_in);
        embp_linear_free(l->ffn_out);
        embp_free_aligned(l->ln1_g);
        embp_free_aligned(l->ln1_b);
        embp_free_aligned(l->ln2_g);
        embp_free_aligned(l->ln2_b);
    }
    embp_free(b->layers);
    embp_mm_engine_free(b->eng);
    if (!b->word_mapped) {
        embp_free_aligned(b->word);
        embp_free_aligned(b->word16);
        embp_free_aligned(b->word8);
        embp_free_aligned(b->word_scale);
    }
    embp_free_aligned(b->pos);
    embp_free_aligned(b->type);
    embp_free_aligned(b->emb_g);
    embp_free_aligned(b->emb_b);
    embp_free_aligned(b->rel_bias);
    embp_free_aligned(b->arena);
    embp_free(b);
}

const char *embp_bert_rename_layer(const char *bert_name, const char *layers,
                                   const char *const (*names)[2], size_t n_names, char *buf,
                                   size_t size) {
    int layer, at = 0;
    if (sscanf(bert_name, "encoder.layer.%d.%n", &layer, &at) != 1 || at == 0)
        return bert_name;
    const char *part = bert_name + at;
    for (size_t i = 0; i < n_names; i++) {
        size_t n = strlen(names[i][0]);
        if (strncmp(part, names[i][0], n) == 0) {
            snprintf(buf, size, "%s%d.%s%s", layers, layer, names[i][1], part + n);
            return buf;
        }
    }
    return bert_name;
}

int embp_bert_named_dense(const char *name, const char *layers, const char *const *ends,
                          size_t n_ends) {
    if (!strstr(name, layers))
        return 0;
    size_t n = strlen(name);
    for (size_t i = 0; i < n_ends; i++) {
        size_t e = strlen(ends[i]);
        if (n > e && strcmp(name + n - e, ends[i]) == 0)
            return 1;
    }
    return 0;
}

int embp_bert_dense_weight(const char *name) {
    static const char *const ends[] = {".attention.self.query.weight", ".attention.self.key.weight",
                                       ".attention.self.value.weight",
                                       ".attention.output.dense.weight",
                                       ".intermediate.dense.weight", ".output.dense.weight"};
    return embp_bert_named_dense(name, "encoder.layer.", ends, sizeof ends / sizeof ends[0]);
}
