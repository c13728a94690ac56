/* The optional pipeline components against HF tokenizers: each tests/data/tok_components/
 * <k>.json encodes inputs.txt to the ids HF gave (<k>.expected.jsonl, written by the peer;
 * see make.py there for what each file exercises and how to regenerate). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* Loads <k>.json, encodes each expected line's text (max_len 512, the peer's default without a
 * config) and returns how many lines differ, printing each. */
static int check_component_file(const char *k) {
    char path[4096], exp[4096];
    snprintf(path, sizeof path, "%s/tests/data/tok_components/%s.json", tu_source(), k);
    snprintf(exp, sizeof exp, "%s/tests/data/tok_components/%s.expected.jsonl", tu_source(), k);
    embp_tokenizer *t = NULL;
    embp_error err = {0};
    if (embp_tokenizer_load(path, &t, &err) != EMBP_OK) fail_msg("load %s: %s", path, err.msg);
    json_t *rows = tu_read_jsonl(exp);
    int bad = 0;
    assert_true(json_array_size(rows) >= 10);
    for (size_t r = 0; r < json_array_size(rows); r++) {
        json_t *row = json_array_get(rows, r), *jids = json_object_get(row, "input_ids");
        const char *text = json_string_value(json_object_get(row, "text"));
        int32_t ids[256], want[256];
        int n = 0, n_want = (int)json_array_size(jids);
        assert_true(n_want <= 256);
        for (int i = 0; i < n_want; i++)
            want[i] = (int32_t)json_integer_value(json_array_get(jids, (size_t)i));
        embp_status st =
            embp_tokenizer_encode(t, text, strlen(text), 512, ids, 256, &n, NULL, &err);
        if (st != EMBP_OK || n != n_want || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
            fprintf(stderr, "%s.json line %zu differs: \"%s\" (%s)\n", k, r + 1, text, err.msg);
            tu_print_ids(t, "expected (HF)", want, n_want);
            tu_print_ids(t, "actual (embp)", ids, n);
            bad++;
        }
    }
    json_decref(rows);
    embp_tokenizer_free(t);
    return bad;
}

/* One case per component file (TU_CASE: *state is its <k>). */
static void test_component_file_matches_hf(void **state) {
    assert_int_equal(check_component_file(*state), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* Sequence[NFD, StripAccents, Lowercase] + Whitespace + BertProcessing. */
        TU_CASE("test_nfd_stripaccents_lowercase_whitespace_bertprocessing_match_hf",
                test_component_file_matches_hf, "a"),
        /* Sequence[Strip, Replace, Lowercase] + Sequence[WhitespaceSplit, Punctuation
         * MergedWithPrevious], no post-processor. */
        TU_CASE("test_strip_replace_sequence_merged_with_previous_match_hf",
                test_component_file_matches_hf, "b"),
        /* Lowercase + Punctuation MergedWithNext + a template with two trailing [SEP]s, and
         * added tokens: normalized "Yesterday", lstrip/rstrip "<mask>", single_word "hi", all
         * given new ids as HF's add_tokens assigns them. */
        TU_CASE("test_added_token_flags_and_template_match_hf", test_component_file_matches_hf,
                "c"),
        /* NFKC + Punctuation Contiguous. */
        TU_CASE("test_nfkc_punctuation_contiguous_match_hf", test_component_file_matches_hf, "d"),
        /* No normalizer + Punctuation Removed. */
        TU_CASE("test_no_normalizer_punctuation_removed_match_hf", test_component_file_matches_hf,
                "e"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
