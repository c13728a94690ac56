/* The Hub downloader's offline parts (src/hub/hub.c): repo ids by the Hub's naming rules, which
 * files an embedding model needs, the revision listing and modules.json, the HF_* variables as
 * huggingface_hub's constants.py reads them, and finding a snapshot in a cache. The network
 * side runs against a fake Hub in tests/test_pull.sh. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub/hub.h"

static void test_hub_parses_ids_with_and_without_revision(void **state) {
    (void)state;
    embp_hub_id id;
    embp_error err;
    assert_int_equal(embp_hub_parse_id("sentence-transformers/all-MiniLM-L6-v2", &id, &err),
                     EMBP_OK);
    assert_string_equal(id.org, "sentence-transformers");
    assert_string_equal(id.name, "all-MiniLM-L6-v2");
    assert_string_equal(id.revision, "main");
    assert_int_equal(embp_hub_parse_id("BAAI/bge-small-en-v1.5@refs/pr/1", &id, &err), EMBP_OK);
    assert_string_equal(id.name, "bge-small-en-v1.5");
    assert_string_equal(id.revision, "refs/pr/1");
    assert_int_equal(embp_hub_parse_id("a/b@c9bdb1fa0b8f4e9e1ffe5d8f1e3a3c1c1b3e2d4f", &id, &err),
                     EMBP_OK);
    assert_string_equal(id.revision, "c9bdb1fa0b8f4e9e1ffe5d8f1e3a3c1c1b3e2d4f");
}

static void test_hub_rejects_ids_the_hub_would_not_name(void **state) {
    (void)state;
    static const char *bad[] = {"foo", "/models/minilm", "./a/b", "../a/b", "a/b/c", "a--b/c",
                                "a/b..c", "-a/b", "a/b-", "a/.b", "a/b c", "a/b@", "a/b@../x",
                                "a/b@x y", "a/", "/b", "a/b@/main", "é/b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        embp_hub_id id;
        embp_error err;
        if (embp_hub_parse_id(bad[i], &id, &err) != EMBP_EINVAL)
            fail_msg("'%s' was accepted as a Hub id", bad[i]);
        assert_non_null(strstr(err.msg, "ORG/NAME[@REVISION]"));
        assert_false(embp_hub_is_id(bad[i]));
    }
    char longname[120];
    memset(longname, 'a', sizeof longname);
    memcpy(longname, "org/", 4);
    longname[4 + 97] = '\0'; /* 97 characters: one past the Hub's 96 */
    assert_false(embp_hub_is_id(longname));
    longname[4 + 96] = '\0';
    assert_true(embp_hub_is_id(longname));
}

static void test_hub_wants_only_what_an_embedding_model_needs(void **state) {
    (void)state;
    const char *dirs = "1_Pooling\n2_Dense\n";
    static const char *yes[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                "special_tokens_map.json", "vocab.txt", "modules.json",
                                "sentence_bert_config.json", "config_sentence_transformers.json",
                                "model.safetensors", "model.safetensors.index.json",
                                "model-00001-of-00002.safetensors", "1_Pooling/config.json",
                                "2_Dense/config.json", "2_Dense/model.safetensors"};
    static const char *no[] = {"pytorch_model.bin", "pytorch_model.bin.index.json",
                               "model.onnx", "onnx/model.onnx", "onnx/config.json",
                               "tf_model.h5", "flax_model.msgpack", "openvino/openvino_model.xml",
                               "2_Dense/pytorch_model.bin", "3_Other/config.json",
                               "1_Pooling/sub/config.json", "README.md", ".gitattributes",
                               "sentencepiece.bpe.model", "rust_model.ot"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!embp_hub_wanted(yes[i], dirs))
            fail_msg("%s is needed but not wanted", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (embp_hub_wanted(no[i], dirs))
            fail_msg("%s is wanted but not needed", no[i]);
}

static void test_hub_listing_keeps_safe_paths_and_checks_the_commit(void **state) {
    (void)state;
    const char *json = "{\"sha\":\"01ffc7b81de7606ec5b0bab528e54d03db462c41\",\"siblings\":["
                       "{\"rfilename\":\"config.json\"},{\"rfilename\":\"1_Pooling/config.json\"},"
                       "{\"rfilename\":\"../evil\"},{\"rfilename\":\"/etc/passwd\"},"
                       "{\"rfilename\":\"a//b\"},{\"rfilename\":\"a/./b\"},"
                       "{\"rfilename\":\"a\\\\b\"}]}";
    embp_hub_listing l;
    embp_error err;
    assert_int_equal(embp_hub_listing_parse(json, strlen(json), &l, &err), EMBP_OK);
    assert_string_equal(l.sha, "01ffc7b81de7606ec5b0bab528e54d03db462c41");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.paths[0], "config.json");
    assert_string_equal(l.paths[1], "1_Pooling/config.json");
    embp_hub_listing_free(&l);
    static const char *bad[] = {"{\"sha\":\"main\",\"siblings\":[]}", "{\"siblings\":[]}",
                                "{\"sha\":\"01ffc7b81de7606ec5b0bab528e54d03db462c41\"}",
                                "{\"sha\":\"01ffc7b81de7606ec5b0bab528e54d03db462c41\","
                                "\"siblings\":[{\"rfilename\":7}]}",
                                "<html>not json</html>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(embp_hub_listing_parse(bad[i], strlen(bad[i]), &l, &err),
                         EMBP_EFORMAT);
        assert_non_null(strstr(err.msg, "revision listing"));
        assert_null(l.paths);
    }
}

static void test_hub_module_dirs_from_modules_json(void **state) {
    (void)state;
    const char *json = "[{\"idx\":0,\"path\":\"\"},{\"idx\":1,\"path\":\"1_Pooling\"},"
                       "{\"idx\":2,\"path\":\"2_Dense\"},{\"path\":\"../up\"},{\"path\":3}]";
    char dirs[256];
    embp_error err;
    assert_int_equal(embp_hub_module_dirs(json, strlen(json), dirs, sizeof dirs, &err), EMBP_OK);
    assert_string_equal(dirs, "1_Pooling\n2_Dense\n");
    assert_int_equal(embp_hub_module_dirs("{}", 2, dirs, sizeof dirs, &err), EMBP_EFORMAT);
}

static void test_hub_env_follows_huggingface_hub_precedence(void **state) {
    (void)state;
    static const char *const home_only[] = {"HOME", "/home/u", NULL};
    static const char *const xdg[] = {"HOME", "/home/u", "XDG_CACHE_HOME", "/xdg", NULL};
    static const char *const all[] = {
        "HOME", "/home/u", "XDG_CACHE_HOME", "/xdg", "HF_HOME", "/hf", "HF_ENDPOINT",
        "http://mirror.local:8080//", "HF_HUB_OFFLINE", "TRUE", "HF_TOKEN", "hf_abc", NULL};
    static const char *const cache[] = {"HF_HOME", "/hf", "HF_HUB_CACHE", "/elsewhere",
                                        "HF_HUB_OFFLINE", "0", NULL};
    static const struct {
        const char *const *env;
        const char *cache, *endpoint, *token;
        int offline;
    } cases[] = {
        {home_only, "/home/u/.cache/huggingface/hub", "https://huggingface.co", "", 0},
        {xdg, "/xdg/huggingface/hub", "https://huggingface.co", "", 0},
        {all, "/hf/hub", "http://mirror.local:8080", "hf_abc", 1},
        {cache, "/elsewhere", "https://huggingface.co", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        embp_hub_opts o;
        tu_env = cases[i].env;
        embp_hub_opts_from_env(&o, tu_getenv);
        assert_string_equal(o.cache, cases[i].cache);
        assert_string_equal(o.endpoint, cases[i].endpoint);
        assert_string_equal(o.token, cases[i].token);
        assert_int_equal(o.offline, cases[i].offline);
    }
    tu_env = NULL;
}

static void test_hub_finds_snapshots_through_refs_and_token_file(void **state) {
    (void)state;
    char root[] = "/tmp/embp_hub_XXXXXX", p[512];
    assert_non_null(mkdtemp(root));
    const char *sha = "01ffc7b81de7606ec5b0bab528e54d03db462c41";
    snprintf(p, sizeof p, "mkdir -p %s/hub/models--acme--m/refs %s/hub/models--acme--m/"
             "snapshots/%s", root, root, sha);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/token", root);
    tu_write_file(p, "hf_fromfile\n");
    const char *env[] = {"HF_HOME", root, NULL};
    tu_env = env;
    embp_hub_opts o;
    embp_hub_opts_from_env(&o, tu_getenv);
    assert_string_equal(o.token, "hf_fromfile");
    embp_hub_id id;
    embp_error err;
    char dir[1024];
    assert_int_equal(embp_hub_parse_id("acme/m", &id, &err), EMBP_OK);
    assert_int_equal(embp_hub_find(&o, &id, dir, sizeof dir, &err), EMBP_EIO); /* no ref */
    assert_non_null(strstr(err.msg, "not in the cache"));
    snprintf(p, sizeof p, "%s/hub/models--acme--m/refs/main", root);
    tu_write_file(p, sha);
    static const char *const files[] = {"config.json", "tokenizer.json", "model.safetensors"};
    for (int i = 0; i < 3; i++) { /* hf_hub_download of one file leaves a partial snapshot */
        assert_int_equal(embp_hub_find(&o, &id, dir, sizeof dir, &err), EMBP_EIO);
        snprintf(p, sizeof p, "%s/hub/models--acme--m/snapshots/%s/%s", root, sha, files[i]);
        tu_write_file(p, "{}");
    }
    assert_int_equal(embp_hub_find(&o, &id, dir, sizeof dir, &err), EMBP_OK);
    snprintf(p, sizeof p, "%s/hub/models--acme--m/snapshots/%s", root, sha);
    assert_string_equal(dir, p);
    char spec[128];
    snprintf(spec, sizeof spec, "acme/m@%s", sha); /* a commit needs no ref */
    assert_int_equal(embp_hub_parse_id(spec, &id, &err), EMBP_OK);
    assert_int_equal(embp_hub_find(&o, &id, dir, sizeof dir, &err), EMBP_OK);
    assert_int_equal(embp_hub_parse_id("acme/m@v2", &id, &err), EMBP_OK);
    assert_int_equal(embp_hub_find(&o, &id, dir, sizeof dir, &err), EMBP_EIO);
    tu_env = NULL;
    snprintf(p, sizeof p, "rm -rf %s", root);
    assert_int_equal(system(p), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_parses_ids_with_and_without_revision),
        cmocka_unit_test(test_hub_rejects_ids_the_hub_would_not_name),
        cmocka_unit_test(test_hub_wants_only_what_an_embedding_model_needs),
        cmocka_unit_test(test_hub_listing_keeps_safe_paths_and_checks_the_commit),
        cmocka_unit_test(test_hub_module_dirs_from_modules_json),
        cmocka_unit_test(test_hub_env_follows_huggingface_hub_precedence),
        cmocka_unit_test(test_hub_finds_snapshots_through_refs_and_token_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
