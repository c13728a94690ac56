/* Fuzzes embp_tokenizer_encode: arbitrary bytes (valid UTF-8 or not) through a small BERT
 * tokenizer.json embedded here, loaded once per process. The first byte picks max_len and
 * cap, so truncation and short output buffers are covered too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static const char TOKENIZER_JSON[] =
    "{\"added_tokens\": ["
    " {\"id\": 0, \"content\": \"[PAD]\", \"special\": true, \"normalized\": false},"
    " {\"id\": 1, \"content\": \"[UNK]\", \"special\": true, \"normalized\": false},"
    " {\"id\": 2, \"content\": \"[CLS]\", \"special\": true, \"normalized\": false},"
    " {\"id\": 3, \"content\": \"[SEP]\", \"special\": true, \"normalized\": false},"
    " {\"id\": 4, \"content\": \"[MASK]\", \"special\": true, \"normalized\": false},"
    " {\"id\": 20, \"content\": \"Hey\", \"normalized\": true, \"lstrip\": true},"
    " {\"id\": 21, \"content\": \"<s>\", \"single_word\": true, \"rstrip\": true}],"
    "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
    " {\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true,"
    "  \"strip_accents\": null, \"lowercase\": true},"
    " {\"type\": \"Replace\", \"pattern\": {\"String\": \"aa\"}, \"content\": \"a\"}]},"
    "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
    " {\"type\": \"BertPreTokenizer\"}, {\"type\": \"Punctuation\", \"behavior\": "
    "\"Contiguous\"}]},"
    "\"post_processor\": {\"type\": \"TemplateProcessing\","
    " \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}},"
    "  {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
    "  {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}],"
    " \"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [2], \"tokens\": [\"[CLS]\"]},"
    "  \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [3], \"tokens\": [\"[SEP]\"]}}},"
    "\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
    " \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 20,"
    " \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"[MASK]\": 4,"
    "  \"a\": 5, \"b\": 6, \"##a\": 7, \"##b\": 8, \"ab\": 9, \"##ab\": 10, \"\xc3\xa9\": 11,"
    "  \"##\xc3\xa9\": 12, \"\xe4\xb8\xad\": 13, \".\": 14, \"!\": 15, \"hey\": 16}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static embp_tokenizer *t; /* one per process, never freed: libFuzzer's usual pattern */
    if (!t && embp_tokenizer_load_json(TOKENIZER_JSON, sizeof TOKENIZER_JSON - 1, "fuzz", &t,
                                       NULL) != EMBP_OK)
        abort();
    int max_len = 0, cap = 512;
    if (size > 0) {
        max_len = data[0] % 4 == 0 ? 0 : 2 + data[0] % 16;
        cap = data[0] % 3 == 0 ? data[0] % 5 : 512;
        data++;
        size--;
    }
    int32_t ids[512];
    int n = -1, n_full = -1;
    embp_error err;
    embp_status st =
        embp_tokenizer_encode(t, (const char *)data, size, max_len, ids, cap, &n, &n_full, &err);
    if (st == EMBP_OK) {
        if (n < 0 || n > cap || n > n_full || (max_len > 0 && n > max_len)) abort();
        for (int i = 0; i < n; i++)
            if (!embp_tokenizer_id_to_token(t, ids[i])) abort();
    } else if (st != EMBP_EINVAL || n != 0) {
        abort();
    }
    return 0;
}
