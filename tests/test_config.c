/* Model folder configuration: the real MiniLM files, each pooling fixture, and broken files. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/config.h"

static void test_minilm_folder_reads_as_sentence_transformers_says(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/all-MiniLM-L6-v2", tu_shared());
    embp_model_config c;
    embp_error err;
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.hidden, 384);
    assert_int_equal(c.layers, 6);
    assert_int_equal(c.heads, 12);
    assert_int_equal(c.intermediate, 1536);
    assert_int_equal(c.vocab_size, 30522);
    assert_int_equal(c.max_position, 512);
    assert_int_equal(c.type_vocab_size, 2);
    assert_int_equal(c.max_seq_len, 256);
    assert_int_equal(c.pooling, EMBP_POOLING_MEAN);
    assert_int_equal(c.normalize, 1);
    assert_string_equal(c.architecture, "BertModel");
    assert_string_equal(c.tensor_prefix, "");
    assert_float_equal(c.layer_norm_eps, 1e-12f, 1e-18);
    assert_int_equal(c.is_demo, 0);
}

static void test_each_pooling_fixture_gets_its_mode(void **state) {
    (void)state;
    const struct {
        const char *name;
        embp_pooling mode;
        int normalize;
    } cases[] = {{"tiny", EMBP_POOLING_MEAN, 1},          {"tiny_cls", EMBP_POOLING_CLS, 1},
                 {"tiny_max", EMBP_POOLING_MAX, 0},       {"tiny_last", EMBP_POOLING_LASTTOKEN, 1},
                 {"tiny_sqrt", EMBP_POOLING_MEAN_SQRT_LEN, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = tu_fixture("%s", cases[i].name);
        embp_model_config c;
        embp_error err;
        assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
        assert_int_equal(c.pooling, cases[i].mode);
        assert_int_equal(c.normalize, cases[i].normalize);
        free(dir);
    }
}

static void expect_config_error(const char *json, embp_status code, const char *needle) {
    embp_model_config c;
    memset(&c, 0, sizeof c);
    embp_error err;
    embp_status s = embp_config_parse_config_json(json, strlen(json), "m/config.json", &c, &err);
    if (s != code || !strstr(err.msg, needle) || !strstr(err.msg, "m/config.json"))
        fail_msg("%s -> status %d '%s', expected %d with '%s'", json, s, s ? err.msg : "", code,
                 needle);
}

#define SHAPES "\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4," \
               "\"intermediate_size\":128,\"vocab_size\":100,\"max_position_embeddings\":64"

static void test_config_json_errors_name_the_field(void **state) {
    (void)state;
    expect_config_error("{\"num_hidden_layers\":2}", EMBP_EFORMAT, "'hidden_size' missing");
    expect_config_error("{" SHAPES ",\"hidden_size\":\"64\"}", EMBP_EFORMAT, "");
    expect_config_error("{\"hidden_size\":\"64\"}", EMBP_EFORMAT, "'hidden_size' must be an integer");
    expect_config_error("{\"hidden_size\":65,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                        "\"intermediate_size\":128,\"vocab_size\":100,"
                        "\"max_position_embeddings\":64}", EMBP_EFORMAT,
                        "not a multiple of num_attention_heads 4");
    expect_config_error("{\"hidden_size\":-1}", EMBP_EFORMAT, "'hidden_size' = -1 is outside");
    expect_config_error("{" SHAPES ",\"hidden_act\":\"relu\"}", EMBP_EUNSUPPORTED,
                        "hidden_act 'relu'");
    expect_config_error("{" SHAPES ",\"layer_norm_eps\":\"x\"}", EMBP_EFORMAT, "layer_norm_eps");
    expect_config_error("{" SHAPES ",\"architectures\":7}", EMBP_EFORMAT, "architectures");
    expect_config_error("[1]", EMBP_EFORMAT, "not a JSON object");
    expect_config_error("{" SHAPES, EMBP_EFORMAT, "invalid JSON");
}

static void test_task_head_architecture_uses_the_bert_prefix(void **state) {
    (void)state;
    const char *json = "{" SHAPES ",\"architectures\":[\"BertForMaskedLM\"]}";
    embp_model_config c;
    tu_model_config(json, &c);
    assert_string_equal(c.tensor_prefix, "bert.");
}

/* The RoBERTa family's config: pad_token_id and one token type read as written; where its
 * positions start is its architecture's recipe (test_arch), not the config's, and its task
 * heads' "roberta." prefix the weight loader's to try. The model_type itself is the
 * architecture table's to accept or refuse (test_arch). */
static void test_roberta_family_config_reads_pad_token_id(void **state) {
    (void)state;
    const char *types[] = {"roberta", "xlm-roberta", "camembert", "bert"};
    for (int i = 0; i < 4; i++) {
        char json[512];
        snprintf(json, sizeof json, "{" SHAPES ",\"model_type\":\"%s\",\"pad_token_id\":1,"
                 "\"type_vocab_size\":1}", types[i]);
        embp_model_config c;
        tu_model_config(json, &c);
        assert_int_equal(c.pad_token_id, 1);
        assert_int_equal(c.position_offset, 0);
        assert_string_equal(c.tensor_prefix, "");
        assert_int_equal(c.type_vocab_size, 1);
    }
}

/* DistilBERT names its shapes dim, hidden_dim, n_layers, n_heads, its act activation, and has
 * no token types; its task heads nest the encoder under "distilbert.". */
static void test_distilbert_keys(void **state) {
    (void)state;
    const char *json = "{\"model_type\":\"distilbert\",\"dim\":64,\"hidden_dim\":128,"
                       "\"n_layers\":3,\"n_heads\":4,\"vocab_size\":100,"
                       "\"max_position_embeddings\":64,\"activation\":\"gelu\"}";
    embp_model_config c;
    tu_model_config(json, &c);
    assert_int_equal(c.hidden, 64);
    assert_int_equal(c.intermediate, 128);
    assert_int_equal(c.layers, 3);
    assert_int_equal(c.heads, 4);
    assert_int_equal(c.type_vocab_size, 0);
    assert_int_equal(c.position_offset, 0);
    assert_string_equal(c.tensor_prefix, "distilbert.");
    expect_config_error("{\"model_type\":\"distilbert\",\"hidden_size\":64}", EMBP_EFORMAT,
                        "'dim' missing");
    expect_config_error("{\"model_type\":\"distilbert\",\"dim\":64,\"hidden_dim\":128,"
                        "\"n_layers\":3,\"n_heads\":4,\"vocab_size\":100,"
                        "\"max_position_embeddings\":64,\"activation\":\"relu\"}",
                        EMBP_EUNSUPPORTED, "activation 'relu'");
}

/* Parses one pooling config.json text; returns its status, the mode in *mode. */
static embp_status pooling_of(const char *json, embp_pooling *mode, int *include_prompt,
                              embp_error *err) {
    embp_model_config c = {.hidden = 64};
    embp_status s = embp_config_parse_pooling_json(json, strlen(json), "p", &c, err);
    *mode = c.pooling, *include_prompt = c.include_prompt;
    return s;
}

/* Both spellings sentence-transformers reads: the legacy booleans (published folders) and
 * 6.x's "pooling_mode" name (or a one-name list), with include_prompt. */
static void test_pooling_modes_both_spellings(void **state) {
    (void)state;
    const struct {
        const char *json;
        embp_pooling mode;
        int include_prompt;
    } cases[] = {
        {"{\"pooling_mode_weightedmean_tokens\":true,\"include_prompt\":false}",
         EMBP_POOLING_WEIGHTEDMEAN, 0},
        {"{\"pooling_mode_mean_tokens\":false}", EMBP_POOLING_MEAN, 1},
        {"{\"pooling_mode\":\"weightedmean\",\"embedding_dimension\":64}",
         EMBP_POOLING_WEIGHTEDMEAN, 1},
        {"{\"pooling_mode\":[\"lasttoken\"],\"include_prompt\":true}", EMBP_POOLING_LASTTOKEN, 1},
        {"{\"pooling_mode\":\"mean_sqrt_len_tokens\",\"pooling_mode_cls_token\":true}",
         EMBP_POOLING_MEAN_SQRT_LEN, 1}, /* pooling_mode wins, as in sentence-transformers */
        {"{\"pooling_mode\":\"cls\",\"include_prompt\":false}", EMBP_POOLING_CLS, 0},
        {"{\"pooling_mode\":\"max\"}", EMBP_POOLING_MAX, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        embp_pooling mode;
        int ip;
        embp_error err;
        assert_int_equal(pooling_of(cases[i].json, &mode, &ip, &err), EMBP_OK);
        assert_int_equal(mode, cases[i].mode);
        assert_int_equal(ip, cases[i].include_prompt);
    }
    const char *bad[] = {"{\"pooling_mode\":\"sum\"}", "{\"pooling_mode\":[1]}",
                         "{\"include_prompt\":\"no\"}",
                         "{\"pooling_mode\":\"cls\",\"embedding_dimension\":32}"};
    const char *needle[] = {"'sum'", "a non-string", "include_prompt", "embedding_dimension 32"};
    for (int i = 0; i < 4; i++) {
        embp_pooling mode;
        int ip;
        embp_error err;
        assert_int_equal(pooling_of(bad[i], &mode, &ip, &err), EMBP_EFORMAT);
        if (!strstr(err.msg, needle[i]))
            fail_msg("%s: '%s' lacks '%s'", bad[i], err.msg, needle[i]);
    }
}

/* A *ForSequenceClassification head (a cross-encoder) has as many logits as labels, counted as
 * transformers' PretrainedConfig does: id2label's size, else num_labels, else 2; any other
 * architecture has none. */
static void test_sequence_classification_labels(void **state) {
    (void)state;
    const struct {
        const char *extra;
        int labels;
    } cases[] = {
        {",\"architectures\":[\"BertForSequenceClassification\"],\"id2label\":{\"0\":\"LABEL_0\"}",
         1},
        {",\"architectures\":[\"XLMRobertaForSequenceClassification\"],\"num_labels\":1", 1},
        {",\"architectures\":[\"BertForSequenceClassification\"],\"id2label\":{\"0\":\"a\","
         "\"1\":\"b\",\"2\":\"c\"},\"num_labels\":1", 3},
        {",\"architectures\":[\"BertForSequenceClassification\"]", 2},
        {",\"architectures\":[\"BertModel\"],\"num_labels\":1", 0},
        {",\"architectures\":[\"BertForMaskedLM\"]", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json, "{" SHAPES "%s}", cases[i].extra);
        embp_model_config c;
        tu_model_config(json, &c);
        assert_int_equal(c.num_labels, cases[i].labels);
    }
    expect_config_error("{" SHAPES ",\"architectures\":[\"BertForSequenceClassification\"],"
                        "\"id2label\":[]}", EMBP_EFORMAT, "'id2label'");
    expect_config_error("{" SHAPES ",\"architectures\":[\"BertForSequenceClassification\"],"
                        "\"num_labels\":0}", EMBP_EFORMAT, "'num_labels'");
}

static void test_pooling_config_errors(void **state) {
    (void)state;
    const char *two = "{\"pooling_mode_cls_token\":true,\"pooling_mode_mean_tokens\":true}";
    const char *two6 = "{\"pooling_mode\":[\"cls\",\"max\"]}";
    const char *bad = "{\"pooling_mode_cls_token\":1}";
    const char *dim = "{\"pooling_mode_cls_token\":true,\"word_embedding_dimension\":10}";
    embp_model_config c = {.hidden = 64};
    embp_error err;
    assert_int_equal(embp_config_parse_pooling_json(two, strlen(two), "p", &c, &err),
                     EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "2 pooling modes"));
    assert_int_equal(embp_config_parse_pooling_json(two6, strlen(two6), "p", &c, &err),
                     EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "2 pooling modes"));
    assert_int_equal(embp_config_parse_pooling_json(bad, strlen(bad), "p", &c, &err), EMBP_EFORMAT);
    assert_int_equal(embp_config_parse_pooling_json(dim, strlen(dim), "p", &c, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "differs from config.json hidden_size 64"));
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_write_file(path, text);
}

static void make_subdir(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void test_folder_module_errors_name_the_file(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    embp_model_config c;
    embp_error err;
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EIO);
    assert_non_null(strstr(err.msg, "config.json"));
    write_file(dir, "config.json", "{" SHAPES "}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK); /* plain HF folder: defaults */
    assert_int_equal(c.pooling, EMBP_POOLING_MEAN);
    assert_int_equal(c.normalize, 0);
    assert_int_equal(c.max_seq_len, 64);
    write_file(dir, "modules.json", "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":"
                                    "\"sentence_transformers.models.Transformer\"},{\"idx\":1,"
                                    "\"name\":\"1\",\"path\":\"2_Dense\",\"type\":"
                                    "\"sentence_transformers.models.Dense\"}]");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EIO);
    assert_non_null(strstr(err.msg, "2_Dense/config.json"));
    write_file(dir, "modules.json", "[{\"path\":\"\",\"type\":\"my.Custom\"}]");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "modules.json: module 0 type 'my.Custom'"));
    write_file(dir, "modules.json", "[{\"path\":\"1_Pooling\",\"type\":"
                                    "\"sentence_transformers.models.Pooling\"}]");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EIO);
    assert_non_null(strstr(err.msg, "1_Pooling/config.json"));
    write_file(dir, "modules.json", "[{\"path\":\"../x\",\"type\":"
                                    "\"sentence_transformers.models.Pooling\"}]");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EFORMAT);
    write_file(dir, "modules.json", "[]");
    write_file(dir, "sentence_bert_config.json", "{\"max_seq_length\":1000}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.max_seq_len, 64); /* capped at max_position_embeddings */
    write_file(dir, "sentence_bert_config.json", "{\"max_seq_length\":\"long\"}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "sentence_bert_config.json: field 'max_seq_length'"));
    tu_remove_dir(dir);
}

/* A Qwen3 folder as transformers 5 saves it: GQA and head_dim, the rotary base under
 * rope_parameters, rms_norm_eps, tokenizer_config.json's model_max_length 1e30 written as a
 * 31-digit integer; the family's context stops at 8192 below max_position_embeddings 32768. */
static void test_decoder_fields(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    embp_model_config c;
    embp_error err;
    const char *qwen3 = "{\"model_type\":\"qwen3\",\"hidden_size\":256,\"num_hidden_layers\":2,"
                        "\"num_attention_heads\":8,\"num_key_value_heads\":2,\"head_dim\":64,"
                        "\"intermediate_size\":512,\"vocab_size\":1000,\"hidden_act\":\"silu\","
                        "\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-06,"
                        "\"pad_token_id\":null,\"use_sliding_window\":false,\"sliding_window\":"
                        "null,\"rope_parameters\":{\"rope_theta\":1000000.0,\"rope_type\":"
                        "\"default\"}%s}";
    char text[1024];
    snprintf(text, sizeof text, qwen3, "");
    write_file(dir, "config.json", text);
    write_file(dir, "tokenizer_config.json",
               "{\"model_max_length\": 1000000000000000019884624838656}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.kv_heads, 2);
    assert_int_equal(c.head_dim, 64);
    assert_true(c.rope_theta == 1e6);
    assert_float_equal(c.layer_norm_eps, 1e-6f, 1e-12);
    assert_int_equal(c.type_vocab_size, 0);
    assert_int_equal(c.max_seq_len, EMBP_DECODER_DEFAULT_CONTEXT);
    static const char *const refused[] = {
        ",\"hidden_act\":\"gelu\"", ",\"rope_scaling\":{\"rope_type\":\"yarn\"}",
        ",\"use_sliding_window\":true", ",\"mlp_bias\":true"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(text, sizeof text, qwen3, refused[i]);
        assert_int_not_equal(embp_config_parse_config_json(text, strlen(text), "config.json", &c,
                                                           &err), EMBP_OK);
        assert_non_null(strstr(err.msg, "config.json"));
    }
    tu_remove_dir(dir);
}

/* 2_Dense/config.json: shape, bias, activation; chained modules must agree on widths. */
static void test_dense_modules(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    make_subdir(dir, "2_Dense");
    make_subdir(dir, "3_Dense");
    write_file(dir, "config.json", "{" SHAPES "}");
    write_file(dir, "modules.json", "[{\"path\":\"\",\"type\":\"x.Transformer\"},"
               "{\"path\":\"1\",\"type\":\"sentence_transformers.models.Dense\"}]");
    embp_model_config c;
    embp_error err;
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EIO); /* 1/config.json */
    write_file(dir, "modules.json", "[{\"path\":\"\",\"type\":\"x.Transformer\"},"
               "{\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"},"
               "{\"path\":\"3_Dense\",\"type\":\"sentence_transformers.models.Dense\"},"
               "{\"path\":\"4\",\"type\":\"sentence_transformers.models.Normalize\"}]");
    write_file(dir, "2_Dense/config.json", "{\"in_features\":64,\"out_features\":32,\"bias\":"
               "false,\"activation_function\":\"torch.nn.modules.linear.Identity\"}");
    write_file(dir, "3_Dense/config.json", "{\"in_features\":32,\"out_features\":16}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.n_dense, 2);
    assert_int_equal(c.dim, 16);
    assert_int_equal(c.normalize, 1);
    assert_int_equal(c.dense[0].bias, 0);
    assert_int_equal(c.dense[0].act, EMBP_ACT_IDENTITY);
    assert_string_equal(c.dense[0].path, "2_Dense");
    assert_int_equal(c.dense[1].bias, 1);         /* Dense's defaults: bias, Tanh */
    assert_int_equal(c.dense[1].act, EMBP_ACT_TANH);
    write_file(dir, "3_Dense/config.json", "{\"in_features\":64,\"out_features\":16}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "3_Dense/config.json: in_features 64 differs from the 32"));
    write_file(dir, "3_Dense/config.json", "{\"in_features\":32,\"out_features\":16,"
               "\"activation_function\":\"torch.nn.modules.activation.Softplus\"}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "activation_function 'torch.nn.modules.activation.Softplus'"));
    write_file(dir, "3_Dense/config.json", "{\"in_features\":32}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "'out_features' missing"));
    write_file(dir, "modules.json", "[{\"path\":\"4\",\"type\":\"x.Normalize\"},"
               "{\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "after Normalize"));
    tu_remove_dir(dir);
}

/* config_sentence_transformers.json's prompts; sentence_bert_config.json's do_lower_case. */
static void test_prompts_and_lower_case(void **state) {
    (void)state;
    const char *e5 = "{\"prompts\":{\"query\":\"query: \",\"passage\":\"passage: \","
                     "\"none\":null},\"default_prompt_name\":\"passage\"}";
    embp_model_config c;
    memset(&c, 0, sizeof c);
    embp_error err;
    assert_int_equal(embp_config_parse_prompts_json(e5, strlen(e5), "p", &c, &err), EMBP_OK);
    assert_int_equal(c.n_prompts, 3);
    const char *text;
    assert_string_equal(embp_config_prompt(&c, 0, &text), "query");
    assert_string_equal(text, "query: ");
    assert_string_equal(embp_config_prompt(&c, 2, &text), "none");
    assert_string_equal(text, "");
    assert_int_equal(c.default_prompt, 1);
    assert_int_equal(embp_config_find_prompt(&c, "passage"), 1);
    assert_int_equal(embp_config_find_prompt(&c, "doc"), -1);
    const char *bad = "{\"prompts\":{\"query\":\"q\"},\"default_prompt_name\":\"doc\"}";
    assert_int_equal(embp_config_parse_prompts_json(bad, strlen(bad), "p", &c, &err),
                     EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "default_prompt_name 'doc' is not one of the prompts "
                            "('query')"));
    const char *bad2 = "{\"prompts\":{\"query\":3}}";
    assert_int_equal(embp_config_parse_prompts_json(bad2, strlen(bad2), "p", &c, &err),
                     EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "prompts['query']"));
    char *dir = tu_tmpdir();
    write_file(dir, "config.json", "{" SHAPES "}");
    write_file(dir, "sentence_bert_config.json", "{\"max_seq_length\":32,\"do_lower_case\":true}");
    write_file(dir, "config_sentence_transformers.json", "{\"prompts\":{}}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.do_lower_case, 1);
    assert_int_equal(c.n_prompts, 0);
    assert_int_equal(c.default_prompt, -1);
    assert_int_equal(c.include_prompt, 1);
    assert_int_equal(c.dim, 64);
    tu_remove_dir(dir);
}

/* tokenizer_config.json's model_max_length: max_seq_len without a sentence_bert_config.json
 * max_seq_length (sentence-transformers 6 saves it there); transformers' int(1e30) "no limit",
 * too big for a JSON integer here, and a broken file are no error (the positions cap). */
static void test_tokenizer_config_max_length(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    embp_model_config c;
    embp_error err;
    write_file(dir, "config.json", "{" SHAPES "}");
    write_file(dir, "tokenizer_config.json",
               "{\"model_max_length\": 1000000000000000019884624838656, \"x\": 1}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.max_seq_len, 64);
    write_file(dir, "tokenizer_config.json", "{\"model_max_length\": 32}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.max_seq_len, 32);
    write_file(dir, "sentence_bert_config.json", "{\"max_seq_length\": 48}");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    assert_int_equal(c.max_seq_len, 48);
    write_file(dir, "tokenizer_config.json", "{broken");
    assert_int_equal(embp_config_load(dir, &c, &err), EMBP_OK);
    tu_remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minilm_folder_reads_as_sentence_transformers_says),
        cmocka_unit_test(test_each_pooling_fixture_gets_its_mode),
        cmocka_unit_test(test_config_json_errors_name_the_field),
        cmocka_unit_test(test_task_head_architecture_uses_the_bert_prefix),
        cmocka_unit_test(test_roberta_family_config_reads_pad_token_id),
        cmocka_unit_test(test_distilbert_keys),
        cmocka_unit_test(test_sequence_classification_labels),
        cmocka_unit_test(test_pooling_config_errors),
        cmocka_unit_test(test_pooling_modes_both_spellings),
        cmocka_unit_test(test_dense_modules),
        cmocka_unit_test(test_prompts_and_lower_case),
        cmocka_unit_test(test_tokenizer_config_max_length),
        cmocka_unit_test(test_decoder_fields),
        cmocka_unit_test(test_folder_module_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
