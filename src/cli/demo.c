/* Placeholder: the demo model writer lands with the io layer. */
#include "cli/demo.h"

#include <stdio.h>

int embp_cli_demo_model(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("embp demo-model: not built yet\n", stderr);
    return 1;
}
