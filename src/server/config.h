/* Server and command-line settings: one table of (flag, environment variable, default, help)
 * feeds parsing, `embp --help` and the README's table, so they cannot drift. */
#ifndef EMBP_SERVER_CONFIG_H
#define EMBP_SERVER_CONFIG_H

#include <stdio.h>

#include "core/status.h"

/* Which commands a setting applies to (a bit mask). */
enum {
    EMBP_CMD_SERVE = 1,
    EMBP_CMD_EMBED = 2,
    EMBP_CMD_TOKENIZE = 4,
    EMBP_CMD_INFO = 8,
    EMBP_CMD_ALL = 15,
};

/* Strings are borrowed: from the environment, argv or the table's defaults, all of which live
 * as long as the process. "" means unset. */
typedef struct {
    const char *model_path, *model_name, *host, *api_key, *log_level;
    const char *precision, *storage_precision, *computation_precision, *precision_overrides;
    const char *quantization_method, *fidelity_min, *fidelity_cache, *cors_origin;
    long quant_group_size;
    long port, max_batch_size, max_context_length, max_request_bytes, max_batch_tokens;
    long max_wait_time_ms, max_queue_tokens, threads, max_connections, timeout_s, drain_timeout_s;
    long max_prepare_ms, max_connections_per_ip;
    int truncate, enable_quantization, precision_strict, length_grouping;
} embp_config;

/* Sets every field to its table default. */
void embp_config_defaults(embp_config *c);

/* Applies the EMB_PROVIDER_* variables that getenv_fn (getenv, or a test's) returns. A bad
 * value is EMBP_ECONFIG naming the variable, the value and what is allowed. */
embp_status embp_config_from_env(embp_config *c, const char *(*getenv_fn)(const char *),
                                 embp_error *err);

/* If argv[*i] is one of the table's flags for cmd ("--port 9000", "--port=9000", "--truncate",
 * "--no-truncate"), applies it, advances *i past its value and returns 1. Returns 0 when
 * argv[*i] is not a table flag (the caller's own flag), -1 on a bad value (err says which). */
int embp_config_parse_flag(embp_config *c, unsigned cmd, int argc, char **argv, int *i,
                           embp_error *err);

/* Prints the settings for cmd: one "  --flag VALUE   help (ENV, default X)" row each, or a
 * Markdown table when markdown is nonzero. */
void embp_config_print_help(FILE *f, unsigned cmd, int markdown);

/* Splits c->model_path on commas into up to max paths (pointers into buf, which has size
 * bytes); more than max is an error (0, err naming the count). When model_path is unset, finds the default: $HF_HOME/hub (else
 * ~/.cache/huggingface/hub) models--sentence-transformers--all-MiniLM-L6-v2 at refs/main, else
 * <exe_dir>/../models/all-MiniLM-L6-v2, else <exe_dir>/../models/demo-all-MiniLM-L6-v2. Returns the count, or 0 with err saying how to get
 * a model. getenv_fn may be a test's. */
int embp_config_model_paths(const embp_config *c, const char *exe_dir,
                            const char *(*getenv_fn)(const char *), char *buf, size_t size,
                            const char **paths, int max, embp_error *err);

/* The i-th comma-separated item of list into out ("" when there are fewer). */
void embp_config_list_item(const char *list, int i, char *out, size_t size);

#endif
