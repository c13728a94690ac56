/* Request parsing and response encoding (src/server/request.c, response.c): every validation
 * error with its status, param and code; floats shortest round-trip; base64 against values
 * worked out by hand (python: base64.b64encode(struct.pack('<2f', 1.0, -2.0))). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/request.h"
#include "server/response.h"

static const embp_request_limits lim = {.max_inputs = 4, .default_truncate = 1};

static void expect_error(const char *body, int status, const char *param, const char *code,
                         const char *needle) {
    embp_request r;
    embp_http_error e;
    memset(&e, 0, sizeof e);
    int ok = embp_request_parse(body, strlen(body), &lim, &r, &e);
    if (ok)
        fail_msg("body %s: expected error %d mentioning \"%s\", it parsed", body, status, needle);
    if (e.status != status || (param ? !e.param || strcmp(e.param, param) : e.param != NULL) ||
        (code ? !e.code || strcmp(e.code, code) : e.code != NULL) || !strstr(e.message, needle))
        fail_msg("body %s\n expected: %d param=%s code=%s message containing \"%s\"\n"
                 " actual:   %d param=%s code=%s message \"%s\"",
                 body, status, param ? param : "null", code ? code : "null", needle, e.status,
                 e.param ? e.param : "null", e.code ? e.code : "null", e.message);
    assert_string_equal(e.type, "invalid_request_error");
}

/* body must parse; *r holds it (free it with embp_request_free). */
static void parse_ok(const char *body, embp_request *r) {
    embp_http_error e;
    if (!embp_request_parse(body, strlen(body), &lim, r, &e))
        fail_msg("body %s: expected it to parse, got %d %s", body, e.status, e.message);
}

static void test_request_rejects_each_malformed_body_precisely(void **state) {
    (void)state;
    /* Every case is a 400 of type invalid_request_error without a code; param NULL: none. */
    static const struct {
        const char *body, *param, *needle;
    } cases[] = {
        {"{\"input\": \"a\"", NULL, "not valid JSON"},
        {"{\"input\": \"a\"", NULL, "column"},
        {"[1,2]", NULL, "must be a JSON object, found an array"},
        {"{\"input\": \"\xff\xfe\"}", NULL, "UTF-8"},
        {"{}", "input", "'input' is required"},
        {"{\"input\": 5}", "input", "found an integer"},
        {"{\"input\": \"\"}", "input", "empty string"},
        {"{\"input\": [\"a\", \"\"]}", "input", "input[1] is an empty string"},
        {"{\"input\": []}", "input", "empty array"},
        {"{\"input\": [\"a\", 3]}", "input", "input[1] must be a string"},
        {"{\"input\": [[1,2], \"a\"]}", "input", "input[1] must be an array"},
        {"{\"input\": [1, \"a\"]}", "input", "input[1] must be a token id"},
        {"{\"input\": [[1], [1.5]]}", "input", "input[1][0] must be a token"},
        {"{\"input\": [[1], []]}", "input", "input[1] is an empty array"},
        {"{\"input\": [-1]}", "input", "token id -1"},
        {"{\"input\": [true]}", "input", "found a boolean"},
        {"{\"input\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "input", "input has 5 items; at most 4"},
        {"{\"input\": \"a\\u0000b\"}", "input", "NUL character"},
        {"{\"input\": \"a\", \"model\": 3}", "model", "'model' must be"},
        {"{\"input\": \"a\", \"encoding_format\": \"hex\"}", "encoding_format", "found \"hex\""},
        {"{\"input\": \"a\", \"dimensions\": 0}", "dimensions", "at least 1, found 0"},
        {"{\"input\": \"a\", \"dimensions\": \"8\"}", "dimensions", "found a string"},
        {"{\"input\": \"a\", \"truncate\": 1}", "truncate", "true or false"},
        {"{\"input\": \"a\", \"user\": 1}", "user", "'user' must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].body, 400, cases[i].param, NULL, cases[i].needle);
}

static void test_request_rejects_deep_nesting_before_jansson(void **state) {
    (void)state;
    char body[4096] = "{\"input\":";
    size_t n = strlen(body);
    for (int i = 0; i < 1000; i++)
        body[n++] = '[';
    body[n] = '\0';
    expect_error(body, 400, NULL, NULL, "nests deeper than 16 levels");
    /* Brackets inside strings are text, not nesting. */
    embp_request r;
    parse_ok("{\"input\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[\"}", &r);
    embp_request_free(&r);
}

/* max_inputs 4: at most 4 * 512 + 64 = 2112 values. One flat array of 2111 ids (the object,
 * the array, 2110 commas) is still one input; 2112 ids are refused before jansson allocates
 * ~40 bytes per value. */
static void test_request_refuses_more_values_than_the_limits_allow(void **state) {
    (void)state;
    for (int n = 2111; n <= 2112; n++) {
        char *body = malloc((size_t)n * 2 + 32), *p = body;
        p += sprintf(p, "{\"input\":[");
        for (int i = 0; i < n; i++)
            p += sprintf(p, "%s7", i ? "," : "");
        sprintf(p, "]}");
        embp_request r;
        embp_http_error e;
        int ok = embp_request_parse(body, strlen(body), &lim, &r, &e);
        if (n == 2111 && (!ok || r.n_inputs != 1 || r.n_ids[0] != 2111))
            fail_msg("2111 ids: %s", ok ? "wrong shape" : e.message);
        if (n == 2112 && (ok || e.status != 400 || !strstr(e.message, "more than 2112 values")))
            fail_msg("2112 ids: expected 400 \"more than 2112 values\", got %s",
                     ok ? "parsed" : e.message);
        if (ok)
            embp_request_free(&r);
        free(body);
    }
}

static void test_request_accepts_all_four_input_forms(void **state) {
    (void)state;
    embp_request r;
    parse_ok("{\"input\": \"héllo\", \"model\": \"m\", \"user\": \"u\"}", &r);
    assert_int_equal(r.n_inputs, 1);
    assert_false(r.is_tokens);
    assert_string_equal(r.texts[0], "héllo");
    assert_string_equal(r.model, "m");
    assert_int_equal(r.encoding, EMBP_ENCODING_FLOAT);
    assert_int_equal(r.truncate, 1);
    embp_request_free(&r);

    parse_ok("{\"input\": [\"a\", \"b c\"], \"encoding_format\": \"base64\", "
             "\"dimensions\": 8, \"truncate\": false}", &r);
    assert_int_equal(r.n_inputs, 2);
    assert_string_equal(r.texts[1], "b c");
    assert_null(r.model);
    assert_int_equal(r.encoding, EMBP_ENCODING_BASE64);
    assert_int_equal(r.dimensions, 8);
    assert_int_equal(r.truncate, 0);
    embp_request_free(&r);

    parse_ok("{\"input\": [101, 7, 102]}", &r);
    assert_int_equal(r.n_inputs, 1);
    assert_true(r.is_tokens);
    assert_int_equal(r.n_ids[0], 3);
    assert_int_equal(r.ids[0][1], 7);
    embp_request_free(&r);

    parse_ok("{\"input\": [[101, 102], [101, 5, 6, 102]]}", &r);
    assert_int_equal(r.n_inputs, 2);
    assert_int_equal(r.n_ids[1], 4);
    assert_int_equal(r.ids[1][2], 6);
    embp_request_free(&r);
}

/* The embp prompt extensions: strings, text inputs only; both may be given (prompt wins later,
 * in the runtime's embp_prompt_resolve). */
static void test_request_prompt_fields(void **state) {
    (void)state;
    embp_request r;
    parse_ok("{\"input\": [\"a\"], \"prompt_name\": \"query\", \"prompt\": \"q: \"}", &r);
    assert_string_equal(r.prompt_name, "query");
    assert_string_equal(r.prompt, "q: ");
    embp_request_free(&r);
    parse_ok("{\"input\": \"a\", \"prompt\": null}", &r);
    assert_null(r.prompt);
    assert_null(r.prompt_name);
    embp_request_free(&r);
    expect_error("{\"input\": \"a\", \"prompt_name\": 3}", 400, "prompt_name", NULL,
                 "'prompt_name' must be a string, found an integer");
    expect_error("{\"input\": \"a\", \"prompt\": \"x\\u0000y\"}", 400, "prompt", NULL,
                 "NUL character");
    /* token ids take a prompt too: the route decodes them first (TEI's rule) */
    parse_ok("{\"input\": [1, 2], \"prompt_name\": \"query\"}", &r);
    assert_int_equal(r.is_tokens, 1);
    assert_string_equal(r.prompt_name, "query");
    embp_request_free(&r);
}

static void test_request_check_model_limits_dimensions_ids_and_length(void **state) {
    (void)state;
    embp_request r;
    embp_http_error e;
    parse_ok("{\"input\": [[1, 2, 3, 4, 5]], \"dimensions\": 9}", &r);
    assert_false(embp_request_check_model(&r, 8, 100, 512, &e));
    assert_string_equal(e.param, "dimensions");
    assert_non_null(strstr(e.message, "'dimensions' is 9 but this model's embeddings have 8"));
    r.dimensions = 8;
    assert_false(embp_request_check_model(&r, 8, 5, 512, &e));
    assert_non_null(strstr(e.message, "input[0][4] is token id 5, outside"));
    r.truncate = 0;
    assert_false(embp_request_check_model(&r, 8, 100, 4, &e));
    assert_string_equal(e.code, "context_length_exceeded");
    assert_non_null(strstr(e.message, "input[0] has 5 tokens; this model takes at most 4"));
    r.truncate = 1;
    assert_true(embp_request_check_model(&r, 8, 100, 4, &e));
    assert_int_equal(r.n_ids[0], 4);
    embp_request_free(&r);
}

/* ---------------------------------------------------------------- response */

static void test_format_float_is_shortest_round_trip(void **state) {
    (void)state;
    char s[32];
    embp_format_float(0.1f, s);
    assert_string_equal(s, "0.1");
    embp_format_float(1.0f / 3.0f, s); /* numpy: repr(np.float32(1/3)) == '0.33333334' */
    assert_string_equal(s, "0.33333334");
    embp_format_float(-2.5e-8f, s);
    assert_string_equal(s, "-2.5e-08");
    srand(7);
    for (int i = 0; i < 100000; i++) {
        uint32_t u = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        float x;
        memcpy(&x, &u, 4);
        if (!isfinite(x))
            continue;
        int n = embp_format_float(x, s);
        if (strtof(s, NULL) != x || (int)strlen(s) != n)
            fail_msg("%.9g formatted as %s does not read back", (double)x, s);
        /* One digit fewer must not round-trip (when we used more than 6). */
        char shorter[32];
        for (int p = 6; p < 9; p++) {
            snprintf(shorter, sizeof shorter, "%.*g", p, (double)x);
            if (strtof(shorter, NULL) == x && strlen(shorter) < strlen(s))
                fail_msg("%s is shorter than %s and reads back", shorter, s);
        }
    }
}

/* The fast exact path against printf + strtof (glibc's own shortest-digits search), on random
 * bit patterns and on values shaped like embeddings: the same text, byte for byte. */
static void test_fast_float_writer_equals_printf_search(void **state) {
    (void)state;
    char a[32], b[32];
    uint64_t st = 88172645463325252ull;
    for (long i = 0; i < 1000000; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        uint32_t u = (uint32_t)st;
        float x;
        if (i % 2) {
            x = (float)((double)(st >> 11) / 9007199254740992.0 * 0.4 - 0.2);
            if (i % 6 == 1)
                x *= 1e-3f; /* into exponent form: 1e-4 and below */
        } else {
            memcpy(&x, &u, 4);
        }
        if (!isfinite(x))
            continue;
        int la = embp_format_float(x, a), lb = embp_format_float_ref(x, b);
        if (la != lb || strcmp(a, b) != 0)
            fail_msg("%.9g: fast path '%s', printf search '%s'", (double)x, a, b);
    }
    static const float edge[] = {1e5f, 99999.99f, 1e-20f, 9.99999e-21f, 1e-4f, 9.9999997e-5f,
                                 0.001f, 1.0f, 10.0f, 0.5f, 1.1754944e-38f, 3.4028235e38f,
                                 0.099999994f, 9.999999f, 1e-5f, 123.456f};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        for (int sign = 0; sign < 2; sign++) {
            float x = sign ? -edge[i] : edge[i];
            embp_format_float(x, a);
            embp_format_float_ref(x, b);
            assert_string_equal(a, b);
        }
}

static void test_base64_matches_hand_encoded_floats(void **state) {
    (void)state;
    embp_buf b = {0};
    float v[] = {1.0f, -2.0f};
    embp_buf_base64(&b, (const unsigned char *)v, sizeof v);
    assert_string_equal(b.p, "AACAPwAAAMA=");
    b.len = 0;
    float w[] = {0.5f, 0.25f, -0.125f};
    embp_buf_base64(&b, (const unsigned char *)w, sizeof w);
    assert_string_equal(b.p, "AAAAPwAAgD4AAAC+");
    b.len = 0;
    embp_buf_base64(&b, (const unsigned char *)"ab", 2); /* RFC 4648: "ab" -> "YWI=" */
    assert_string_equal(b.p, "YWI=");
    embp_buf_free(&b);
}

static void test_embeddings_body_parses_back_to_the_same_floats(void **state) {
    (void)state;
    float rows[6] = {0.1f, -1e-7f, 3.4028235e38f, 1.0f / 3.0f, -0.0f, 12345.678f};
    embp_buf b = {0};
    assert_true(embp_response_embeddings(&b, rows, 2, 3, &(embp_response_opts){.model = "m\"x", .prompt_tokens = 17}));
    json_error_t je;
    json_t *j = json_loads(b.p, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, b.p);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m\"x");
    json_t *usage = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(usage, "prompt_tokens")), 17);
    assert_int_equal(json_integer_value(json_object_get(usage, "total_tokens")), 17);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 2);
    for (int i = 0; i < 2; i++) {
        json_t *d = json_array_get(data, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(d, "index")), i);
        assert_string_equal(json_string_value(json_object_get(d, "object")), "embedding");
        json_t *emb = json_object_get(d, "embedding");
        for (int k = 0; k < 3; k++) {
            float got = (float)json_number_value(json_array_get(emb, (size_t)k));
            if (got != rows[i * 3 + k])
                fail_msg("row %d col %d: sent %.9g, parsed back %.9g", i, k,
                         (double)rows[i * 3 + k], (double)got);
        }
    }
    json_decref(j);
    embp_buf_free(&b);
}

static void test_embeddings_body_refuses_nan(void **state) {
    (void)state;
    float rows[2] = {1.0f, NAN};
    embp_buf b = {0};
    assert_false(embp_response_embeddings(&b, rows, 1, 2, &(embp_response_opts){.model = "m", .prompt_tokens = 1}));
    embp_buf_free(&b);
}

static void test_error_body_has_openai_shape(void **state) {
    (void)state;
    embp_http_error e;
    embp_http_fail(&e, 404, "invalid_request_error", "model", "model_not_found",
                   "The model \"%s\" does not exist", "x\n");
    embp_buf b = {0};
    embp_response_error(&b, &e);
    json_t *j = json_loads(b.p, 0, NULL);
    assert_non_null(j);
    json_t *err = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(err, "message")),
                        "The model \"x\n\" does not exist");
    assert_string_equal(json_string_value(json_object_get(err, "type")),
                        "invalid_request_error");
    assert_string_equal(json_string_value(json_object_get(err, "param")), "model");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "model_not_found");
    json_decref(j);
    b.len = 0;
    embp_http_fail(&e, 400, "invalid_request_error", NULL, NULL, "bad");
    embp_response_error(&b, &e);
    j = json_loads(b.p, 0, NULL);
    assert_true(json_is_null(json_object_get(json_object_get(j, "error"), "param")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "error"), "code")));
    json_decref(j);
    embp_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_rejects_each_malformed_body_precisely),
        cmocka_unit_test(test_request_prompt_fields),
        cmocka_unit_test(test_request_rejects_deep_nesting_before_jansson),
        cmocka_unit_test(test_request_refuses_more_values_than_the_limits_allow),
        cmocka_unit_test(test_request_accepts_all_four_input_forms),
        cmocka_unit_test(test_request_check_model_limits_dimensions_ids_and_length),
        cmocka_unit_test(test_format_float_is_shortest_round_trip),
        cmocka_unit_test(test_fast_float_writer_equals_printf_search),
        cmocka_unit_test(test_base64_matches_hand_encoded_floats),
        cmocka_unit_test(test_embeddings_body_parses_back_to_the_same_floats),
        cmocka_unit_test(test_embeddings_body_refuses_nan),
        cmocka_unit_test(test_error_body_has_openai_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
