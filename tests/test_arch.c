/* tests/test_arch.c: the architecture table (src/model/arch.h) selects a family by config.json's
 * model_type, describes bert's recipe as bert.c computes it, and refuses an unknown family by
 * name. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "model/arch.h"
#include "model/bert.h"
#include "runtime/folder.h"

static void test_bert_is_found_by_model_type_and_by_default(void **state) {
    (void)state;
    embp_error err;
    const embp_arch *a = tu_arch(NULL, &err); /* no model_type: sentence-transformers' BERT */
    assert_non_null(a);
    assert_string_equal(a->name, "bert");
    assert_ptr_equal(tu_arch("bert", &err), a);
    /* what bert.c does: learned absolute positions, post-LayerNorm, bidirectional full MHA, GELU */
    assert_int_equal(a->recipe.pos, EMBP_POS_ABSOLUTE);
    assert_int_equal(a->recipe.norm, EMBP_NORM_LAYER);
    assert_int_equal(a->recipe.norm_at, EMBP_NORM_POST);
    assert_int_equal(a->recipe.mask, EMBP_ATTN_BIDIRECTIONAL);
    assert_int_equal(a->recipe.window, 0);
    assert_int_equal(a->recipe.heads, EMBP_HEADS_MHA);
    assert_int_equal(a->recipe.mlp, EMBP_MLP_GELU);
    assert_true(a->dense_weight("encoder.layer.0.attention.self.query.weight"));
    assert_false(a->dense_weight("embeddings.word_embeddings.weight"));
}

static void test_unknown_family_is_unsupported_naming_it(void **state) {
    (void)state;
    embp_error err;
    assert_null(tu_arch("gpt2", &err));
    assert_int_equal(err.code, EMBP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "'gpt2'"));
    assert_non_null(strstr(err.msg, "bert, roberta, xlm-roberta, camembert, distilbert"));
}

/* The decoders' entries say what model/qwen3.c computes, and quantize its projections only. */
static void test_decoders_have_their_recipe(void **state) {
    (void)state;
    static const char *const types[] = {"qwen3", "qwen2", "mistral", "llama"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        embp_error err;
        const embp_arch *a = tu_arch(types[i], &err);
        assert_non_null(a);
        assert_int_equal(a->recipe.pos, EMBP_POS_ROTARY);
        assert_int_equal(a->recipe.norm, EMBP_NORM_RMS);
        assert_int_equal(a->recipe.norm_at, EMBP_NORM_PRE);
        assert_int_equal(a->recipe.mask, EMBP_ATTN_CAUSAL);
        assert_int_equal(a->recipe.heads, EMBP_HEADS_GQA);
        assert_int_equal(a->recipe.mlp, EMBP_MLP_SWIGLU);
        assert_true(a->dense_weight("layers.3.self_attn.k_proj.weight"));
        assert_true(a->dense_weight("model.layers.0.mlp.gate_proj.weight"));
        assert_false(a->dense_weight("layers.0.self_attn.q_norm.weight"));
        assert_false(a->dense_weight("embed_tokens.weight"));
    }
}

/* The RoBERTa family is bert's arithmetic with positions from pad_token_id + 1: bert's recipe
 * but pos_after_pad, bert's functions, its own entry. */
static void test_roberta_family_has_entries_sharing_bert(void **state) {
    (void)state;
    embp_error err;
    const embp_arch *bert = tu_arch(NULL, &err);
    const char *types[] = {"roberta", "xlm-roberta", "camembert"};
    for (int i = 0; i < 3; i++) {
        const embp_arch *a = tu_arch(types[i], &err);
        assert_non_null(a);
        assert_string_equal(a->model_type, types[i]);
        assert_ptr_equal(a->forward, bert->forward);
        assert_int_equal(a->recipe.pos_after_pad, 1);
        embp_arch_recipe r = a->recipe;
        r.pos_after_pad = 0;
        assert_memory_equal(&r, &bert->recipe, sizeof r);
    }
    assert_int_equal(bert->recipe.pos_after_pad, 0);
    /* DistilBERT: bert's recipe and forward, its own loader and dense tensor names */
    const embp_arch *d = tu_arch("distilbert", &err);
    assert_non_null(d);
    assert_ptr_equal(d->forward, bert->forward);
    assert_memory_equal(&d->recipe, &bert->recipe, sizeof d->recipe);
    assert_true(d->dense_weight("transformer.layer.2.attention.q_lin.weight"));
    assert_true(d->dense_weight("distilbert.transformer.layer.0.ffn.lin2.weight"));
    assert_false(d->dense_weight("transformer.layer.0.sa_layer_norm.weight"));
    assert_false(d->dense_weight("transformer.layer.0.ffn.lin1.bias"));
}

/* A folder is opened with its architecture's first position: tiny (max_position_embeddings 128,
 * sentence_bert_config max_seq_length 128) relabelled model_type `type` with pad_token_id pad.
 * Returns the status; *offset and *max_len the folder's. */
static embp_status open_relabelled(const char *type, int pad, int *offset, int *max_len,
                                   embp_error *err) {
    char *dir = tu_fixture_copy("tiny"), cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 -c \"import json,sys; p=sys.argv[1]+'/config.json'; "
             "c=json.load(open(p)); c['model_type']='%s'; c['pad_token_id']=%d; "
             "json.dump(c, open(p,'w'))\" '%s'", type, pad, dir);
    assert_int_equal(system(cmd), 0);
    embp_folder *f = NULL;
    embp_status rc = embp_folder_open(dir, &f, err);
    *offset = f ? f->cfg.position_offset : -1;
    *max_len = f ? f->cfg.max_seq_len : -1;
    embp_folder_free(f);
    tu_remove_dir(dir);
    return rc;
}

static void test_positions_start_where_the_recipe_says(void **state) {
    (void)state;
    int offset, max_len;
    embp_error err;
    /* RoBERTa: pad + 1, and that many fewer positions for a sequence */
    assert_int_equal(open_relabelled("xlm-roberta", 1, &offset, &max_len, &err), EMBP_OK);
    assert_int_equal(offset, 2);
    assert_int_equal(max_len, 126);
    assert_int_equal(open_relabelled("camembert", 5, &offset, &max_len, &err), EMBP_OK);
    assert_int_equal(offset, 6);
    assert_int_equal(max_len, 122);
    /* BERT and DistilBERT-like recipes: from 0 whatever pad_token_id is */
    assert_int_equal(open_relabelled("bert", 5, &offset, &max_len, &err), EMBP_OK);
    assert_int_equal(offset, 0);
    assert_int_equal(max_len, 128);
    /* a pad_token_id that leaves no position is refused, naming the file and the field */
    assert_int_equal(open_relabelled("roberta", 127, &offset, &max_len, &err), EMBP_EFORMAT);
    assert_non_null(strstr(err.msg, "config.json: pad_token_id 127 leaves no position"));
}

/* A model built through the table embeds exactly as the family's own functions do. */
static void test_model_through_the_table_equals_bert_forward(void **state) {
    (void)state;
    char *dir = tu_fixture("tiny");
    embp_model *m = NULL;
    embp_error err;
    assert_int_equal(embp_model_load(dir, NULL, &m, &err), EMBP_OK);
    embp_model_info info;
    embp_model_get_info(m, &info);
    embp_model_config cfg;
    assert_int_equal(embp_config_load(dir, &cfg, &err), EMBP_OK);
    embp_safetensors *st = NULL;
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_OK);
    embp_bert *b = NULL;
    assert_int_equal(embp_bert_load(&cfg, st, NULL, 1024, cfg.max_seq_len, 0, &b, &err), EMBP_OK);
    int32_t ids[4] = {2, 7, 11, 3};
    int off[2] = {0, 4}, len = 4;
    const int32_t *rows[1] = {ids};
    const float *h;
    assert_int_equal(embp_bert_forward(b, ids, NULL, off, 1, &h, &err), EMBP_OK);
    float via_table[64];
    assert_int_equal(info.dim, 64);
    assert_int_equal(embp_embed_tokens(m, rows, &len, 1, 0, via_table, &err), EMBP_OK);
    /* mean pooling + normalize of bert's own states, in double as pooling.c does */
    double v[64], ss = 0;
    for (int j = 0; j < 64; j++) {
        v[j] = 0;
        for (int t = 0; t < 4; t++)
            v[j] += h[t * 64 + j];
        v[j] /= 4, ss += v[j] * v[j];
    }
    for (int j = 0; j < 64; j++)
        assert_float_equal(via_table[j], (float)(v[j] / sqrt(ss)), 1e-6);
    embp_bert_free(b);
    embp_st_close(st);
    embp_model_free(m);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bert_is_found_by_model_type_and_by_default),
        cmocka_unit_test(test_unknown_family_is_unsupported_naming_it),
        cmocka_unit_test(test_decoders_have_their_recipe),
        cmocka_unit_test(test_roberta_family_has_entries_sharing_bert),
        cmocka_unit_test(test_positions_start_where_the_recipe_says),
        cmocka_unit_test(test_model_through_the_table_equals_bert_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
