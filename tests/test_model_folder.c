/* Model folder variants that hold the same weights: a task-head checkpoint ("bert." prefix,
 * BertForMaskedLM) split into two shards with an index, and an fp16 copy. Each must load and
 * give the vectors of the plain folder (the shard/prefix one exactly; fp16 within its rounding). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp.h"
#include "io/safetensors.h"

static const char *texts[] = {"hello world", "A man is eating food.", "shards and prefixes"};
#define N_TEXTS 3

static void embed_folder(const char *dir, float *out, int dim) {
    embp_model *m;
    embp_error err;
    if (embp_model_load(dir, NULL, &m, &err) != EMBP_OK)
        fail_msg("load %s: %s", dir, err.msg);
    embp_model_info info;
    embp_model_get_info(m, &info);
    assert_int_equal(info.dim, dim);
    assert_int_equal(embp_embed_texts(m, texts, NULL, N_TEXTS, 0, 1, out, &err), EMBP_OK);
    embp_model_free(m);
}

static void copy_folder(const char *from, const char *to) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/.' '%s/' && rm -f '%s/model.safetensors' && "
             "sed -i 's/\"BertModel\"/\"BertForMaskedLM\"/' '%s/config.json'", from, to, to, to);
    assert_int_equal(system(cmd), 0);
}

/* Writes st's tensors into dir as two shards under a "bert." prefix, with the index. */
static void write_shards(const embp_safetensors *st, const char *dir) {
    int n = embp_st_count(st);
    embp_st_write_tensor *ts = calloc((size_t)n, sizeof *ts);
    char (*names)[160] = calloc((size_t)n, sizeof *names);
    for (int i = 0; i < n; i++) {
        const embp_st_tensor *t = embp_st_at(st, i);
        snprintf(names[i], sizeof names[i], "bert.%s", t->name);
        ts[i] = (embp_st_write_tensor){names[i], t->dtype, t->n_dims, {0}, t->data};
        memcpy(ts[i].shape, t->shape, sizeof t->shape);
    }
    char path[1024], idx[1024];
    embp_error err;
    int half = n / 2;
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    assert_int_equal(embp_st_write(path, ts, half, NULL, NULL, 0, &err), EMBP_OK);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    assert_int_equal(embp_st_write(path, ts + half, n - half, NULL, NULL, 0, &err), EMBP_OK);
    json_t *map = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(map, names[i], json_string(i < half ? "model-00001-of-00002.safetensors"
                                                                : "model-00002-of-00002.safetensors"));
    json_t *root = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", map);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    assert_int_equal(json_dump_file(root, idx, JSON_INDENT(1)), 0);
    json_decref(root);
    free(names);
    free(ts);
}

static void test_sharded_bert_prefixed_checkpoint_gives_the_same_vectors(void **state) {
    (void)state;
    char *tiny = tu_fixture("tiny"), *dir = tu_tmpdir(), path[1024];
    copy_folder(tiny, dir);
    snprintf(path, sizeof path, "%s/model.safetensors", tiny);
    embp_safetensors *st;
    embp_error err;
    assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
    write_shards(st, dir);
    embp_st_close(st);
    float want[N_TEXTS * 64], got[N_TEXTS * 64];
    embed_folder(tiny, want, 64);
    embed_folder(dir, got, 64);
    assert_memory_equal(want, got, sizeof want);
    tu_remove_dir(dir);
    free(tiny);
}

/* The fp16 fixture's vectors equal the numpy reference computed from the same fp16 file
 * (make_fixtures.sh), which tests/test_bert.c checks; here: rounding every weight of the fp32
 * tiny model to fp16 moves its vectors by less than fp16's resolution allows. */
static void test_fp16_copy_of_a_folder_stays_within_fp16_rounding(void **state) {
    (void)state;
    char *tiny = tu_fixture("tiny"), *dir = tu_tmpdir(), path[1024];
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/.' '%s/'", tiny, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", tiny);
    embp_safetensors *st;
    embp_error err;
    assert_int_equal(embp_st_open_file(path, &st, &err), EMBP_OK);
    int n = embp_st_count(st);
    embp_st_write_tensor *ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        const embp_st_tensor *t = embp_st_at(st, i);
        uint16_t *h = malloc((size_t)t->n_elems * 2);
        for (int64_t k = 0; k < t->n_elems; k++) {
            float f;
            memcpy(&f, (const char *)t->data + 4 * k, 4);
            h[k] = embp_f32_to_fp16(f);
        }
        ts[i] = (embp_st_write_tensor){t->name, EMBP_DT_F16, t->n_dims, {0}, h};
        memcpy(ts[i].shape, t->shape, sizeof t->shape);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(embp_st_write(path, ts, n, NULL, NULL, 0, &err), EMBP_OK);
    for (int i = 0; i < n; i++)
        free((void *)(uintptr_t)ts[i].data);
    free(ts);
    embp_st_close(st);
    float want[N_TEXTS * 64], got[N_TEXTS * 64];
    double want_d[64];
    embed_folder(tiny, want, 64);
    embed_folder(dir, got, 64);
    for (int s = 0; s < N_TEXTS; s++) {
        for (int j = 0; j < 64; j++)
            want_d[j] = want[s * 64 + j];
        double cos = tu_cosine(got + s * 64, want_d, 64);
        printf("fp16 copy, text %d: cosine to fp32 %.7f\n", s, cos);
        assert_true(cos > 0.9999); /* fp16 keeps 11 bits: ~5e-4 relative per weight */
        assert_true(tu_maxdiff(got + s * 64, want_d, 64) > 0); /* the fp16 weights were used */
    }
    tu_remove_dir(dir);
    free(tiny);
}

TU_MAIN(cmocka_unit_test(test_sharded_bert_prefixed_checkpoint_gives_the_same_vectors),
        cmocka_unit_test(test_fp16_copy_of_a_folder_stays_within_fp16_rounding))
