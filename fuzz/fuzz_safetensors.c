/* Fuzz target: a whole safetensors file image, as a stranger's download could be. */
#include <stdint.h>
#include <stddef.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    embp_safetensors *st = NULL;
    embp_error err;
    if (embp_st_open_buffer(data, size, "fuzz.safetensors", &st, &err) != EMBP_OK)
        return 0;
    volatile uint8_t sink = 0;
    for (int i = 0; i < embp_st_count(st); i++) { /* touch each tensor's first and last byte */
        const embp_st_tensor *t = embp_st_at(st, i);
        if (t->nbytes) {
            sink ^= ((const uint8_t *)t->data)[0];
            sink ^= ((const uint8_t *)t->data)[t->nbytes - 1];
        }
        if (embp_st_find(st, t->name) != t)
            __builtin_trap();
    }
    (void)sink;
    embp_st_close(st);
    return 0;
}
