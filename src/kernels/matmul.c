/* The oneDNN matmul wrapper: packed weights, primitives cached per M bucket, and the bf16/int8
 * activation conversions around them. See matmul.h for the contract. */
#include "kernels/matmul.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

#include <omp.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "kernels/dnnl_compat.h"
#include "kernels/int4.h"
#include "kernels/quant.h"

struct embp_mm_engine {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    const embp_kernels *k;
    int max_m;     /* bucket of the largest M */
    void *act;     /* bf16 or u8 activations (max_m, K) */
    size_t act_bytes;
    int32_t *acc;  /* int8 accumulators (max_m, N) */
    size_t acc_bytes;
    float *xs;     /* per-row activation scales (max_m) */
    void *act2;    /* the next linear's u8 or bf16 activations, from this one's epilogue */
    size_t act2_bytes;
    float *xs2;
    const embp_linear *ready_for; /* act2/xs2 hold ready_x quantized for ready_for, or NULL */
    const float *ready_x;
    int ready_m;
    uint16_t *wdq; /* an int4 linear's weights dequantized to bf16 for oneDNN (DQ_MIN_ROWS) */
    size_t wdq_bytes;
    int wq_max;    /* int8 weights lie in [-wq_max, wq_max]: 127 with VNNI, else 63 */
    embp_prof *prof; /* NULL unless a benchmark profiles */
    embp_linear **linears; /* the oneDNN linears made on it, for embp_mm_engine_prepare */
    int n_linears, cap_linears;
};

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
    char impl[48];
} mm_slot;

struct embp_linear {
    embp_mm_engine *e;
    int K, N, gelu;
    int dst_bf16;           /* bf16 chained into bf16: the primitives write bf16 (to act2) */
    embp_mm_type type;
    dnnl_memory_desc_t wmd; /* the packed (blocked) layout the primitives expect; owned */
    void *wbuf;
    size_t wbytes;
    dnnl_memory_t wmem, bmem;
    float *bias;            /* (N) */
    float *scales;          /* int8: (N) per output channel */
    int32_t *wsum;          /* int8: (N) sum over k of the s8 weights, for the zero point */
    const embp_int4_kernel *k4; /* int4 types: the kernel and its packed weights */
    embp_int4_weights i4;
    int dq;                 /* int4/bf16 that runs oneDNN bf16 on its dequantized weights at
                             * DQ_MIN_ROWS rows and more (wmd, wmem: e->wdq, set per call) */
    int n_slots;
    mm_slot *slots;
};

#define DNNL_TRY(call, what)                                                                   \
    do {                                                                                       \
        dnnl_status_t st_ = (call);                                                            \
        if (st_ != dnnl_success) {                                                             \
            rc = embp_fail(err, EMBP_EINTERNAL, "oneDNN %s failed (status %d)", what, (int)st_); \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

const char *embp_mm_type_str(embp_mm_type t) {
    switch (t) {
    case EMBP_MM_BF16:
        return "bf16";
    case EMBP_MM_INT8:
        return "int8";
    case EMBP_MM_INT4_BF16:
        return "int4/bf16";
    case EMBP_MM_INT4_INT8:
        return "int4/int8";
    case EMBP_MM_F32:
        break;
    }
    return "fp32";
}

/* The bucket rule (matmul.h), the one place it is written: a row count up to `upto` rounds up
 * to a multiple of `step`. */
static const struct {
    int upto, step;
} k_buckets[] = {{32, 1}, {64, 4}, {256, 16}, {2048, 128}, {INT_MAX, 512}};

int embp_mm_bucket(int M) {
    int i = 0;
    while (M > k_buckets[i].upto)
        i++;
    int step = k_buckets[i].step;
    return (M + step - 1) / step * step;
}

/* The cache slot of a bucket Mb: the buckets below it, counted range by range. */
static int slot_of(int Mb) {
    int slot = 0, lo = 0, i = 0;
    for (; Mb > k_buckets[i].upto; i++) {
        slot += (k_buckets[i].upto - lo) / k_buckets[i].step;
        lo = k_buckets[i].upto;
    }
    return slot + (Mb - lo) / k_buckets[i].step - 1;
}

/* From this many rows an int4/bf16 linear runs oneDNN's bf16 matmul on its weights dequantized
 * to bf16 per call instead of the int4 kernel, which reads 4x fewer weight bytes. The dequant
 * (embp_int4_dequant_bf16) costs ~0.2 ns a weight on 2 threads, 0.12 ms for MiniLM's ffn; the
 * GEMM alone (bench_int4, 2 threads) at K 1536 N 384 is int4 0.205 / oneDNN 0.156 ms at M 128,
 * 0.352 / 0.298 at 256, 0.702 / 0.599 at 512: the dequant eats the gain up to ~512 rows, and
 * at 4096 the pass runs 6-13% faster. */
#define DQ_MIN_ROWS 512
#define DQ_STR2(n) #n
#define DQ_STR(n) DQ_STR2(n)

/* ---------------------------------------------------------------- engine */

/* The oneDNN ISA level of a (masked) CPU: the highest one whose instructions it has. */
static dnnl_cpu_isa_t isa_of(const embp_cpu *c) {
    if (!embp_cpu_has_avx2(c))
        return dnnl_cpu_isa_sse41; /* oneDNN's floor; embp's "scalar" level */
    if (!embp_cpu_has_avx512(c))
        return c->avx_vnni ? dnnl_cpu_isa_avx2_vnni : dnnl_cpu_isa_avx2;
    if (c->amx_tile && c->amx_int8 && c->amx_bf16 && c->avx512_bf16 && c->avx512_vnni)
        return dnnl_cpu_isa_avx512_core_amx;
    if (c->avx512_bf16 && c->avx512_vnni)
        return dnnl_cpu_isa_avx512_core_bf16;
    return c->avx512_vnni ? dnnl_cpu_isa_avx512_core_vnni : dnnl_cpu_isa_avx512_core;
}

static dnnl_status_t g_isa_status = dnnl_success;
static once_flag g_isa_once = ONCE_FLAG_INIT;

/* The oneDNN half of the CPU probe (core/cpu.h): when EMBP_CPU_FEATURES masks a feature, oneDNN
 * is capped at the masked CPU's level (dnnl_set_max_cpu_isa), so a masked run uses the smaller
 * machine's kernels in oneDNN too. The cap is process-wide and only takes before oneDNN's first
 * dispatch, so it is set once, here, before embp makes its first oneDNN object; core/ does not
 * link oneDNN. Without a mask oneDNN is left to choose. */
static void cap_isa_once(void) {
    const embp_cpu *c = embp_cpu_get();
    if (c->masked[0])
        g_isa_status = dnnl_set_max_cpu_isa(isa_of(c));
}

embp_status embp_mm_engine_create(const embp_kernels *k, int max_m, embp_mm_engine **out,
                                  embp_error *err) {
    embp_status rc = EMBP_OK;
    *out = NULL;
    if (max_m < 1)
        return embp_fail(err, EMBP_EINVAL, "matmul engine: max_m %d must be >= 1", max_m);
    embp_mm_engine *e = embp_calloc(1, sizeof *e);
    if (!e)
        return embp_fail(err, EMBP_ENOMEM, "matmul engine: out of memory");
    e->k = k;
    e->max_m = embp_mm_bucket(max_m);
    /* Without VNNI, oneDNN's u8 x s8 kernels sum pairs of products in int16 (vpmaddubsw),
     * which saturates past 32767 = 255 * 64.2 * 2: 7-bit weights keep every pair in range. */
    const embp_cpu *cpu = embp_cpu_get();
    e->wq_max = cpu->avx512_vnni || cpu->avx_vnni ? 127 : 63;
    call_once(&g_isa_once, cap_isa_once);
    if (g_isa_status != dnnl_success) {
        rc = embp_fail(err, EMBP_EINTERNAL, "EMBP_CPU_FEATURES: oneDNN refused the ISA cap "
                       "(status %d; something used oneDNN before embp)", (int)g_isa_status);
        goto fail;
    }
    DNNL_TRY(dnnl_engine_create(&e->eng, dnnl_cpu, 0), "engine_create");
    DNNL_TRY(dnnl_stream_create(&e->stream, e->eng, dnnl_stream_default_flags), "stream_create");
    e->xs = embp_malloc_aligned((size_t)e->max_m * sizeof(float));
    e->xs2 = embp_malloc_aligned((size_t)e->max_m * sizeof(float));
    if (!e->xs || !e->xs2) {
        rc = embp_fail(err, EMBP_ENOMEM, "matmul engine: out of memory for %d scales", e->max_m);
        goto fail;
    }
    *out = e;
    return EMBP_OK;
fail:
    embp_mm_engine_free(e);
    return rc;
}

void embp_mm_engine_set_prof(embp_mm_engine *e, embp_prof *p) {
    e->prof = p;
}

void embp_mm_engine_free(embp_mm_engine *e) {
    if (!e)
        return;
    if (e->stream)
        dnnl_stream_destroy(e->stream);
    if (e->eng)
        dnnl_engine_destroy(e->eng);
    embp_free_aligned(e->act);
    embp_free_aligned(e->acc);
    embp_free_aligned(e->xs);
    embp_free_aligned(e->act2);
    embp_free_aligned(e->xs2);
    embp_free_aligned(e->wdq);
    embp_free(e->linears);
    embp_free(e);
}

/* l joins e's list (made) or leaves it. */
static embp_status enlist(embp_mm_engine *e, embp_linear *l, embp_error *err) {
    if (e->n_linears == e->cap_linears) {
        int cap = e->cap_linears ? 2 * e->cap_linears : 64;
        void *p = embp_realloc(e->linears, (size_t)cap * sizeof *e->linears);
        if (!p)
            return embp_fail(err, EMBP_ENOMEM, "matmul: out of memory");
        e->linears = p, e->cap_linears = cap;
    }
    e->linears[e->n_linears++] = l;
    return EMBP_OK;
}

static void delist(embp_mm_engine *e, const embp_linear *l) {
    for (int i = 0; i < e->n_linears; i++)
        if (e->linears[i] == l) {
            e->linears[i] = e->linears[--e->n_linears];
            return;
        }
}

/* Grows a scratch buffer to n bytes: at load only, never in a forward. */
static embp_status reserve(void **buf, size_t *have, size_t n, embp_error *err) {
    if (n <= *have)
        return EMBP_OK;
    void *p = embp_malloc_aligned(n);
    if (!p)
        return embp_fail(err, EMBP_ENOMEM, "matmul: out of memory for %zu bytes of scratch", n);
    embp_free_aligned(*buf);
    *buf = p;
    *have = n;
    return EMBP_OK;
}

/* ---------------------------------------------------------------- primitives */

/* The type a linear's oneDNN primitives compute in: an int4/bf16 one's dequantized weights are
 * bf16 (DQ_MIN_ROWS). */
static embp_mm_type dnnl_type(const embp_linear *l) {
    return l->type == EMBP_MM_INT4_BF16 ? EMBP_MM_BF16 : l->type;
}

/* Whether a call of l with M rows runs a oneDNN primitive (not the int4 kernel). */
static int on_dnnl(const embp_linear *l, int M) {
    return !l->k4 || (l->dq && M >= DQ_MIN_ROWS);
}

static dnnl_data_type_t src_dt(embp_mm_type t) {
    return t == EMBP_MM_BF16 ? dnnl_bf16 : t == EMBP_MM_INT8 ? dnnl_u8 : dnnl_f32;
}
static dnnl_data_type_t wei_dt(embp_mm_type t) {
    return t == EMBP_MM_BF16 ? dnnl_bf16 : t == EMBP_MM_INT8 ? dnnl_s8 : dnnl_f32;
}

/* A primitive descriptor for (M, K) x (K, N): weights in wmd (or any layout when NULL),
 * bias and GELU fused unless int8 (whose epilogue is ours, after the s32 result). */
static embp_status make_pd(const embp_linear *l, int M, embp_dnnl_cmd wmd,
                           dnnl_primitive_desc_t *pd, embp_error *err) {
    embp_status rc = EMBP_OK;
    embp_mm_type t = dnnl_type(l);
    int int8 = t == EMBP_MM_INT8;
    dnnl_memory_desc_t smd = EMBP_DNNL_MD_INIT, wany = EMBP_DNNL_MD_INIT;
    dnnl_memory_desc_t bmd = EMBP_DNNL_MD_INIT, dmd = EMBP_DNNL_MD_INIT;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    *pd = NULL;
    DNNL_TRY(embp_dnnl_md_2d(&smd, M, l->K, src_dt(t), dnnl_ab), "src md");
    DNNL_TRY(embp_dnnl_md_2d(&wany, l->K, l->N, wei_dt(t), dnnl_format_tag_any),
             "weights md");
    DNNL_TRY(embp_dnnl_md_2d(&bmd, 1, l->N, dnnl_f32, dnnl_ab), "bias md");
    DNNL_TRY(embp_dnnl_md_2d(&dmd, M, l->N, int8 ? dnnl_s32 : l->dst_bf16 ? dnnl_bf16 : dnnl_f32,
                             dnnl_ab),
             "dst md");
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "attr_create");
    if (l->gelu && !int8) {
        DNNL_TRY(dnnl_post_ops_create(&po), "post_ops_create");
        DNNL_TRY(embp_dnnl_append_eltwise(po, dnnl_eltwise_gelu_erf, 0.0f, 0.0f),
                 "append gelu_erf");
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
    }
    dnnl_status_t st = embp_dnnl_matmul_pd(pd, l->e->eng, embp_dnnl_md_ref(&smd),
                                           wmd ? wmd : embp_dnnl_md_ref(&wany),
                                           int8 ? NULL : embp_dnnl_md_ref(&bmd),
                                           embp_dnnl_md_ref(&dmd), attr);
    if (st == dnnl_unimplemented)
        rc = embp_fail(err, EMBP_EDEVICE, "matmul: oneDNN has no %s kernel for this CPU",
                       embp_mm_type_str(t));
    else
        DNNL_TRY(st, "matmul pd_create");
fail:
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    embp_dnnl_md_free(&smd);
    embp_dnnl_md_free(&wany);
    embp_dnnl_md_free(&bmd);
    embp_dnnl_md_free(&dmd);
    return rc;
}

static void slot_clear(mm_slot *s) {
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->src)
        dnnl_memory_destroy(s->src);
    if (s->dst)
        dnnl_memory_destroy(s->dst);
    memset(s, 0, sizeof *s);
}

/* The cached primitive for bucket(M), created on first use with the packed weight layout. */
static embp_status get_slot(embp_linear *l, int M, mm_slot **out, embp_error *err) {
    embp_status rc = EMBP_OK;
    int Mb = embp_mm_bucket(M), i = slot_of(Mb);
    if (M < 1 || i >= l->n_slots)
        return embp_fail(err, EMBP_EINVAL, "matmul: M %d outside 1..%d", M, l->e->max_m);
    mm_slot *s = &l->slots[i];
    *out = s;
    if (s->prim)
        return EMBP_OK;
    dnnl_primitive_desc_t pd = NULL;
    if ((rc = make_pd(l, Mb, embp_dnnl_md_ref(&l->wmd), &pd, err)) != EMBP_OK)
        return rc;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(s->impl, sizeof s->impl, "%s", impl);
    DNNL_TRY(dnnl_primitive_create(&s->prim, pd), "matmul primitive_create");
    DNNL_TRY(dnnl_memory_create(&s->src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                                l->e->eng, DNNL_MEMORY_NONE),
             "src memory");
    DNNL_TRY(dnnl_memory_create(&s->dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
                                l->e->eng, DNNL_MEMORY_NONE),
             "dst memory");
    dnnl_primitive_desc_destroy(pd);
    return EMBP_OK;
fail:
    dnnl_primitive_desc_destroy(pd);
    slot_clear(s);
    return rc;
}

/* ---------------------------------------------------------------- weights */

/* Reorders w, (N, K) row-major of type wei_dt (that is (K, N) in oneDNN's "ba" layout), into
 * the blocked layout a primitive at a mid-size M prefers, into an owned buffer. */
static embp_status pack_weights(embp_linear *l, const void *w, embp_error *err) {
    embp_status rc = EMBP_OK;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t from = NULL;
    dnnl_memory_desc_t fmd = EMBP_DNNL_MD_INIT;
    if ((rc = make_pd(l, embp_mm_bucket(l->e->max_m < 128 ? l->e->max_m : 128), NULL, &pd,
                      err)) != EMBP_OK)
        return rc;
    DNNL_TRY(embp_dnnl_md_copy(&l->wmd, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md,
                                                                      0)),
             "packed weights md");
    l->wbytes = dnnl_memory_desc_get_size(embp_dnnl_md_ref(&l->wmd));
    if (!(l->wbuf = embp_malloc_aligned(l->wbytes))) {
        rc = embp_fail(err, EMBP_ENOMEM, "matmul: out of memory for %zu bytes of weights",
                       l->wbytes);
        goto fail;
    }
    DNNL_TRY(embp_dnnl_md_2d(&fmd, l->K, l->N, wei_dt(l->type), dnnl_ba), "weights md");
    DNNL_TRY(dnnl_memory_create(&from, embp_dnnl_md_ref(&fmd), l->e->eng, (void *)(uintptr_t)w),
             "weights memory");
    DNNL_TRY(dnnl_memory_create(&l->wmem, embp_dnnl_md_ref(&l->wmd), l->e->eng, l->wbuf),
             "packed memory");
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, embp_dnnl_md_ref(&fmd), l->e->eng,
                                                embp_dnnl_md_ref(&l->wmd), l->e->eng, NULL),
             "reorder pd_create");
    DNNL_TRY(dnnl_primitive_create(&reorder, rpd), "reorder create");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, l->wmem}};
    DNNL_TRY(dnnl_primitive_execute(reorder, l->e->stream, 2, args), "reorder execute");
    DNNL_TRY(dnnl_stream_wait(l->e->stream), "stream_wait");
fail:
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (from)
        dnnl_memory_destroy(from);
    embp_dnnl_md_free(&fmd);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* w (N, K) row-major, that is (K, N) in oneDNN's "ba" layout, used where it is: the primitives
 * are made for that layout, nothing is copied, and w must outlive l. */
static embp_status use_in_place(embp_linear *l, const void *w, embp_error *err) {
    embp_status rc = EMBP_OK;
    DNNL_TRY(embp_dnnl_md_2d(&l->wmd, l->K, l->N, wei_dt(l->type), dnnl_ba), "weights md");
    l->wbytes = dnnl_memory_desc_get_size(embp_dnnl_md_ref(&l->wmd));
    DNNL_TRY(dnnl_memory_create(&l->wmem, embp_dnnl_md_ref(&l->wmd), l->e->eng, embp_unconst(w)),
             "weights memory");
fail:
    return rc;
}

/* The primitive slots of l (one per bucket) and its bias as a oneDNN memory over l->bias. */
static embp_status slots_init(embp_linear *l, embp_error *err) {
    embp_status rc = EMBP_OK;
    l->n_slots = slot_of(l->e->max_m) + 1;
    if (!(l->slots = embp_calloc((size_t)l->n_slots, sizeof *l->slots)))
        return embp_fail(err, EMBP_ENOMEM, "matmul: out of memory");
    dnnl_memory_desc_t bmd = EMBP_DNNL_MD_INIT;
    dnnl_status_t st = embp_dnnl_md_2d(&bmd, 1, l->N, dnnl_f32, dnnl_ab);
    if (st == dnnl_success)
        st = dnnl_memory_create(&l->bmem, embp_dnnl_md_ref(&bmd), l->e->eng, l->bias);
    embp_dnnl_md_free(&bmd);
    DNNL_TRY(st, "bias memory");
fail:
    return rc;
}

/* The parts every type shares: the struct, bias, slots, engine scratch; then packs w (or, in
 * place, takes it as it is). */
static embp_status linear_init(embp_mm_engine *e, const void *w, const float *bias, int K, int N,
                               embp_mm_type t, int gelu, int in_place, embp_linear **out,
                               embp_error *err) {
    embp_status rc = EMBP_OK;
    embp_linear *l = embp_calloc(1, sizeof *l);
    if (!l)
        return embp_fail(err, EMBP_ENOMEM, "matmul: out of memory");
    *l = (embp_linear){.e = e, .K = K, .N = N, .gelu = gelu, .type = t};
    l->bias = embp_calloc((size_t)N, sizeof(float));
    if (!l->bias) {
        rc = embp_fail(err, EMBP_ENOMEM, "matmul: out of memory");
        goto fail;
    }
    if (bias)
        memcpy(l->bias, bias, (size_t)N * sizeof(float));
    if ((rc = slots_init(l, err)) != EMBP_OK)
        goto fail;
    size_t row = t == EMBP_MM_BF16 ? 2 : 1;
    if (t != EMBP_MM_F32 && (rc = reserve(&e->act, &e->act_bytes, (size_t)e->max_m * K * row,
                                          err)) != EMBP_OK)
        goto fail;
    if ((t == EMBP_MM_INT8 || t == EMBP_MM_BF16) &&
        (rc = reserve(&e->act2, &e->act2_bytes, e->act_bytes, err)) != EMBP_OK)
        goto fail;
    if (t == EMBP_MM_INT8 && (rc = reserve((void **)&e->acc, &e->acc_bytes,
                                           (size_t)e->max_m * N * sizeof(int32_t), err)) != EMBP_OK)
        goto fail;
    if ((rc = in_place ? use_in_place(l, w, err) : pack_weights(l, w, err)) != EMBP_OK ||
        (rc = enlist(e, l, err)) != EMBP_OK)
        goto fail;
    *out = l;
    return EMBP_OK;
fail:
    embp_linear_free(l);
    return rc;
}

static embp_status check_shape(int K, int N, embp_error *err) {
    if (K < 1 || N < 1)
        return embp_fail(err, EMBP_EINVAL, "matmul: shape K %d x N %d must be positive", K, N);
    return EMBP_OK;
}

embp_status embp_linear_create(embp_mm_engine *e, const float *w, const float *bias, int K, int N,
                               embp_mm_type compute, int gelu, embp_linear **out,
                               embp_error *err) {
    *out = NULL;
    embp_status rc = check_shape(K, N, err);
    if (rc == EMBP_OK && compute != EMBP_MM_F32 && compute != EMBP_MM_BF16 &&
        compute != EMBP_MM_INT8) /* int4 weights have their own constructor */
        rc = embp_fail(err, EMBP_EINVAL, "matmul: embp_linear_create makes fp32, bf16 or int8 "
                       "linears, not %s (embp_linear_create_int4 does)", embp_mm_type_str(compute));
    if (rc != EMBP_OK || compute == EMBP_MM_F32)
        return rc ? rc : linear_init(e, w, bias, K, N, EMBP_MM_F32, gelu, 0, out, err);
    size_t n = (size_t)K * N;
    if (compute == EMBP_MM_BF16) {
        uint16_t *wb = embp_malloc(n * sizeof *wb);
        if (!wb)
            return embp_fail(err, EMBP_ENOMEM, "matmul: out of memory converting weights");
        e->k->f32_to_bf16(w, wb, n);
        rc = linear_init(e, wb, bias, K, N, EMBP_MM_BF16, gelu, 0, out, err);
        embp_free(wb);
        return rc;
    }
    /* int8: per output channel (a row of w), quant.h's rtn (scale = max |w| / 127), then the
     * same path as weights quantized ahead (embp quantize), so both give identical bytes. */
    int8_t *q = embp_malloc(n);
    float *sc = embp_malloc((size_t)N * sizeof *sc);
    if (!q || !sc)
        rc = embp_fail(err, EMBP_ENOMEM, "matmul: out of memory quantizing weights");
    else if ((rc = embp_quant_int8(w, N, K, q, sc, err)) == EMBP_OK)
        rc = embp_linear_create_s8(e, q, sc, bias, K, N, gelu, out, err);
    embp_free(q);
    embp_free(sc);
    return rc;
}

embp_status embp_linear_create_in_place(embp_mm_engine *e, const void *w, embp_mm_type t,
                                        const float *bias, int K, int N, int gelu,
                                        embp_linear **out, embp_error *err) {
    *out = NULL;
    embp_status rc = check_shape(K, N, err);
    if (rc == EMBP_OK && t != EMBP_MM_F32 && t != EMBP_MM_BF16)
        rc = embp_fail(err, EMBP_EINVAL, "matmul: weights in place are fp32 or bf16, not %s",
                       embp_mm_type_str(t));
    return rc ? rc : linear_init(e, w, bias, K, N, t, gelu, 1, out, err);
}

/* Rows of w (N, K) with values past wq_max are requantized into range: w' = round(w f),
 * scale' = scale / f with f = wq_max / max |row|. Writes w' to q and scale' to sc. */
static void fit_s8(const int8_t *w, const float *scales, int K, int N, int wq_max, int8_t *q,
                   float *sc) {
    for (int r = 0; r < N; r++) {
        const int8_t *row = w + (size_t)r * K;
        int amax = 0;
        for (int k = 0; k < K; k++)
            amax = abs(row[k]) > amax ? abs(row[k]) : amax;
        float f = amax > wq_max ? (float)wq_max / (float)amax : 1.0f;
        sc[r] = scales[r] / f;
        for (int k = 0; k < K; k++)
            q[(size_t)r * K + k] = f == 1.0f ? row[k] : (int8_t)nearbyintf((float)row[k] * f);
    }
}

embp_status embp_linear_create_s8(embp_mm_engine *e, const int8_t *w, const float *scales,
                                  const float *bias, int K, int N, int gelu, embp_linear **out,
                                  embp_error *err) {
    *out = NULL;
    embp_status rc = check_shape(K, N, err);
    if (rc != EMBP_OK)
        return rc;
    int8_t *q = embp_malloc((size_t)K * N);
    float *sc = embp_malloc((size_t)N * sizeof(float));
    int32_t *ws = embp_malloc((size_t)N * sizeof(int32_t));
    if (!q || !sc || !ws) {
        rc = embp_fail(err, EMBP_ENOMEM, "matmul: out of memory for %d x %d int8 weights", N, K);
        goto done;
    }
    fit_s8(w, scales, K, N, e->wq_max, q, sc);
    for (int r = 0; r < N; r++) {
        int32_t sum = 0;
        for (int k = 0; k < K; k++)
            sum += q[(size_t)r * K + k];
        ws[r] = sum;
    }
    if ((rc = linear_init(e, q, bias, K, N, EMBP_MM_INT8, gelu, 0, out, err)) != EMBP_OK)
        goto done;
    (*out)->scales = sc, (*out)->wsum = ws;
    sc = NULL, ws = NULL;
done:
    embp_free(q);
    embp_free(sc);
    embp_free(ws);
    return rc;
}

/* ---------------------------------------------------------------- int4 */

embp_status embp_linear_create_int4(embp_mm_engine *e, const float *w, const float *bias, int K,
                                    int N, int g, embp_mm_type compute, int gelu,
                                    embp_linear **out, const char **kernel_name,
                                    embp_error *err) {
    *out = NULL;
    embp_status rc = check_shape(K, N, err);
    if (rc == EMBP_OK)
        rc = embp_quant_int4_check(K, g, err);
    if (rc != EMBP_OK)
        return rc;
    uint8_t *q = embp_malloc((size_t)N * (size_t)(K / 2));
    uint16_t *sc = embp_malloc((size_t)N * (size_t)(K / g) * sizeof *sc);
    if (!q || !sc)
        rc = embp_fail(err, EMBP_ENOMEM, "matmul: out of memory quantizing %d x %d to int4", N, K);
    else if ((rc = embp_quant_int4(w, N, K, g, q, sc, err)) == EMBP_OK)
        rc = embp_linear_create_int4_q(e, q, sc, bias, K, N, g, compute, gelu, out, kernel_name,
                                       err);
    embp_free(q);
    embp_free(sc);
    return rc;
}

/* Sets l up to run oneDNN's bf16 matmul on its weights dequantized per call (DQ_MIN_ROWS), if
 * oneDNN takes them in the int4 panels' own order (BA16a16b2a) with its brgemm kernel; else l
 * stays on the int4 kernel at every M. */
static embp_status dq_init(embp_linear *l, embp_error *err) {
    embp_status rc = EMBP_OK;
    embp_mm_engine *e = l->e;
    dnnl_primitive_desc_t pd = NULL;
    const char *impl = NULL;
    if ((rc = slots_init(l, err)) != EMBP_OK)
        return rc;
    DNNL_TRY(embp_dnnl_md_2d(&l->wmd, l->K, l->N, dnnl_bf16, dnnl_BA16a16b2a), "weights md");
    if (make_pd(l, embp_mm_bucket(DQ_MIN_ROWS), embp_dnnl_md_ref(&l->wmd), &pd, NULL) != EMBP_OK)
        return EMBP_OK;
    int brg = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
              impl && strncmp(impl, "brg", 3) == 0;
    dnnl_primitive_desc_destroy(pd);
    if (!brg)
        return EMBP_OK;
    DNNL_TRY(dnnl_memory_create(&l->wmem, embp_dnnl_md_ref(&l->wmd), e->eng, DNNL_MEMORY_NONE),
             "weights memory");
    if ((rc = reserve((void **)&e->wdq, &e->wdq_bytes,
                      dnnl_memory_desc_get_size(embp_dnnl_md_ref(&l->wmd)), err)) != EMBP_OK ||
        (rc = enlist(e, l, err)) != EMBP_OK)
        return rc;
    l->dq = 1;
fail:
    return rc;
}

embp_status embp_linear_create_int4_q(embp_mm_engine *e, const uint8_t *q, const uint16_t *scales,
                                      const float *bias, int K, int N, int g,
                                      embp_mm_type compute, int gelu, embp_linear **out,
                                      const char **kernel_name, embp_error *err) {
    *out = NULL;
    embp_status rc = check_shape(K, N, err);
    if (rc == EMBP_OK)
        rc = embp_quant_int4_check(K, g, err);
    if (rc != EMBP_OK)
        return rc;
    const embp_int4_kernel *k4 = e->k->int4[compute == EMBP_MM_INT4_INT8];
    if (!k4)
        return embp_fail(err, EMBP_EDEVICE, "int4 weights with int8 compute need AVX512_VNNI, "
                         "not found on this CPU");
    embp_linear *l = embp_calloc(1, sizeof *l);
    if (!l || !(l->bias = embp_calloc((size_t)N, sizeof(float)))) {
        rc = embp_fail(err, EMBP_ENOMEM, "matmul: out of memory for %d x %d int4 weights", N, K);
        goto done;
    }
    l->e = e, l->K = K, l->N = N, l->gelu = gelu, l->type = compute, l->k4 = k4;
    if (bias)
        memcpy(l->bias, bias, (size_t)N * sizeof(float));
    if ((rc = embp_int4_pack(k4, q, scales, N, K, g, &l->i4, err)) ||
        (rc = reserve(&e->act, &e->act_bytes, k4->scratch_bytes(e->max_m, K), err)) ||
        (rc = reserve(&e->act2, &e->act2_bytes, e->act_bytes, err)))
        goto done;
    if (k4 == &embp_int4_avx512_bf16 && e->max_m >= DQ_MIN_ROWS &&
        (rc = dq_init(l, err)) != EMBP_OK)
        goto done;
    l->wbytes = l->i4.bytes;
    if (kernel_name)
        *kernel_name = l->dq ? embp_mm_int4_path(k4) : k4->name;
    *out = l;
    l = NULL;
done:
    embp_linear_free(l);
    return rc;
}

const char *embp_mm_int4_path(const embp_int4_kernel *k) {
    return k == &embp_int4_avx512_bf16 ? "avx512_bf16 below " DQ_STR(DQ_MIN_ROWS)
                                         " rows a call, oneDNN bf16 on dequantized weights from "
                                         DQ_STR(DQ_MIN_ROWS)
                                       : k->name;
}

static embp_status int4_forward(embp_linear *l, const float *x, int M, float *y,
                                embp_error *err) {
    embp_prof *p = l->e->prof;
    embp_prof_clock t = embp_prof_start(p);
    /* GELU inside the kernel, on each tile while it is in cache (a pass of its own over y was
     * ~5% of an int4 forward at 32 x 128) */
    embp_status rc = embp_int4_gemm(l->k4, &l->i4, x, M, l->bias, l->gelu ? l->e->k->gelu : NULL,
                                    y, l->e->act, err);
    embp_prof_mark(p, p ? p->gemm : EMBP_OP_N, &t);
    return rc;
}

void embp_linear_free(embp_linear *l) {
    if (!l)
        return;
    if (l->e) /* NULL: an int4 linear that failed before it was filled */
        delist(l->e, l);
    embp_int4_weights_free(&l->i4);
    for (int i = 0; l->slots && i < l->n_slots; i++)
        slot_clear(&l->slots[i]);
    if (l->wmem)
        dnnl_memory_destroy(l->wmem);
    if (l->bmem)
        dnnl_memory_destroy(l->bmem);
    embp_dnnl_md_free(&l->wmd);
    embp_free_aligned(l->wbuf);
    embp_free(l->slots);
    embp_free(l->bias);
    embp_free(l->scales);
    embp_free(l->wsum);
    embp_free(l);
}

embp_mm_type embp_linear_type(const embp_linear *l) {
    return l->type;
}

size_t embp_linear_bytes(const embp_linear *l) {
    size_t n = l->wbytes + (size_t)l->N * sizeof(float);
    return l->type == EMBP_MM_INT8 ? n + (size_t)l->N * 8 : n;
}

const char *embp_linear_impl(embp_linear *l, int M) {
    if (!on_dnnl(l, M))
        return l->k4->name;
    mm_slot *s = NULL;
    return get_slot(l, M, &s, NULL) == EMBP_OK ? s->impl : "";
}

embp_status embp_mm_engine_prepare(embp_mm_engine *e, int max_m, embp_error *err) {
    int top = max_m < e->max_m ? max_m : e->max_m;
    mm_slot *s;
    embp_status rc = EMBP_OK;
    for (int i = 0; i < e->n_linears && rc == EMBP_OK; i++)
        for (int M = e->linears[i]->k4 ? DQ_MIN_ROWS : 1; M <= top && rc == EMBP_OK;
             M = embp_mm_bucket(M + 1))
            rc = get_slot(e->linears[i], M, &s, err);
    return rc;
}

/* ---------------------------------------------------------------- forward */

/* Rows [*r0, *r1) of M for the calling thread of the current team, in equal blocks. */
static void team_rows(int M, int *r0, int *r1) {
    int nt = omp_get_num_threads(), me = omp_get_thread_num(), per = (M + nt - 1) / nt;
    *r0 = me * per < M ? me * per : M;
    *r1 = *r0 + per < M ? *r0 + per : M;
}

/* Below this many elements a row-wise step runs on one thread (a team costs a few us). */
enum { PAR_MIN = 1 << 14 };

/* The activations of a bf16 or int8 call, into e->act (and e->xs): row-wise, so rows split over
 * the threads give the same bytes as one pass. */
static void convert_rows(embp_linear *l, const float *x, int M) {
    embp_mm_engine *e = l->e;
    size_t K = (size_t)l->K;
#pragma omp parallel if ((size_t)M * K >= PAR_MIN)
    {
        int r0, r1;
        team_rows(M, &r0, &r1);
        if (r1 > r0 && dnnl_type(l) == EMBP_MM_BF16)
            e->k->f32_to_bf16(x + r0 * K, (uint16_t *)e->act + r0 * K, (size_t)(r1 - r0) * K);
        else if (r1 > r0)
            e->k->quantize_u8(x + r0 * K, r1 - r0, l->K, (uint8_t *)e->act + r0 * K, e->xs + r0);
    }
}

/* The rows [r0, r1) of x as next's forward converts them, into act2/xs2 (matmul.h). */
void embp_linear_convert_rows(const embp_linear *next, const float *x, int r0, int r1) {
    if (!next || r1 <= r0)
        return;
    embp_mm_engine *e = next->e;
    size_t K = (size_t)next->K;
    if (next->type == EMBP_MM_BF16 || next->dq) /* int4: used only from DQ_MIN_ROWS */
        e->k->f32_to_bf16(x + r0 * K, (uint16_t *)e->act2 + r0 * K, (size_t)(r1 - r0) * K);
    else if (next->type == EMBP_MM_INT8)
        e->k->quantize_u8(x + r0 * K, r1 - r0, next->K, (uint8_t *)e->act2 + r0 * K, e->xs2 + r0);
}

void embp_linear_set_ready(const embp_linear *next, const float *x, int M) {
    if (!next)
        return;
    embp_mm_engine *e = next->e;
    e->ready_for = NULL;
    if ((next->type == EMBP_MM_BF16 || next->type == EMBP_MM_INT8 || next->dq) && on_dnnl(next, M))
        e->ready_for = next, e->ready_x = x, e->ready_m = M;
}

/* l's weights as bf16 into e->wdq (embp_int4_dequant_bf16), the panels split over the threads. */
static void dequant_weights(embp_linear *l) {
    int np = (l->N + 15) / 16;
#pragma omp parallel if ((size_t)np * 16 * l->K >= PAR_MIN)
    {
        int p0, p1;
        team_rows(np, &p0, &p1);
        if (p1 > p0)
            embp_int4_dequant_bf16(&l->i4, p0, p1, l->e->wdq);
    }
}

/* Values per step of the int8 epilogue: whole rows, about this many values, so each step's s32,
 * fp32 and u8 rows (9 bytes a value) stay in L1 from the dequantization through GELU to the
 * next linear's quantization (8 rows of N 1536 were 108 KiB: through L2). */
enum { EPI_VALUES = 4096 };

/* The int8 epilogue in one pass over each thread's rows, a few rows at a time: s32 -> fp32 with
 * both scales, the zero point and bias, then GELU, then (quant_next) the u8 quantization of the
 * result for the next linear into act2/xs2, while the rows are in cache. Ours, not oneDNN
 * post-ops: oneDNN 2.6's int8 brgemm matmul (avx512_core_vnni) takes a src zero point, per-N
 * output scales, per-N binary operands and gelu_erf, but the per-token activation scale has
 * nowhere to go: a binary mul by an (M, 1) operand falls to ref_int8:any and per-row output
 * scales are unimplemented (probed on an AVX-512 VNNI EPYC, M 16-512 at MiniLM's shapes).
 * With quant_next the fp32 rows are only that quantization's input: they are made over the s32
 * rows they come from (in cache, dirty already) and y is not written, which saves writing (and
 * first reading) 4 bytes a value: ffn-in's 1536 per token, ~150 MB per MiniLM 32 x 128 pass. */
static void int8_epilogue(embp_linear *l, int row0, int M, float *y, int quant_next) {
    embp_mm_engine *e = l->e;
    size_t N = (size_t)l->N;
#pragma omp parallel if ((size_t)M * N >= PAR_MIN)
    {
        int r0, r1, step = EPI_VALUES / l->N > 1 ? EPI_VALUES / l->N : 1;
        team_rows(M, &r0, &r1);
        for (int r = r0; r < r1; r += step) {
            int rows = r1 - r < step ? r1 - r : step;
            size_t at = (size_t)(row0 + r) * N;
            float *out = quant_next ? (float *)(void *)(e->acc + r * N) : y + at;
            e->k->dequant_s32(e->acc + r * N, l->wsum, e->xs + row0 + r, l->scales, l->bias, out,
                              rows, l->N);
            if (l->gelu)
                e->k->gelu(out, (size_t)rows * N);
            if (quant_next)
                e->k->quantize_u8(out, rows, l->N, (uint8_t *)e->act2 + at, e->xs2 + row0 + r);
        }
    }
}

/* Rows per oneDNN call of an int8 linear: the s32 results of one call (up to 512 x N x 4 bytes)
 * are still in cache when the epilogue reads them. */
enum { INT8_CHUNK = 512 };

/* One oneDNN execution of slot s from src into dst. */
static embp_status execute(embp_linear *l, mm_slot *s, const void *src, void *dst,
                           embp_error *err) {
    embp_status rc = EMBP_OK;
    DNNL_TRY(dnnl_memory_set_data_handle(s->src, (void *)(uintptr_t)src), "set src");
    DNNL_TRY(dnnl_memory_set_data_handle(s->dst, dst), "set dst");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, s->src},
                               {DNNL_ARG_WEIGHTS, l->wmem},
                               {DNNL_ARG_DST, s->dst},
                               {DNNL_ARG_BIAS, l->bmem}};
    int nargs = dnnl_type(l) == EMBP_MM_INT8 ? 3 : 4;
    DNNL_TRY(dnnl_primitive_execute(s->prim, l->e->stream, nargs, args), "matmul execute");
    DNNL_TRY(dnnl_stream_wait(l->e->stream), "stream_wait");
fail:
    return rc;
}

/* Takes the activations the previous linear's epilogue made for l (act2/xs2), if they are x's. */
static int take_ready(embp_linear *l, const float *x, int M) {
    embp_mm_engine *e = l->e;
    int ready = e->ready_for == l && e->ready_x == x && e->ready_m == M;
    e->ready_for = NULL;
    if (ready) {
        void *a = e->act;
        float *xs = e->xs;
        size_t bytes = e->act_bytes;
        e->act = e->act2, e->xs = e->xs2, e->act_bytes = e->act2_bytes;
        e->act2 = a, e->xs2 = xs, e->act2_bytes = bytes;
    }
    return ready;
}

static embp_status forward(embp_linear *l, const float *x, int M, float *y,
                           const embp_linear *next, embp_error *err) {
    embp_prof *p = l->e->prof;
    if (p)
        p->flops[p->gemm] += 2.0 * M * (double)l->K * l->N;
    if (!on_dnnl(l, M))
        return int4_forward(l, x, M, y, err);
    embp_status rc = EMBP_OK;
    embp_mm_engine *e = l->e;
    mm_slot *s = NULL;
    embp_mm_type t = dnnl_type(l);
    int chain = next && dnnl_type(next) == t && on_dnnl(next, M) && next->K == l->N &&
                (t == EMBP_MM_INT8 || t == EMBP_MM_BF16);
    if (t == EMBP_MM_BF16 && chain != l->dst_bf16) { /* once: its primitives change */
        for (int i = 0; i < l->n_slots; i++)
            slot_clear(&l->slots[i]);
        l->dst_bf16 = chain;
    }
    if ((rc = get_slot(l, M, &s, err)) != EMBP_OK)
        return rc;
    embp_prof_clock tp = embp_prof_start(p);
    void *src = (void *)(uintptr_t)x, *dst;
    if (l->dq) {
        dequant_weights(l);
        if (dnnl_memory_set_data_handle(l->wmem, e->wdq) != dnnl_success)
            return embp_fail(err, EMBP_EINTERNAL, "oneDNN set weights failed");
        embp_prof_mark(p, EMBP_OP_CONVERT, &tp);
    }
    if (take_ready(l, x, M)) {
        src = e->act;
    } else if (t == EMBP_MM_BF16 || t == EMBP_MM_INT8) {
        convert_rows(l, x, M);
        embp_prof_mark(p, t == EMBP_MM_BF16 ? EMBP_OP_CONVERT : EMBP_OP_QUANTIZE, &tp);
        src = e->act;
    }
    dst = l->dst_bf16 ? e->act2 : y; /* after take_ready: act2 is free only now */
    if (t != EMBP_MM_INT8) {
        rc = execute(l, s, src, dst, err);
        embp_prof_mark(p, p ? p->gemm : EMBP_OP_N, &tp);
    }
    for (int r = 0; t == EMBP_MM_INT8 && rc == EMBP_OK && r < M; r += INT8_CHUNK) {
        int rows = M - r < INT8_CHUNK ? M - r : INT8_CHUNK;
        if (rows != M && (rc = get_slot(l, rows, &s, err)) != EMBP_OK)
            break;
        if ((rc = execute(l, s, (const uint8_t *)e->act + (size_t)r * l->K, e->acc, err)))
            break;
        embp_prof_mark(p, p ? p->gemm : EMBP_OP_N, &tp);
        int8_epilogue(l, r, rows, y, chain);
        embp_prof_mark(p, EMBP_OP_EPILOGUE, &tp);
    }
    if (chain && rc == EMBP_OK)
        e->ready_for = next, e->ready_x = y, e->ready_m = M;
    return rc;
}

embp_status embp_linear_forward(embp_linear *l, const float *x, int M, float *y, embp_error *err) {
    return forward(l, x, M, y, NULL, err);
}

embp_status embp_linear_forward_chain(embp_linear *l, const float *x, int M, float *y,
                                      const embp_linear *next, embp_error *err) {
    return forward(l, x, M, y, next, err);
}

/* ---------------------------------------------------------------- peak */

double embp_mm_peak_gflops(embp_mm_type t, int M, int K, int N, double seconds, embp_error *err) {
    embp_mm_engine *e = NULL;
    embp_linear *l = NULL;
    double gflops = -1.0;
    int Mb = embp_mm_bucket(M);
    float *w = embp_malloc((size_t)K * N * sizeof(float));
    float *x = embp_malloc_aligned((size_t)Mb * K * sizeof(float));
    float *y = embp_malloc_aligned((size_t)Mb * N * sizeof(float));
    if (!w || !x || !y) {
        embp_fail(err, EMBP_ENOMEM, "matmul peak: out of memory");
        goto done;
    }
    uint32_t r = 1;
    for (size_t i = 0; i < (size_t)K * N; i++, r = r * 1664525u + 1013904223u)
        w[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < (size_t)Mb * K; i++, r = r * 1664525u + 1013904223u)
        x[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    int int4 = t == EMBP_MM_INT4_BF16 || t == EMBP_MM_INT4_INT8;
    if (embp_mm_engine_create(embp_kernels_pick(embp_cpu_get()), M, &e, err) != EMBP_OK ||
        (int4 ? embp_linear_create_int4(e, w, NULL, K, N, 32, t, 0, &l, NULL, err)
              : embp_linear_create(e, w, NULL, K, N, t, 0, &l, err)) != EMBP_OK ||
        embp_linear_forward(l, x, M, y, err) != EMBP_OK)
        goto done;
    long calls = 0;
    double t0 = embp_clock_s(CLOCK_MONOTONIC), t1 = t0;
    while (t1 - t0 < seconds) {
        if (embp_linear_forward(l, x, M, y, err) != EMBP_OK)
            goto done;
        calls++;
        t1 = embp_clock_s(CLOCK_MONOTONIC);
    }
    gflops = 2.0 * M * (double)K * N * (double)calls / (t1 - t0) / 1e9;
done:
    embp_linear_free(l);
    embp_mm_engine_free(e);
    embp_free(w);
    embp_free_aligned(x);
    embp_free_aligned(y);
    return gflops;
}
