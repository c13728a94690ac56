/* Settings (src/settings/config.c): defaults as documented in the brief, environment then flags,
 * errors naming the variable, the value and what is allowed, and the default model search. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "settings/config.h"

static void test_config_defaults_are_the_documented_ones(void **state) {
    (void)state;
    embp_config c;
    embp_config_defaults(&c);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.max_batch_size, 2048);
    assert_int_equal(c.max_request_bytes, 8 * 1024 * 1024);
    assert_int_equal(c.max_batch_tokens, 0); /* the model's: 2048 or its max_seq_len */
    assert_int_equal(c.max_wait_time_ms, 2);
    assert_int_equal(c.length_grouping, 1);
    assert_int_equal(c.max_queue_tokens, 262144);
    assert_int_equal(c.drain_timeout_s, 30);
    assert_int_equal(c.truncate, 1);
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.api_key, "");
    assert_int_equal(c.precision_strict, 0);
}

static void test_config_flags_override_environment(void **state) {
    (void)state;
    static const char *const env[] = {"EMB_PROVIDER_PORT", "8080", "EMB_PROVIDER_TRUNCATE", "no",
                                      "EMB_PROVIDER_API_KEY", "k1", "EMB_PROVIDER_MODEL_PRECISION",
                                      "bf16", "EMB_PROVIDER_ENABLE_LENGTH_GROUPING", "off", NULL};
    tu_env = env;
    embp_config c;
    embp_error err;
    embp_config_defaults(&c);
    assert_int_equal(embp_config_from_env(&c, tu_getenv, &err), EMBP_OK);
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.truncate, 0);
    assert_string_equal(c.api_key, "k1");
    assert_int_equal(c.precision, EMBP_PRECISION_BF16);
    assert_int_equal(c.length_grouping, 0);
    char *argv[] = {"serve", "--port=0", "--truncate", "--api-key", "k2", "--text", "x", NULL};
    int i = 1;
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_SERVE, 7, argv, &i, &err), 1);
    assert_int_equal(i, 2);
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_SERVE, 7, argv, &i, &err), 1);
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_SERVE, 7, argv, &i, &err), 1);
    assert_int_equal(i, 5);
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_SERVE, 7, argv, &i, &err), 0);
    assert_int_equal(c.port, 0);
    assert_int_equal(c.truncate, 1);
    assert_string_equal(c.api_key, "k2");
    /* --port is not an `embed` flag: left for the command to reject. */
    char *argv2[] = {"embed", "--port", "1", "--no-truncate", NULL};
    i = 1;
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_EMBED, 4, argv2, &i, &err), 0);
    i = 3;
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_EMBED, 4, argv2, &i, &err), 1);
    assert_int_equal(c.truncate, 0);
}

static void expect_bad(const char *const *env, const char *needle1, const char *needle2) {
    tu_env = env;
    embp_config c;
    embp_error err;
    embp_config_defaults(&c);
    embp_status st = embp_config_from_env(&c, tu_getenv, &err);
    if (st != EMBP_ECONFIG || !strstr(err.msg, needle1) || !strstr(err.msg, needle2))
        fail_msg("%s=%s: expected ECONFIG with \"%s\" and \"%s\", got %d \"%s\"", env[0], env[1],
                 needle1, needle2, st, st ? err.msg : "");
}

static void test_config_bad_values_name_variable_value_and_range(void **state) {
    (void)state;
    /* each message names VARIABLE=value and the allowed range */
    static const struct {
        const char *const env[3];
        const char *range;
    } cases[] = {
        {{"EMB_PROVIDER_PORT", "90x", NULL}, "0..65535"},
        {{"EMB_PROVIDER_PORT", "70000", NULL}, "0..65535"},
        {{"EMB_PROVIDER_TRUNCATE", "maybe", NULL}, "true|false"},
        {{"EMB_PROVIDER_LOG_LEVEL", "loud", NULL}, "debug|info|warn|error"},
        {{"EMB_PROVIDER_MAX_BATCH_TOKENS", "-1", NULL}, "0.."},
        {{"EMB_PROVIDER_DRAIN_TIMEOUT_S", "-5", NULL}, "0..86400"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char named[128];
        snprintf(named, sizeof named, "%s=%s", cases[k].env[0], cases[k].env[1]);
        expect_bad(cases[k].env, named, cases[k].range);
    }
    embp_config c;
    embp_error err;
    embp_config_defaults(&c);
    char *argv[] = {"serve", "--max-wait-time-ms", NULL};
    int i = 1;
    assert_int_equal(embp_config_parse_flag(&c, EMBP_CMD_SERVE, 2, argv, &i, &err), -1);
    assert_non_null(strstr(err.msg, "--max-wait-time-ms needs a value"));
}

static void test_config_help_lists_every_flag_with_its_variable(void **state) {
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    embp_config_print_help(f, EMBP_CMD_SERVE, 0);
    fclose(f);
    const char *must[] = {"--model VALUE", "EMB_PROVIDER_MODEL_PATH", "--host", "--port",
                          "--api-key", "--max-batch-size", "--max-context-length",
                          "--max-request-bytes", "--max-batch-tokens", "--max-wait-time-ms",
                          "--max-queue-tokens", "--truncate, --no-truncate", "--threads",
                          "--log-level", "--precision VALUE", "--storage-precision",
                          "--computation-precision", "--precision-overrides",
                          "--enable-quantization", "--quantization-method", "--precision-strict",
                          "EMB_PROVIDER_MAX_QUEUE_TOKENS", "default 262144"};
    for (size_t k = 0; k < sizeof must / sizeof must[0]; k++)
        if (!strstr(text, must[k]))
            fail_msg("help lacks \"%s\":\n%s", must[k], text);
    free(text);
}

static void test_config_finds_models_from_list_hf_cache_or_demo(void **state) {
    (void)state;
    embp_config c;
    embp_error err;
    char buf[2048];
    const char *paths[4];
    embp_config_defaults(&c);
    c.model_path = "/a/one,/b/two";
    assert_int_equal(embp_config_model_paths(&c, "/x/bin", tu_getenv, buf, sizeof buf, paths,
                                             4, &err), 2);
    assert_string_equal(paths[0], "/a/one");
    assert_string_equal(paths[1], "/b/two");

    char *tmp = tu_tmpdir();
    char hf[256], snap[512], cmd[2048];
    snprintf(hf, sizeof hf, "%s/hf", tmp);
    snprintf(snap, sizeof snap, "%s/hub/models--sentence-transformers--all-MiniLM-L6-v2", hf);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/refs %s/snapshots/abc123 && printf 'abc123\\n' > "
             "%s/refs/main", snap, snap, snap);
    assert_int_equal(system(cmd), 0);
    static const char *env[4] = {"HF_HOME", NULL, NULL};
    env[1] = hf;
    tu_env = env;
    c.model_path = "";
    assert_int_equal(embp_config_model_paths(&c, tmp, tu_getenv, buf, sizeof buf, paths, 4,
                                             &err), 1);
    char want[600];
    snprintf(want, sizeof want, "%s/snapshots/abc123", snap);
    assert_string_equal(paths[0], want);

    env[1] = tmp; /* no hub there: falls to <exe_dir>/../models/demo-all-MiniLM-L6-v2 */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/models/demo-all-MiniLM-L6-v2 %s/bin", tmp, tmp);
    assert_int_equal(system(cmd), 0);
    char exe_dir[300];
    snprintf(exe_dir, sizeof exe_dir, "%s/bin", tmp);
    assert_int_equal(embp_config_model_paths(&c, exe_dir, tu_getenv, buf, sizeof buf, paths,
                                             4, &err), 1);
    assert_non_null(strstr(paths[0], "/bin/../models/demo-all-MiniLM-L6-v2"));
    /* The real model scripts/setup.sh fetches wins over the demo beside it. */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/models/all-MiniLM-L6-v2", tmp);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(embp_config_model_paths(&c, exe_dir, tu_getenv, buf, sizeof buf, paths,
                                             4, &err), 1);
    assert_non_null(strstr(paths[0], "/bin/../models/all-MiniLM-L6-v2"));
    assert_null(strstr(paths[0], "demo"));

    assert_int_equal(embp_config_model_paths(&c, "/nonexistent/bin", tu_getenv, buf,
                                             sizeof buf, paths, 4, &err), 0);
    assert_non_null(strstr(err.msg, "EMB_PROVIDER_MODEL_PATH"));
    assert_non_null(strstr(err.msg, "scripts/setup.sh"));
    tu_remove_dir(tmp);
}

TU_MAIN(cmocka_unit_test(test_config_defaults_are_the_documented_ones),
        cmocka_unit_test(test_config_flags_override_environment),
        cmocka_unit_test(test_config_bad_values_name_variable_value_and_range),
        cmocka_unit_test(test_config_help_lists_every_flag_with_its_variable),
        cmocka_unit_test(test_config_finds_models_from_list_hf_cache_or_demo))
