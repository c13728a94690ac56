/* Option parsing shared by the commands. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/encoding.h"

static const char *env(const char *name) {
    return getenv(name);
}

static void find_exe_dir(char *out, size_t size) {
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        snprintf(out, size, ".");
        return;
    }
    path[n] = '\0';
    snprintf(out, size, "%s", dirname(path));
}

static void print_usage(const char *cmd, unsigned mask, const char *usage) {
    printf("usage: embp %s\n\nflags (each mirrors the environment variable in brackets):\n",
           usage);
    embp_config_print_help(stdout, mask, 0);
    if (mask & (EMBP_CMD_EMBED | EMBP_CMD_TOKENIZE))
        printf("  %-40s %s\n", "--text T", "a text to process (repeatable); without it, every "
               "line of stdin");
    if (mask & EMBP_CMD_EMBED && !strcmp(cmd, "rerank"))
        printf("  %-40s %s\n", "--query Q", "the query each text is scored against (required)");
    else if (mask & EMBP_CMD_EMBED) {
        printf("  %-40s %s\n", "--dimensions N", "keep the first N values (re-normalized when "
               "the model normalizes)");
        printf("  %-40s %s\n", "--prompt-name N", "put the model's prompt N (a key of "
               "config_sentence_transformers.json's prompts, e.g. query) before each text");
        printf("  %-40s %s\n", "--prompt TEXT", "put TEXT before each text (wins over "
               "--prompt-name, as sentence-transformers; \"\" for none)");
        printf("  %-40s %s\n", "--encoding NAME", "each embedding as float (default), base64, "
               "or sentence-transformers' int8, uint8, binary, ubinary (--quantize-ranges)");
    }
    if (mask & EMBP_CMD_INFO) {
        printf("  %-40s %s\n", "--json", "print one JSON object");
        printf("  %-40s %s\n", "--fidelity", "measure the plan against fp32 on the built-in "
               "probe set (mean and minimum cosine; cached)");
    }
    printf("  %-40s %s\n", "--help", "this text");
}

/* argv[*i] is one of the command's own flags: applies it. 0 if unknown, -1 on a bad value. */
static int own_flag(int argc, char **argv, int *i, unsigned cmd, embp_cli_args *a) {
    const char *f = argv[*i];
    if ((cmd & (EMBP_CMD_EMBED | EMBP_CMD_TOKENIZE)) && !strcmp(f, "--text") && *i + 1 < argc) {
        a->texts[a->n_texts++] = argv[*i + 1];
        *i += 2;
        return 1;
    }
    if ((cmd & EMBP_CMD_EMBED) && !strcmp(f, "--dimensions") && *i + 1 < argc) {
        char *end;
        errno = 0;
        long v = strtol(argv[*i + 1], &end, 10);
        if (errno || *end || v < 1 || v > 1 << 20) {
            fprintf(stderr, "embp: --dimensions %s: not an integer >= 1\n", argv[*i + 1]);
            return -1;
        }
        a->dimensions = (int)v;
        *i += 2;
        return 1;
    }
    if ((cmd & EMBP_CMD_EMBED) && !strcmp(f, "--query") && *i + 1 < argc) {
        a->query = argv[*i + 1];
        *i += 2;
        return 1;
    }
    if ((cmd & EMBP_CMD_EMBED) && (!strcmp(f, "--prompt") || !strcmp(f, "--prompt-name")) &&
        *i + 1 < argc) {
        *(strcmp(f, "--prompt") ? &a->prompt_name : &a->prompt) = argv[*i + 1];
        *i += 2;
        return 1;
    }
    if ((cmd & EMBP_CMD_EMBED) && !strcmp(f, "--encoding") && *i + 1 < argc) {
        embp_encoding e;
        if (embp_encoding_parse(argv[*i + 1], &e) != 0) {
            fprintf(stderr, "embp: --encoding %s: allowed values %s\n", argv[*i + 1],
                    EMBP_ENCODING_NAMES);
            return -1;
        }
        a->encoding = (int)e;
        *i += 2;
        return 1;
    }
    if ((cmd & EMBP_CMD_INFO) && !strcmp(f, "--json")) {
        a->json = 1;
        (*i)++;
        return 1;
    }
    if ((cmd & EMBP_CMD_INFO) && !strcmp(f, "--fidelity")) {
        a->fidelity = 1;
        (*i)++;
        return 1;
    }
    return 0;
}

/* The fidelity cache folder when EMB_PROVIDER_FIDELITY_CACHE is unset: $XDG_CACHE_HOME/embp,
 * else ~/.cache/embp (created; if it cannot be, measuring just is not cached). */
static void default_cache_dir(embp_config *c, embp_cli_args *a) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (*c->fidelity_cache || (!(xdg && *xdg) && !(home && *home)))
        return;
    if (xdg && *xdg)
        snprintf(a->cache_dir, sizeof a->cache_dir, "%s/embp", xdg);
    else
        snprintf(a->cache_dir, sizeof a->cache_dir, "%s/.cache/embp", home);
    for (char *p = a->cache_dir + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = '\0';
            mkdir(a->cache_dir, 0755);
            *p = '/';
        }
    if (mkdir(a->cache_dir, 0755) == 0 || errno == EEXIST)
        c->fidelity_cache = a->cache_dir;
}

int embp_cli_parse(int argc, char **argv, unsigned cmd, const char *usage, embp_config *c,
                   embp_cli_args *a) {
    memset(a, 0, sizeof *a);
    find_exe_dir(a->exe_dir, sizeof a->exe_dir);
    embp_config_defaults(c);
    embp_error err;
    if (embp_config_from_env(c, env, &err) != EMBP_OK) {
        fprintf(stderr, "embp: %s\n", err.msg);
        return 2;
    }
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_usage(argv[0], cmd, usage);
            return 1;
        }
        if (a->n_texts >= 256) {
            fprintf(stderr, "embp: at most 256 --text flags; use stdin for more\n");
            return 2;
        }
        int r = embp_config_parse_flag(c, cmd, argc, argv, &i, &err);
        if (r < 0) {
            fprintf(stderr, "embp: %s\n", err.msg);
            return 2;
        }
        if (r == 0)
            r = own_flag(argc, argv, &i, cmd, a);
        if (r < 0)
            return 2;
        if (r == 0) {
            fprintf(stderr, "embp %s: unknown flag or missing value: %s (see embp %s --help)\n",
                    argv[0], argv[i], argv[0]);
            return 2;
        }
    }
    default_cache_dir(c, a);
    return 0;
}
