/* The tokenizer against Hugging Face tokenizers on every tokenizer.json that
 * tests/tokenizer_refs.sh makes (trained by tokenizers itself: Unigram + Metaspace, byte-level
 * BPE, Qwen2's Split regex, BPE with prefix/suffix/unk/byte fallback, WordPiece, Split in every
 * behavior; SentencePiece unigram models converted by transformers, with their Precompiled
 * charsmaps; real files packages ship): ids equal on every text of a multilingual corpus, at
 * max_len 0 (none), 16 and 5 (cut on the right, and on the left), pairs with their type ids
 * (untruncated, and truncated longest_first from the right and from the left), the
 * special-token counts, the offsets (every token's span in its text, in chars as Python's
 * tokenizers gives them and in bytes, with and without special tokens, of texts and pairs:
 * embp_tokenizer_encode_offsets), and decode (every decoder: ids back to text equal to HF's
 * Tokenizer.decode, of each text's ids and of random ids, with and without the special
 * tokens). Exits 77
 * (skipped) when the Python venv cannot be made here. */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/alloc.h"
#include "tokenizer/tokenizer.h"

#define CAP 4096

static char *g_dir;

static void print_ids(const char *label, const int32_t *ids, int n) {
    fprintf(stderr, "  %s (%d):", label, n);
    for (int i = 0; i < n && i < 64; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "%s\n", n > 64 ? " ..." : "");
}

static int json_ids(json_t *arr, int32_t *out) {
    int n = (int)json_array_size(arr);
    assert_true(n <= CAP);
    for (int i = 0; i < n; i++)
        out[i] = (int32_t)json_integer_value(json_array_get(arr, (size_t)i));
    return n;
}

/* A decode row: HF's Tokenizer.decode(ids, skip_special_tokens) text; 1 when embp differs. */
static int check_decode(const embp_tokenizer *t, const char *name, size_t r, json_t *row) {
    static int32_t ids[CAP];
    json_t *want = json_object_get(row, "text");
    bool skip = json_is_true(json_object_get(row, "skip"));
    int n = json_ids(json_object_get(row, "decode"), ids);
    char *text = NULL;
    size_t len = 0;
    embp_error err = {0};
    embp_status st = embp_tokenizer_decode(t, ids, (size_t)n, skip, &text, &len, &err);
    int same = st == EMBP_OK && len == json_string_length(want) &&
               memcmp(text, json_string_value(want), len) == 0;
    if (!same) {
        fprintf(stderr, "%s row %zu: decode differs (skip %d) %s\n  expected (HF): \"%.200s\"\n"
                "  actual (embp): \"%.200s\"\n", name, r + 1, skip, st ? err.msg : "",
                json_string_value(want), text ? text : "");
        print_ids("ids", ids, n);
    }
    embp_free(text);
    return !same;
}

/* embp_tokenizer_encode_offsets of text (and pair) against HF's ids (want_ids) and offsets:
 * in chars against Python's (want), in bytes against the Rust crate's (bwant). 1 when embp
 * differs. */
static int check_offsets_of(const embp_tokenizer *t, const char *name, size_t r, const char *text,
                            const char *pair, bool special, json_t *want_ids, json_t *cwant,
                            json_t *bwant) {
    int bad = 0;
    for (int chars = 1; chars >= 0 && !bad; chars--) {
        json_t *want = chars ? cwant : bwant;
        embp_token_offsets *o = NULL;
        int n = 0;
        embp_error err = {0};
        embp_status st = embp_tokenizer_encode_offsets(t, text, strlen(text), pair,
                                                       pair ? strlen(pair) : 0, special, chars,
                                                       &o, &n, &err);
        size_t k = 0;
        bad = st != EMBP_OK || (size_t)n != json_array_size(want);
        for (; !bad && k < (size_t)n; k++) {
            json_t *w = json_array_get(want, k);
            size_t ws = (size_t)json_integer_value(json_array_get(w, 0));
            size_t we = (size_t)json_integer_value(json_array_get(w, 1));
            bad = o[k].id != (int32_t)json_integer_value(json_array_get(want_ids, k)) ||
                  o[k].start != ws || o[k].stop != we;
        }
        if (bad) {
            fprintf(stderr, "%s row %zu: %s offsets differ%s at token %zu of %d (HF %zu): "
                    "\"%.120s\"%s%.60s%s %s\n", name, r + 1, chars ? "char" : "byte",
                    special ? "" : " (no special tokens)", k ? k - 1 : 0, n,
                    json_array_size(want), text, pair ? " + \"" : "", pair ? pair : "",
                    pair ? "\"" : "", st ? err.msg : "");
            for (size_t i = 0; i < (size_t)n && i < 40; i++) {
                json_t *w = json_array_get(want, i);
                fprintf(stderr, "  %zu: embp %d [%u, %u)  HF %d [%d, %d)\n", i, (int)o[i].id,
                        o[i].start, o[i].stop,
                        (int)json_integer_value(json_array_get(want_ids, i)),
                        (int)json_integer_value(json_array_get(w, 0)),
                        (int)json_integer_value(json_array_get(w, 1)));
            }
        }
        embp_free(o);
    }
    return bad;
}

static int check_offsets(const embp_tokenizer *t, const char *name, size_t r, json_t *row) {
    const char *text = json_string_value(json_object_get(row, "text"));
    const char *pair = json_string_value(json_object_get(row, "pair"));
    int bad = check_offsets_of(t, name, r, text, pair, true, json_object_get(row, "ids"),
                               json_object_get(row, "offsets"), json_object_get(row, "boffsets"));
    if (json_object_get(row, "raw_offsets"))
        bad |= check_offsets_of(t, name, r, text, NULL, false, json_object_get(row, "raw_ids"),
                                json_object_get(row, "raw_offsets"),
                                json_object_get(row, "raw_boffsets"));
    return bad;
}

/* One row of <name>.expected.jsonl; 1 when embp differs from HF. */
static int check_row(const embp_tokenizer *t, const char *name, size_t r, json_t *row) {
    static int32_t ids[CAP], want[CAP], types[CAP], want_types[CAP];
    if (json_object_get(row, "decode")) return check_decode(t, name, r, row);
    if (json_object_get(row, "offsets") && check_offsets(t, name, r, row)) return 1;
    const char *text = json_string_value(json_object_get(row, "text"));
    json_t *pair = json_object_get(row, "pair");
    int n = 0, n_want = json_ids(json_object_get(row, "ids"), want), n_full = 0;
    embp_error err = {0};
    embp_status st;
    bool types_ok = true;
    if (pair) {
        const char *b = json_string_value(pair);
        int max_len = (int)json_integer_value(json_object_get(row, "max_len"));
        int left = json_is_true(json_object_get(row, "left"));
        st = embp_tokenizer_encode_pair_truncated(t, text, strlen(text), b, strlen(b), max_len,
                                                  left, ids, types, CAP, &n, &n_full, &err);
        int nt = json_ids(json_object_get(row, "type_ids"), want_types);
        types_ok = nt == n && memcmp(types, want_types, (size_t)n * sizeof *types) == 0;
    } else {
        int max_len = (int)json_integer_value(json_object_get(row, "max_len"));
        bool left = json_is_true(json_object_get(row, "left"));
        st = embp_tokenizer_encode_dir(t, text, strlen(text), max_len, left, ids, CAP, &n,
                                       &n_full, &err);
    }
    if (st == EMBP_OK && n == n_want && types_ok && memcmp(ids, want, (size_t)n * sizeof *ids) == 0)
        return 0;
    fprintf(stderr, "%s row %zu differs (max_len %d%s%s): \"%.120s\" %s\n", name, r + 1,
            (int)json_integer_value(json_object_get(row, "max_len")),
            json_is_true(json_object_get(row, "left")) ? ", left" : "", pair ? ", pair" : "", text,
            st ? err.msg : "");
    print_ids("expected (HF)", want, n_want);
    print_ids("actual (embp)", ids, n);
    if (!types_ok) print_ids("types (embp)", types, n);
    return 1;
}

/* Every row of one tokenizer; the count of rows that differ. */
static int check_tokenizer(const char *name, int n_single, int n_pair, size_t *rows) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", g_dir, name);
    embp_tokenizer *t = NULL;
    embp_error err = {0};
    if (embp_tokenizer_load(path, &t, &err) != EMBP_OK) {
        fprintf(stderr, "%s: load failed: %s\n", name, err.msg);
        return 1;
    }
    int bad = 0;
    if (embp_tokenizer_num_special(t, 0) != n_single ||
        embp_tokenizer_num_special(t, 1) != n_pair) {
        fprintf(stderr, "%s: special tokens %d/%d, HF says %d/%d\n", name,
                embp_tokenizer_num_special(t, 0), embp_tokenizer_num_special(t, 1), n_single,
                n_pair);
        bad++;
    }
    snprintf(path, sizeof path, "%s/%s.expected.jsonl", g_dir, name);
    json_t *all = tu_read_jsonl(path);
    assert_true(json_array_size(all) > 100);
    for (size_t r = 0; r < json_array_size(all); r++)
        bad += check_row(t, name, r, json_array_get(all, r));
    *rows += json_array_size(all);
    json_decref(all);
    embp_tokenizer_free(t);
    return bad;
}

static void test_every_tokenizer_matches_hf_on_every_line(void **state) {
    (void)state;
    char path[4096], name[256];
    snprintf(path, sizeof path, "%s/manifest.txt", g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n_tok = 0, failing = 0, n_single, n_pair;
    size_t rows = 0;
    while (fscanf(f, "%255s %d %d", name, &n_single, &n_pair) == 3) {
        int bad = check_tokenizer(name, n_single, n_pair, &rows);
        if (bad) fprintf(stderr, "%s: %d rows differ\n", name, bad);
        failing += bad != 0;
        n_tok++;
    }
    fclose(f);
    fprintf(stderr, "%d tokenizers, %zu rows; %d tokenizers differ\n", n_tok, rows, failing);
    assert_true(n_tok >= 30);
    assert_int_equal(failing, 0);
}

/* The end ids the runtime asks for are the single template's trailing specials. */
static void test_end_ids_are_the_templates_trailing_specials(void **state) {
    (void)state;
    char path[4096];
    const char *cases[][2] = {{"wordpiece", "[SEP]"},
                              {"bpe_bytelevel_roberta", "</s>"},
                              {"xlmr_spm_unigram", "</s>"},
                              {"bpe_qwen2", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.json", g_dir, cases[i][0]);
        embp_tokenizer *t = NULL;
        embp_error err = {0};
        assert_int_equal(embp_tokenizer_load(path, &t, &err), EMBP_OK);
        int n = -1;
        const int32_t *end = embp_tokenizer_end_ids(t, &n);
        if (!cases[i][1]) {
            assert_int_equal(n, 0);
        } else {
            assert_int_equal(n, 1);
            assert_int_equal(end[0], embp_tokenizer_token_to_id(t, cases[i][1]));
        }
        embp_tokenizer_free(t);
    }
}

int main(void) {
    char cmd[8192];
    const char *fx = getenv("EMBP_FIXTURES");
    size_t n = strlen(fx ? fx : "fixtures") + 16;
    g_dir = malloc(n);
    snprintf(g_dir, n, "%s/tokref", fx ? fx : "fixtures");
    snprintf(cmd, sizeof cmd, "bash '%s/tests/tokenizer_refs.sh' '%s'", tu_source(), g_dir);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc)) {
        fprintf(stderr, "tokenizer_refs.sh did not run\n");
        return 1;
    }
    if (WEXITSTATUS(rc) == 77) {
        fprintf(stderr, "SKIP: no Python venv with HF tokenizers here\n");
        return 77;
    }
    if (WEXITSTATUS(rc) != 0) {
        fprintf(stderr, "tokenizer_refs.sh failed (%d)\n", WEXITSTATUS(rc));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_tokenizer_matches_hf_on_every_line),
        cmocka_unit_test(test_end_ids_are_the_templates_trailing_specials),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_dir);
    return r;
}
