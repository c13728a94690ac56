/* The web pages and their files, read from the folder EMB_PROVIDER_UI_DIR names: a file is
 * served only under a safe name of known type that resolves inside the folder. Written here,
 * not taken from a library: libmicrohttpd has no file server, and this one is a table and
 * three checks. */
#include "server/static.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define FILE_MAX (32L << 20) /* the largest file served (Swagger UI's bundle is ~1.5 MB) */
#define NAME_MAX_LEN 200

/* The pages by URL; every other file is /ui/<its name in the folder>. */
static const struct {
    const char *url, *file;
    int playground; /* served only with EMB_PROVIDER_UI on */
} pages[] = {{"/", "index.html", 1}, {"/docs", "docs.html", 0}};

/* Content types by extension: a file of another type is not served. */
static const struct {
    const char *ext, *type;
} types[] = {{".html", "text/html; charset=utf-8"},
             {".js", "text/javascript; charset=utf-8"},
             {".css", "text/css; charset=utf-8"},
             {".json", "application/json"},
             {".png", "image/png"},
             {".svg", "image/svg+xml"},
             {".txt", "text/plain; charset=utf-8"}};

/* The pages may load and call only this server: the browser enforces it (Swagger UI styles
 * elements inline and draws icons from data: URLs). */
static const char page_csp[] = "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'";

static const char *type_of(const char *name) {
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

int embp_static_safe_name(const char *rel) {
    size_t n = strlen(rel);
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (const char *seg = rel; *seg;) {
        size_t len = strcspn(seg, "/");
        if (len == 0 || seg[0] == '.') /* "//", "/.." or a hidden file */
            return 0;
        for (size_t i = 0; i < len; i++) {
            char c = seg[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-'))
                return 0;
        }
        seg += len;
        if (*seg == '/' && !*++seg) /* a trailing slash names a folder */
            return 0;
    }
    return 1;
}

/* Opens root/rel for reading when it resolves (symlinks followed) to a regular file inside
 * root's own resolved path: -1 otherwise. The folder is the operator's, so a symlink made in it
 * may point within it but never out. */
static int open_inside(const char *root, const char *rel, struct stat *st) {
    char want[PATH_MAX + NAME_MAX_LEN + 2], real_root[PATH_MAX], real[PATH_MAX];
    if (!realpath(root, real_root))
        return -1;
    snprintf(want, sizeof want, "%s/%s", real_root, rel);
    size_t k = strlen(real_root);
    if (!realpath(want, real) || strncmp(real, real_root, k) != 0 || real[k] != '/')
        return -1;
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK); /* a FIFO: no wait */
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > FILE_MAX) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads the whole of fd (size bytes) into b; 1, or 0 on a read error or oom. */
static int read_all(int fd, size_t size, embp_buf *b) {
    if (!embp_buf_reserve(b, size + 1))
        return 0;
    while (b->len < size) {
        ssize_t got = read(fd, b->p + b->len, size - b->len);
        if (got <= 0)
            return 0;
        b->len += (size_t)got;
    }
    return 1;
}

static void not_found(embp_reply *r, const char *url, const char *why) {
    embp_http_error e;
    embp_http_fail(&e, 404, "invalid_request_error", NULL, "unknown_url", "%.200s: %s", url,
                   why);
    embp_route_reply_error(r, &e);
}

/* The file name url asks for (NULL: not a page's URL); *playground: it is GET /'s page;
 * *route: what /metrics and the log count it under (static storage: /metrics keeps it). */
static const char *file_of(const char *url, int *playground, const char **route) {
    *playground = 0;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (strcmp(url, pages[i].url) == 0) {
            *playground = pages[i].playground;
            *route = pages[i].url;
            return pages[i].file;
        }
    *route = "/ui/";
    return strncmp(url, "/ui/", 4) == 0 ? url + 4 : NULL;
}

int embp_static_handle(embp_server_ctx *x, const char *method, const char *url,
                       const char *if_none_match, embp_reply *r) {
    int playground;
    const char *route, *rel = file_of(url, &playground, &route);
    if (!rel || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
        (playground && !x->cfg->ui))
        return 0; /* POST / is TEI's; with the playground off GET / is the table's 405 */
    r->route = route;
    const char *root = x->cfg->ui_dir, *type = type_of(rel);
    struct stat st;
    int fd = -1;
    if (!root || !*root) {
        not_found(r, url, "the web pages are not installed (EMB_PROVIDER_UI_DIR; the build "
                  "puts them in <build>/ui)");
        return 1;
    }
    if (!type || !embp_static_safe_name(rel) || (fd = open_inside(root, rel, &st)) < 0) {
        not_found(r, url, "no such file among the web pages");
        return 1;
    }
    /* no-cache: the browser keeps a copy but asks each time, and a 304 answers when the ETag
     * (size and modification time) still matches; after an upgrade it gets the new files. */
    snprintf(r->hdr_buf, sizeof r->hdr_buf, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st.st_mtim.tv_nsec);
    embp_route_add_header(r, "ETag", r->hdr_buf);
    embp_route_add_header(r, "Cache-Control", "no-cache");
    embp_route_add_header(r, "X-Content-Type-Options", "nosniff");
    if (strcmp(type, types[0].type) == 0)
        embp_route_add_header(r, "Content-Security-Policy", page_csp);
    r->content_type = type;
    if (if_none_match && strstr(if_none_match, r->hdr_buf)) {
        r->status = 304;
        embp_buf_append(&r->body, "", 0);
    } else if (read_all(fd, (size_t)st.st_size, &r->body)) {
        r->status = 200;
    } else {
        r->content_type = NULL;
        embp_http_error e;
        embp_http_fail(&e, 500, "server_error", NULL, NULL, "%.200s: cannot read the file",
                       url);
        embp_route_reply_error(r, &e);
    }
    close(fd);
    return 1;
}
