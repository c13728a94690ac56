/* Fuzz target: a URL through the web pages' file server (server/static.c) over a folder that
 * holds two files, a subfolder, a symlink inside it and two out of it (a file and a folder)
 * beside a secret: a name embp_static_safe_name accepts keeps its rule (segments of
 * [A-Za-z0-9._-], none empty or starting with '.', at most 200 bytes), and a 200 is always one
 * of the folder's own files, never the secret. The input is the URL (a C string, as
 * libmicrohttpd passes it), under /ui/ unless it starts with '/'. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "server/static.h"
#include "settings/config.h"

static const char *const inside[] = {"playground", "docs page", "a script", "a sheet"};

/* The folder: d/secret.txt, d/ui/{index.html, docs.html, a.js, sub/b.css}, d/ui/in.js -> a.js,
 * d/ui/out.txt -> ../secret.txt, d/ui/up -> .. . Made once. */
static const char *ui_folder(void) {
    static char ui[128];
    if (ui[0])
        return ui;
    const char *d = fz_tmpdir("static");
    char p[256], q[256];
    snprintf(ui, sizeof ui, "%s/ui", d);
    snprintf(p, sizeof p, "%s/sub", ui);
    if (mkdir(ui, 0700) != 0 || mkdir(p, 0700) != 0)
        abort();
    fz_write(d, "secret.txt", "SECRET", 6);
    fz_write(ui, "index.html", inside[0], strlen(inside[0]));
    fz_write(ui, "docs.html", inside[1], strlen(inside[1]));
    fz_write(ui, "a.js", inside[2], strlen(inside[2]));
    fz_write(p, "b.css", inside[3], strlen(inside[3]));
    snprintf(p, sizeof p, "%s/in.js", ui);
    snprintf(q, sizeof q, "%s/out.txt", ui);
    if (symlink("a.js", p) != 0 || symlink("../secret.txt", q) != 0)
        abort();
    snprintf(p, sizeof p, "%s/up", ui);
    if (symlink("..", p) != 0)
        abort();
    return ui;
}

static int safe_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static embp_config cfg;
    static embp_server_ctx x;
    if (!x.cfg) {
        embp_config_defaults(&cfg);
        cfg.ui_dir = ui_folder();
        cfg.ui = 1;
        x.cfg = &cfg;
    }
    char url[600];
    size_t n = strnlen((const char *)data, size < 500 ? size : 500);
    int whole = n > 0 && data[0] == '/';
    snprintf(url, sizeof url, "%s%.*s", whole ? "" : "/ui/", (int)n, (const char *)data);
    const char *rel = url + 4;
    if (!strncmp(url, "/ui/", 4) && embp_static_safe_name(rel)) {
        size_t len = strlen(rel);
        if (len == 0 || len > 200 || rel[0] == '/' || rel[0] == '.' || rel[len - 1] == '/' ||
            strstr(rel, "//") || strstr(rel, "/."))
            __builtin_trap(); /* an empty segment, a dot segment or a hidden file accepted */
        for (size_t i = 0; i < len; i++)
            if (!safe_char(rel[i]))
                __builtin_trap();
    }
    embp_reply r;
    memset(&r, 0, sizeof r);
    if (embp_static_handle(&x, "GET", url, NULL, &r)) {
        if (r.status == 200) {
            int ours = 0;
            for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++)
                ours |= r.body.len == strlen(inside[i]) && !memcmp(r.body.p, inside[i],
                                                                    r.body.len);
            if (!ours)
                __builtin_trap(); /* served something that is not the folder's own file */
        } else if (r.status != 404) {
            __builtin_trap();
        }
    }
    embp_buf_free(&r.body);
    return 0;
}
