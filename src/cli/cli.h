/* The embp command line: shared option parsing for serve, embed, tokenize and info. Settings
 * come from the table in src/settings/config.c; each command adds a few flags of its own. */
#ifndef EMBP_CLI_CLI_H
#define EMBP_CLI_CLI_H

#include "settings/config.h"

/* Flags a command has besides the settings table. */
typedef struct {
    const char *texts[256]; /* --text T, repeatable (argv pointers) */
    int n_texts;
    int dimensions;     /* --dimensions N */
    const char *prompt, *prompt_name; /* embed --prompt TEXT, --prompt-name N */
    const char *query;  /* rerank --query Q (parsed with embed's flags; embed refuses it) */
    int encoding;       /* --encoding NAME: an embp_encoding (runtime/encoding.h) */
    int json;           /* --json */
    int fidelity;       /* info --fidelity */
    char exe_dir[4096]; /* folder of the embp binary */
    char cache_dir[4096]; /* default fidelity cache: $XDG_CACHE_HOME/embp or ~/.cache/embp */
} embp_cli_args;

/* Defaults, then EMB_PROVIDER_* variables, then argv[1..] (argv[0] is the command name).
 * Prints `embp <cmd> --help` and returns 1 for --help; prints the error and returns 2 for a bad
 * flag or value; returns 0 to go on. */
int embp_cli_parse(int argc, char **argv, unsigned cmd, const char *usage, embp_config *c,
                   embp_cli_args *a);

int embp_cli_serve(int argc, char **argv);
int embp_cli_embed(int argc, char **argv);
int embp_cli_rerank(int argc, char **argv);
int embp_cli_tokenize(int argc, char **argv);
int embp_cli_info(int argc, char **argv);
int embp_cli_quantize(int argc, char **argv);
int embp_cli_pull(int argc, char **argv);

#endif
