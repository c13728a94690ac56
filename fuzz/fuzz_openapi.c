/* Fuzz target: GET /openapi.json's document (server/openapi.c) for the settings the input sets:
 * its lines are `embp serve` flags ("--api-key", "k", "--max-batch-size=3", ...) read by the
 * settings table's own parser, as the command line is. Whatever they are, the document builds,
 * is a JSON object, holds every row of the route table under its path and method, each POST
 * documents the 415 of a body not sent as JSON, and with an API key every guarded route its
 * 401. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "core/alloc.h"
#include "server/openapi.h"
#include "server/routes.h"

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char text[1024], *argv[MAX_ARGS + 1];
    int argc = 0;
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    argv[argc++] = "serve";
    for (char *save = NULL, *t = strtok_r(text, "\n", &save); t && argc < MAX_ARGS;
         t = strtok_r(NULL, "\n", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    embp_config cfg;
    embp_error err;
    embp_config_defaults(&cfg);
    for (int i = 1; i < argc; i++)
        if (embp_config_parse_flag(&cfg, EMBP_CMD_SERVE, argc, argv, &i, &err) < 0)
            return 0; /* a bad value: `embp serve` stops there */
    size_t len;
    char *doc = embp_openapi_build(&cfg, &len, &err);
    if (!doc) {
        if (err.code != EMBP_ENOMEM)
            __builtin_trap(); /* the descriptions are ours: only memory may fail */
        return 0;
    }
    json_error_t je;
    json_t *d = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
    json_t *paths = json_object_get(d, "paths");
    if (!json_is_object(paths))
        __builtin_trap();
    size_t rows;
    const embp_route *row = embp_route_table(&rows);
    for (size_t i = 0; i < rows; i++) {
        char method[16];
        size_t k = 0;
        for (; row[i].method[k] && k < sizeof method - 1; k++)
            method[k] = (char)(row[i].method[k] | 0x20);
        method[k] = '\0';
        json_t *op = json_object_get(json_object_get(paths, row[i].url), method);
        json_t *responses = json_object_get(op, "responses");
        if (!json_is_object(responses))
            __builtin_trap(); /* a served route left undocumented */
        if (!strcmp(row[i].method, "POST") && !json_object_get(responses, "415"))
            __builtin_trap();
        if (*cfg.api_key && !row[i].open && !json_object_get(responses, "401"))
            __builtin_trap();
    }
    json_decref(d);
    embp_free(doc);
    return 0;
}
