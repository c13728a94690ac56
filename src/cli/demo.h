/* embp demo-model OUT: writes a model folder at all-MiniLM-L6-v2's real shapes with its real
 * tokenizer and seeded random weights, marked as a demo ("embp_demo": true in config.json). */
#ifndef EMBP_CLI_DEMO_H
#define EMBP_CLI_DEMO_H

/* argv[0] is "demo-model". Returns the process exit status. */
int embp_cli_demo_model(int argc, char **argv);

#endif
