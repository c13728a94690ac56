/* Fuzz target: the precision request parser and EMB_PROVIDER_MODEL_PRECISION_OVERRIDES JSON.
 * Input: lines "NAME=value"; a line without '=' is taken as the overrides JSON. The request is
 * then resolved for two model names on the probed CPU, and must end in a clean status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "precision/plan.h"
#include "precision/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    embp_precision_request req;
    embp_precision_request_init(&req);
    embp_error err;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq && eq != line && strncmp(line, "EMB_", 4) == 0) {
            *eq = '\0';
            embp_precision_request_set(&req, line, eq + 1, &err);
        } else if (*line) {
            embp_precision_request_set(&req, "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", line, &err);
        }
    }
    static const char *const models[] = {"m", "all-MiniLM-L6-v2"};
    for (int i = 0; i < 2; i++) {
        embp_plan p;
        embp_plan_resolve(&req, models[i], embp_cpu_get(), i, &p, &err);
    }
    embp_plan c[8];
    embp_plan_auto_candidates(&req, embp_cpu_get(), c, 8);
    embp_precision_request_free(&req);
    free(text);
    return 0;
}
