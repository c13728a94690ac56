/* Fuzz target: the settings table's precision rows (server/config.c, the one parser of their
 * text) and EMB_PROVIDER_MODEL_PRECISION_OVERRIDES JSON, then the planner's check of the typed
 * options. Input: lines "NAME=value"; a line without '=' is taken as the overrides JSON. The
 * request is then resolved for two model names on the probed CPU, and must end in a clean
 * status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "precision/plan.h"
#include "precision/request.h"
#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *one_name, *one_value; /* the variable fake_getenv answers */

static const char *fake_getenv(const char *name) {
    return one_name && strcmp(name, one_name) == 0 ? one_value : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    embp_config c;
    embp_config_defaults(&c);
    embp_error err;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq && eq != line && strncmp(line, "EMB_", 4) == 0) {
            *eq = '\0';
            one_name = line, one_value = eq + 1;
        } else if (*line) {
            one_name = "EMB_PROVIDER_MODEL_PRECISION_OVERRIDES", one_value = line;
        } else {
            continue;
        }
        embp_config_from_env(&c, fake_getenv, &err); /* a bad value leaves the field as it was */
    }
    embp_config_model_opts mo;
    embp_config_load_opts(&c, 0, &mo);
    embp_precision_request req;
    if (embp_precision_request_from_opts(&mo.opts, &req, &err) == EMBP_OK) {
        static const char *const models[] = {"m", "all-MiniLM-L6-v2"};
        for (int i = 0; i < 2; i++) {
            embp_plan p;
            embp_plan_resolve(&req, models[i], embp_cpu_get(), i, &p, &err);
        }
        embp_plan cands[8];
        embp_plan_auto_candidates(&req, embp_cpu_get(), cands, 8);
        embp_precision_request_free(&req);
    }
    free(text);
    return 0;
}
