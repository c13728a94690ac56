/* safetensors reader: the fixture files, a write/read round trip, shards, and every kind of
 * broken file a stranger could hand us (each must end in EMBP_EFORMAT naming the problem). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/safetensors.h"

/* A file image: 8-byte length, header text (as given), data bytes. */
static size_t image(uint8_t *buf, const char *hdr, const void *data, size_t dlen) {
    size_t h = strlen(hdr);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, hdr, h);
    memcpy(buf + 8 + h, data, dlen);
    return 8 + h + dlen;
}

static void expect_fail(const char *hdr, size_t dlen, const char *needle) {
    static uint8_t buf[4096];
    uint8_t data[256] = {0};
    size_t n = image(buf, hdr, data, dlen);
    embp_safetensors *st = (embp_safetensors *)1;
    embp_error err;
    embp_status s = embp_st_open_buffer(buf, n, "bad.safetensors", &st, &err);
    if (s != EMBP_EFORMAT || !strstr(err.msg, needle) || st != NULL)
        fail_msg("header %s: status %d, message '%s', expected EFORMAT with '%s'", hdr, s,
                 s ? err.msg : "", needle);
    assert_non_null(strstr(err.msg, "bad.safetensors"));
}

static void test_reads_fixture_tensors_with_config_shapes(void **state) {
    (void)state;
    char *path = tu_fixture("minilm/model.safetensors");
    embp_safetensors *st;
    embp_error err;
    assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
    const embp_st_tensor *t = embp_st_find(st, "embeddings.word_embeddings.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, EMBP_DT_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->shape[0], 30522);
    assert_int_equal(t->shape[1], 384);
    t = embp_st_find(st, "encoder.layer.5.intermediate.dense.weight");
    assert_non_null(t);
    assert_int_equal(t->shape[0], 1536);
    assert_int_equal(t->shape[1], 384);
    assert_null(embp_st_find(st, "encoder.layer.6.intermediate.dense.weight"));
    assert_true(embp_st_count(st) > 90);
    embp_st_close(st);
    free(path);
}

static void test_dir_without_weights_names_the_folder(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    embp_safetensors *st;
    embp_error err;
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_EIO);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "model.safetensors"));
    rmdir(dir);
    free(dir);
}

static void test_write_then_read_round_trips(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t b[3] = {0x3f80, 0x4000, 0xbf80};
    embp_st_write_tensor ts[] = {{"a", EMBP_DT_F32, 2, {2, 3}, a}, {"b", EMBP_DT_BF16, 1, {3}, b}};
    const char *k[] = {"format"}, *v[] = {"pt"};
    embp_error err;
    assert_int_equal(embp_st_write(path, ts, 2, k, v, 1, &err), EMBP_OK);
    embp_safetensors *st;
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_OK);
    const embp_st_tensor *t = embp_st_find(st, "a");
    assert_non_null(t);
    assert_int_equal(t->nbytes, sizeof a);
    assert_memory_equal(t->data, a, sizeof a);
    t = embp_st_find(st, "b");
    assert_int_equal(t->dtype, EMBP_DT_BF16);
    assert_memory_equal(t->data, b, sizeof b);
    assert_string_equal(embp_st_metadata(st, "format"), "pt");
    assert_null(embp_st_metadata(st, "nope"));
    embp_st_close(st);
    unlink(path);
    rmdir(dir);
    free(dir);
}

static void write_index(const char *dir, const char *json) {
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    tu_write_file(path, json);
}

static void test_sharded_index_opens_every_shard(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    embp_st_write_tensor t1 = {"x", EMBP_DT_F32, 1, {2}, a}, t2 = {"y", EMBP_DT_F32, 1, {3}, b};
    embp_error err;
    assert_int_equal(embp_st_write(p1, &t1, 1, NULL, NULL, 0, &err), EMBP_OK);
    assert_int_equal(embp_st_write(p2, &t2, 1, NULL, NULL, 0, &err), EMBP_OK);
    write_index(dir, "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
                     "\"y\":\"model-00002-of-00002.safetensors\"}}");
    embp_safetensors *st;
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_OK);
    assert_int_equal(embp_st_count(st), 2);
    assert_memory_equal(embp_st_find(st, "y")->data, b, sizeof b);
    embp_st_close(st);

    write_index(dir, "{\"weight_map\":{\"x\":\"model-00002-of-00002.safetensors\"}}");
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "'x' is not in model-00002-of-00002.safetensors"));
    write_index(dir, "{\"weight_map\":{\"x\":\"../etc/passwd\"}}");
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "file name in the model folder"));
    write_index(dir, "{\"weights\":{}}");
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "weight_map"));
    tu_remove_dir(dir);
}

static void test_broken_headers_fail_with_a_reason(void **state) {
    (void)state;
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8,
                "outside the data section");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                "expected 12");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16, "overlap");
    expect_fail("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                "dtype Q4 is not one of");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                "\"data_offsets\":[0,8]}}", 8, "overflows");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                "outside the data section");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
    expect_fail("{\"a\":[1,2]}", 8, "not an object");
    expect_fail("[1,2,3]", 0, "not a JSON object");
    expect_fail("{\"a\":", 0, "header JSON");
    expect_fail("{\"__metadata__\":{\"k\":1}}", 0, "'k' is not a string");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                "header JSON");
}

/* Every prefix of a valid file is either rejected cleanly or (past the header) still valid. */
static void test_truncation_at_every_byte_is_a_clean_error(void **state) {
    (void)state;
    uint8_t buf[512];
    float d[4] = {1, 2, 3, 4};
    size_t n = image(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d,
                     sizeof d);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *copy = malloc(cut + 1); /* exact size: ASan sees any overread */
        memcpy(copy, buf, cut);
        embp_safetensors *st;
        embp_error err;
        assert_int_equal(embp_st_open_buffer(copy, cut, "cut", &st, &err), EMBP_EFORMAT);
        free(copy);
    }
    embp_safetensors *st;
    embp_error err;
    assert_int_equal(embp_st_open_buffer(buf, n, "whole", &st, &err), EMBP_OK);
    embp_st_close(st);
}

static void test_header_length_beyond_file_is_refused_before_parsing(void **state) {
    (void)state;
    uint8_t buf[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    embp_safetensors *st;
    embp_error err;
    assert_int_equal(embp_st_open_buffer(buf, 10, "huge", &st, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "exceeds the file size"));
}

static void test_out_of_memory_while_parsing_is_clean(void **state) {
    (void)state;
    uint8_t buf[512];
    float d[4] = {1, 2, 3, 4};
    size_t n = image(buf, "{\"__metadata__\":{\"a\":\"b\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                          "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
                          "\"data_offsets\":[8,16]}}", d, sizeof d);
    int failures = 0;
    for (long k = 0; k < 40; k++) {
        embp_safetensors *st;
        embp_error err;
        embp_alloc_fail_after(k);
        embp_status s = embp_st_open_buffer(buf, n, "oom", &st, &err);
        embp_alloc_fail_after(-1);
        if (s == EMBP_OK) {
            embp_st_close(st);
            break;
        }
        assert_int_equal(s, EMBP_ENOMEM);
        failures++;
    }
    assert_true(failures > 3); /* the injector really hit several allocations */
}

static void test_nan_or_inf_weights_are_named(void **state) {
    (void)state;
    float good[3] = {1, -2, 3}, nan_w[3] = {1, 0, 3};
    uint16_t inf_h[2] = {0x3c00, 0xfc00}; /* fp16 1.0, -inf */
    nan_w[1] = __builtin_nanf("");
    embp_st_write_tensor ts[] = {{"ok", EMBP_DT_F32, 1, {3}, good},
                                 {"layer.bad", EMBP_DT_F32, 1, {3}, nan_w},
                                 {"half", EMBP_DT_F16, 1, {2}, inf_h}};
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    embp_error err;
    for (int n = 1; n <= 3; n += 2) { /* "ok" alone passes; with the others, each is named */
        assert_int_equal(embp_st_write(path, n == 1 ? ts : ts + 1, n == 1 ? 1 : 2, NULL, NULL, 0,
                                       &err), EMBP_OK);
        embp_safetensors *st;
        assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
        embp_status s = embp_st_check_finite(st, &err);
        if (n == 1) {
            assert_int_equal(s, EMBP_OK);
        } else {
            assert_int_equal(s, EMBP_EFORMAT);
            assert_non_null(strstr(err.msg, "'half' holds NaN or infinity (element 1)"));
        }
        embp_st_close(st);
    }
    ts[2].data = good; /* now only layer.bad is wrong */
    ts[2].dtype = EMBP_DT_F32;
    ts[2].shape[0] = 3;
    assert_int_equal(embp_st_write(path, ts, 3, NULL, NULL, 0, &err), EMBP_OK);
    embp_safetensors *st;
    assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
    assert_int_equal(embp_st_check_finite(st, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "'layer.bad' holds NaN or infinity (element 1)"));
    embp_st_close(st);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* The scan reads blocks of 4096 elements without a branch, then finds the element in the bad
 * block: a NaN or infinity anywhere in a large tensor (first, at a block's last or first
 * element, in the short tail) is named at its index, in each float dtype; and a scanned file's
 * tensors read back the same although the scan released their pages. */
static void test_scan_names_the_element_in_a_large_tensor(void **state) {
    (void)state;
    enum { N = 3 * 4096 + 100 };
    float *f = malloc(N * sizeof *f);
    uint16_t *h = malloc(N * sizeof *h);
    for (int i = 0; i < N; i++)
        f[i] = (float)(i % 97) - 48.0f, h[i] = 0x3c00; /* fp16 and bf16 both finite */
    const int at[] = {0, 4095, 4096, 3 * 4096 + 99};
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    embp_error err;
    for (int d = 0; d < 3; d++)
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
            embp_dtype dt = d == 0 ? EMBP_DT_F32 : d == 1 ? EMBP_DT_F16 : EMBP_DT_BF16;
            float fsave = f[at[k]];
            uint16_t hsave = h[at[k]];
            if (d == 0)
                f[at[k]] = k % 2 ? __builtin_inff() : __builtin_nanf("");
            else
                h[at[k]] = d == 1 ? 0x7e00 : 0xff80; /* fp16 NaN, bf16 -inf */
            embp_st_write_tensor ts[] = {{"big", dt, 1, {N}, d == 0 ? (void *)f : (void *)h}};
            assert_int_equal(embp_st_write(path, ts, 1, NULL, NULL, 0, &err), EMBP_OK);
            embp_safetensors *st;
            assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
            assert_int_equal(embp_st_check_finite(st, &err), EMBP_EFORMAT);
            char want[64];
            snprintf(want, sizeof want, "'big' holds NaN or infinity (element %d)", at[k]);
            if (!strstr(err.msg, want))
                fail_msg("dtype %s, bad element %d: %s", embp_dtype_name(dt), at[k], err.msg);
            embp_st_close(st);
            f[at[k]] = fsave, h[at[k]] = hsave;
        }
    embp_st_write_tensor ok[] = {{"f", EMBP_DT_F32, 1, {N}, f}, {"h", EMBP_DT_BF16, 1, {N}, h}};
    assert_int_equal(embp_st_write(path, ok, 2, NULL, NULL, 0, &err), EMBP_OK);
    embp_safetensors *st;
    assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
    assert_int_equal(embp_st_check_finite(st, &err), EMBP_OK);
    assert_memory_equal(embp_st_find(st, "f")->data, f, N * sizeof *f);
    assert_memory_equal(embp_st_find(st, "h")->data, h, N * sizeof *h);
    embp_st_close(st);
    unlink(path);
    rmdir(dir);
    free(dir);
    free(f);
    free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_fixture_tensors_with_config_shapes),
        cmocka_unit_test(test_dir_without_weights_names_the_folder),
        cmocka_unit_test(test_write_then_read_round_trips),
        cmocka_unit_test(test_sharded_index_opens_every_shard),
        cmocka_unit_test(test_broken_headers_fail_with_a_reason),
        cmocka_unit_test(test_truncation_at_every_byte_is_a_clean_error),
        cmocka_unit_test(test_header_length_beyond_file_is_refused_before_parsing),
        cmocka_unit_test(test_out_of_memory_while_parsing_is_clean),
        cmocka_unit_test(test_nan_or_inf_weights_are_named),
        cmocka_unit_test(test_scan_names_the_element_in_a_large_tensor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
