/* Server and command-line settings: one table of (flag, environment variable, default, help)
 * feeds parsing, `embp --help` and the README's table, so they cannot drift. */
#ifndef EMBP_SERVER_CONFIG_H
#define EMBP_SERVER_CONFIG_H

#include <stdio.h>

#include "core/status.h"
#include "embp/embp.h"
#include "runtime/registry.h"

/* Per-model precision overrides the table holds (EMB_PROVIDER_MODEL_PRECISION_OVERRIDES). */
#define EMBP_CONFIG_OVERRIDES_MAX 16

typedef struct {
    char model[256];
    embp_precision precision, storage, compute;
    int group_size;
} embp_config_override;

/* Model aliases the table holds (EMB_PROVIDER_MODEL_ALIASES). */
#define EMBP_CONFIG_ALIASES_MAX 64

/* Which commands a setting applies to (a bit mask). */
enum {
    EMBP_CMD_SERVE = 1,
    EMBP_CMD_EMBED = 2,
    EMBP_CMD_TOKENIZE = 4,
    EMBP_CMD_INFO = 8,
    EMBP_CMD_ALL = 15,
};

/* Every value parsed once, here, into its type. Strings are borrowed: from the environment,
 * argv or the table's defaults, all of which live as long as the process. "" means unset. */
typedef struct {
    const char *model_path, *model_name, *host, *api_key, *log_level;
    const char *fidelity_cache, *cors_origin, *default_prompt_name;
    const char *quantize_ranges, *log_format; /* runtime/encoding.h; "text" or "json" */
    embp_precision precision, storage_precision, computation_precision; /* UNSET: not given */
    embp_quant_method quantization_method;
    double fidelity_floor_mean, fidelity_floor_min; /* EMB_PROVIDER_FIDELITY_MIN "mean,min" */
    embp_config_override precision_overrides[EMBP_CONFIG_OVERRIDES_MAX];
    int n_precision_overrides;
    embp_model_alias model_aliases[EMBP_CONFIG_ALIASES_MAX]; /* alias -> served id */
    int n_model_aliases;
    long quant_group_size;
    long port, max_batch_size, max_context_length, max_request_bytes, max_batch_tokens;
    long max_wait_time_ms, max_queue_tokens, threads, max_connections, timeout_s, drain_timeout_s;
    long max_prepare_ms, max_connections_per_ip;
    int truncate, enable_quantization, precision_strict, length_grouping;
    /* The web pages (server/static.h): the playground at GET / on or off, their folder ("":
     * none; `embp serve` fills it with embp_config_ui_dir), and fidelity measured at load. */
    int ui, measure_fidelity;
    const char *ui_dir;
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
 * bytes); more than max is an error (0, err naming the count). When model_path is unset,
 * finds the default: $HF_HOME/hub (else ~/.cache/huggingface/hub)
 * models--sentence-transformers--all-MiniLM-L6-v2 at refs/main, else
 * <exe_dir>/../models/all-MiniLM-L6-v2, else <exe_dir>/../models/demo-all-MiniLM-L6-v2.
 * Returns the count, or 0 with err saying how to get a model. getenv_fn may be a test's. */
int embp_config_model_paths(const embp_config *c, const char *exe_dir,
                            const char *(*getenv_fn)(const char *), char *buf, size_t size,
                            const char **paths, int max, embp_error *err);

/* What embp_model_load needs for the i-th model of c: opts points into the struct. */
typedef struct {
    embp_load_opts opts;
    embp_precision_override overrides[EMBP_CONFIG_OVERRIDES_MAX];
    char name[256];
} embp_config_model_opts;

/* The typed embp_load_opts for model i (named by the i-th EMB_PROVIDER_MODEL_NAME item, if
 * any) from c. The command line fills fidelity_cache's default folder before this. */
void embp_config_load_opts(const embp_config *c, int i, embp_config_model_opts *out /* OUT */);

/* Rewrites the embp_load_opts field names a library error names ("storage=int4",
 * "precision_overrides[\"m\"]", "enable_quantization=0") into the variables this table sets
 * them from ("EMB_PROVIDER_MODEL_STORAGE_PRECISION=int4", ...): the command line and the
 * server speak of their settings, the library of its fields. */
void embp_config_explain(embp_error *err);

/* One precision name ("auto", "fp32" ... "int4") into *out; -1 when it is none of allowed
 * ("auto|fp32|..." names the subset). The quantize command's flags use it. */
int embp_config_parse_precision(const char *text, const char *allowed, embp_precision *out);
/* "rtn" into *out; else EMBP_ECONFIG naming where (a variable or flag) and why. */
embp_status embp_config_parse_method(const char *text, const char *where,
                                     embp_quant_method *out /* OUT */, embp_error *err);

/* Loads c's models (embp_config_model_paths, each with embp_config_load_opts) into the
 * runtime's registry, with batchers when with_batcher (serve). exe_dir finds the demo model.
 * Errors name the EMB_PROVIDER_* variables (embp_config_explain). Free with
 * embp_registry_free. */
embp_status embp_config_load_models(const embp_config *c, const char *exe_dir, int with_batcher,
                                    embp_registry_model **out /* OUT */, int *n /* OUT */,
                                    embp_error *err);

/* The web pages' folder into buf (size bytes): EMB_PROVIDER_UI_DIR (EMBP_ECONFIG when it is
 * not a folder), else <exe_dir>/ui (a build tree: the build copies ui/ and Swagger UI there),
 * else <exe_dir>/../share/embp/ui (an installed tree), else "" (no pages). */
embp_status embp_config_ui_dir(const embp_config *c, const char *exe_dir, char *buf,
                               size_t size, embp_error *err);

/* The logger c's EMB_PROVIDER_LOG_LEVEL and EMB_PROVIDER_LOG_FORMAT make. */
embp_logger embp_config_logger(const embp_config *c);

/* The i-th comma-separated item of list into out ("" when there are fewer). */
void embp_config_list_item(const char *list, int i, char *out, size_t size);

#endif
