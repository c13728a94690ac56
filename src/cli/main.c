/* embp: serve | embed | tokenize | info | quantize | pull | demo-model. Dispatches to one
 * function per command. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "settings/openmp.h"

static void usage(FILE *f) {
    fputs("embp: embedding-model inference server for Hugging Face / sentence-transformers "
          "folders (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, DistilBERT).\n\n"
          "usage: embp <command> [flags]   (embp <command> --help for its flags)\n\n"
          "commands:\n"
          "  serve        OpenAI-compatible HTTP API: POST /v1/embeddings, GET /v1/models,\n"
          "               /health, /info; POST /rerank, /v1/rerank for rerankers\n"
          "  embed        embed lines of stdin (or --text T) and print JSON lines\n"
          "  rerank --query Q\n"
          "               score lines of stdin (or --text T) against Q with a reranker (a\n"
          "               cross-encoder) and print them best first as JSON lines\n"
          "  tokenize     print token ids and token strings as JSON lines\n"
          "  info         model shapes, pooling, precision plan and CPU features\n"
          "  quantize IN OUT --precision int8|int4|bf16|fp16\n"
          "               write a model folder with its weights stored at that precision\n"
          "  pull ORG/NAME[@REVISION]\n"
          "               download a model from the Hugging Face Hub into its cache\n"
          "               (then: embp serve --model ORG/NAME)\n"
          "  demo-model OUT  write a MiniLM-shaped model with random weights (a demo)\n\n"
          "Every flag mirrors an environment variable; flags win. Settings:\n", f);
    embp_config_print_help(f, EMBP_CMD_ALL, 0);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
    int computes; /* runs a model's forward: takes embp's OpenMP default (settings/openmp.h) */
} commands[] = {
    {"serve", embp_cli_serve, 1},   {"embed", embp_cli_embed, 1},
    {"rerank", embp_cli_rerank, 1}, {"tokenize", embp_cli_tokenize, 0},
    {"info", embp_cli_info, 1},     {"quantize", embp_cli_quantize, 1},
    {"pull", embp_cli_pull, 0},     {"demo-model", embp_cli_demo_model, 0},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--help-markdown")) { /* the README's settings table */
        embp_config_print_help(stdout, EMBP_CMD_ALL, 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) {
            if (commands[i].computes)
                embp_openmp_apply_default(argv); /* may re-execute this program, once */
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "embp: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
