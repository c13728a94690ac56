/* The output encodings (src/runtime/encoding.c) against values worked by hand from
 * sentence-transformers' quantize_embeddings formulas (quantization.py): np.packbits(x > 0)
 * (- 128 for binary) and clip(floor((x - lo) / ((hi - lo) / 255)), 0, 255) (- 128 for int8);
 * the ranges setting's forms and errors; encoding_format / embedding_types parsing; and
 * both answer shapes parsed back. tests/test_encodings.sh checks the same against
 * sentence-transformers itself over HTTP. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/encoding.h"
#include "server/request.h"
#include "server/response.h"

/* The ranges setting as the server parses it. */
static embp_status parse_ranges(const char *text, embp_quant_ranges *r, embp_error *err) {
    return embp_quant_ranges_parse(text, "EMB_PROVIDER_QUANTIZE_RANGES", r, err);
}

/* text must parse; *r holds the ranges (free them with embp_quant_ranges_free). */
static void ranges_ok(const char *text, embp_quant_ranges *r) {
    embp_error err;
    if (parse_ranges(text, r, &err) != EMBP_OK)
        fail_msg("ranges %s: %s", text, err.msg);
}

static void expect_bytes(const uint8_t *got, const int *want, int n, int is_signed,
                         const char *what) {
    for (int i = 0; i < n; i++) {
        int g = is_signed ? (int)(int8_t)got[i] : (int)got[i];
        if (g != want[i])
            fail_msg("%s: byte %d is %d, expected %d", what, i, g, want[i]);
    }
}

static void test_binary_packs_sign_bits_big_endian_and_pads_like_packbits(void **state) {
    (void)state;
    /* x > 0: 1 0 0 1 0 1 1 0 | 1 (0.0 is not > 0; 1e-9 is) -> 0b10010110 = 150, 0b10000000 =
     * 128 (np.packbits zero-pads the last byte); binary: 150 - 128 = 22, 128 - 128 = 0. */
    const float x[9] = {0.5f, -0.2f, 0.0f, 1e-9f, -1.0f, 2.0f, 3.0f, -4.0f, 0.1f};
    uint8_t q[2];
    assert_int_equal(embp_encoding_row_bytes(EMBP_ENCODING_BINARY, 9), 2);
    embp_quantize_row(EMBP_ENCODING_UBINARY, x, 9, NULL, q);
    expect_bytes(q, (const int[]){150, 128}, 2, 0, "ubinary");
    embp_quantize_row(EMBP_ENCODING_BINARY, x, 9, NULL, q);
    expect_bytes(q, (const int[]){22, 0}, 2, 1, "binary");
    const float zeros[8] = {0}; /* no bit set: ubinary 0, binary -128 */
    embp_quantize_row(EMBP_ENCODING_BINARY, zeros, 8, NULL, q);
    expect_bytes(q, (const int[]){-128}, 1, 1, "binary of zeros");
}

static void test_int8_buckets_by_the_default_range_and_clamps(void **state) {
    (void)state;
    embp_quant_ranges r;
    ranges_ok("", &r); /* [-1, 1] */
    assert_int_equal(r.dim, 0);
    /* step = 2/255: 0.5 -> floor(1.5 * 127.5) = 191; 0 -> floor(127.5) = 127; -1 -> 0;
     * 1.5 and -2 clamp to 255 and 0; 0.01 -> floor(1.01 * 127.5 = 128.775) = 128. */
    const float x[6] = {0.5f, 0.0f, -1.0f, 1.5f, -2.0f, 0.01f};
    uint8_t q[6];
    embp_quantize_row(EMBP_ENCODING_UINT8, x, 6, &r, q);
    expect_bytes(q, (const int[]){191, 127, 0, 255, 0, 128}, 6, 0, "uint8");
    embp_quantize_row(EMBP_ENCODING_INT8, x, 6, &r, q);
    expect_bytes(q, (const int[]){63, -1, -128, 127, -128, 0}, 6, 1, "int8");
    embp_quant_ranges_free(&r);
}

static void test_int8_uses_each_dimensions_range_and_a_zero_width_one(void **state) {
    (void)state;
    embp_quant_ranges r;
    /* dim 0: [0, 1], 0.3 -> floor(76.5) = 76; dim 1: [-0.5, 0.5], 0.25 -> floor(191.25) = 191;
     * dim 2: [0.2, 0.2], step 0 becomes 1: floor(0.7 - 0.2) = 0, floor(5.2 - 0.2) = 5. */
    ranges_ok("[[0, -0.5, 0.2], [1, 0.5, 0.2]]", &r);
    assert_int_equal(r.dim, 3);
    assert_true(embp_quant_ranges_fit(&r, 3));
    assert_false(embp_quant_ranges_fit(&r, 4));
    uint8_t q[3];
    embp_quantize_row(EMBP_ENCODING_UINT8, (const float[]){0.3f, 0.25f, 0.7f}, 3, &r, q);
    expect_bytes(q, (const int[]){76, 191, 0}, 3, 0, "per-dimension uint8");
    embp_quantize_row(EMBP_ENCODING_UINT8, (const float[]){0.3f, 0.25f, 5.2f}, 3, &r, q);
    expect_bytes(q, (const int[]){76, 191, 5}, 3, 0, "zero-width range");
    embp_quant_ranges_free(&r);
}

static void expect_ranges_error(const char *text, const char *needle) {
    embp_quant_ranges r;
    embp_error err;
    if (parse_ranges(text, &r, &err) == EMBP_OK)
        fail_msg("ranges %s parsed; expected an error naming \"%s\"", text, needle);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "EMB_PROVIDER_QUANTIZE_RANGES"))
        fail_msg("ranges %s: message \"%s\" lacks \"%s\" or the variable", text, err.msg, needle);
    assert_null(r.lo);
}

static void test_ranges_setting_forms_and_errors(void **state) {
    (void)state;
    embp_quant_ranges r;
    ranges_ok("-0.25,0.5", &r);
    assert_int_equal(r.dim, 0);
    assert_true(r.lo[0] == -0.25f && r.hi[0] == 0.5f);
    embp_quant_ranges_free(&r);
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/ranges.json", dir);
    tu_write_file(path, "[[-0.1, -0.2], [0.1, 0.3]]\n");
    ranges_ok(path, &r);
    assert_int_equal(r.dim, 2);
    assert_true(r.lo[1] == -0.2f && r.hi[1] == 0.3f);
    embp_quant_ranges_free(&r);
    remove(path);
    expect_ranges_error(path, "cannot read it");
    tu_remove_dir(dir);
    expect_ranges_error("1,0", "min <= max");
    expect_ranges_error("[[0, 0], [1]]", "two arrays of one length");
    expect_ranges_error("[[0, \"a\"], [1, 1]]", "dimension 1");
    expect_ranges_error("[[0, 1e39], [1, 1e40]]", "finite float32");
    expect_ranges_error("[[0, 1], [1, 2]", "invalid JSON");
}

static void test_request_takes_every_encoding_and_embedding_types(void **state) {
    (void)state;
    embp_request_limits lim = {.max_inputs = 4, .default_truncate = 1};
    embp_request q;
    embp_http_error e;
    const char *names[] = {"float", "base64", "int8", "uint8", "binary", "ubinary"};
    for (int i = 0; i < 6; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"input\": \"a\", \"encoding_format\": \"%s\"}", names[i]);
        assert_true(embp_request_parse(body, strlen(body), &lim, &q, &e));
        assert_int_equal(q.encoding, i);
        assert_string_equal(embp_encoding_name(q.encoding), names[i]);
        embp_request_free(&q);
    }
    const char *ok = "{\"input\": \"a\", \"embedding_types\": [\"ubinary\", \"float\", \"int8\"]}";
    assert_true(embp_request_parse(ok, strlen(ok), &lim, &q, &e));
    assert_int_equal(q.n_types, 3);
    assert_int_equal(q.types[0], EMBP_ENCODING_UBINARY);
    assert_int_equal(q.types[2], EMBP_ENCODING_INT8);
    embp_request_free(&q);
    const struct {
        const char *body, *needle;
    } bad[] = {
        {"{\"input\": \"a\", \"encoding_format\": \"int4\"}", "found \"int4\""},
        {"{\"input\": \"a\", \"embedding_types\": []}", "an empty array"},
        {"{\"input\": \"a\", \"embedding_types\": \"int8\"}", "found a string"},
        {"{\"input\": \"a\", \"embedding_types\": [\"int8\", 3]}", "embedding_types[1]"},
        {"{\"input\": \"a\", \"embedding_types\": [\"int8\", \"int8\"]}", "repeats \"int8\""},
        {"{\"input\": \"a\", \"encoding_format\": \"float\", \"embedding_types\": [\"int8\"]}",
         "not both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (embp_request_parse(bad[i].body, strlen(bad[i].body), &lim, &q, &e))
            fail_msg("%s parsed", bad[i].body);
        if (e.status != 400 || !strstr(e.message, bad[i].needle))
            fail_msg("%s: %d \"%s\", expected 400 with \"%s\"", bad[i].body, e.status,
                     e.message, bad[i].needle);
    }
}

static void test_both_answer_shapes_parse_back(void **state) {
    (void)state;
    embp_quant_ranges r;
    ranges_ok("-1,1", &r);
    const float rows[2][3] = {{0.5f, -0.5f, 0.0f}, {-0.25f, 1.0f, 0.75f}};
    embp_buf b = {0};
    embp_response_opts o = {.encoding = EMBP_ENCODING_INT8, .ranges = &r, .model = "m",
                            .prompt_tokens = 5};
    assert_true(embp_response_embeddings(&b, &rows[0][0], 2, 3, &o));
    json_t *j = json_loads(b.p, 0, NULL);
    json_t *e1 = json_object_get(json_array_get(json_object_get(j, "data"), 1), "embedding");
    /* -0.25 -> floor(0.75 * 127.5 = 95.625) - 128 = -33; 0.75 -> floor(223.125) - 128 = 95;
     * 1.0 -> 254 - 128 = 126, not 127: in float32 the step 2/255 rounds up, and 2 / step is
     * 254.99998 (numpy's quantize_embeddings gives 126 too). */
    assert_int_equal(json_array_size(e1), 3);
    assert_int_equal(json_integer_value(json_array_get(e1, 0)), -33);
    assert_int_equal(json_integer_value(json_array_get(e1, 1)), 126);
    assert_int_equal(json_integer_value(json_array_get(e1, 2)), 95);
    json_decref(j);
    embp_buf_free(&b);
    const embp_encoding types[] = {EMBP_ENCODING_FLOAT, EMBP_ENCODING_UBINARY};
    char *texts[] = {"a", "b\""};
    o = (embp_response_opts){.types = types, .n_types = 2, .ranges = &r, .model = "m",
                             .id = "req-1", .texts = texts, .prompt_tokens = 5};
    assert_true(embp_response_embeddings(&b, &rows[0][0], 2, 3, &o));
    j = json_loads(b.p, 0, NULL);
    assert_non_null(j);
    json_t *emb = json_object_get(j, "embeddings");
    assert_int_equal(json_object_size(emb), 2);
    /* ubinary of {0.5, -0.5, 0}: 0b10000000 = 128; of {-0.25, 1, 0.75}: 0b01100000 = 96. */
    assert_int_equal(json_integer_value(json_array_get(json_array_get(
                         json_object_get(emb, "ubinary"), 1), 0)), 96);
    assert_true(json_real_value(json_array_get(json_array_get(json_object_get(emb, "float"), 0),
                                               1)) == -0.5);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "req-1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "texts"), 1)), "b\"");
    assert_string_equal(json_string_value(json_object_get(j, "response_type")),
                        "embeddings_by_type");
    json_decref(j);
    embp_buf_free(&b);
    embp_quant_ranges_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_packs_sign_bits_big_endian_and_pads_like_packbits),
        cmocka_unit_test(test_int8_buckets_by_the_default_range_and_clamps),
        cmocka_unit_test(test_int8_uses_each_dimensions_range_and_a_zero_width_one),
        cmocka_unit_test(test_ranges_setting_forms_and_errors),
        cmocka_unit_test(test_request_takes_every_encoding_and_embedding_types),
        cmocka_unit_test(test_both_answer_shapes_parse_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
