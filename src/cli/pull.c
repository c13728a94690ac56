/* embp pull ORG/NAME[@REVISION]: download a model from the Hugging Face Hub into the shared
 * Hugging Face cache (src/hub/hub.c) and print its snapshot folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hub/hub.h"

static const char *env(const char *name) {
    return getenv(name);
}

static void pull_usage(FILE *f) {
    fputs("usage: embp pull ORG/NAME[@REVISION] [--quiet]\n\n"
          "Downloads the files an embedding model needs (config.json, tokenizer files,\n"
          "model.safetensors or its shards and index, modules.json and the module folders it\n"
          "lists, e.g. 1_Pooling/, 2_Dense/; never .bin, .onnx or other formats) from the\n"
          "Hugging Face Hub into the Hugging Face cache, shared with Python tools:\n"
          "  $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub\n"
          "    models--ORG--NAME/{blobs/, snapshots/<commit>/, refs/<revision>}\n"
          "and prints the snapshot folder on stdout. REVISION is a branch, tag or commit\n"
          "(default main). Large files are checked against the sha256 the Hub announces; a\n"
          "download cut mid-file resumes (HTTP Range) at once, twice at most, then when the\n"
          "command runs again. Then\n"
          "  embp serve --model ORG/NAME     serves it under the id NAME (without network)\n\n"
          "flags:\n"
          "  --quiet        no progress on stderr\n"
          "  --help         this text\n\n"
          "environment:\n"
          "  HF_TOKEN        token for private or gated models (else the file $HF_HOME/token)\n"
          "  HF_ENDPOINT     the Hub or a mirror (default https://huggingface.co)\n"
          "  HF_HOME, HF_HUB_CACHE   where the cache is (see above)\n"
          "  HF_HUB_OFFLINE=1        never touch the network: only what the cache holds\n\n"
          "exit status: 0 pulled (or already cached), 1 failed (the message says why), 2 usage\n",
          f);
}

int embp_cli_pull(int argc, char **argv) {
    const char *spec = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            pull_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if (argv[i][0] == '-' || spec) {
            fprintf(stderr, "embp pull: unexpected argument '%s' (see embp pull --help)\n",
                    argv[i]);
            return 2;
        } else {
            spec = argv[i];
        }
    }
    if (!spec) {
        pull_usage(stderr);
        return 2;
    }
    embp_error err;
    embp_hub_id id;
    if (embp_hub_parse_id(spec, &id, &err) != EMBP_OK) {
        fprintf(stderr, "embp pull: %s\n", err.msg);
        return 2;
    }
    embp_hub_opts o;
    embp_hub_opts_from_env(&o, env);
    embp_hub_progress_state progress = {0};
    if (!quiet) {
        o.progress = embp_hub_progress_stderr;
        o.progress_ctx = &progress;
    }
    char dir[4096];
    if (embp_hub_pull(&o, &id, dir, sizeof dir, &err) != EMBP_OK) {
        fprintf(stderr, "embp pull: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", dir);
    return 0;
}
