/* tests/test_mpnet.c: MPNet's parts that the transformers oracle (tests/arch_reference.py) only
 * sees through whole vectors: its config.json reading, its table entry, its tensor names and the
 * relative position buckets at their boundaries, worked out by hand from transformers'
 * relative_position_bucket: for a key n >= 8 tokens before the query (n = i - j), bucket
 * 8 + floor(2 log2(n / 8)) up to 15, so a new bucket starts at n = 8 * 2^(k/2) rounded up
 * (12, 16, 23, 32, 46, 64, 91); a key after the query takes the same plus 16. */
#include "testutil.h"

#include <string.h>

#include "io/config.h"
#include "model/arch.h"
#include "model/mpnet.h"

static void test_buckets_at_their_boundaries(void **state) {
    (void)state;
    static const int n[] = {0, 1, 7, 8, 11, 12, 15, 16, 22, 23, 31, 32, 45, 46, 63, 64, 90, 91,
                            127, 128, 129, 1000};
    static const int bucket[] = {0, 1, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15,
                                 15, 15, 15, 15};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        int before = embp_mpnet_bucket(-n[i]), after = embp_mpnet_bucket(n[i]);
        if (before != bucket[i] || (n[i] > 0 && after != bucket[i] + 16))
            fail_msg("distance %d: buckets %d (before) and %d (after), expected %d and %d", n[i],
                     before, after, bucket[i], bucket[i] + 16);
    }
}

#define MPNET_JSON(pad, extra)                                                                     \
    "{\"model_type\":\"mpnet\",\"architectures\":[\"MPNetForMaskedLM\"],\"hidden_size\":64,"        \
    "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"intermediate_size\":128,"                \
    "\"vocab_size\":100,\"max_position_embeddings\":66,\"layer_norm_eps\":1e-05,"                 \
    "\"pad_token_id\":" pad extra "}"

/* all-mpnet-base-v2's config.json keys: no token types, the bias table's rows, the "mpnet."
 * prefix of the task heads' checkpoints (positions from padding_idx 1 + 1 are the recipe's
 * pos_after_pad, checked in test_mpnet_entry). */
static void test_config_json_of_mpnet(void **state) {
    (void)state;
    const char *json = MPNET_JSON("1", ",\"relative_attention_num_buckets\":40");
    embp_model_config c;
    tu_model_config(json, &c);
    assert_int_equal(c.type_vocab_size, 0);
    assert_int_equal(c.rel_buckets, 40);
    assert_string_equal(c.tensor_prefix, "mpnet.");
    assert_true(c.layer_norm_eps == 1e-5f);
    tu_model_config(MPNET_JSON("1", ""), &c);
    assert_int_equal(c.rel_buckets, 32); /* MPNetConfig's default */
    json = MPNET_JSON("0", "");
    embp_error err;
    assert_int_equal(embp_config_parse_config_json(json, strlen(json), "m/config.json", &c, &err),
                     EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "m/config.json: pad_token_id 0"));
}

/* The entry: a relative-position recipe, bert's forward, MPNet's dense tensor names for
 * embp quantize. */
static void test_entry_shares_bert_forward(void **state) {
    (void)state;
    embp_error err;
    const embp_arch *bert = tu_arch(NULL, &err);
    const embp_arch *a = tu_arch("mpnet", &err);
    assert_non_null(a);
    assert_string_equal(a->name, "mpnet");
    assert_int_equal(a->recipe.pos, EMBP_POS_RELATIVE);
    assert_int_equal(a->recipe.mlp, EMBP_MLP_GELU);
    assert_int_equal(a->recipe.pos_after_pad, 1); /* positions from padding_idx 1 + 1 */
    assert_ptr_equal(a->forward, bert->forward);
    assert_ptr_not_equal(a->load, bert->load);
    static const char *const dense[] = {"encoder.layer.0.attention.attn.q.weight",
                                        "mpnet.encoder.layer.11.attention.attn.o.weight",
                                        "encoder.layer.3.intermediate.dense.weight",
                                        "encoder.layer.3.output.dense.weight"};
    static const char *const other[] = {"encoder.layer.0.attention.attn.q.bias",
                                        "encoder.layer.0.attention.LayerNorm.weight",
                                        "encoder.relative_attention_bias.weight",
                                        "embeddings.word_embeddings.weight", "pooler.dense.weight"};
    for (size_t i = 0; i < sizeof dense / sizeof dense[0]; i++)
        assert_true(a->dense_weight(dense[i]));
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_false(a->dense_weight(other[i]));
}

TU_MAIN(cmocka_unit_test(test_buckets_at_their_boundaries),
        cmocka_unit_test(test_config_json_of_mpnet),
        cmocka_unit_test(test_entry_shares_bert_forward))
