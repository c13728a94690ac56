/* Precision vocabulary, the storage/compute pair table, and resolving a request against a CPU.
 * The typed request is checked in request.c (its text is parsed by the settings table,
 * settings/config.c); measuring fidelity is the caller's. */
#include "precision/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/matmul.h"

/* ---------------------------------------------------------------- vocabulary */

static const char *const storage_names[EMBP_STORAGE_COUNT] = {"fp32", "fp16", "bf16", "int8",
                                                              "int4"};
static const char *const compute_names[EMBP_COMPUTE_COUNT] = {"fp32", "bf16", "int8"};

const char *embp_storage_str(embp_storage s) {
    return (unsigned)s < EMBP_STORAGE_COUNT ? storage_names[s] : "?";
}

const char *embp_compute_str(embp_compute c) {
    return (unsigned)c < EMBP_COMPUTE_COUNT ? compute_names[c] : "?";
}

int embp_storage_parse(const char *s) {
    for (int i = 0; s && i < EMBP_STORAGE_COUNT; i++)
        if (strcmp(s, storage_names[i]) == 0)
            return i;
    return -1;
}

int embp_compute_parse(const char *s) {
    for (int i = 0; s && i < EMBP_COMPUTE_COUNT; i++)
        if (strcmp(s, compute_names[i]) == 0)
            return i;
    return -1;
}

/* ---------------------------------------------------------------- the pair table */

#define S(x) EMBP_STORAGE_##x
#define C(x) EMBP_COMPUTE_##x
/* clang-format off */
static const embp_precision_pair pairs[] = {
    {S(FP32), C(FP32), S(FP32), "4",         "",                           "oneDNN",
     "the reference"},
    {S(FP32), C(BF16), S(BF16), "2",         "AVX512_BF16 or AMX-BF16",    "oneDNN",
     "weights converted to bf16 at load; memory is bf16's"},
    {S(FP16), C(FP32), S(FP32), "4",         "",                           "oneDNN",
     "no fp16 matmul on this CPU class: converted to fp32 at load; memory is fp32's"},
    {S(FP16), C(BF16), S(BF16), "2",         "AVX512_BF16 or AMX-BF16",    "oneDNN",
     "no fp16 matmul: converted to bf16 at load (3 mantissa bits fewer); memory is bf16's"},
    {S(BF16), C(BF16), S(BF16), "2",         "AVX512_BF16 or AMX-BF16",    "oneDNN",
     "activations converted to bf16 per GEMM"},
    {S(BF16), C(FP32), S(FP32), "4",         "",                           "oneDNN",
     "fallback without a BF16 unit: converted to fp32 at load; memory is fp32's"},
    {S(INT8), C(INT8), S(INT8), "1 + 4/K",   "VNNI (AVX2: 7-bit weights)", "oneDNN",
     "weights per output channel (symmetric), activations per token u8, zero point 128"},
    {S(INT4), C(BF16), S(INT4), "0.5 + 2/g", "AVX512_BF16 (else AVX2 or scalar, slower)",
     "embp int4 kernel; oneDNN bf16 from 512 rows", "group g along K (default 32), fp16 scales; "
     "weights stay int4 (from 512 rows a call on AVX512_BF16, dequantized to bf16 per call)"},
    {S(INT4), C(INT8), S(INT4), "0.5 + 2/g", "AVX512_VNNI",                "embp int4 kernel",
     "group g along K, activations per token u8; weights stay int4"},
};
/* clang-format on */
#undef S
#undef C

const embp_precision_pair *embp_precision_pairs(int *n) {
    *n = (int)(sizeof pairs / sizeof pairs[0]);
    return pairs;
}

const embp_precision_pair *embp_precision_pair_find(embp_storage s, embp_compute c) {
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i].storage == s && pairs[i].compute == c)
            return &pairs[i];
    return NULL;
}

double embp_precision_bytes_per_weight(embp_storage m, int group_size, int k) {
    switch (m) {
    case EMBP_STORAGE_FP32:
        return 4.0;
    case EMBP_STORAGE_FP16:
    case EMBP_STORAGE_BF16:
        return 2.0;
    case EMBP_STORAGE_INT8:
        return 1.0 + (k > 0 ? 4.0 / k : 0.0);
    case EMBP_STORAGE_INT4:
        return 0.5 + (group_size > 0 ? 2.0 / group_size : 0.0);
    default:
        return NAN;
    }
}

/* snprintf at buf + *used that keeps counting past size, as snprintf does. */
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...) EMBP_PRINTF(4, 5);
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (buf && *used < size) {
        size_t room = size - *used - 1, c = len < room ? len : room;
        memcpy(buf + *used, line, c);
        buf[*used + c] = '\0';
    }
    *used += len;
}

size_t embp_precision_pairs_markdown(char *buf, size_t size) {
    size_t used = 0;
    if (buf && size)
        buf[0] = '\0';
    put(buf, size, &used, "| storage | compute | memory | bytes/weight | needs | engine | note |\n");
    put(buf, size, &used, "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const embp_precision_pair *p = &pairs[i];
        put(buf, size, &used, "| %s | %s | %s | %s | %s | %s | %s |\n",
            embp_storage_str(p->storage), embp_compute_str(p->compute),
            embp_storage_str(p->memory), p->bytes, *p->needs ? p->needs : "any x86-64",
            p->engine, p->note);
    }
    return used;
}

/* ---------------------------------------------------------------- CPU checks */

static int has_bf16(const embp_cpu *cpu) {
    return (cpu->avx512_bf16 && embp_cpu_has_avx512(cpu)) || cpu->amx_bf16;
}

/* int8 through oneDNN's AVX2 kernels (vpmaddubsw) where there is neither VNNI nor a BF16 unit:
 * slower than VNNI, but on an AVX2-only CPU faster than fp32 (measured: 7.9k vs 5.5k tokens/s,
 * MiniLM shapes, 2 cores). Where bf16 exists, bf16 is the better fallback. */
static int int8_on_avx2(const embp_cpu *cpu) {
    return embp_cpu_has_avx2(cpu) && !has_bf16(cpu);
}

static int has_vnni(const embp_cpu *cpu) {
    return (cpu->avx512_vnni && embp_cpu_has_avx512(cpu)) || cpu->avx_vnni;
}

static embp_compute best_float_compute(const embp_cpu *cpu) {
    return has_bf16(cpu) ? EMBP_COMPUTE_BF16 : EMBP_COMPUTE_FP32;
}

/* ---------------------------------------------------------------- resolution */

static void add_reason(embp_plan *p, const char *fmt, ...) EMBP_PRINTF(2, 3);
static void add_reason(embp_plan *p, const char *fmt, ...) {
    if (p->n_reasons >= EMBP_PLAN_REASONS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reasons[p->n_reasons++], EMBP_PLAN_REASON_LEN, fmt, ap);
    va_end(ap);
}

/* The spec that applies to model_name: its override, else the global one. */
static const embp_precision_spec *pick_spec(const embp_precision_request *req,
                                            const char *model_name, const char **source) {
    for (int i = 0; model_name && i < req->n_overrides; i++)
        if (strcmp(req->overrides[i].model, model_name) == 0) {
            *source = "precision_overrides";
            return &req->overrides[i].spec;
        }
    *source = NULL;
    return &req->global;
}

/* Turns a spec into a requested storage/compute pair (-1/-1 for auto). Explicit halves win
 * over the shorthand; the half not given follows from the other. fp16 and int4 take the best
 * compute this CPU has, as the shorthand promises. */
static void spec_to_pair(const embp_precision_spec *s, const embp_cpu *cpu, int *st, int *co) {
    static const int short_st[] = {EMBP_STORAGE_FP32, -1, EMBP_STORAGE_FP32, EMBP_STORAGE_FP16,
                                   EMBP_STORAGE_BF16, EMBP_STORAGE_INT8, EMBP_STORAGE_INT4};
    *st = s->storage, *co = s->compute;
    if (*st < 0 && *co < 0) {
        if (s->precision == EMBP_PRECISION_AUTO)
            return;
        *st = short_st[s->precision];
    }
    if (*st < 0) /* compute given alone: int8 needs int8 weights; floats keep the file's */
        *st = *co == EMBP_COMPUTE_INT8 ? EMBP_STORAGE_INT8 : EMBP_STORAGE_FP32;
    if (*co >= 0)
        return;
    switch (*st) {
    case EMBP_STORAGE_FP32:
        *co = EMBP_COMPUTE_FP32;
        break;
    case EMBP_STORAGE_INT8:
        *co = EMBP_COMPUTE_INT8;
        break;
    case EMBP_STORAGE_INT4:
        *co = has_bf16(cpu) || !has_vnni(cpu) ? EMBP_COMPUTE_BF16 : EMBP_COMPUTE_INT8;
        break;
    default: /* fp16, bf16 */
        *co = *st == EMBP_STORAGE_BF16 ? EMBP_COMPUTE_BF16 : best_float_compute(cpu);
    }
}

/* "storage=int4" or similar: the embp_load_opts fields a spec's values came from, for error
 * messages (the command line names its own variables for them: settings/config.h). */
static void spec_source(const embp_precision_spec *s, const char *override_var,
                        const char *model, char *buf, size_t size) {
    if (override_var)
        snprintf(buf, size, "%s[\"%s\"]", override_var, model);
    else if (s->storage >= 0 && s->compute >= 0)
        snprintf(buf, size, "storage=%s with compute=%s",
                 storage_names[s->storage], compute_names[s->compute]);
    else if (s->storage >= 0)
        snprintf(buf, size, "storage=%s", storage_names[s->storage]);
    else if (s->compute >= 0)
        snprintf(buf, size, "compute=%s", compute_names[s->compute]);
    else
        snprintf(buf, size, "precision=%s", embp_precision_str(s->precision));
}

static embp_status check_pair(const embp_precision_request *req, int st, int co,
                              const char *src, embp_error *err) {
    int quantized = st == EMBP_STORAGE_INT8 || st == EMBP_STORAGE_INT4 || co == EMBP_COMPUTE_INT8;
    if (quantized && !req->quantization_enabled)
        return embp_fail(err, EMBP_ECONFIG, "%s asks for quantized weights (storage %s, compute "
                         "%s) but enable_quantization=0; set enable_quantization=1 or choose "
                         "fp32|fp16|bf16",
                         src, storage_names[st], compute_names[co]);
    if (!embp_precision_pair_find(st, co))
        return embp_fail(err, EMBP_ECONFIG, "%s: storage %s with compute %s is not a pair embp "
                         "runs; pairs (storage/compute): fp32/fp32 fp32/bf16 fp16/fp32 fp16/bf16 "
                         "bf16/bf16 bf16/fp32 int8/int8 int4/bf16 int4/int8",
                         src, storage_names[st], compute_names[co]);
    return EMBP_OK;
}

/* Moves p to what cpu can run, adding a reason for each change. Returns 1 when the compute
 * precision changed (an error in strict mode), 0 when only the speed did. */
static int fit_to_cpu(embp_plan *p, const embp_cpu *cpu) {
    int changed = 0;
    if (p->storage == EMBP_STORAGE_INT4) {
        const embp_kernels *t = embp_kernels_pick(cpu);
        const embp_int4_kernel *k = t->int4[p->compute == EMBP_COMPUTE_INT8];
        if (!k) {
            k = t->int4[0];
            add_reason(p, "int4 with compute int8 needs AVX512_VNNI with AVX-512, not found: "
                       "compute bf16 instead (kernel %s)", k->name);
            p->compute = EMBP_COMPUTE_BF16, changed = 1;
        }
        p->kernel = embp_mm_int4_path(k);
        if (strncmp(k->name, "avx512", 6) != 0)
            add_reason(p, "int4 kernel: the fast path needs AVX-512 with AVX512_BF16, not "
                       "found: the %s path runs it (same results, several times slower)",
                       k->name);
        return changed;
    }
    if (p->compute == EMBP_COMPUTE_INT8 && !has_vnni(cpu) && int8_on_avx2(cpu)) {
        add_reason(p, "compute int8 without AVX512_VNNI or AVX-VNNI: oneDNN's AVX2 u8s8 path "
                   "adds pairs of products in int16, so weights are kept to 7 bits (-63..63) to "
                   "stay exact; a little less fidelity, and measured faster than fp32 on AVX2");
        return 0;
    }
    if (p->compute == EMBP_COMPUTE_INT8 && !has_vnni(cpu)) {
        embp_compute c = best_float_compute(cpu);
        add_reason(p, "compute int8 needs AVX512_VNNI or AVX-VNNI, not found (without it u8s8 "
                   "saturates int16 pairs and is no faster): weights converted to %s at load, "
                   "compute %s",
                   compute_names[c], compute_names[c]);
        p->compute = c, p->storage = c == EMBP_COMPUTE_BF16 ? EMBP_STORAGE_BF16 : EMBP_STORAGE_FP32;
        return 1;
    }
    if (p->compute == EMBP_COMPUTE_BF16 && !has_bf16(cpu)) {
        add_reason(p, "compute bf16 needs AVX512_BF16 or AMX-BF16, not found: storage %s kept, "
                   "compute fp32 (weights converted to fp32 at load)", storage_names[p->storage]);
        p->compute = EMBP_COMPUTE_FP32;
        return 1;
    }
    return 0;
}

/* Fills memory, bytes, desc from storage/compute/group. */
static void finish(embp_plan *p) {
    const embp_precision_pair *pair = embp_precision_pair_find(p->storage, p->compute);
    p->memory = pair ? pair->memory : p->storage;
    if (p->storage != EMBP_STORAGE_INT4)
        p->group_size = 0, p->kernel = "";
    p->bytes_per_weight = embp_precision_bytes_per_weight(p->memory, p->group_size, 0);
    char grp[48] = "";
    if (p->group_size)
        snprintf(grp, sizeof grp, " (group %d, fp16 scales)", p->group_size);
    else if (p->memory == EMBP_STORAGE_INT8)
        snprintf(grp, sizeof grp, " (per channel, fp32 scales)");
    snprintf(p->desc, sizeof p->desc, "%sstorage %s%s, compute %s, accumulate fp32, memory %s "
             "%.4g B/weight%s%s%s%s", p->is_auto ? "auto: " : "", storage_names[p->storage], grp,
             compute_names[p->compute], storage_names[p->memory], p->bytes_per_weight,
             *p->kernel ? ", kernel " : "", p->kernel, p->n_reasons ? "; " : "",
             p->n_reasons ? p->reasons[0] : "");
}

static void plan_init(embp_plan *p, int st, int co, int group_size) {
    memset(p, 0, sizeof *p);
    p->requested_storage = st, p->requested_compute = co;
    p->storage = st < 0 ? EMBP_STORAGE_FP32 : (embp_storage)st;
    p->compute = co < 0 ? EMBP_COMPUTE_FP32 : (embp_compute)co;
    p->accumulation = "fp32";
    p->group_size = group_size;
    p->kernel = "";
    p->fidelity_mean = p->fidelity_min = NAN;
}

embp_status embp_plan_resolve(const embp_precision_request *req, const char *model_name,
                              const embp_cpu *cpu, int strict, embp_plan *out,
                              embp_error *err) {
    const char *ovar;
    const embp_precision_spec *s = pick_spec(req, model_name, &ovar);
    int st, co;
    spec_to_pair(s, cpu, &st, &co);
    int group = s->group_size ? s->group_size : req->group_size;
    plan_init(out, st, co, group ? group : 32);
    char src[200];
    spec_source(s, ovar, model_name ? model_name : "", src, sizeof src);
    if (st < 0) { /* auto: fp32 until the candidates are measured */
        out->is_auto = 1;
        add_reason(out, "auto: fp32 until the candidates' fidelity is measured");
        finish(out);
        return EMBP_OK;
    }
    embp_status rc = check_pair(req, st, co, src, err);
    if (rc != EMBP_OK)
        return rc;
    if (fit_to_cpu(out, cpu) && (strict || req->strict))
        return embp_fail(err, EMBP_EDEVICE, "%s with strict=1: %s",
                         src, out->reasons[0]);
    finish(out);
    return EMBP_OK;
}

embp_status embp_plan_resolve_file(const embp_precision_request *req, const char *model_name,
                                   const embp_cpu *cpu, int strict, embp_storage file_storage,
                                   int file_group, const char *file_desc, embp_plan *out,
                                   embp_error *err) {
    static const int short_st[] = {-1, -1, EMBP_STORAGE_FP32, EMBP_STORAGE_FP16,
                                   EMBP_STORAGE_BF16, EMBP_STORAGE_INT8, EMBP_STORAGE_INT4};
    const char *ovar;
    const embp_precision_spec *s = pick_spec(req, model_name, &ovar);
    int asked = s->storage >= 0 ? s->storage : s->compute < 0 ? short_st[s->precision] : -1;
    int quantized = file_storage == EMBP_STORAGE_INT8 || file_storage == EMBP_STORAGE_INT4;
    char src[200];
    spec_source(s, ovar, model_name ? model_name : "", src, sizeof src);
    if (quantized && !req->quantization_enabled)
        return embp_fail(err, EMBP_ECONFIG, "%s holds %s weights written by embp quantize, but "
                         "enable_quantization=0; enable quantization or load the original "
                         "folder", file_desc, storage_names[file_storage]);
    if (asked >= 0 && (!quantized || asked == (int)file_storage)) {
        embp_status rc = embp_plan_resolve(req, model_name, cpu, strict, out, err);
        out->prequantized = 1; /* fp32 of this folder is not the source's: no fidelity from it */
        if (rc == EMBP_OK && asked == (int)file_storage && quantized) {
            if (file_group && out->group_size != file_group) {
                add_reason(out, "group size %d from %s (the request's %d applies when "
                           "quantizing at load)", file_group, file_desc, out->group_size);
                out->group_size = file_group;
                finish(out);
            }
        }
        return rc;
    }
    if (asked >= 0)
        return embp_fail(err, EMBP_ECONFIG, "%s asks for storage %s, but %s holds %s weights "
                         "written by embp quantize: a quantized folder runs at the storage it was "
                         "written with. Load the original folder for %s, or ask for %s (or auto)",
                         src, storage_names[asked], file_desc, storage_names[file_storage],
                         storage_names[asked], storage_names[file_storage]);
    /* nothing asked, auto, or compute alone: the file's storage */
    embp_precision_spec fs = *s;
    fs.precision = EMBP_PRECISION_FP32, fs.storage = (int)file_storage;
    embp_precision_request r = *req;
    r.global = fs, r.n_overrides = 0;
    if (file_group)
        r.group_size = file_group, r.global.group_size = 0;
    embp_status rc = embp_plan_resolve(&r, model_name, cpu, strict, out, err);
    if (rc != EMBP_OK)
        return rc;
    out->requested_storage = -1, out->requested_compute = s->compute;
    out->prequantized = 1;
    if (out->n_reasons < EMBP_PLAN_REASONS) { /* first: it explains the rest */
        memmove(out->reasons[1], out->reasons[0], sizeof out->reasons[0] * (size_t)out->n_reasons);
        out->n_reasons++;
    } else {
        memmove(out->reasons[1], out->reasons[0], sizeof out->reasons[0] * (EMBP_PLAN_REASONS - 1));
    }
    snprintf(out->reasons[0], sizeof out->reasons[0], "%s%s holds %s weights written by embp "
             "quantize: storage %s", s->precision == EMBP_PRECISION_AUTO ? "auto: " : "",
             file_desc, storage_names[file_storage], storage_names[file_storage]);
    finish(out);
    return EMBP_OK;
}

/* ---------------------------------------------------------------- auto */

int embp_plan_auto_candidates(const embp_precision_request *req, const embp_cpu *cpu,
                              embp_plan *out, int cap) {
    /* Fastest first on a CPU that has them: int8 (VNNI, 4x fp32 peak), bf16 (2x), int4 (bf16
     * speed at a quarter of bf16's memory, but the most error), then fp32. */
    static const int order[][2] = {{EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8},
                                   {EMBP_STORAGE_BF16, EMBP_COMPUTE_BF16},
                                   {EMBP_STORAGE_INT4, EMBP_COMPUTE_BF16},
                                   {EMBP_STORAGE_INT4, EMBP_COMPUTE_INT8}};
    int n = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && n < cap - 1; i++) {
        int st = order[i][0], co = order[i][1];
        int quantized = st == EMBP_STORAGE_INT8 || st == EMBP_STORAGE_INT4;
        if (quantized && !req->quantization_enabled)
            continue;
        int fast = co == EMBP_COMPUTE_BF16 ? has_bf16(cpu) : has_vnni(cpu) || int8_on_avx2(cpu);
        if (st == EMBP_STORAGE_INT4)
            fast = embp_kernels_pick(cpu)->int4[co == EMBP_COMPUTE_INT8] != NULL &&
                   (co == EMBP_COMPUTE_INT8 || has_bf16(cpu));
        if (!fast || (st == EMBP_STORAGE_INT4 && co == EMBP_COMPUTE_INT8 && has_bf16(cpu)))
            continue; /* int4/int8 only where int4/bf16 would be slow */
        plan_init(&out[n], st, co, req->group_size ? req->group_size : 32);
        out[n].is_auto = 1;
        fit_to_cpu(&out[n], cpu);
        finish(&out[n]);
        n++;
    }
    if (n < cap) {
        plan_init(&out[n], EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32, 0);
        out[n].is_auto = 1;
        finish(&out[n]);
        n++;
    }
    return n;
}

int embp_plan_pick(const embp_plan *cands, int n, double mean_min, double min_min) {
    for (int i = 0; i < n; i++) {
        const embp_plan *p = &cands[i];
        if (p->storage == EMBP_STORAGE_FP32 && p->compute == EMBP_COMPUTE_FP32)
            return i; /* the reference: nothing after it is faster */
        /* NaN (not measured) fails both comparisons, so an unmeasured plan is never picked. */
        if (p->fidelity_mean >= mean_min && p->fidelity_min >= min_min)
            return i;
    }
    return n - 1;
}

void embp_plan_key(const embp_plan *p, char *buf, size_t size) {
    if (p->storage == EMBP_STORAGE_INT4)
        snprintf(buf, size, "%s/%s/g%d", storage_names[p->storage], compute_names[p->compute],
                 p->group_size);
    else
        snprintf(buf, size, "%s/%s", storage_names[p->storage], compute_names[p->compute]);
}
