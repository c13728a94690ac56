/* Model loading holes found by the code audit (issue 12, item 7): the shard index matched a
 * tensor's file by substring, and model paths past the 16th were silently dropped; and a
 * negative int8/int4 scale, outside the format, loaded. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "runtime/registry.h"
#include "settings/config.h"

/* Shards "a.safetensors" (tensor y) and "xa.safetensors" (tensors x, w); an index putting x in
 * a.safetensors, whose name is a substring of x's real file's, must be refused. */
static void test_shard_index_names_the_exact_file(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), p1[512], p2[512], path[600];
    snprintf(p1, sizeof p1, "%s/a.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/xa.safetensors", dir);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    embp_st_write_tensor t1 = {"y", EMBP_DT_F32, 1, {2}, a};
    embp_st_write_tensor t2[2] = {{"w", EMBP_DT_F32, 1, {2}, a}, {"x", EMBP_DT_F32, 1, {3}, b}};
    embp_error err;
    assert_int_equal(embp_st_write(p1, &t1, 1, NULL, NULL, 0, &err), EMBP_OK);
    assert_int_equal(embp_st_write(p2, t2, 2, NULL, NULL, 0, &err), EMBP_OK);
    embp_safetensors *st = NULL;
    tu_write_file(path, "{\"weight_map\":{\"y\":\"a.safetensors\",\"x\":\"xa.safetensors\","
                     "\"w\":\"xa.safetensors\"}}");
    assert_int_equal(embp_st_open_dir(dir, &st, &err), EMBP_OK); /* the true map */
    embp_st_close(st);
    tu_write_file(path, "{\"weight_map\":{\"y\":\"a.safetensors\",\"x\":\"a.safetensors\","
                     "\"w\":\"xa.safetensors\"}}");
    embp_status s = embp_st_open_dir(dir, &st, &err);
    if (s == EMBP_OK) {
        embp_st_close(st);
        fail_msg("an index putting x in a.safetensors (it is in xa.safetensors) was accepted");
    }
    assert_non_null(strstr(err.msg, "'x' is not in a.safetensors"));
    tu_remove_dir(dir);
}

static void test_more_than_16_model_paths_is_an_error(void **state) {
    (void)state;
    char *tiny = tu_fixture("tiny"), list[8192] = "", names[256] = "";
    size_t off = 0, noff = 0;
    for (int i = 0; i < 17; i++) {
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? "," : "", tiny);
        noff += (size_t)snprintf(names + noff, sizeof names - noff, "%sm%d", i ? "," : "", i);
    }
    embp_config c;
    embp_config_defaults(&c);
    c.model_path = list;
    c.model_name = names;
    embp_registry_model *m = NULL;
    int n = 0;
    embp_error err;
    embp_status s = embp_config_load_models(&c, ".", 0, &m, &n, &err);
    if (s == EMBP_OK) {
        embp_registry_free(m, n);
        fail_msg("17 model paths loaded as %d models", n);
    }
    if (!strstr(err.msg, "17") || !strstr(err.msg, "16") ||
        !strstr(err.msg, "EMB_PROVIDER_MODEL_PATH"))
        fail_msg("the error does not say 17 paths, at most 16, EMB_PROVIDER_MODEL_PATH: %s",
                 err.msg);
    free(tiny);
}

/* A scale is a maximum magnitude over 127 (int8, F32) or 7 (int4, F16): never negative
 * (docs/QUANTIZED_FORMAT.md). tiny quantized both ways loads; with element 3 of
 * encoder.layer.1.intermediate.dense.weight_scale negated it is refused, naming the tensor. */
static void test_negative_scale_is_refused_naming_the_tensor(void **state) {
    (void)state;
    static const embp_precision storages[2] = {EMBP_PRECISION_INT8, EMBP_PRECISION_INT4};
    static const char *const fmt[2] = {"f", "e"};
    char *tiny = tu_fixture("tiny");
    for (int k = 0; k < 2; k++) {
        char *root = tu_tmpdir(), dir[600], cmd[4096];
        snprintf(dir, sizeof dir, "%s/q", root);
        embp_quantize_opts o = {.storage = storages[k], .group_size = 16};
        embp_error err;
        embp_model *m = NULL;
        assert_int_equal(embp_model_quantize(tiny, dir, &o, NULL, &err), EMBP_OK);
        if (embp_model_load(dir, NULL, &m, &err) != EMBP_OK)
            fail_msg("the untouched quantized tiny does not load: %s", err.msg);
        embp_model_free(m);
        snprintf(cmd, sizeof cmd, "python3 -c \"import json,struct,sys; "
                 "p=sys.argv[1]+'/model.safetensors'; b=bytearray(open(p,'rb').read()); "
                 "n=struct.unpack('<Q',b[:8])[0]; h=json.loads(bytes(b[8:8+n])); f='<%s'; "
                 "w=struct.calcsize(f); t=h['encoder.layer.1.intermediate.dense.weight_scale']; "
                 "o=8+n+t['data_offsets'][0]+3*w; v=struct.unpack(f,b[o:o+w])[0]; "
                 "assert v > 0, v; b[o:o+w]=struct.pack(f,-v); open(p,'wb').write(b)\" '%s'",
                 fmt[k], dir);
        assert_int_equal(system(cmd), 0);
        embp_status s = embp_model_load(dir, NULL, &m, &err);
        if (s == EMBP_OK) {
            embp_model_free(m);
            fail_msg("storage %d: a negative scale loaded", k);
        }
        if (!strstr(err.msg, "encoder.layer.1.intermediate.dense.weight_scale") ||
            !strstr(err.msg, "negative scale") || !strstr(err.msg, "element 3"))
            fail_msg("the error does not name the tensor, the element and a negative scale: %s",
                     err.msg);
        tu_remove_dir(root);
    }
    free(tiny);
}

TU_MAIN(cmocka_unit_test(test_shard_index_names_the_exact_file),
        cmocka_unit_test(test_more_than_16_model_paths_is_an_error),
        cmocka_unit_test(test_negative_scale_is_refused_naming_the_tensor))
