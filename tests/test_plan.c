/* tests/test_plan.c: the precision planner (src/precision/) fed by the settings table
 * (settings/config.c, the one parser of the variables' text): every variable, precedence,
 * fallbacks on masked CPUs, strict mode, overrides JSON, the pair table, auto, fidelity and its
 * cache. CPUs are synthetic (a Zen 5-like feature set, then masked), so results do not depend
 * on the machine running the test. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "precision/plan.h"
#include "precision/probe.h"
#include "precision/request.h"
#include "settings/config.h"

/* AVX-512 F/BW/VL, BF16, VNNI; no AMX, no AVX512_FP16: the machine DESIGN.md describes. */
static embp_cpu zen5(void) {
    embp_cpu c;
    memset(&c, 0, sizeof c);
    c.avx2 = c.fma = c.f16c = c.avx512f = c.avx512bw = c.avx512vl = 1;
    c.avx512_bf16 = c.avx512_vnni = c.avx_vnni = 1;
    c.n_cores = 2;
    return c;
}

static embp_cpu masked(const char *mask) {
    embp_cpu base = zen5(), out;
    embp_error err;
    assert_int_equal(embp_cpu_mask(&base, mask, &out, &err), EMBP_OK);
    return out;
}

/* Variables as name=value pairs; NULL-terminated. */
typedef struct {
    const char *const *kv;
} env;

static const char *lookup(void *ctx, const char *name) {
    const env *e = ctx;
    for (int i = 0; e->kv[i]; i += 2)
        if (strcmp(e->kv[i], name) == 0)
            return e->kv[i + 1];
    return NULL;
}

#define REQ(...) ((const char *const[]){__VA_ARGS__, NULL})

static env *cur_env;

static const char *env_getenv(const char *name) {
    return lookup(cur_env, name);
}

/* What serve/embed/info do with the variables: the settings table parses their text into typed
 * embp_load_opts, the planner checks those into a request. Static: the request borrows the
 * override names from it until the next call. */
static embp_config cfg;
static embp_config_model_opts cfg_opts;

static embp_status request_parse(const char *const *kv, embp_precision_request *req,
                                 embp_error *err) {
    env e = {kv};
    cur_env = &e;
    embp_precision_request_init(req);
    embp_config_defaults(&cfg);
    embp_status rc = embp_config_from_env(&cfg, env_getenv, err);
    if (rc != EMBP_OK)
        return rc;
    embp_config_load_opts(&cfg, 0, &cfg_opts);
    return embp_precision_request_from_opts(&cfg_opts.opts, req, err);
}

/* Parses kv into req; asserts success. */
static void parse_ok(const char *const *kv, embp_precision_request *req) {
    embp_error err;
    embp_status rc = request_parse(kv, req, &err);
    if (rc != EMBP_OK)
        fail_msg("parse failed: %s", err.msg);
}

/* A planner error as the command line shows it: the fields named as their variables. */
static const char *explained(embp_error *err) {
    embp_config_explain(err);
    return err->msg;
}

/* Parse and resolve for model "m" on cpu; asserts success; frees the request. */
static embp_plan plan_ok(const char *const *kv, const embp_cpu *cpu) {
    embp_precision_request req;
    parse_ok(kv, &req);
    embp_plan p;
    embp_error err;
    embp_status rc = embp_plan_resolve(&req, "m", cpu, 0, &p, &err);
    if (rc != EMBP_OK)
        fail_msg("resolve failed: %s", err.msg);
    embp_precision_request_free(&req);
    return p;
}

static void assert_pair(const embp_plan *p, embp_storage s, embp_compute c) {
    if (p->storage != s || p->compute != c)
        fail_msg("plan %s/%s, expected %s/%s (%s)", embp_storage_str(p->storage),
                 embp_compute_str(p->compute), embp_storage_str(s), embp_compute_str(c), p->desc);
}

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in: %s", needle, hay);
}

/* ---------------------------------------------------------------- configuration errors */

static void test_every_bad_value_names_variable_value_and_allowed_values(void **state) {
    (void)state;
    static const char *const cases[][3] = {
        {"EMB_PROVIDER_MODEL_PRECISION", "fp8", "auto|fp32|fp16|bf16|int8|int4"},
        {"EMB_PROVIDER_MODEL_PRECISION", "FP32", "auto|fp32|fp16|bf16|int8|int4"},
        {"EMB_PROVIDER_MODEL_STORAGE_PRECISION", "int3", "fp32|fp16|bf16|int8|int4"},
        {"EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "int4", "fp32|bf16|int8"},
        {"EMB_PROVIDER_ENABLE_QUANTIZATION", "maybe", "true|false"},
        {"EMB_PROVIDER_PRECISION_STRICT", "2", "true|false"},
        {"EMB_PROVIDER_QUANT_GROUP_SIZE", "48", "16|32|64|128|256"},
        {"EMB_PROVIDER_QUANT_GROUP_SIZE", "512", "16|32|64|128|256"},
        {"EMB_PROVIDER_QUANT_GROUP_SIZE", "32x", "16|32|64|128|256"},
        {"EMB_PROVIDER_QUANTIZATION_METHOD", "magic", "rtn"},
        {"EMB_PROVIDER_FIDELITY_MIN", "0.999", "mean,min"},
        {"EMB_PROVIDER_FIDELITY_MIN", "1.5,0.9", "mean,min"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *kv[] = {cases[i][0], cases[i][1], NULL};
        embp_precision_request req;
        embp_error err;
        assert_int_equal(request_parse(kv, &req, &err), EMBP_ECONFIG);
        char want[160];
        snprintf(want, sizeof want, "%s=%s", cases[i][0], cases[i][1]);
        assert_contains(err.msg, want);
        assert_contains(err.msg, cases[i][2]);
        assert_int_equal(req.n_overrides, 0); /* freed on error */
    }
}

static void test_quantization_methods_other_than_rtn_are_errors_saying_why(void **state) {
    (void)state;
    static const char *const methods[] = {"gptq", "awq", "bitsandbytes"};
    embp_quant_method m = EMBP_QUANT_RTN;
    for (int i = 0; i < 3; i++) {
        embp_precision_request req;
        embp_error err;
        assert_int_equal(request_parse(REQ("EMB_PROVIDER_QUANTIZATION_METHOD", methods[i]), &req,
                                       &err), EMBP_ECONFIG);
        assert_contains(err.msg, methods[i]);
        assert_contains(err.msg, "rtn only");
        assert_contains(err.msg, "calibration");
        /* the quantize command's --method goes through the same parser */
        assert_int_equal(embp_config_parse_method(methods[i], "--method", &m, &err), EMBP_ECONFIG);
        assert_contains(err.msg, "--method=");
        assert_contains(err.msg, "rtn only");
    }
    embp_precision_request req;
    parse_ok(REQ("EMB_PROVIDER_QUANTIZATION_METHOD", "rtn"), &req);
    embp_precision_request_free(&req);
    assert_int_equal(embp_config_parse_method("rtn", "--method", &m, NULL), EMBP_OK);
    assert_int_equal(m, EMBP_QUANT_RTN);
}

static void test_pair_embp_cannot_run_is_a_config_error_listing_pairs(void **state) {
    (void)state;
    embp_precision_request req;
    parse_ok(REQ("EMB_PROVIDER_MODEL_STORAGE_PRECISION", "fp16",
                 "EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "int8"), &req);
    embp_cpu cpu = zen5();
    embp_plan p;
    embp_error err;
    assert_int_equal(embp_plan_resolve(&req, "m", &cpu, 0, &p, &err), EMBP_ECONFIG);
    assert_contains(err.msg, "storage=fp16 with compute=int8"); /* the library's fields */
    assert_contains(explained(&err), "EMB_PROVIDER_MODEL_STORAGE_PRECISION=fp16");
    assert_contains(err.msg, "EMB_PROVIDER_MODEL_COMPUTATION_PRECISION=int8");
    assert_contains(err.msg, "int4/bf16");
    embp_precision_request_free(&req);
}

static void test_disabled_quantization_rejects_int8_and_int4_naming_both_variables(void **st) {
    (void)st;
    static const char *const asks[][2] = {{"EMB_PROVIDER_MODEL_PRECISION", "int8"},
                                          {"EMB_PROVIDER_MODEL_STORAGE_PRECISION", "int4"},
                                          {"EMB_PROVIDER_MODEL_PRECISION_OVERRIDES",
                                           "{\"m\": {\"storage\": \"int4\"}}"}};
    embp_cpu cpu = zen5();
    for (int i = 0; i < 3; i++) {
        embp_precision_request req;
        parse_ok(REQ(asks[i][0], asks[i][1], "EMB_PROVIDER_ENABLE_QUANTIZATION", "false"), &req);
        embp_plan p;
        embp_error err;
        assert_int_equal(embp_plan_resolve(&req, "m", &cpu, 0, &p, &err), EMBP_ECONFIG);
        assert_contains(err.msg, "enable_quantization=0");
        assert_contains(explained(&err), asks[i][0]);
        assert_contains(err.msg, "EMB_PROVIDER_ENABLE_QUANTIZATION=false");
        /* auto never offers int8/int4 then */
        embp_plan c[8];
        int n = embp_plan_auto_candidates(&req, &cpu, c, 8);
        for (int j = 0; j < n; j++)
            assert_true(c[j].storage != EMBP_STORAGE_INT8 && c[j].storage != EMBP_STORAGE_INT4);
        embp_precision_request_free(&req);
    }
}

/* ---------------------------------------------------------------- precedence */

static void test_precedence_override_then_explicit_then_global_then_fp32(void **state) {
    (void)state;
    embp_cpu cpu = zen5();
    embp_plan p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8);
    /* explicit storage replaces the global shorthand; compute follows from storage */
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8", "EMB_PROVIDER_MODEL_STORAGE_PRECISION",
                    "bf16"), &cpu);
    assert_pair(&p, EMBP_STORAGE_BF16, EMBP_COMPUTE_BF16);
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "int8"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8);
    /* the override beats both, for its model only */
    const char *const *kv = REQ("EMB_PROVIDER_MODEL_PRECISION", "int8",
                                "EMB_PROVIDER_MODEL_STORAGE_PRECISION", "bf16",
                                "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES",
                                "{\"m\": \"fp32\", \"unused-model\": \"int4\"}");
    p = plan_ok(kv, &cpu);
    assert_pair(&p, EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    embp_precision_request req;
    parse_ok(kv, &req);
    embp_error err;
    assert_int_equal(embp_plan_resolve(&req, "other", &cpu, 0, &p, &err), EMBP_OK);
    assert_pair(&p, EMBP_STORAGE_BF16, EMBP_COMPUTE_BF16);
    embp_precision_request_free(&req);
    /* nothing asked: fp32, no reasons; auto: fp32 flagged */
    p = plan_ok(REQ("EMB_PROVIDER_QUANT_GROUP_SIZE", "32"), &cpu);
    assert_pair(&p, EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    assert_int_equal(p.n_reasons, 0);
    assert_false(p.is_auto);
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "auto"), &cpu);
    assert_pair(&p, EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    assert_true(p.is_auto);
    assert_true(isnan(p.fidelity_mean) && isnan(p.fidelity_min));
}

static void test_shorthands_resolve_to_documented_pairs_on_zen5(void **state) {
    (void)state;
    embp_cpu cpu = zen5();
    embp_plan p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "fp16"), &cpu);
    assert_pair(&p, EMBP_STORAGE_FP16, EMBP_COMPUTE_BF16);
    assert_int_equal(p.memory, EMBP_STORAGE_BF16); /* honest: held as bf16 */
    assert_true(p.bytes_per_weight == 2.0);
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT4, EMBP_COMPUTE_BF16);
    assert_string_equal(p.kernel, "avx512_bf16 below 512 rows a call, oneDNN bf16 on dequantized "
                                  "weights from 512");
    assert_int_equal(p.group_size, 32);
    assert_true(p.bytes_per_weight == 0.5 + 2.0 / 32);
    assert_int_equal(p.n_reasons, 0);
    assert_string_equal(p.accumulation, "fp32");
    assert_contains(p.desc, "storage int4 (group 32, fp16 scales), compute bf16");
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4", "EMB_PROVIDER_QUANT_GROUP_SIZE", "128"),
                &cpu);
    assert_int_equal(p.group_size, 128);
    char key[64];
    embp_plan_key(&p, key, sizeof key);
    assert_string_equal(key, "int4/bf16/g128");
}

/* ---------------------------------------------------------------- fallbacks */

static void test_bf16_without_avx512_bf16_falls_back_to_fp32_compute(void **state) {
    (void)state;
    embp_cpu cpu = masked("-avx512_bf16");
    embp_plan p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "bf16"), &cpu);
    assert_pair(&p, EMBP_STORAGE_BF16, EMBP_COMPUTE_FP32);
    assert_int_equal(p.memory, EMBP_STORAGE_FP32);
    assert_int_equal(p.requested_compute, EMBP_COMPUTE_BF16);
    assert_contains(p.reasons[0], "compute bf16 needs AVX512_BF16 or AMX-BF16, not found: "
                                  "storage bf16 kept, compute fp32");
    /* fp16 picks the best compute the CPU has: fp32 here, no fallback to explain */
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "fp16"), &cpu);
    assert_pair(&p, EMBP_STORAGE_FP16, EMBP_COMPUTE_FP32);
    assert_true(p.bytes_per_weight == 4.0);
    /* int4 shorthand takes int8 compute when there is no bf16 but VNNI */
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT4, EMBP_COMPUTE_INT8);
    assert_string_equal(p.kernel, "avx512_vnni");
}

static void test_int8_without_vnni_falls_back_with_reason(void **state) {
    (void)state;
    embp_cpu cpu = masked("-avx512_vnni,-avx_vnni");
    embp_plan p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8"), &cpu);
    assert_pair(&p, EMBP_STORAGE_BF16, EMBP_COMPUTE_BF16);
    assert_contains(p.reasons[0], "compute int8 needs AVX512_VNNI or AVX-VNNI, not found");
    /* explicit int4/int8 needs the VNNI int4 kernel: bf16 instead */
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_STORAGE_PRECISION", "int4",
                    "EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "int8"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT4, EMBP_COMPUTE_BF16);
    assert_contains(p.reasons[0], "int4 with compute int8 needs AVX512_VNNI");
}

static void test_avx2_and_scalar_cpus_run_fp32_and_slower_int4_paths(void **state) {
    (void)state;
    embp_cpu cpu = masked("avx2");
    /* int8 stays int8 on AVX2 (faster than fp32 there), with 7-bit weights and the reason */
    embp_plan p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8);
    assert_contains(p.reasons[0], "weights are kept to 7 bits");
    cpu = masked("scalar"); /* no AVX2 at all: fp32 */
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8"), &cpu);
    assert_pair(&p, EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    assert_contains(p.reasons[0], "AVX512_VNNI or AVX-VNNI");
    cpu = masked("avx2");
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "bf16"), &cpu);
    assert_pair(&p, EMBP_STORAGE_BF16, EMBP_COMPUTE_FP32);
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT4, EMBP_COMPUTE_BF16);
    assert_string_equal(p.kernel, "avx2");
    assert_contains(p.reasons[0], "the avx2 path runs it");
    assert_contains(p.reasons[0], "slower");
    cpu = masked("scalar");
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4"), &cpu);
    assert_string_equal(p.kernel, "scalar");
    assert_contains(p.reasons[0], "the scalar path runs it");
}

static void test_strict_mode_turns_fallbacks_into_device_errors(void **state) {
    (void)state;
    embp_cpu cpu = masked("-avx512_bf16");
    embp_precision_request req;
    parse_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "bf16", "EMB_PROVIDER_PRECISION_STRICT", "true"),
             &req);
    embp_plan p;
    embp_error err;
    assert_int_equal(embp_plan_resolve(&req, "m", &cpu, 0, &p, &err), EMBP_EDEVICE);
    assert_contains(explained(&err), "EMB_PROVIDER_MODEL_PRECISION=bf16");
    assert_contains(err.msg, "EMB_PROVIDER_PRECISION_STRICT=true");
    assert_contains(err.msg, "compute bf16 needs AVX512_BF16 or AMX-BF16, not found");
    embp_precision_request_free(&req);
    /* the strict argument does the same without the variable */
    parse_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8"), &req);
    cpu = masked("scalar");
    assert_int_equal(embp_plan_resolve(&req, "m", &cpu, 1, &p, &err), EMBP_EDEVICE);
    assert_contains(err.msg, "AVX512_VNNI");
    cpu = masked("avx2"); /* int8 on AVX2 keeps int8 numerics (7-bit weights): strict accepts */
    assert_int_equal(embp_plan_resolve(&req, "m", &cpu, 1, &p, &err), EMBP_OK);
    assert_pair(&p, EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8);
    embp_precision_request_free(&req);
    /* a slower kernel for the same numerics is not a fallback: strict accepts it */
    parse_ok(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4"), &req);
    assert_int_equal(embp_plan_resolve(&req, "m", &cpu, 1, &p, &err), EMBP_OK);
    assert_string_equal(p.kernel, "avx2");
    embp_precision_request_free(&req);
}

/* ---------------------------------------------------------------- overrides JSON */

static void test_override_object_sets_storage_compute_and_group(void **state) {
    (void)state;
    embp_cpu cpu = zen5();
    embp_plan p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION_OVERRIDES",
                              "{\"m\": {\"storage\": \"int4\", \"compute\": \"int8\", "
                              "\"group_size\": 64}, \"x\": \"bf16\"}"), &cpu);
    assert_pair(&p, EMBP_STORAGE_INT4, EMBP_COMPUTE_INT8);
    assert_int_equal(p.group_size, 64);
    assert_string_equal(p.kernel, "avx512_vnni");
    p = plan_ok(REQ("EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", "{\"m\": {\"precision\": \"int4\"}}",
                    "EMB_PROVIDER_QUANT_GROUP_SIZE", "16"), &cpu);
    assert_int_equal(p.group_size, 16); /* the global group size when the override has none */
}

static void test_override_errors_name_the_model_and_the_problem(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"{\"m\": \"int8\"", "invalid JSON"},
        {"[\"int8\"]", "must be a JSON object"},
        {"{\"m\": 8}", "model \"m\": value must be a precision string"},
        {"{\"m\": \"int9\"}", "precision = \"int9\": allowed values auto|fp32"},
        {"{\"m\": {\"storage\": 4}}", "storage = (not a string)"},
        {"{\"m\": {\"compute\": \"int4\"}}", "compute = \"int4\": allowed values fp32|bf16|int8"},
        {"{\"m\": {\"group_size\": \"64\"}}", "group_size must be an integer"},
        {"{\"m\": {\"group_size\": 24, \"storage\": \"int4\"}}", "group_size must be"},
        {"{\"m\": {\"dtype\": \"int8\"}}", "unknown key \"dtype\""},
        {"{\"m\": {}}", "names no precision, storage or compute"},
        {"{\"m\": \"int8\", \"m\": \"fp32\"}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        embp_precision_request req;
        embp_error err;
        assert_int_equal(request_parse(REQ("EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", cases[i][0]),
                                       &req, &err), EMBP_ECONFIG);
        assert_contains(err.msg, "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES");
        assert_contains(err.msg, cases[i][1]);
        assert_int_equal(cfg.n_precision_overrides, 0);
        assert_int_equal(req.n_overrides, 0);
    }
}

static void test_override_parse_survives_every_allocation_failure(void **state) {
    (void)state;
    for (long n = 0; n < 20; n++) {
        embp_precision_request req;
        embp_error err;
        parse_ok(REQ("EMB_PROVIDER_MODEL_PRECISION_OVERRIDES",
                     "{\"a\": \"int8\", \"b\": \"bf16\"}"), &req);
        embp_precision_request_free(&req);
        embp_alloc_fail_after(n);
        embp_status rc = embp_precision_request_from_opts(&cfg_opts.opts, &req, &err);
        embp_alloc_fail_after(-1);
        assert_true(rc == EMBP_OK || rc == EMBP_ENOMEM);
        if (rc == EMBP_OK) {
            assert_int_equal(req.n_overrides, 2);
            embp_precision_request_free(&req);
            /* a second value replaces the first */
            parse_ok(REQ("EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", "{\"c\": \"fp16\"}"), &req);
            assert_int_equal(req.n_overrides, 1);
            assert_string_equal(req.overrides[0].model, "c");
        } else {
            assert_int_equal(req.n_overrides, 0);
        }
        embp_precision_request_free(&req); /* ASan's leak check sees the rest */
    }
}

/* ---------------------------------------------------------------- the pair table */

static void test_pair_table_lists_each_pair_with_memory_cost(void **state) {
    (void)state;
    int n;
    const embp_precision_pair *t = embp_precision_pairs(&n);
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++)
        assert_ptr_equal(embp_precision_pair_find(t[i].storage, t[i].compute), &t[i]);
    assert_null(embp_precision_pair_find(EMBP_STORAGE_FP16, EMBP_COMPUTE_INT8));
    assert_int_equal(embp_precision_pair_find(EMBP_STORAGE_FP16, EMBP_COMPUTE_BF16)->memory,
                     EMBP_STORAGE_BF16);
    /* int4 g32 with fp16 scales: 0.5 + 2/32; int8 at K = 384: 1 + 4/384 */
    assert_true(embp_precision_bytes_per_weight(EMBP_STORAGE_INT4, 32, 0) == 0.5625);
    assert_true(fabs(embp_precision_bytes_per_weight(EMBP_STORAGE_INT8, 0, 384) - 1.0104166667) <
                1e-9);
    char buf[4096];
    size_t len = embp_precision_pairs_markdown(buf, sizeof buf);
    assert_int_equal(len, strlen(buf));
    assert_contains(buf, "| int4 | bf16 | int4 | 0.5 + 2/g | AVX512_BF16");
    assert_contains(buf, "| fp16 | fp32 | fp32 | 4 | any x86-64 |");
    char small[40];
    assert_int_equal(embp_precision_pairs_markdown(small, sizeof small), len); /* truncates */
    assert_int_equal(strlen(small), sizeof small - 1);
    printf("%s", buf); /* the README's table */
}

/* ---------------------------------------------------------------- auto */

static void test_auto_candidates_are_fastest_first_and_pick_meets_thresholds(void **state) {
    (void)state;
    embp_precision_request req;
    embp_precision_request_init(&req);
    embp_cpu cpu = zen5();
    embp_plan c[8];
    int n = embp_plan_auto_candidates(&req, &cpu, c, 8);
    assert_int_equal(n, 4);
    assert_pair(&c[0], EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8);
    assert_pair(&c[1], EMBP_STORAGE_BF16, EMBP_COMPUTE_BF16);
    assert_pair(&c[2], EMBP_STORAGE_INT4, EMBP_COMPUTE_BF16);
    assert_pair(&c[3], EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    /* nothing measured: fp32 */
    assert_int_equal(embp_plan_pick(c, n, 0.999, 0.995), 3);
    c[0].fidelity_mean = 0.9995, c[0].fidelity_min = 0.990; /* min too low */
    c[1].fidelity_mean = 0.99999, c[1].fidelity_min = 0.9999;
    assert_int_equal(embp_plan_pick(c, n, 0.999, 0.995), 1);
    assert_int_equal(embp_plan_pick(c, n, 0.999, 0.99), 0);
    assert_int_equal(embp_plan_pick(c, n, 0.999999, 0.99), 3);
    cpu = masked("avx2");
    n = embp_plan_auto_candidates(&req, &cpu, c, 8);
    assert_int_equal(n, 2); /* int8 through AVX2 (measured faster than fp32), then fp32 */
    assert_pair(&c[0], EMBP_STORAGE_INT8, EMBP_COMPUTE_INT8);
    assert_pair(&c[1], EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    cpu = masked("scalar");
    n = embp_plan_auto_candidates(&req, &cpu, c, 8);
    assert_int_equal(n, 1); /* nothing beats fp32 there */
    assert_pair(&c[0], EMBP_STORAGE_FP32, EMBP_COMPUTE_FP32);
    cpu = masked("-avx512_bf16");
    n = embp_plan_auto_candidates(&req, &cpu, c, 8);
    assert_int_equal(n, 3); /* int8, int4/int8, fp32 */
    assert_pair(&c[1], EMBP_STORAGE_INT4, EMBP_COMPUTE_INT8);
    parse_ok(REQ("EMB_PROVIDER_FIDELITY_MIN", "0.99,0.98"), &req);
    assert_true(req.fidelity_mean_min == 0.99 && req.fidelity_min_min == 0.98);
    embp_precision_request_free(&req);
}

/* ---------------------------------------------------------------- probe, fidelity, cache */

static void test_fidelity_is_mean_and_min_cosine_worked_by_hand(void **state) {
    (void)state;
    /* rows: same direction (1), 90 degrees (0), 60 degrees (0.5), both zero (1) */
    const float ref[4 * 2] = {1, 0, 1, 0, 1, 0, 0, 0};
    const float a[4 * 2] = {3, 0, 0, 2, 0.5f, 0.8660254f, 0, 0};
    double mean, min;
    embp_error err;
    assert_int_equal(embp_fidelity(a, ref, 4, 2, &mean, &min, &err), EMBP_OK);
    assert_true(fabs(mean - 2.5 / 4) < 1e-7);
    assert_true(fabs(min - 0.0) < 1e-12);
    const float nan_row[2] = {NAN, 1};
    assert_int_equal(embp_fidelity(nan_row, ref, 1, 2, &mean, &min, &err), EMBP_OK);
    assert_true(mean == 0.0);
    assert_int_equal(embp_fidelity(a, ref, 0, 2, &mean, &min, &err), EMBP_EINVAL);
}

/* A reranker's fidelity: per row the Pearson r of a plan's scores with fp32's, worked by hand.
 * Row 0: a shifted, scaled copy (r 1: a plan may move every logit alike); row 1: reversed
 * (r -1); row 2: x (1, 2, 3, 4) against y (1, 3, 2, 4): centered (-1.5, -0.5, 0.5, 1.5) and
 * (-1.5, 0.5, -0.5, 1.5), sum of products 4, sums of squares 5 and 5: r 0.8. A cosine of the
 * raw rows would call row 1 0.67 and miss the reversal. */
static void test_score_fidelity_is_pearson_per_query_worked_by_hand(void **state) {
    (void)state;
    const float ref[3 * 4] = {1, 2, 3, 4, 1, 2, 3, 4, 1, 3, 2, 4};
    const float a[3 * 4] = {12, 14, 16, 18, 4, 3, 2, 1, 1, 2, 3, 4};
    double mean, min;
    embp_error err;
    assert_int_equal(embp_fidelity_scores(a, ref, 3, 4, &mean, &min, &err), EMBP_OK);
    assert_true(fabs(mean - (1.0 - 1.0 + 0.8) / 3) < 1e-7);
    assert_true(fabs(min + 1.0) < 1e-7);
    const float flat[4] = {5, 5, 5, 5}, nan_row[4] = {1, NAN, 2, 3};
    assert_int_equal(embp_fidelity_scores(flat, flat, 1, 4, &mean, &min, &err), EMBP_OK);
    assert_true(mean == 1.0); /* constant and equal: nothing to order, nothing lost */
    assert_int_equal(embp_fidelity_scores(flat, ref, 1, 4, &mean, &min, &err), EMBP_OK);
    assert_true(mean == 0.0);
    assert_int_equal(embp_fidelity_scores(nan_row, ref, 1, 4, &mean, &min, &err), EMBP_OK);
    assert_true(mean == 0.0);
    assert_int_equal(embp_fidelity_scores(a, ref, 3, 1, &mean, &min, &err), EMBP_EINVAL);
}

static void test_probe_set_has_forty_varied_sentences(void **state) {
    (void)state;
    int n;
    const char *const *t = embp_probe_texts(&n);
    assert_true(n >= 40);
    int digits = 0, non_ascii = 0, long_ones = 0;
    for (int i = 0; i < n; i++) {
        assert_true(strlen(t[i]) > 0);
        digits += strpbrk(t[i], "0123456789") != NULL;
        for (const char *p = t[i]; *p; p++)
            if ((unsigned char)*p >= 0x80) {
                non_ascii++;
                break;
            }
        long_ones += strlen(t[i]) > 150;
    }
    assert_true(digits >= 8 && non_ascii >= 8 && long_ones >= 2);
}

static void test_fidelity_cache_round_trips_and_misses_on_changed_file(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/fidelity.json", dir);
    embp_fidelity_key key = {"/models/m/model.safetensors", 90868376, 1764048000, "int4/bf16/g32"};
    int found = 1;
    double mean, min;
    embp_error err;
    assert_int_equal(embp_fidelity_cache_get(path, &key, &found, &mean, &min, &err), EMBP_OK);
    assert_int_equal(found, 0); /* no file yet */
    assert_int_equal(embp_fidelity_cache_put(path, &key, 0.9991, 0.9973, &err), EMBP_OK);
    assert_int_equal(embp_fidelity_cache_put(path, &key, 0.9992, 0.9974, &err), EMBP_OK);
    assert_int_equal(embp_fidelity_cache_get(path, &key, &found, &mean, &min, &err), EMBP_OK);
    assert_int_equal(found, 1);
    assert_true(mean == 0.9992 && min == 0.9974);
    embp_fidelity_key moved = key;
    moved.mtime++;
    assert_int_equal(embp_fidelity_cache_get(path, &moved, &found, &mean, &min, &err), EMBP_OK);
    assert_int_equal(found, 0);
    size_t len;
    char *text = tu_read_file(path, &len);
    assert_non_null(strstr(text, "\"plan\": \"int4/bf16/g32\""));
    free(text);
    FILE *f = fopen(path, "w");
    fputs("{\"version\": 1, \"entries\": 3}", f);
    fclose(f);
    assert_int_equal(embp_fidelity_cache_get(path, &key, &found, &mean, &min, &err), EMBP_EFORMAT);
    assert_contains(err.msg, path);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* ---------------------------------------------------------------- folders from embp quantize */

/* Resolves kv for model "m" against a file holding storage fs (group fg). */
static embp_status file_plan(const char *const *kv, const embp_cpu *cpu, embp_storage fs, int fg,
                             embp_plan *p, embp_error *err) {
    embp_precision_request req;
    embp_precision_request_init(&req);
    parse_ok(kv, &req);
    embp_status rc = embp_plan_resolve_file(&req, "m", cpu, 0, fs, fg, "q/model.safetensors", p,
                                            err);
    embp_precision_request_free(&req);
    return rc;
}

static void test_quantized_folder_takes_its_storage_when_nothing_or_auto_is_asked(void **state) {
    (void)state;
    embp_cpu c = zen5();
    embp_plan p;
    embp_error err;
    const char *const *asks[] = {REQ("X", "1"), REQ("EMB_PROVIDER_MODEL_PRECISION", "auto")};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(file_plan(asks[i], &c, EMBP_STORAGE_INT4, 64, &p, &err), EMBP_OK);
        assert_int_equal(p.storage, EMBP_STORAGE_INT4);
        assert_int_equal(p.compute, EMBP_COMPUTE_BF16);
        assert_int_equal(p.group_size, 64); /* the file's, not the default 32 */
        assert_int_equal(p.prequantized, 1);
        assert_int_equal(p.is_auto, 0);     /* no candidates: the fp32 weights are not there */
        assert_non_null(strstr(p.reasons[0], "q/model.safetensors holds int4 weights"));
    }
    assert_int_equal(file_plan(REQ("X", "1"), &c, EMBP_STORAGE_INT8, 0, &p, &err), EMBP_OK);
    assert_int_equal(p.storage, EMBP_STORAGE_INT8);
    assert_int_equal(p.compute, EMBP_COMPUTE_INT8);
}

static void test_quantized_folder_refuses_another_storage_and_names_the_file(void **state) {
    (void)state;
    embp_cpu c = zen5();
    embp_plan p;
    embp_error err;
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_PRECISION", "fp32"), &c, EMBP_STORAGE_INT8,
                               0, &p, &err), EMBP_ECONFIG);
    assert_non_null(strstr(err.msg, "precision=fp32"));
    assert_non_null(strstr(explained(&err), "EMB_PROVIDER_MODEL_PRECISION=fp32"));
    assert_non_null(strstr(err.msg, "q/model.safetensors holds int8 weights"));
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_STORAGE_PRECISION", "int4"), &c,
                               EMBP_STORAGE_INT8, 0, &p, &err), EMBP_ECONFIG);
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_ENABLE_QUANTIZATION", "false"), &c,
                               EMBP_STORAGE_INT4, 32, &p, &err), EMBP_ECONFIG);
    assert_non_null(strstr(explained(&err), "EMB_PROVIDER_ENABLE_QUANTIZATION=false"));
    /* the per-model override wins over the global, here too */
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_PRECISION", "fp32",
                                   "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", "{\"m\":\"int8\"}"),
                               &c, EMBP_STORAGE_INT8, 0, &p, &err), EMBP_OK);
    assert_int_equal(p.storage, EMBP_STORAGE_INT8);
}

static void test_quantized_folder_compute_and_group_follow_the_file(void **state) {
    (void)state;
    embp_cpu c = zen5();
    embp_plan p;
    embp_error err;
    /* compute alone: the storage stays the file's */
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "int8"), &c,
                               EMBP_STORAGE_INT4, 32, &p, &err), EMBP_OK);
    assert_int_equal(p.storage, EMBP_STORAGE_INT4);
    assert_int_equal(p.compute, EMBP_COMPUTE_INT8);
    /* the same storage asked with another group: the file's group, with the reason */
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_PRECISION", "int4"), &c, EMBP_STORAGE_INT4,
                               128, &p, &err), EMBP_OK);
    assert_int_equal(p.group_size, 128);
    assert_true(p.n_reasons >= 1);
    assert_non_null(strstr(p.desc, "group 128"));
    /* without VNNI, int4 x int8 falls back to bf16 numerics, as for any int4 plan */
    embp_cpu nv = masked("-avx512_vnni,-avx_vnni");
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_COMPUTATION_PRECISION", "int8"), &nv,
                               EMBP_STORAGE_INT4, 32, &p, &err), EMBP_OK);
    assert_int_equal(p.compute, EMBP_COMPUTE_BF16);
    /* a bf16 file is an ordinary checkpoint: other storages may be asked of it */
    assert_int_equal(file_plan(REQ("EMB_PROVIDER_MODEL_PRECISION", "int8"), &c, EMBP_STORAGE_BF16,
                               0, &p, &err), EMBP_OK);
    assert_int_equal(p.storage, EMBP_STORAGE_INT8);
    assert_int_equal(p.prequantized, 1);
    assert_int_equal(file_plan(REQ("X", "1"), &c, EMBP_STORAGE_BF16, 0, &p, &err), EMBP_OK);
    assert_int_equal(p.storage, EMBP_STORAGE_BF16);
    assert_int_equal(p.compute, EMBP_COMPUTE_BF16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bad_value_names_variable_value_and_allowed_values),
        cmocka_unit_test(test_quantization_methods_other_than_rtn_are_errors_saying_why),
        cmocka_unit_test(test_pair_embp_cannot_run_is_a_config_error_listing_pairs),
        cmocka_unit_test(test_disabled_quantization_rejects_int8_and_int4_naming_both_variables),
        cmocka_unit_test(test_precedence_override_then_explicit_then_global_then_fp32),
        cmocka_unit_test(test_shorthands_resolve_to_documented_pairs_on_zen5),
        cmocka_unit_test(test_bf16_without_avx512_bf16_falls_back_to_fp32_compute),
        cmocka_unit_test(test_int8_without_vnni_falls_back_with_reason),
        cmocka_unit_test(test_avx2_and_scalar_cpus_run_fp32_and_slower_int4_paths),
        cmocka_unit_test(test_strict_mode_turns_fallbacks_into_device_errors),
        cmocka_unit_test(test_override_object_sets_storage_compute_and_group),
        cmocka_unit_test(test_override_errors_name_the_model_and_the_problem),
        cmocka_unit_test(test_override_parse_survives_every_allocation_failure),
        cmocka_unit_test(test_pair_table_lists_each_pair_with_memory_cost),
        cmocka_unit_test(test_auto_candidates_are_fastest_first_and_pick_meets_thresholds),
        cmocka_unit_test(test_fidelity_is_mean_and_min_cosine_worked_by_hand),
        cmocka_unit_test(test_score_fidelity_is_pearson_per_query_worked_by_hand),
        cmocka_unit_test(test_probe_set_has_forty_varied_sentences),
        cmocka_unit_test(test_fidelity_cache_round_trips_and_misses_on_changed_file),
        cmocka_unit_test(test_quantized_folder_takes_its_storage_when_nothing_or_auto_is_asked),
        cmocka_unit_test(test_quantized_folder_refuses_another_storage_and_names_the_file),
        cmocka_unit_test(test_quantized_folder_compute_and_group_follow_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
