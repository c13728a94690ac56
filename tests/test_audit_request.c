/* Request parsing holes found by the code audit (issue 12): the value pre-scan missed nested
 * single-element arrays (item 2), duplicate keys were last-wins and out of memory inside
 * jansson read as "not valid JSON" (item 7). Each case below failed before its fix. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/text.h"
#include "server/request.h"

static const embp_request_limits lim = {.max_inputs = 4, .default_truncate = 1};

/* `[[[...[1]...]]]` nested `depth` deep, `count` times in the input array: `count - 1` commas
 * but count * depth arrays, each a jansson allocation (~60x the body for depth 15). */
static char *nested_body(int depth, int count) {
    char *body = malloc((size_t)count * (size_t)(2 * depth + 2) + 64), *p = body;
    p += sprintf(p, "{\"input\":[");
    for (int k = 0; k < count; k++) {
        if (k)
            *p++ = ',';
        for (int i = 0; i < depth; i++)
            *p++ = '[';
        *p++ = '1';
        for (int i = 0; i < depth; i++)
            *p++ = ']';
    }
    sprintf(p, "]}");
    return body;
}

/* max_inputs 4: at most 2112 values. 200 nested runs 13 deep are 2600 arrays but 199 commas;
 * the pre-scan must refuse them before jansson builds them. */
static void test_nested_single_element_arrays_count_as_values(void **state) {
    (void)state;
    char *body = nested_body(13, 200);
    embp_request r;
    embp_http_error e;
    int ok = embp_request_parse(body, strlen(body), &lim, &r, &e);
    if (ok || e.status != 400 || !strstr(e.message, "more than 2112 values"))
        fail_msg("200 x 13 nested arrays: expected 400 \"more than 2112 values\", got %s",
                 ok ? "parsed" : e.message);
    free(body);
    /* 150 x 13 = 1950 arrays + 150 ids + the object, key and outer array: 2103, under 2112.
     * It passes the pre-scan and is then a bad shape (input[0] must be an array of ids). */
    body = nested_body(13, 150);
    ok = embp_request_parse(body, strlen(body), &lim, &r, &e);
    if (ok || strstr(e.message, "values"))
        fail_msg("150 x 13 nested arrays: expected a shape error, got %s",
                 ok ? "parsed" : e.message);
    free(body);
}

static void test_duplicate_keys_are_refused(void **state) {
    (void)state;
    const char *bodies[] = {"{\"input\":\"a\",\"input\":\"b\"}",
                            "{\"model\":\"x\",\"input\":\"a\",\"model\":\"y\"}"};
    for (int i = 0; i < 2; i++) {
        embp_request r;
        embp_http_error e;
        int ok = embp_request_parse(bodies[i], strlen(bodies[i]), &lim, &r, &e);
        if (ok || e.status != 400 || !strstr(e.message, "duplicate"))
            fail_msg("%s: expected 400 naming the duplicate key, got %s", bodies[i],
                     ok ? "parsed (last wins)" : e.message);
        if (ok)
            embp_request_free(&r);
    }
}

/* Every allocation of a parse failing in turn: each run is a correct parse or a 500 "out of
 * memory". The one exception, asserted as such: jansson's lexer turns a failed allocation of
 * a string token into a syntax error, which we cannot tell from the client's, so a 400 is
 * allowed only when the failed allocation was jansson's. */
static void test_out_of_memory_while_parsing_is_a_500(void **state) {
    (void)state;
    json_set_alloc_funcs(tu_json_alloc, embp_free);
    const char *body = "{\"input\":[\"hello world\",\"x\"],\"model\":\"m\",\"dimensions\":3}";
    int oom_seen = 0, parsed = 0;
    for (long k = 0; k < 200 && !parsed; k++) {
        embp_request r;
        embp_http_error e;
        memset(&e, 0, sizeof e);
        tu_json_failed = 0;
        embp_alloc_fail_after(k);
        int ok = embp_request_parse(body, strlen(body), &lim, &r, &e);
        embp_alloc_fail_after(-1);
        if (ok) {
            assert_int_equal(r.n_inputs, 2);
            assert_string_equal(r.texts[0], "hello world");
            embp_request_free(&r);
            parsed = 1;
            continue;
        }
        if (e.status == 400 && tu_json_failed && strstr(e.message, "not valid JSON"))
            continue;
        if (e.status != 500 || !strstr(e.message, "out of memory"))
            fail_msg("allocation %ld failing: expected 500 out of memory, got %d %s", k,
                     e.status, e.message);
        oom_seen++;
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(parsed);
    assert_true(oom_seen > 5);
}

/* A message cut by %.Ns inside a character, or holding a client's invalid bytes, is still valid
 * UTF-8 (jansson, which refuses invalid UTF-8, reads it back). */
static void test_error_messages_never_split_a_utf8_character(void **state) {
    (void)state;
    embp_http_error e;
    embp_http_fail(&e, 404, "invalid_request_error", NULL, NULL, "url %.4s!", "/ab\xc3\xa9z");
    json_error_t je;
    json_t *s = json_loads("[\"\"]", 0, &je);
    json_array_set_new(s, 0, json_string(e.message));
    if (!json_string_value(json_array_get(s, 0)))
        fail_msg("message \"%s\" is not valid UTF-8", e.message);
    assert_string_equal(e.message, "url /ab\xef\xbf\xbd!");
    json_decref(s);
    embp_http_fail(&e, 400, "invalid_request_error", NULL, NULL, "bad %s", "\xff\xfe ok \xe2\x82");
    assert_string_equal(e.message, "bad \xef\xbf\xbd\xef\xbf\xbd ok \xef\xbf\xbd\xef\xbf\xbd");
    /* a long message is cut between characters, never inside one */
    char big[600];
    for (int i = 0; i < 299; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[598] = 0;
    embp_http_fail(&e, 400, "invalid_request_error", NULL, NULL, "x%s", big);
    assert_true(strlen(e.message) % 2 == 1); /* "x" + whole two-byte characters */
    json_t *js = json_string(e.message); /* NULL if not valid UTF-8 */
    assert_non_null(js);
    json_decref(js);
}

/* What the log gets of a client's text: no newline, no raw control, no half character. */
static void test_log_escape_keeps_a_line_a_line(void **state) {
    (void)state;
    char out[64];
    assert_string_equal(embp_log_escape("/x\n2026 INFO req=1 \"a\\b\"", out, sizeof out),
                        "/x\\x0A2026 INFO req=1 \\x22a\\x5Cb\\x22");
    assert_string_equal(embp_log_escape("caf\xc3\xa9 \xff \xc2\x85 \x1b[31m", out, sizeof out),
                        "caf\xc3\xa9 \\xFF \\xC2\\x85 \\x1B[31m");
    char small[10]; /* "ab" + "\xc3\xa9" x3 = 8 bytes do not fit with "..." : cut between */
    assert_string_equal(embp_log_escape("ab\xc3\xa9\xc3\xa9\xc3\xa9", small, sizeof small),
                        "ab\xc3\xa9\xc3\xa9...");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_single_element_arrays_count_as_values),
        cmocka_unit_test(test_duplicate_keys_are_refused),
        cmocka_unit_test(test_out_of_memory_while_parsing_is_a_500),
        cmocka_unit_test(test_error_messages_never_split_a_utf8_character),
        cmocka_unit_test(test_log_escape_keeps_a_line_a_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
