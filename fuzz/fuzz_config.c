/* Fuzz target: config.json and 1_Pooling/config.json text. */
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
    return 0;
}
