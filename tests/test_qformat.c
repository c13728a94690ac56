/* io/qformat: what the writer's layout and metadata produce, the reader takes back (through a
 * real safetensors file), and each way a quantized weight can be malformed is an error naming
 * the tensor. The bytes are hand-made here, not by embp quantize. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/qformat.h"
#include "io/safetensors.h"

enum { N = 3, K = 64 };

typedef struct {
    embp_st_write_tensor t[4];
    int n;
    int8_t q8[N * K];
    float s8[N];
    uint8_t q4[N * K / 2];
    uint16_t s4[N * K / 32];
} file_parts;

/* An int8 weight "a.weight" and an int4 one "b.weight" (g 32) with their scales, laid out by
 * embp_qf_layout_of; drop names a scale tensor to leave out, s4_dtype overrides b's scales. */
static void make_parts(file_parts *p, const char *drop, embp_dtype s4_dtype) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < N * K; i++)
        p->q8[i] = (int8_t)(i % 255 - 127);
    for (int i = 0; i < N * K / 2; i++)
        p->q4[i] = (uint8_t)i;
    for (int i = 0; i < N; i++)
        p->s8[i] = 0.5f * (float)(i + 1);
    for (int i = 0; i < N * K / 32; i++)
        p->s4[i] = 0x3c00; /* fp16 1.0 */
    embp_qf_layout l8, l4;
    embp_qf_layout_of(EMBP_QF_INT8, N, K, 0, &l8);
    embp_qf_layout_of(EMBP_QF_INT4, N, K, 32, &l4);
    struct {
        const char *name;
        embp_dtype dt;
        int nd;
        const int64_t *shape;
        const void *data;
    } all[4] = {{"a.weight", l8.q_dtype, 2, l8.q_shape, p->q8},
                {"a.weight_scale", l8.s_dtype, l8.s_dims, l8.s_shape, p->s8},
                {"b.weight", l4.q_dtype, 2, l4.q_shape, p->q4},
                {"b.weight_scale", s4_dtype, l4.s_dims, l4.s_shape, p->s4}};
    for (int i = 0; i < 4; i++) {
        if (drop && strcmp(drop, all[i].name) == 0)
            continue;
        embp_st_write_tensor *t = &p->t[p->n++];
        t->name = all[i].name, t->dtype = all[i].dt, t->n_dims = all[i].nd, t->data = all[i].data;
        memcpy(t->shape, all[i].shape, (size_t)all[i].nd * sizeof(int64_t));
    }
}

/* Tensors t[0..n) with the n_meta metadata pairs keys/vals, written into a fresh temporary
 * folder's model.safetensors, opened; the folder is removed at once (the file stays mapped). */
static embp_safetensors *write_tensors(const embp_st_write_tensor *t, int n,
                                       const char *const *keys, const char *const *vals,
                                       int n_meta) {
    char *dir = tu_tmpdir(), path[512];
    embp_error err;
    embp_safetensors *st = NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(embp_st_write(path, t, n, keys, vals, n_meta, &err), EMBP_OK);
    assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
    tu_remove_dir(dir);
    return st;
}

/* p's tensors in a file embp quantize would write for storage with group size g. */
static embp_safetensors *write_and_open(const file_parts *p, const char *storage, int g) {
    char grp[16];
    const char *mk[EMBP_QF_META_MAX], *mv[EMBP_QF_META_MAX];
    int nm = embp_qf_meta_pairs(storage, g, grp, mk, mv);
    return write_tensors(p->t, p->n, mk, mv, nm);
}

/* make_parts, then write_and_open. */
static embp_safetensors *open_parts(file_parts *p, const char *drop, embp_dtype s4_dtype,
                                    const char *storage, int g) {
    make_parts(p, drop, s4_dtype);
    return write_and_open(p, storage, g);
}

/* st's metadata reads as storage (NULL: an ordinary file) with group size g. */
static void expect_meta(const embp_safetensors *st, const char *storage, int g) {
    embp_qf_meta meta;
    embp_error err;
    assert_int_equal(embp_qf_meta_read(st, "m", &meta, &err), EMBP_OK);
    if (storage)
        assert_string_equal(meta.storage, storage);
    else
        assert_null(meta.storage);
    assert_int_equal(meta.group_size, g);
}

static void test_written_weights_and_metadata_read_back(void **state) {
    (void)state;
    file_parts p;
    embp_safetensors *st = open_parts(&p, NULL, EMBP_DT_F16, "int4", 32);
    embp_error err;
    expect_meta(st, "int4", 32);
    assert_string_equal(embp_st_metadata(st, "embp.format"), "embp-quantized-1");
    embp_qf_weight w;
    const embp_st_tensor *a = embp_st_find(st, "a.weight"), *b = embp_st_find(st, "b.weight");
    assert_int_equal(embp_qf_form_of(a), EMBP_QF_INT8);
    assert_int_equal(embp_qf_form_of(b), EMBP_QF_INT4);
    assert_int_equal(embp_qf_weight_read(st, a, N, K, &w, &err), EMBP_OK);
    assert_memory_equal(w.q, p.q8, sizeof p.q8);
    assert_memory_equal(w.scales, p.s8, sizeof p.s8);
    assert_int_equal(embp_qf_weight_read(st, b, N, K, &w, &err), EMBP_OK);
    assert_int_equal(w.group_size, 32);
    assert_memory_equal(w.q, p.q4, sizeof p.q4);
    assert_memory_equal(w.scales, p.s4, sizeof p.s4);
    /* the wrong K for the file is a shape error naming the tensor */
    assert_int_equal(embp_qf_weight_read(st, a, N, K / 2, &w, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "'a.weight'"));
    embp_st_close(st);
}

static void test_int8_file_has_no_group_and_plain_file_no_storage(void **state) {
    (void)state;
    file_parts p;
    embp_safetensors *st = open_parts(&p, NULL, EMBP_DT_F16, "int8", 32);
    expect_meta(st, "int8", 0);
    assert_null(embp_st_metadata(st, "embp.group_size"));
    embp_st_close(st);
    st = write_tensors(p.t, 1, NULL, NULL, 0);
    expect_meta(st, NULL, 0);
    embp_st_close(st);
}

static void test_missing_or_mistyped_scales_are_errors_naming_them(void **state) {
    (void)state;
    file_parts p;
    embp_error err;
    embp_qf_weight w;
    embp_safetensors *st = open_parts(&p, "b.weight_scale", EMBP_DT_F16, "int4", 32);
    assert_int_equal(embp_qf_weight_read(st, embp_st_find(st, "b.weight"), N, K, &w, &err),
                     EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "scales 'b.weight_scale' are missing"));
    embp_st_close(st);
    st = open_parts(&p, NULL, EMBP_DT_BF16, "int4", 32);
    assert_int_equal(embp_qf_weight_read(st, embp_st_find(st, "b.weight"), N, K, &w, &err),
                     EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "dtype BF16, expected F16 (int4 group scales)"));
    embp_st_close(st);
}

static void test_bad_metadata_is_an_error_naming_the_key(void **state) {
    (void)state;
    file_parts p;
    make_parts(&p, NULL, EMBP_DT_F16);
    embp_error err;
    embp_qf_meta meta;
    const char *k1[] = {"embp.storage"}, *v1[] = {"fp32"};
    const char *k2[] = {"embp.storage", "embp.group_size"}, *v2[] = {"int4", "48"};
    const char *const *ks[2] = {k1, k2}, *const *vs[2] = {v1, v2};
    const char *want[2] = {"\"embp.storage\" is \"fp32\"", "\"embp.group_size\" is \"48\""};
    for (int i = 0; i < 2; i++) {
        embp_safetensors *st = write_tensors(p.t, p.n, ks[i], vs[i], i + 1);
        assert_int_equal(embp_qf_meta_read(st, "m", &meta, &err), EMBP_EFORMAT);
        assert_non_null(strstr(err.msg, want[i]));
        embp_st_close(st);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_weights_and_metadata_read_back),
        cmocka_unit_test(test_int8_file_has_no_group_and_plain_file_no_storage),
        cmocka_unit_test(test_missing_or_mistyped_scales_are_errors_naming_them),
        cmocka_unit_test(test_bad_metadata_is_an_error_naming_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
