/* Fuzz target: config.json, 1_Pooling/config.json, 2_Dense/config.json and
 * config_sentence_transformers.json text. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    embp_model_config c;
    embp_error err;
    memset(&c, 0, sizeof c);
    if (embp_config_parse_config_json((const char *)data, size, "config.json", &c, &err) ==
        EMBP_OK) {
        if (c.hidden <= 0 || c.heads <= 0 || c.hidden % c.heads != 0)
            __builtin_trap(); /* accepted shapes must be usable */
    }
    memset(&c, 0, sizeof c);
    embp_config_parse_pooling_json((const char *)data, size, "1_Pooling/config.json", &c, &err);
    memset(&c, 0, sizeof c);
    if (embp_config_parse_dense_json((const char *)data, size, "2_Dense/config.json", &c, &err) ==
            EMBP_OK &&
        (c.n_dense != 1 || c.dense[0].in < 1 || c.dense[0].out < 1))
        __builtin_trap(); /* an accepted Dense has a usable shape */
    memset(&c, 0, sizeof c);
    if (embp_config_parse_prompts_json((const char *)data, size,
                                       "config_sentence_transformers.json", &c, &err) == EMBP_OK)
        for (int i = 0; i < c.n_prompts; i++) /* every prompt reads back inside the arena */
            if (embp_config_prompt(&c, i, NULL) >= c.prompt_data + sizeof c.prompt_data)
                __builtin_trap();
    return 0;
}
