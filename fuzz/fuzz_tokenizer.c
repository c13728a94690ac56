/* Fuzzes embp_tokenizer_encode, embp_tokenizer_encode_pair and embp_tokenizer_encode_offsets
 * (checked against encode's ids): arbitrary bytes (valid UTF-8 or not) through small
 * tokenizer.json files embedded here, loaded once per process: BERT's
 * WordPiece pipeline, a Unigram one (SentencePiece Precompiled charsmap, Metaspace, byte
 * fallback, RobertaProcessing) and a byte-level BPE one (Qwen2's Split regex, Digits,
 * ByteLevel, a Sequence post-processor). The first byte picks the tokenizer, max_len and cap
 * (so truncation and short output buffers are covered), and whether the rest is split into a
 * pair. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
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

static const char UNIGRAM_JSON[] =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\""
    "id\": 0, \"content\": \"<s>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": "
    "false, \"normalized\": false, \"special\": true}, {\"id\": 1, \"content\": \"</s>\", "
    "\"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
    "\"special\": true}, {\"id\": 2, \"content\": \"<unk>\", \"single_word\": false, \"lstr"
    "ip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}, {\"id\": 3,"
    " \"content\": \"<mask>\", \"single_word\": false, \"lstrip\": true, \"rstrip\": false,"
    " \"normalized\": false, \"special\": true}], \"normalizer\": {\"type\": \"Sequence\", "
    "\"normalizers\": [{\"type\": \"Precompiled\", \"precompiled_charsmap\": \"AAQAAAAAAQBB"
    "CQAAQhkAAAMAAIAFAACAAAAAgIAEAgCAPQAAAQAAgKwIAgCBBQAABwAAgKE9AAAMAAAADwAAAA4AAAARAAAAEA"
    "AAABMAAAASAAAAFQAAABQAAAAXAAAAFgAAABkAAAC80AIAGwAAABoAAAAdAAAAHAAAAB8AAAAeAAAAIQAAACAA"
    "AAAjAAAAIgAAACUAAAAkAAAAJwAAACYAAAApAAAAKAAAACsAAAAqAAAALQAAACwAAAAvAAAALgAAADEAAAAwAA"
    "AAMwAAADIAAAA1AAAANAAAADcAAAA2AAAAOQAAADgAAAA7AAAAOgAAAD0AAAA8AAAAPwAAAH/pAABBAAAAQAAA"
    "AEMAAABCAAAARQAAAEQAAABHAAAARgAAAEkAAABIAAAASwAAAEoAAABNAAAATAAAAE8AAABOAAAAUQAAAFAAAA"
    "BTAAAAUgAAAFUAAABUAAAAVwAAAFYAAABZAAAAWAAAAFsAAABaAAAAXQAAAFwAAABfAAAAXgAAAGEAAABgAAAA"
    "YwAAAGIAAABlAAAAZAAAAGcAAABmAAAAaQAAAGgAAABrAAAAagAAAG0AAABsAAAAbwAAAG4AAABxAAAAcAAAAH"
    "MAAAByAAAAdQAAAHQAAAB3AAAAdgAAAHkAAAB4AAAAewAAAHoAAAB9AAAAfAAAAH8AAAB+AAAAgQAAAIAAAACD"
    "AAAAggAAAIUAAACEAAAAhwAAAIYAAACJAAAAiAAAAIsAAACKAAAAjQAAAIwAAACPAAAAjgAAAJEAAACQAAAAkw"
    "AAAJIAAACVAAAAlAAAAJcAAACWAAAAmQAAAJgAAACbAAAAmgAAAJ0AAACcAAAAnwAAAJ4AAAChAAAAoAAAAKMA"
    "AADjlAAApQAAAKQAAACnAAAApgAAAKkAAACoAAAAqwAAAKoAAACtAAAArAAAAK8AAADvKAAAsQAAALAAAACzAA"
    "AAsgAAALUAAAC0AAAAtwAAALYAAAC5AAAAuAAAALsAAAC6AAAAvQAAALwAAAC/AAAAvgAAAMEAAADAAAAAwwAA"
    "AMIAAADFAAAAxAAAAMcAAADGAAAAyQAAAMgAAADLAAAAygAAAM0AAADMAAAAzwAAAM4AAADRAAAA0AAAANMAAA"
    "DSAAAA1QAAANQAAADXAAAA1gAAANkAAADYAAAA2wAAANoAAADdAAAA3AAAAN8AAADeAAAA4QAAAOAAAADjAAAA"
    "4gAAAOUAAADkAAAA5wAAAOYAAADpAAAA6AAAAOsAAADqAAAA7QAAAOwAAADvAAAA7gAAAPEAAADwAAAA8wAAAP"
    "IAAAD1AAAA9AAAAPcAAAD2AAAA+QAAAPgAAAD7AAAA+gAAAP0AAAD8AAAA/wAAAP4AAAAAIABhAGIAZmkA\"},"
    " {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"}, \"content\": \"\xe2\x96"
    "\x81\"}, {\"type\": \"Strip\", \"strip_left\": false, \"strip_right\": true}]}, \"pre_"
    "tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\", \"prepend_sc"
    "heme\": \"first\", \"split\": true}, \"post_processor\": {\"type\": \"RobertaProcessin"
    "g\", \"sep\": [\"</s>\", 1], \"cls\": [\"<s>\", 0], \"trim_offsets\": true, \"add_pref"
    "ix_space\": true}, \"decoder\": null, \"model\": {\"type\": \"Unigram\", \"unk_id\": 2"
    ", \"byte_fallback\": true, \"vocab\": [[\"<s>\", 0.0], [\"</s>\", 0.0], [\"<unk>\", 0."
    "0], [\"<mask>\", 0.0], [\"\xe2\x96\x81\", -2.0], [\"a\", -3.0], [\"b\", -3.0], [\"ab\""
    ", -2.5], [\"\xe2\x96\x81"
    "a\", -2.2], [\"\xe2\x96\x81"
    "ab\", -2.0], [\"fi\", -4.0], [\""
    "\xc3\xa9\", -5.0], [\"<0x41>\", -9.0], [\"<0xC3>\", -9.0], [\"<0xA9>\", -9.0], [\"<0xE"
    "4>\", -9.0], [\"<0xB8>\", -9.0], [\"<0xAD>\", -9.0]]}}";

static const char BPE_JSON[] =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\""
    "id\": 0, \"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false, \""
    "rstrip\": false, \"normalized\": false, \"special\": true}], \"normalizer\": {\"type\""
    ": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\":"
    " \"Split\", \"pattern\": {\"Regex\": \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{"
    "L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\"
    "\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"ty"
    "pe\": \"Digits\", \"individual_digits\": true}, {\"type\": \"ByteLevel\", \"add_prefix"
    "_space\": false, \"trim_offsets\": false, \"use_regex\": false}]}, \"post_processor\":"
    " {\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\", \"add_prefix_spac"
    "e\": false, \"trim_offsets\": false, \"use_regex\": false}, {\"type\": \"TemplateProce"
    "ssing\", \"single\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken"
    "\": {\"id\": \"<|endoftext|>\", \"type_id\": 0}}], \"pair\": [{\"Sequence\": {\"id\": "
    "\"A\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}, {\"SpecialTo"
    "ken\": {\"id\": \"<|endoftext|>\", \"type_id\": 1}}], \"special_tokens\": {\"<|endofte"
    "xt|>\": {\"id\": \"<|endoftext|>\", \"ids\": [0], \"tokens\": [\"<|endoftext|>\"]}}}]}"
    ", \"decoder\": null, \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": "
    "null, \"continuing_subword_prefix\": null, \"end_of_word_suffix\": null, \"fuse_unk\":"
    " false, \"byte_fallback\": false, \"ignore_merges\": true, \"vocab\": {\"<|endoftext|>"
    "\": 0, \"!\": 1, \"\\\"\": 2, \"#\": 3, \"$\": 4, \"%\": 5, \"&\": 6, \"'\": 7, \"(\":"
    " 8, \")\": 9, \"*\": 10, \"+\": 11, \",\": 12, \"-\": 13, \".\": 14, \"/\": 15, \"0\":"
    " 16, \"1\": 17, \"2\": 18, \"3\": 19, \"4\": 20, \"5\": 21, \"6\": 22, \"7\": 23, \"8"
    "\": 24, \"9\": 25, \":\": 26, \";\": 27, \"<\": 28, \"=\": 29, \">\": 30, \"?\": 31, "
    "\"@\": 32, \"A\": 33, \"B\": 34, \"C\": 35, \"D\": 36, \"E\": 37, \"F\": 38, \"G\": 39"
    ", \"H\": 40, \"I\": 41, \"J\": 42, \"K\": 43, \"L\": 44, \"M\": 45, \"N\": 46, \"O\": "
    "47, \"P\": 48, \"Q\": 49, \"R\": 50, \"S\": 51, \"T\": 52, \"U\": 53, \"V\": 54, \"W\""
    ": 55, \"X\": 56, \"Y\": 57, \"Z\": 58, \"[\": 59, \"\\\\\": 60, \"]\": 61, \"^\": 62, "
    "\"_\": 63, \"`\": 64, \"a\": 65, \"b\": 66, \"c\": 67, \"d\": 68, \"e\": 69, \"f\": 70"
    ", \"g\": 71, \"h\": 72, \"i\": 73, \"j\": 74, \"k\": 75, \"l\": 76, \"m\": 77, \"n\": "
    "78, \"o\": 79, \"p\": 80, \"q\": 81, \"r\": 82, \"s\": 83, \"t\": 84, \"u\": 85, \"v\""
    ": 86, \"w\": 87, \"x\": 88, \"y\": 89, \"z\": 90, \"{\": 91, \"|\": 92, \"}\": 93, \"~"
    "\": 94, \"\xc4\xa0\": 95, \"\xc4\x8a\": 96, \"\xc4\x89\": 97, \"\xc4\xa0t\": 98, \"he"
    "\": 99, \"\xc4\xa0the\": 100, \"in\": 101, \"\xc4\xa0"
    "a\": 102, \"ing\": 103}, \"merges"
    "\": [[\"\xc4\xa0\", \"t\"], [\"h\", \"e\"], [\"\xc4\xa0t\", \"he\"], [\"i\", \"n\"], ["
    "\"\xc4\xa0\", \"a\"], [\"in\", \"g\"]]}}";

/* A pair: the input's two halves; checks what encode checks but truncation. */
static void fuzz_pair(const embp_tokenizer *t, const uint8_t *data, size_t size, int cap) {
    int32_t ids[512], types[512];
    int n = -1, n_full = -1;
    embp_error err;
    size_t half = size / 2;
    embp_status st =
        embp_tokenizer_encode_pair(t, (const char *)data, half, (const char *)data + half,
                                   size - half, ids, types, cap, &n, &n_full, &err);
    if (st == EMBP_OK) {
        if (n < 0 || n > cap || n > n_full || n_full < embp_tokenizer_num_special(t, 1)) abort();
        for (int i = 0; i < n; i++)
            if (!embp_tokenizer_id_to_token(t, ids[i]) || types[i] < 0 || types[i] > 1) abort();
    } else if (st != EMBP_EINVAL || n != 0) {
        abort();
    }
}

/* embp_tokenizer_encode_offsets on the same text: the same ids as encode, in both units; every
 * offset within the text, start <= stop; the special tokens at 0, 0. */
static void check_offsets(const embp_tokenizer *t, const uint8_t *data, size_t size,
                          const int32_t *ids, int n) {
    for (int chars = 0; chars < 2; chars++) {
        embp_token_offsets *o = NULL;
        int m = -1;
        if (embp_tokenizer_encode_offsets(t, (const char *)data, size, NULL, 0, true, chars, &o,
                                          &m, NULL) != EMBP_OK ||
            m != n)
            abort();
        for (int i = 0; i < m; i++)
            if (o[i].id != ids[i] || o[i].start > o[i].stop || o[i].stop > size ||
                (o[i].seq < 0 && (o[i].start || o[i].stop)) || o[i].seq > 0)
                abort();
        embp_free(o);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const json[3] = {TOKENIZER_JSON, UNIGRAM_JSON, BPE_JSON};
    static embp_tokenizer *toks[3]; /* one each per process, never freed: libFuzzer's usual */
    int which = size > 0 ? (data[0] >> 5) % 3 : 0;
    if (!toks[which] && embp_tokenizer_load_json(json[which], strlen(json[which]), "fuzz",
                                                 &toks[which], NULL) != EMBP_OK)
        abort();
    const embp_tokenizer *t = toks[which];
    int max_len = 0, cap = 512;
    bool pair = false;
    if (size > 0) {
        max_len = data[0] % 4 == 0 ? 0 : 2 + data[0] % 16;
        cap = data[0] % 3 == 0 ? data[0] % 5 : 512;
        pair = (data[0] & 0x18) == 0x18;
        data++;
        size--;
    }
    if (pair) {
        fuzz_pair(t, data, size, cap);
        return 0;
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
        if (max_len == 0 && n == n_full) check_offsets(t, data, size, ids, n);
    } else if (st != EMBP_EINVAL || n != 0) {
        abort();
    }
    return 0;
}
