/* tokenizer.json load errors (each with its message checked), allocation failure at every
 * step, and concurrent encoding from two threads. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/tokenizer.h"

/* A complete small BERT-style tokenizer.json with the model section replaceable. */
#define TJ_HEAD                                                                                    \
    "{\"added_tokens\": [{\"id\": 1, \"content\": \"[UNK]\", \"special\": true, "                  \
    "\"normalized\": false}],"                                                                     \
    "\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true},"                         \
    "\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"                                         \
    "\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"[CLS]\", 2], "                 \
    "\"sep\": [\"[SEP]\", 3]},"
#define TJ_MODEL(vocab)                                                                            \
    "\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": " vocab "}}"
#define TJ_VOCAB "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"a\": 4, \"##b\": 5}"

static void expect_load_error(const char *json, embp_status code, const char *msg) {
    embp_tokenizer *t = (embp_tokenizer *)1;
    embp_error err = {0};
    embp_status st = embp_tokenizer_load_json(json, strlen(json), "tok.json", &t, &err);
    if (st != code || !strstr(err.msg, msg))
        fail_msg("status %d message \"%s\"; expected status %d with \"%s\"\n  json: %s", (int)st,
                 err.msg, (int)code, msg, json);
    assert_null(t);
}

static void test_valid_small_tokenizer_encodes_by_hand(void **state) {
    (void)state;
    const char *json = TJ_HEAD TJ_MODEL(TJ_VOCAB);
    embp_tokenizer *t = NULL;
    embp_error err = {0};
    assert_int_equal(embp_tokenizer_load_json(json, strlen(json), "tok.json", &t, &err), EMBP_OK);
    int32_t ids[8];
    int n = 0;
    /* "AB a c": lowercase -> "ab" = a ##b; "a"; "c" not in vocab -> [UNK]. */
    assert_int_equal(embp_tokenizer_encode(t, "AB a c", 6, 0, ids, 8, &n, NULL, &err), EMBP_OK);
    int32_t want[] = {2, 4, 5, 4, 1, 3};
    assert_int_equal(n, 6);
    assert_memory_equal(ids, want, sizeof want);
    embp_tokenizer_free(t);
}

static void test_malformed_json_names_line_and_column(void **state) {
    (void)state;
    expect_load_error("{\"model\": {\n  \"type\": }", EMBP_EFORMAT,
                      "tok.json: invalid JSON at line 2");
    expect_load_error("", EMBP_EFORMAT, "tok.json: invalid JSON");
    expect_load_error("[1, 2]", EMBP_EFORMAT, "top level must be a JSON object");
}

static void test_missing_model_or_vocab_is_eformat(void **state) {
    (void)state;
    expect_load_error("{\"normalizer\": null}", EMBP_EFORMAT,
                      "tok.json: \"model\" missing or not an object");
    expect_load_error("{\"model\": {\"type\": \"WordPiece\"}}", EMBP_EFORMAT,
                      "tok.json: model.vocab missing or not an object");
    expect_load_error("{\"model\": {\"vocab\": {}}}", EMBP_EFORMAT, "model.type missing");
}

static void test_unk_token_missing_from_vocab_is_eformat(void **state) {
    (void)state;
    expect_load_error(TJ_HEAD TJ_MODEL("{\"a\": 0, \"b\": 1}"), EMBP_EFORMAT,
                      "tok.json: model.unk_token \"[UNK]\" is not in model.vocab");
}

static void test_bad_vocab_ids_are_eformat(void **state) {
    (void)state;
    expect_load_error(TJ_HEAD TJ_MODEL("{\"[UNK]\": 0, \"a\": 1.5}"), EMBP_EFORMAT,
                      "model.vocab[\"a\"]: id must be an integer");
    expect_load_error(TJ_HEAD TJ_MODEL("{\"[UNK]\": 0, \"a\": \"1\"}"), EMBP_EFORMAT,
                      "model.vocab[\"a\"]: id must be an integer");
    expect_load_error(TJ_HEAD TJ_MODEL("{\"[UNK]\": 0, \"a\": -1}"), EMBP_EFORMAT,
                      "model.vocab[\"a\"]: id must be an integer");
    expect_load_error(TJ_HEAD TJ_MODEL("{\"[UNK]\": 0, \"a\": 1, \"b\": 1}"), EMBP_EFORMAT,
                      "model.vocab: id 1 is given to both \"a\" and \"b\"");
    expect_load_error(TJ_HEAD TJ_MODEL("{\"[UNK]\": 0, \"a\": 2000000000}"), EMBP_EFORMAT,
                      "model.vocab: ids are too sparse (largest 2000000000 for 2 tokens)");
}

static void test_unsupported_components_are_eunsupported(void **state) {
    (void)state;
    expect_load_error("{\"normalizer\": {\"type\": \"Nmt\"}," TJ_MODEL(TJ_VOCAB), EMBP_EUNSUPPORTED,
                      "tok.json: normalizer type 'Nmt' is not supported (supported: "
                      "BertNormalizer, Precompiled, Lowercase");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EUNSUPPORTED,
                      "tok.json: pre_tokenizer type 'UnicodeScripts' is not supported");
    expect_load_error("{\"post_processor\": {\"type\": \"Other\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EUNSUPPORTED, "tok.json: post_processor type 'Other' is not supported");
    expect_load_error("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}", EMBP_EUNSUPPORTED,
                      "tok.json: model type 'WordLevel' is not supported (supported: WordPiece, "
                      "Unigram, BPE)");
    expect_load_error("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": "
                      "[{\"type\": \"NFC\"}, {\"type\": \"Nmt\"}]}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EUNSUPPORTED, "normalizer type 'Nmt' is not supported");
    expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"dropout\": 0.1}}",
                      EMBP_EUNSUPPORTED, "model.dropout 0.1 is not supported");
}

static void test_new_components_report_bad_fields(void **state) {
    (void)state;
    expect_load_error("{\"normalizer\": {\"type\": \"Precompiled\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "precompiled_charsmap must be a base64 string");
    expect_load_error("{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": "
                      "\"AAAAAA==\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "not a SentencePiece charsmap");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
                      "\"(a\"}, \"behavior\": \"Isolated\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "pre_tokenizer Split: bad regex \"(a\"");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": "
                      "\" \"}, \"behavior\": \"Sideways\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "pre_tokenizer Split: unknown behavior 'Sideways'");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"prepend_scheme\": "
                      "\"twice\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "prepend_scheme 'twice' is not first, always or never");
    expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": "
                      "[\"a b\"]}}",
                      EMBP_EFORMAT, "model.merges[0] (\"a\" + \"b\"): a part or the merged token");
    expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": "
                      "[\"a\"]}}",
                      EMBP_EFORMAT, "model.merges[0] must be \"a b\" or [\"a\", \"b\"]");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"CharDelimiterSplit\"}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "pre_tokenizer.delimiter must be one character");
    expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}}", EMBP_EFORMAT,
                      "model.vocab[0] must be [token, score]");
    expect_load_error("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": "
                      "[[\"a\", -1.0]]}}",
                      EMBP_EFORMAT, "model.unk_id must be an id of model.vocab (0..0)");
}

static void test_bad_fields_name_the_field(void **state) {
    (void)state;
    expect_load_error(
        "{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": 1}," TJ_MODEL(TJ_VOCAB),
        EMBP_EFORMAT, "normalizer (BertNormalizer).lowercase must be true, false or null");
    expect_load_error("{\"added_tokens\": [{\"content\": \"x\"}]," TJ_MODEL(TJ_VOCAB), EMBP_EFORMAT,
                      "added_tokens[0] must have a string \"content\"");
    expect_load_error("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
                      "[{\"SpecialToken\": {\"id\": \"[X]\"}}, {\"Sequence\": {\"id\": \"A\"}}], "
                      "\"special_tokens\": {}}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "special token \"[X]\" of the single template is not in");
    expect_load_error("{\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"[CLS]\"], "
                      "\"sep\": [\"[SEP]\", 3]}," TJ_MODEL(TJ_VOCAB),
                      EMBP_EFORMAT, "post_processor.cls must be [token, id]");
    expect_load_error("{\"model\": {\"type\": \"WordPiece\", \"max_input_chars_per_word\": -3, "
                      "\"vocab\": " TJ_VOCAB "}}",
                      EMBP_EFORMAT,
                      "model.max_input_chars_per_word must be a non-negative integer");
}

static void test_missing_file_is_eio_naming_the_path(void **state) {
    (void)state;
    embp_tokenizer *t = NULL;
    embp_error err = {0};
    assert_int_equal(embp_tokenizer_load("/nonexistent/tokenizer.json", &t, &err), EMBP_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/tokenizer.json: cannot open"));
    assert_null(t);
}

/* Every allocation of load and encode fails in turn: each ends in EMBP_ENOMEM and no leak
 * (ASan's leak check), and the run after the last failure point succeeds. */
static void test_allocation_failure_at_every_step_is_enomem(void **state) {
    (void)state;
    const char *json = TJ_HEAD TJ_MODEL(TJ_VOCAB);
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        embp_tokenizer *t = NULL;
        embp_error err = {0};
        int32_t ids[16];
        int n = 0;
        embp_alloc_fail_after(k);
        embp_status st = embp_tokenizer_load_json(json, strlen(json), "tok.json", &t, &err);
        if (st == EMBP_OK)
            st = embp_tokenizer_encode(t, "ab AB a\xC3\xA9 c", 11, 0, ids, 16, &n, NULL, &err);
        embp_alloc_fail_after(-1);
        if (st != EMBP_OK && st != EMBP_ENOMEM)
            fail_msg("failing allocation %ld: status %d (%s)", k, (int)st, err.msg);
        ok = st == EMBP_OK;
        embp_tokenizer_free(t);
    }
    assert_true(ok);
}

typedef struct {
    const embp_tokenizer *t;
    const char *text;
    int32_t ids[64];
    int n;
} enc_job;

static void *encode_many(void *arg) {
    enc_job *j = arg;
    for (int r = 0; r < 2000; r++) {
        int32_t ids[64];
        int n = 0;
        if (embp_tokenizer_encode(j->t, j->text, strlen(j->text), 0, ids, 64, &n, NULL, NULL) ||
            n != j->n || memcmp(ids, j->ids, (size_t)n * sizeof *ids) != 0)
            return (void *)1;
    }
    return NULL;
}

/* Two threads encode different texts with one tokenizer and always get their single-thread
 * ids: the tokenizer has no mutable state. */
static void test_concurrent_encoding_gives_single_thread_ids(void **state) {
    (void)state;
    const char *json = TJ_HEAD TJ_MODEL(TJ_VOCAB);
    embp_tokenizer *t = NULL;
    assert_int_equal(embp_tokenizer_load_json(json, strlen(json), "tok.json", &t, NULL), EMBP_OK);
    enc_job jobs[2] = {{.t = t, .text = "ab ab a [UNK] AB"}, {.t = t, .text = "c a, b! ABAB"}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(embp_tokenizer_encode(t, jobs[i].text, strlen(jobs[i].text), 0,
                                               jobs[i].ids, 64, &jobs[i].n, NULL, NULL),
                         EMBP_OK);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, encode_many, &jobs[i]);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_null(rc);
    }
    embp_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_small_tokenizer_encodes_by_hand),
        cmocka_unit_test(test_malformed_json_names_line_and_column),
        cmocka_unit_test(test_missing_model_or_vocab_is_eformat),
        cmocka_unit_test(test_unk_token_missing_from_vocab_is_eformat),
        cmocka_unit_test(test_bad_vocab_ids_are_eformat),
        cmocka_unit_test(test_unsupported_components_are_eunsupported),
        cmocka_unit_test(test_new_components_report_bad_fields),
        cmocka_unit_test(test_bad_fields_name_the_field),
        cmocka_unit_test(test_missing_file_is_eio_naming_the_path),
        cmocka_unit_test(test_allocation_failure_at_every_step_is_enomem),
        cmocka_unit_test(test_concurrent_encoding_gives_single_thread_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
