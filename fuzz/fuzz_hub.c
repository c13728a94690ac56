/* Fuzz target: what embp pull parses from the Hub: the revision listing JSON, modules.json, a
 * repo id, an ETag. Every path the listing lets through must be safe to create under a
 * snapshot folder, and an accepted id or ETag must be usable as a path part. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "core/alloc.h"
#include "hub/hub.h"

static void check_path(const char *p) {
    if (!*p || p[0] == '/' || strstr(p, "\\") || !strcmp(p, "..") || !strncmp(p, "../", 3) ||
        strstr(p, "/../") || strstr(p, "//"))
        __builtin_trap(); /* would escape or confuse snapshots/<commit>/ */
    size_t n = strlen(p);
    if (n >= 3 && !strcmp(p + n - 3, "/.."))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    embp_error err;
    embp_hub_listing l;
    if (embp_hub_listing_parse((const char *)data, size, &l, &err) == EMBP_OK) {
        for (int i = 0; i < l.n; i++) {
            check_path(l.paths[i]);
            embp_hub_wanted(l.paths[i], "1_Pooling\n2_Dense\n");
        }
        embp_hub_listing_free(&l);
    }
    char dirs[4096];
    if (embp_hub_module_dirs((const char *)data, size, dirs, sizeof dirs, &err) == EMBP_OK)
        for (char *d = dirs, *nl; *d; d = nl + 1) {
            nl = strchr(d, '\n');
            if (!nl)
                __builtin_trap(); /* every entry ends with '\n' */
            *nl = '\0';
            check_path(d);
        }
    char *s = embp_strndup((const char *)data, size > 600 ? 600 : size);
    if (!s)
        return 0;
    embp_hub_id id;
    if (embp_hub_parse_id(s, &id, &err) == EMBP_OK) {
        if (strchr(id.org, '/') || strchr(id.name, '/') || strstr(id.revision, "..") ||
            !strcmp(id.org, ".") || !strcmp(id.name, ".") || id.revision[0] == '/')
            __builtin_trap();
    }
    if (embp_hub_etag_ok(s) && (strchr(s, '/') || !strcmp(s, "..")))
        __builtin_trap();
    embp_free(s);
    return 0;
}
