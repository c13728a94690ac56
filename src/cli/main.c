/* Placeholder until the command line lands. */
#include <stdio.h>
#include <string.h>

#include "cli/demo.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "demo-model") == 0)
        return embp_cli_demo_model(argc - 1, argv + 1);
    fputs("embp: not built yet\n", stderr);
    return 1;
}
