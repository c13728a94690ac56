/* The tokenizer against HF tokenizers (the peer's ids for tests/data/tokenizer_corpus.txt and
 * the shared sentences), plus truncation, bad UTF-8 and load errors with their messages. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/tokenizer.h"

#define MAX_IDS 4096

static embp_tokenizer *load_fixture_tokenizer(const char *model) {
    char *path = tu_fixture("%s/tokenizer.json", model);
    embp_tokenizer *t = NULL;
    embp_error err = {0};
    embp_status st = embp_tokenizer_load(path, &t, &err);
    if (st != EMBP_OK) fail_msg("load %s: %s", path, err.msg);
    free(path);
    return t;
}

/* The model's max_seq_length from its sentence_bert_config.json. */
static int fixture_max_seq(const char *model) {
    char *path = tu_fixture("%s/sentence_bert_config.json", model);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) fail_msg("cannot read %s: %s", path, je.text);
    int n = (int)json_integer_value(json_object_get(cfg, "max_seq_length"));
    json_decref(cfg);
    free(path);
    assert_true(n > 2);
    return n;
}

/* Encodes every {"text", "input_ids"} line of the peer's jsonl and compares ids. Returns the
 * number of lines that differ (each printed with both sides). */
static int compare_with_peer(const embp_tokenizer *t, const char *jsonl, int max_len) {
    json_t *rows = tu_read_jsonl(jsonl);
    int32_t *ids = malloc(MAX_IDS * sizeof *ids), *want = malloc(MAX_IDS * sizeof *want);
    int bad = 0;
    assert_true(json_array_size(rows) > 0);
    for (size_t r = 0; r < json_array_size(rows); r++) {
        json_t *row = json_array_get(rows, r), *jids = json_object_get(row, "input_ids");
        const char *text = json_string_value(json_object_get(row, "text"));
        size_t len = json_string_length(json_object_get(row, "text"));
        int n_want = (int)json_array_size(jids), n = 0, n_full = 0;
        for (int i = 0; i < n_want; i++)
            want[i] = (int32_t)json_integer_value(json_array_get(jids, (size_t)i));
        embp_error err = {0};
        embp_status st =
            embp_tokenizer_encode(t, text, len, max_len, ids, MAX_IDS, &n, &n_full, &err);
        if (st != EMBP_OK || n != n_want || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
            fprintf(stderr, "%s line %zu differs: \"%s\" (status %d %s)\n", jsonl, r + 1, text,
                    (int)st, err.msg);
            tu_print_ids(t, "expected (HF)", want, n_want);
            tu_print_ids(t, "actual (embp)", ids, n);
            bad++;
        }
    }
    fprintf(stderr, "%s: %zu lines, %d differ\n", jsonl, json_array_size(rows), bad);
    free(ids);
    free(want);
    json_decref(rows);
    return bad;
}

/* The peer's jsonl must cover every line of the corpus file (split on '\n' as the peer does). */
static void check_corpus_line_count(const char *jsonl) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/tokenizer_corpus.txt", tu_source());
    size_t len;
    char *text = tu_read_file(path, &len);
    assert_non_null(text);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    free(text);
    json_t *rows = tu_read_jsonl(jsonl);
    assert_int_equal(json_array_size(rows), lines);
    assert_true(lines >= 300);
    json_decref(rows);
}

/* fixture's tokenizer against the peer's ids of the corpus file (FIXTURE.tokens.jsonl) and of
 * the shared sentences (FIXTURE.peer.jsonl). */
static void expect_fixture_ids_equal_hf(const char *fixture, const char *peer_file) {
    embp_tokenizer *t = load_fixture_tokenizer(fixture);
    char *jsonl = tu_fixture("%s.%s", fixture, peer_file);
    if (strcmp(peer_file, "tokens.jsonl") == 0)
        check_corpus_line_count(jsonl);
    assert_int_equal(compare_with_peer(t, jsonl, fixture_max_seq(fixture)), 0);
    free(jsonl);
    embp_tokenizer_free(t);
}

static void test_minilm_ids_equal_hf_on_tokenizer_corpus(void **state) {
    (void)state;
    expect_fixture_ids_equal_hf("minilm", "tokens.jsonl");
}

static void test_tiny_ids_equal_hf_on_tokenizer_corpus(void **state) {
    (void)state;
    expect_fixture_ids_equal_hf("tiny", "tokens.jsonl");
}

/* The shared sentences, as the peer tokenized them for the embedding tests. */
static void test_ids_equal_hf_on_shared_sentences(void **state) {
    (void)state;
    expect_fixture_ids_equal_hf("minilm", "peer.jsonl");
    expect_fixture_ids_equal_hf("tiny", "peer.jsonl");
}

/* ---------------------------------------------------------------- the real MiniLM file */

static embp_tokenizer *load_minilm(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/all-MiniLM-L6-v2/tokenizer.json", tu_shared());
    embp_tokenizer *t = NULL;
    embp_error err = {0};
    if (embp_tokenizer_load(path, &t, &err) != EMBP_OK) fail_msg("load %s: %s", path, err.msg);
    return t;
}

static void expect_ids(const embp_tokenizer *t, const char *text, int max_len, const int32_t *want,
                       int n_want, int want_full) {
    int32_t ids[64];
    int n = -1, n_full = -1;
    embp_error err = {0};
    assert_int_equal(
        embp_tokenizer_encode(t, text, strlen(text), max_len, ids, 64, &n, &n_full, &err), EMBP_OK);
    if (n != n_want || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
        fprintf(stderr, "\"%s\" max_len %d:\n", text, max_len);
        tu_print_ids(t, "expected", want, n_want);
        tu_print_ids(t, "actual", ids, n);
        fail();
    }
    assert_int_equal(n_full, want_full);
}

/* BERT uncased ids: [CLS] 101, [SEP] 102, hello 7592, world 2088, [MASK] 103. */
static void test_special_token_text_in_input_becomes_its_id(void **state) {
    (void)state;
    embp_tokenizer *t = load_minilm();
    expect_ids(t, "hello [SEP] world", 0, (const int32_t[]){101, 7592, 102, 2088, 102}, 5, 5);
    expect_ids(t, "hello[MASK]world", 0, (const int32_t[]){101, 7592, 103, 2088, 102}, 5, 5);
    /* Lowercase "[sep]" is no added token: "[" "sep" "]" (1031, 19802, 1033). */
    expect_ids(t, "[sep]", 0, (const int32_t[]){101, 1031, 19802, 1033, 102}, 5, 5);
    embp_tokenizer_free(t);
}

static void test_truncation_keeps_special_tokens_within_max_len(void **state) {
    (void)state;
    embp_tokenizer *t = load_minilm();
    const char *s = "hello world hello";
    expect_ids(t, s, 0, (const int32_t[]){101, 7592, 2088, 7592, 102}, 5, 5);
    expect_ids(t, s, 2, (const int32_t[]){101, 102}, 2, 5);
    expect_ids(t, s, 3, (const int32_t[]){101, 7592, 102}, 3, 5);
    expect_ids(t, s, 4, (const int32_t[]){101, 7592, 2088, 102}, 4, 5);
    expect_ids(t, s, 5, (const int32_t[]){101, 7592, 2088, 7592, 102}, 5, 5);
    expect_ids(t, s, 6, (const int32_t[]){101, 7592, 2088, 7592, 102}, 5, 5);
    expect_ids(t, "", 0, (const int32_t[]){101, 102}, 2, 2);
    expect_ids(t, " \t\u200b ", 2, (const int32_t[]){101, 102}, 2, 2);
    int32_t ids[4];
    int n = -1;
    embp_error err = {0};
    assert_int_equal(embp_tokenizer_encode(t, s, strlen(s), 1, ids, 4, &n, NULL, &err),
                     EMBP_EINVAL);
    assert_non_null(strstr(err.msg, "max_len 1 cannot hold the 2 special tokens"));
    embp_tokenizer_free(t);
}

static void test_cap_smaller_than_count_writes_a_prefix(void **state) {
    (void)state;
    embp_tokenizer *t = load_minilm();
    int32_t ids[8] = {-7, -7, -7, -7, -7, -7, -7, -7};
    int n = -1, n_full = -1;
    embp_error err = {0};
    assert_int_equal(
        embp_tokenizer_encode(t, "hello world hello", 17, 0, ids, 3, &n, &n_full, &err), EMBP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(n_full, 5);
    assert_int_equal(ids[0], 101);
    assert_int_equal(ids[1], 7592);
    assert_int_equal(ids[2], 2088);
    assert_int_equal(ids[3], -7); /* nothing past cap */
    assert_int_equal(embp_tokenizer_encode(t, "hello", 5, 0, NULL, 0, &n, &n_full, &err), EMBP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(n_full, 3);
    embp_tokenizer_free(t);
}

static void test_invalid_utf8_is_einval_naming_the_offset(void **state) {
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        const char *msg;
    } cases[] = {
        {"ab\xC0\xAF", 4, "byte offset 2 (overlong encoding)"},
        {"\xE0\x80\xAFx", 4, "byte offset 0 (overlong encoding)"},
        {"x\xF0\x80\x80\xAF", 5, "byte offset 1 (overlong encoding)"},
        {"abc\xED\xA0\x80", 6, "byte offset 3 (UTF-16 surrogate)"},
        {"\xED\xBF\xBF", 3, "byte offset 0 (UTF-16 surrogate)"},
        {"ab\xE2\x82", 4, "byte offset 2 (truncated sequence)"},
        {"\xE2\x82z", 3, "byte offset 0 (truncated sequence)"},
        {"ok \xF4\x90\x80\x80", 7, "byte offset 3 (code point past U+10FFFF)"},
        {"\x80", 1, "byte offset 0 (unexpected continuation byte)"},
        {"caf\xC3\xA9 \xFF", 7, "byte offset 6 (byte that cannot start a sequence)"},
    };
    embp_tokenizer *t = load_minilm();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t ids[16];
        int n = -1;
        embp_error err = {0};
        embp_status st =
            embp_tokenizer_encode(t, cases[i].text, cases[i].len, 0, ids, 16, &n, NULL, &err);
        if (st != EMBP_EINVAL || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: status %d, message \"%s\", expected \"%s\"", i, (int)st, err.msg,
                     cases[i].msg);
        assert_int_equal(n, 0);
    }
    embp_tokenizer_free(t);
}

static void test_vocab_lookups_match_the_vocab(void **state) {
    (void)state;
    embp_tokenizer *t = load_minilm();
    assert_int_equal(embp_tokenizer_vocab_size(t), 30522);
    assert_int_equal(embp_tokenizer_token_to_id(t, "[CLS]"), 101);
    assert_int_equal(embp_tokenizer_token_to_id(t, "hello"), 7592);
    assert_int_equal(embp_tokenizer_token_to_id(t, "##ing"), 2075);
    assert_int_equal(embp_tokenizer_token_to_id(t, "no-such-token"), -1);
    assert_string_equal(embp_tokenizer_id_to_token(t, 2088), "world");
    assert_string_equal(embp_tokenizer_id_to_token(t, 103), "[MASK]");
    assert_null(embp_tokenizer_id_to_token(t, -1));
    assert_null(embp_tokenizer_id_to_token(t, 30522));
    embp_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minilm_ids_equal_hf_on_tokenizer_corpus),
        cmocka_unit_test(test_tiny_ids_equal_hf_on_tokenizer_corpus),
        cmocka_unit_test(test_ids_equal_hf_on_shared_sentences),
        cmocka_unit_test(test_special_token_text_in_input_becomes_its_id),
        cmocka_unit_test(test_truncation_keeps_special_tokens_within_max_len),
        cmocka_unit_test(test_cap_smaller_than_count_writes_a_prefix),
        cmocka_unit_test(test_invalid_utf8_is_einval_naming_the_offset),
        cmocka_unit_test(test_vocab_lookups_match_the_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
