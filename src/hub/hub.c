/* The Hugging Face Hub downloader (see hub.h for the cache layout and the protocol). HTTP is
 * libcurl's, JSON jansson's, sha256/sha1 OpenSSL's; what is ours is the cache bookkeeping. */
#include "hub/hub.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/clock.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"

/* ================================================================ names and paths */

static int is_hex(const char *s, size_t n) {
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* One part of a repo id (n bytes at s), by the Hub's rules (see hub.h). */
static int name_ok(const char *s, size_t n) {
    if (n == 0 || n > 96 || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.')
            return 0;
        if (i && (c == '-' || c == '.') && s[i - 1] == c)
            return 0;
    }
    return 1;
}

/* A branch, tag or commit: printable ASCII without spaces, no "..", no leading '/', as git's
 * check-ref-format asks, since it becomes a path under refs/. */
static int revision_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "..") ||
        strstr(s, "//"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127 || strchr("\\~^:?*[", s[i]))
            return 0;
    return 1;
}

embp_status embp_hub_parse_id(const char *spec, embp_hub_id *id, embp_error *err) {
    memset(id, 0, sizeof *id);
    const char *slash = strchr(spec, '/'), *at = strchr(spec, '@');
    size_t end = at ? (size_t)(at - spec) : strlen(spec);
    if (!slash || (size_t)(slash - spec) >= end || !name_ok(spec, (size_t)(slash - spec)) ||
        !name_ok(slash + 1, end - (size_t)(slash - spec) - 1) || (at && !revision_ok(at + 1)))
        return embp_fail(err, EMBP_EINVAL, "'%.200s' is not a Hub model id: expected "
                         "ORG/NAME[@REVISION], e.g. sentence-transformers/all-MiniLM-L6-v2 or "
                         "BAAI/bge-small-en-v1.5@main (names: letters, digits, '-', '_', '.')",
                         spec);
    snprintf(id->org, sizeof id->org, "%.*s", (int)(slash - spec), spec);
    snprintf(id->name, sizeof id->name, "%.*s", (int)(end - (size_t)(slash - spec) - 1),
             slash + 1);
    snprintf(id->revision, sizeof id->revision, "%s", at ? at + 1 : "main");
    return EMBP_OK;
}

int embp_hub_is_id(const char *spec) {
    embp_hub_id id;
    return embp_hub_parse_id(spec, &id, NULL) == EMBP_OK;
}

int embp_hub_etag_ok(const char *etag) {
    size_t n = strlen(etag);
    if (n == 0 || n > 128 || !strcmp(etag, ".") || !strcmp(etag, ".."))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)etag[i]) && !strchr("_.-", etag[i]))
            return 0;
    return 1;
}

/* A repo file path we may create under snapshots/<commit>/: relative, no "." or ".." part, no
 * empty part, no backslash or control character. */
static int repo_path_ok(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > 400 || p[0] == '/' || p[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < ' ' || p[i] == '\\' || p[i] == 127)
            return 0;
    for (const char *part = p; part;) {
        const char *next = strchr(part, '/');
        size_t len = next ? (size_t)(next - part) : strlen(part);
        if (len == 0 || (len == 1 && part[0] == '.') || (len == 2 && !strncmp(part, "..", 2)))
            return 0;
        part = next ? next + 1 : NULL;
    }
    return 1;
}

static const char *env_or(const char *(*getenv_fn)(const char *), const char *name) {
    const char *v = getenv_fn(name);
    return v && *v ? v : NULL;
}

static int env_true(const char *v) {
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "on"));
}

void embp_hub_opts_from_env(embp_hub_opts *o, const char *(*getenv_fn)(const char *)) {
    memset(o, 0, sizeof *o);
    const char *ep = env_or(getenv_fn, "HF_ENDPOINT");
    snprintf(o->endpoint, sizeof o->endpoint, "%s", ep ? ep : DEFAULT_ENDPOINT);
    for (size_t n = strlen(o->endpoint); n > 0 && o->endpoint[n - 1] == '/'; n--)
        o->endpoint[n - 1] = '\0';
    /* huggingface_hub's constants.py: HF_HOME defaults to $XDG_CACHE_HOME/huggingface. */
    char home[900] = "";
    const char *hf = env_or(getenv_fn, "HF_HOME"), *xdg = env_or(getenv_fn, "XDG_CACHE_HOME"),
               *user = env_or(getenv_fn, "HOME");
    if (hf)
        snprintf(home, sizeof home, "%s", hf);
    else if (xdg)
        snprintf(home, sizeof home, "%s/huggingface", xdg);
    else
        snprintf(home, sizeof home, "%s/.cache/huggingface", user ? user : ".");
    const char *cache = env_or(getenv_fn, "HF_HUB_CACHE");
    if (cache)
        snprintf(o->cache, sizeof o->cache, "%s", cache);
    else
        snprintf(o->cache, sizeof o->cache, "%s/hub", home);
    const char *tok = env_or(getenv_fn, "HF_TOKEN");
    if (tok) {
        snprintf(o->token, sizeof o->token, "%s", tok);
    } else { /* where `hf auth login` keeps it */
        char path[1024];
        snprintf(path, sizeof path, "%s/token", home);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(o->token, 1, sizeof o->token - 1, f);
            o->token[n] = '\0';
            o->token[strcspn(o->token, " \r\n")] = '\0';
            fclose(f);
        }
    }
    o->offline = env_true(env_or(getenv_fn, "HF_HUB_OFFLINE"));
    o->connect_timeout_s = 10;
}

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int r = mkdir(path, 0755);
            *p = '/';
            if (r != 0 && errno != EEXIST)
                return -1;
        }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* mkdir -p of the folder holding file path. */
static int mkdir_parent(const char *path) {
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return mkdir_p(dir);
}

static void repo_dir(const embp_hub_opts *o, const embp_hub_id *id, char *out, size_t size) {
    snprintf(out, size, "%s/models--%s--%s", o->cache, id->org, id->name);
}

/* Writes text to path atomically (a temporary file renamed over it). */
static int write_atomic(const char *path, const char *text) {
    char tmp[2200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Whether dir/file resolves to a readable file (a snapshot symlink whose blob is there). */
static int has(const char *dir, const char *file) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, R_OK) == 0;
}

embp_status embp_hub_find(const embp_hub_opts *o, const embp_hub_id *id, char *dir, size_t size,
                          embp_error *err) {
    char repo[1300], commit[64] = "";
    repo_dir(o, id, repo, sizeof repo);
    if (is_hex(id->revision, 40)) {
        snprintf(commit, sizeof commit, "%s", id->revision);
    } else {
        char ref[1700];
        snprintf(ref, sizeof ref, "%s/refs/%s", repo, id->revision);
        FILE *f = fopen(ref, "r");
        if (f) {
            size_t n = fread(commit, 1, sizeof commit - 1, f);
            commit[n] = '\0';
            commit[strcspn(commit, " \r\n")] = '\0';
            fclose(f);
        }
    }
    snprintf(dir, size, "%s/snapshots/%s", repo, commit);
    if (is_hex(commit, 40) && has(dir, "config.json") && has(dir, "tokenizer.json") &&
        (has(dir, "model.safetensors") || has(dir, "model.safetensors.index.json")))
        return EMBP_OK;
    return embp_fail(err, EMBP_EIO, "%s/%s@%s is not in the cache (%s)", id->org, id->name,
                     id->revision, repo);
}

/* ================================================================ parsers */

void embp_hub_listing_free(embp_hub_listing *l) {
    if (!l)
        return;
    for (int i = 0; i < l->n; i++)
        embp_free(l->paths[i]);
    embp_free(l->paths);
    l->paths = NULL;
    l->n = 0;
}

embp_status embp_hub_listing_parse(const char *json, size_t len, embp_hub_listing *l,
                                   embp_error *err) {
    memset(l, 0, sizeof *l);
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return embp_fail(err, EMBP_EFORMAT, "the Hub's revision listing is not JSON (line %d: "
                         "%s)", je.line, je.text);
    embp_status st = EMBP_OK;
    const char *sha = json_string_value(json_object_get(root, "sha"));
    json_t *sib = json_object_get(root, "siblings");
    if (!sha || !is_hex(sha, 40)) {
        st = embp_fail(err, EMBP_EFORMAT, "the Hub's revision listing: \"sha\" is %.60s, not a "
                       "40-hex commit", sha ? sha : "missing");
        goto done;
    }
    snprintf(l->sha, sizeof l->sha, "%s", sha);
    if (!json_is_array(sib)) {
        st = embp_fail(err, EMBP_EFORMAT, "the Hub's revision listing has no \"siblings\" list");
        goto done;
    }
    l->paths = embp_calloc(json_array_size(sib) + 1, sizeof *l->paths);
    if (!l->paths) {
        st = embp_fail(err, EMBP_ENOMEM, "out of memory listing the repository's files");
        goto done;
    }
    size_t i;
    json_t *e;
    json_array_foreach(sib, i, e) {
        const char *p = json_string_value(json_object_get(e, "rfilename"));
        if (!p) {
            st = embp_fail(err, EMBP_EFORMAT, "the Hub's revision listing: siblings[%zu] has no "
                           "\"rfilename\" string", i);
            goto done;
        }
        if (!repo_path_ok(p))
            continue;
        if (!(l->paths[l->n] = embp_strdup(p))) {
            st = embp_fail(err, EMBP_ENOMEM, "out of memory listing the repository's files");
            goto done;
        }
        l->n++;
    }
done:
    json_decref(root);
    if (st != EMBP_OK)
        embp_hub_listing_free(l);
    return st;
}

embp_status embp_hub_module_dirs(const char *json, size_t len, char *out, size_t size,
                                 embp_error *err) {
    out[0] = '\0';
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!json_is_array(root)) {
        json_decref(root);
        return embp_fail(err, EMBP_EFORMAT, "modules.json is not a JSON list of modules");
    }
    size_t i, used = 0;
    json_t *e;
    json_array_foreach(root, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        size_t n = p ? strlen(p) : 0;
        if (n == 0 || !repo_path_ok(p) || used + n + 2 > size)
            continue;
        memcpy(out + used, p, n);
        used += n;
        out[used++] = '\n';
        out[used] = '\0';
    }
    json_decref(root);
    return EMBP_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int embp_hub_wanted(const char *path, const char *module_dirs) {
    static const char *const root[] = {
        "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.txt", "modules.json", "sentence_bert_config.json",
        "config_sentence_transformers.json", "model.safetensors",
        "model.safetensors.index.json"};
    const char *slash = strchr(path, '/');
    if (!slash) {
        for (size_t i = 0; i < sizeof root / sizeof root[0]; i++)
            if (!strcmp(path, root[i]))
                return 1;
        /* Shards: model-00001-of-00002.safetensors, as the index lists them. */
        return !strncmp(path, "model-", 6) && ends_with(path, ".safetensors");
    }
    /* A file directly inside a module folder (1_Pooling/config.json, 2_Dense/model.safetensors):
     * the folder must be one line of module_dirs. */
    const char *base = strrchr(path, '/') + 1;
    size_t dlen = (size_t)(base - 1 - path);
    for (const char *d = module_dirs; d && *d;) {
        size_t n = strcspn(d, "\n");
        if (n == dlen && !strncmp(d, path, n))
            return ends_with(base, ".json") || ends_with(base, ".safetensors") ||
                   ends_with(base, ".txt");
        d += n;
        if (*d == '\n')
            d++;
    }
    return 0;
}

/* ================================================================ HTTP */

/* A growable byte buffer for an API answer (capped: a listing is never megabytes). */
typedef struct {
    char *data;
    size_t len, cap;
} membuf;

static size_t membuf_write(char *p, size_t sz, size_t n, void *ctx) {
    membuf *b = ctx;
    size_t add = sz * n;
    if (b->len + add + 1 > (size_t)64 << 20)
        return 0;
    if (b->len + add + 1 > b->cap) {
        size_t cap = (b->len + add + 1) * 2;
        char *d = embp_realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One pull: the curl handle (reused, so connections are), the options and the error text. */
typedef struct {
    const embp_hub_opts *o;
    const embp_hub_id *id;
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    char repo[1300];
} session;

/* Percent-encodes s into out; '/' stays when keep_slash. */
static void url_quote(const char *s, int keep_slash, char *out, size_t size) {
    size_t j = 0;
    for (; *s && j + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c) || (keep_slash && c == '/'))
            out[j++] = (char)c;
        else
            j += (size_t)snprintf(out + j, size - j, "%%%02X", c);
    }
    out[j] = '\0';
}

/* A header of the last response (the last request of a redirect chain), or NULL. */
static const char *header(session *s, const char *name) {
    struct curl_header *h = NULL;
    if (curl_easy_header(s->curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

/* Sets up the handle for one request to url; auth adds the token. */
static struct curl_slist *request_init(session *s, const char *url, int auth) {
    curl_easy_reset(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, s->o->connect_timeout_s);
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "embp/0.1 (libcurl)");
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    /* A stalled transfer (under 1 byte/s for 30 s) fails instead of hanging. */
    curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, 30L);
    s->curl_err[0] = '\0';
    struct curl_slist *h = curl_slist_append(NULL, "Accept-Encoding: identity");
    if (auth && *s->o->token) {
        char line[600];
        snprintf(line, sizeof line, "Authorization: Bearer %s", s->o->token);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
    return h;
}

/* The error for a transfer curl could not complete (rc != CURLE_OK), before any HTTP status. */
static embp_status net_fail(session *s, CURLcode rc, const char *what, embp_error *err) {
    return embp_fail(err, EMBP_EIO, "cannot reach %s for %s (%s): no network? Pull on a machine "
                     "that has it, set HF_ENDPOINT to a mirror, or point EMB_PROVIDER_MODEL_PATH "
                     "(--model) at a local model folder", s->o->endpoint, what,
                     *s->curl_err ? s->curl_err : curl_easy_strerror(rc));
}

/* The error for an HTTP status >= 400 from the Hub, in the words huggingface_hub uses: its
 * X-Error-Code header tells a missing repo from a missing revision from a gated one. */
static embp_status http_fail(session *s, long code, const char *what, embp_error *err) {
    const char *ec = header(s, "X-Error-Code");
    const embp_hub_id *id = s->id;
    const char *tok = *s->o->token ? "the HF_TOKEN given was refused: set it to a token that "
                                     "can read it" : "set HF_TOKEN to a token that can read it "
                                                     "(huggingface.co/settings/tokens)";
    if (ec && !strcmp(ec, "GatedRepo"))
        return embp_fail(err, EMBP_EIO, "%s/%s is gated (HTTP %ld): accept its conditions on "
                         "its Hub page with your account; %s", id->org, id->name, code, tok);
    if (ec && !strcmp(ec, "RevisionNotFound"))
        return embp_fail(err, EMBP_EIO, "revision '%s' not found in %s/%s (HTTP %ld at %s)",
                         id->revision, id->org, id->name, code, s->o->endpoint);
    if (code == 404 || (ec && !strcmp(ec, "RepoNotFound")))
        return embp_fail(err, EMBP_EIO, "%s/%s not found (HTTP %ld at %s for %s): check the "
                         "name and the revision '%s'; a private repository also needs HF_TOKEN",
                         id->org, id->name, code, s->o->endpoint, what, id->revision);
    if (code == 401 || code == 403)
        return embp_fail(err, EMBP_EIO, "%s/%s: access denied (HTTP %ld at %s): the repository "
                         "is private or gated; %s", id->org, id->name, code, s->o->endpoint, tok);
    if (code == 429)
        return embp_fail(err, EMBP_EIO, "%s: the Hub is rate limiting (HTTP 429); wait a "
                         "minute%s", what, *s->o->token ? "" : ", or set HF_TOKEN");
    return embp_fail(err, EMBP_EIO, "%s/%s: HTTP %ld from %s for %s; try again later", id->org,
                     id->name, code, s->o->endpoint, what);
}

/* GET /api/models/ORG/NAME/revision/R into l. */
static embp_status get_listing(session *s, embp_hub_listing *l, embp_error *err) {
    char rev[800], url[2048];
    url_quote(s->id->revision, 0, rev, sizeof rev);
    snprintf(url, sizeof url, "%s/api/models/%s/%s/revision/%s", s->o->endpoint, s->id->org,
             s->id->name, rev);
    membuf b = {0};
    struct curl_slist *h = request_init(s, url, 1);
    curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, membuf_write);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(s->curl);
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    embp_status st;
    if (rc != CURLE_OK)
        st = net_fail(s, rc, "the repository listing", err);
    else if (code >= 400)
        st = http_fail(s, code, "the repository listing", err);
    else
        st = embp_hub_listing_parse(b.data ? b.data : "", b.len, l, err);
    curl_slist_free_all(h);
    embp_free(b.data);
    return st;
}

/* What HEAD /ORG/NAME/resolve/<commit>/<path> says about one file. */
typedef struct {
    char etag[160];
    char location[4096];
    uint64_t size; /* 0: unknown */
    int same_host; /* location is on the endpoint (the token may go there) */
} file_meta;

static void normalize_etag(const char *v, char *out, size_t size) {
    if (!strncmp(v, "W/", 2))
        v += 2;
    while (*v == '"')
        v++;
    snprintf(out, size, "%s", v);
    out[strcspn(out, "\"")] = '\0';
}

/* Whether URLs a and b have the same scheme://host:port. */
static int same_origin(const char *a, const char *b) {
    const char *ha = strstr(a, "://"), *hb = strstr(b, "://");
    if (!ha || !hb)
        return 0;
    size_t na = (size_t)(ha - a) + 3 + strcspn(ha + 3, "/?#");
    size_t nb = (size_t)(hb - b) + 3 + strcspn(hb + 3, "/?#");
    return na == nb && !strncasecmp(a, b, na);
}

/* HEADs the resolve URL, following redirects that stay on the same origin (a renamed repo) but
 * not those to another host (the LFS redirect to a CDN, whose own headers carry the sha256 and
 * size and which must not get the token), as huggingface_hub's _http.py does. */
static embp_status head_file(session *s, const char *commit, const char *path, file_meta *m,
                             embp_error *err) {
    char qpath[1300], url[4096];
    url_quote(path, 1, qpath, sizeof qpath);
    snprintf(url, sizeof url, "%s/%s/%s/resolve/%s/%s", s->o->endpoint, s->id->org, s->id->name,
             commit, qpath);
    memset(m, 0, sizeof *m);
    for (int hop = 0; hop < 5; hop++) {
        struct curl_slist *h = request_init(s, url, 1);
        curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 60L);
        CURLcode rc = curl_easy_perform(s->curl);
        curl_slist_free_all(h);
        long code = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK)
            return net_fail(s, rc, path, err);
        if (code >= 400)
            return http_fail(s, code, path, err);
        const char *loc = header(s, "Location"), *lsize = header(s, "X-Linked-Size");
        const char *etag = header(s, "X-Linked-Etag");
        int redirect = code >= 300 && code < 400 && loc;
        char *next = NULL;
        if (redirect)
            curl_easy_getinfo(s->curl, CURLINFO_REDIRECT_URL, &next);
        if (next && same_origin(url, next)) { /* on the Hub: a renamed repo, say */
            snprintf(url, sizeof url, "%s", next);
            continue;
        }
        if (!etag)
            etag = header(s, "ETag");
        normalize_etag(etag ? etag : "", m->etag, sizeof m->etag);
        if (lsize)
            m->size = strtoull(lsize, NULL, 10);
        else if (!redirect && header(s, "Content-Length"))
            m->size = strtoull(header(s, "Content-Length"), NULL, 10);
        const char *commit_hdr = header(s, "X-Repo-Commit");
        if (commit_hdr && strcmp(commit_hdr, commit))
            return embp_fail(err, EMBP_EIO, "%s: the Hub answered for commit %.60s, not %s",
                             path, commit_hdr, commit);
        if (redirect) {
            snprintf(m->location, sizeof m->location, "%s", next ? next : loc);
        } else {
            snprintf(m->location, sizeof m->location, "%s", url);
        }
        m->same_host = same_origin(m->location, s->o->endpoint);
        if (!embp_hub_etag_ok(m->etag))
            return embp_fail(err, EMBP_EIO, "%s: the Hub sent no usable ETag (got '%.60s'); "
                             "is HF_ENDPOINT=%s a Hugging Face Hub?", path, m->etag,
                             s->o->endpoint);
        return EMBP_OK;
    }
    return embp_fail(err, EMBP_EIO, "%s: too many redirects from %s", path, s->o->endpoint);
}

/* ================================================================ one file */

typedef struct {
    session *s;
    const char *path;
    int fd;
    uint64_t have, total; /* bytes in the .incomplete file; expected size (0: unknown) */
    int started, write_errno;
    int broke; /* the last transfer stopped mid-body after bytes arrived */
    double last_progress;
} dl_ctx;

static size_t dl_write(char *p, size_t sz, size_t n, void *ctx) {
    dl_ctx *d = ctx;
    size_t len = sz * n;
    if (!d->started) {
        d->started = 1;
        long code = 0;
        curl_easy_getinfo(d->s->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200 && d->have > 0) { /* the server ignored our Range: start over */
            if (ftruncate(d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0) {
                d->write_errno = errno;
                return 0;
            }
            d->have = 0;
        }
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(d->fd, p + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            d->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    d->have += len;
    double t = embp_clock_s(CLOCK_MONOTONIC);
    if (d->s->o->progress && t - d->last_progress >= 0.1) {
        d->last_progress = t;
        d->s->o->progress(d->s->o->progress_ctx, d->path, d->have, d->total, 0);
    }
    return len;
}

/* The hex digest of file path with md ("sha256", or "sha1" over git's "blob <size>\0" header,
 * which is how git names a blob). Returns 0, or -1 when the file cannot be read. */
static int file_digest(const char *path, int git_blob, char *hex, size_t hex_size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && fstat(fd, &st) == 0 &&
             EVP_DigestInit_ex(ctx, git_blob ? EVP_sha1() : EVP_sha256(), NULL) == 1;
    if (ok && git_blob) {
        char head[48];
        int n = snprintf(head, sizeof head, "blob %lld", (long long)st.st_size);
        ok = EVP_DigestUpdate(ctx, head, (size_t)n + 1) == 1; /* with the '\0' */
    }
    static const size_t chunk = 1 << 20;
    unsigned char *buf = ok ? embp_malloc(chunk) : NULL;
    ok = ok && buf;
    for (ssize_t r; ok && (r = read(fd, buf, chunk)) != 0;)
        ok = r > 0 && EVP_DigestUpdate(ctx, buf, (size_t)r) == 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && hex_size > 2 * md_len;
    for (unsigned i = 0; ok && i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    embp_free(buf);
    EVP_MD_CTX_free(ctx);
    close(fd);
    return ok ? 0 : -1;
}

/* Checks the finished .incomplete file against the ETag: its sha256 (64 hex) or git blob sha1
 * (40 hex); another form of ETag (a mirror's) is checked by size alone. On a mismatch the file
 * is deleted: resuming on top of wrong bytes could never succeed. */
static embp_status verify(session *s, const char *path, const char *tmp, const file_meta *m,
                          uint64_t have, embp_error *err) {
    if (m->size && have != m->size) {
        unlink(tmp);
        return embp_fail(err, EMBP_EIO, "%s: got %llu bytes, the Hub announced %llu; deleted "
                         "the partial file, run the command again", path,
                         (unsigned long long)have, (unsigned long long)m->size);
    }
    int sha256 = is_hex(m->etag, 64), sha1 = is_hex(m->etag, 40);
    if (!sha256 && !sha1)
        return EMBP_OK;
    char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
    if (file_digest(tmp, sha1, hex, sizeof hex) != 0)
        return embp_fail(err, EMBP_EIO, "%s: cannot read it back to check it: %s", tmp,
                         strerror(errno));
    if (strcasecmp(hex, m->etag) != 0) {
        unlink(tmp);
        return embp_fail(err, EMBP_EIO, "%s/%s %s: the downloaded bytes have %s %s, the Hub "
                         "announced %s; deleted them and made no snapshot entry (run again; if "
                         "it repeats, %s serves corrupt data)", s->id->org, s->id->name, path,
                         sha256 ? "sha256" : "git sha1", hex, m->etag, s->o->endpoint);
    }
    return EMBP_OK;
}

/* A failed write of file `what`; e is its errno. A full disk (or quota, or file size limit)
 * says where the cache is and how to move it. */
static embp_status disk_fail(const char *what, int e, uint64_t need, embp_error *err) {
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return embp_fail(err, EMBP_EIO, "disk full writing %s (%s; %llu more bytes needed): "
                         "free space, or set HF_HOME (or HF_HUB_CACHE) to a larger disk", what,
                         strerror(e), (unsigned long long)need);
    return embp_fail(err, EMBP_EIO, "cannot write %s: %s", what, strerror(e));
}

/* disk_fail naming the repo file as well as the cache file being written. */
static embp_status blob_fail(const char *path, const char *file, int e, uint64_t need,
                             embp_error *err) {
    char what[2200];
    snprintf(what, sizeof what, "%s as %s", path, file);
    return disk_fail(what, e, need, err);
}

/* Opens tmp (blobs/<etag>.incomplete) for appending into d->fd and d->have: what an earlier
 * attempt left, unless it is longer than the file (then not a prefix of it: emptied). Fails
 * early when the disk lacks room for the rest. */
static embp_status open_partial(const char *path, const char *tmp, const file_meta *m,
                                dl_ctx *d, embp_error *err) {
    if (mkdir_parent(tmp) != 0)
        return blob_fail(path, tmp, errno, m->size, err);
    d->fd = open(tmp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    struct statvfs vfs;
    int e = 0;
    uint64_t need = m->size;
    if (d->fd < 0 || fstat(d->fd, &st) != 0) {
        e = errno;
    } else {
        d->have = (uint64_t)st.st_size;
        if (m->size && d->have > m->size && ftruncate(d->fd, 0) != 0)
            e = errno;
        else if (m->size && d->have > m->size)
            d->have = 0;
        need = m->size > d->have ? m->size - d->have : 0;
        if (!e && need && fstatvfs(d->fd, &vfs) == 0 &&
            (uint64_t)vfs.f_bavail * vfs.f_frsize < need)
            e = ENOSPC;
    }
    if (!e)
        return EMBP_OK;
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    return blob_fail(path, tmp, e, need, err);
}

/* GETs m->location from byte d->have on (HTTP Range), appending to d->fd. */
static embp_status transfer(session *s, const char *path, const char *tmp, const file_meta *m,
                            dl_ctx *d, embp_error *err) {
    struct curl_slist *h = request_init(s, m->location, m->same_host);
    curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(s->curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, d);
    char range[48];
    if (d->have) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)d->have);
        curl_easy_setopt(s->curl, CURLOPT_RANGE, range);
    }
    uint64_t had = d->have;
    d->started = d->broke = 0;
    CURLcode rc = curl_easy_perform(s->curl);
    curl_slist_free_all(h);
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_WRITE_ERROR && d->write_errno)
        return blob_fail(path, tmp, d->write_errno, m->size > d->have ? m->size - d->have : 0,
                         err);
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        return http_fail(s, code, path, err);
    d->broke = rc != CURLE_OK && d->have > had;
    if (d->broke)
        return embp_fail(err, EMBP_EIO, "%s: the connection broke after %llu of %llu bytes "
                         "(%s); kept them in %s: run the same command again to resume", path,
                         (unsigned long long)d->have, (unsigned long long)m->size,
                         *s->curl_err ? s->curl_err : curl_easy_strerror(rc), tmp);
    if (rc != CURLE_OK)
        return net_fail(s, rc, path, err);
    return EMBP_OK;
}

enum { RESUME_ATTEMPTS = 3 };

/* Downloads m->location into blobs/<etag>.incomplete (appending to what an earlier attempt
 * left), verifies it and renames it to blobs/<etag>. */
static embp_status download_blob(session *s, const char *path, const file_meta *m,
                                 const char *blob, embp_error *err) {
    char tmp[1800];
    snprintf(tmp, sizeof tmp, "%s.incomplete", blob);
    dl_ctx d = {.s = s, .path = path, .total = m->size, .fd = -1};
    embp_status rc = open_partial(path, tmp, m, &d, err);
    if (rc != EMBP_OK)
        return rc;
    /* A connection that breaks mid-file after making progress is resumed at once, twice at
     * most (huggingface_hub retries too); one that cannot connect fails at once. */
    for (int attempt = 0; (!m->size || d.have < m->size) && attempt < RESUME_ATTEMPTS;
         attempt++) {
        if (attempt)
            sleep(1);
        rc = transfer(s, path, tmp, m, &d, err);
        if (rc == EMBP_OK || !d.broke)
            break;
    }
    if (close(d.fd) != 0 && rc == EMBP_OK)
        rc = blob_fail(path, tmp, errno, 0, err);
    if (rc == EMBP_OK)
        rc = verify(s, path, tmp, m, d.have, err);
    if (rc == EMBP_OK && rename(tmp, blob) != 0)
        rc = blob_fail(path, blob, errno, 0, err);
    return rc;
}

/* Points snapshots/<commit>/<path> at blobs/<etag> with a relative symlink, made under a
 * temporary name and renamed into place so the entry appears whole or not at all. */
static embp_status link_snapshot(session *s, const char *commit, const char *path,
                                 const char *etag, embp_error *err) {
    char link[2048], tmp[2100], target[1024] = "";
    snprintf(link, sizeof link, "%s/snapshots/%s/%s", s->repo, commit, path);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", link, (long)getpid());
    for (const char *p = path; (p = strchr(p, '/')); p++) /* one "../" per folder level */
        strcat(target, "../");
    snprintf(target + strlen(target), sizeof target - strlen(target), "../../blobs/%s", etag);
    unlink(tmp);
    if (mkdir_parent(link) != 0 || symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        embp_status e = disk_fail(link, errno, 0, err);
        unlink(tmp);
        return e;
    }
    return EMBP_OK;
}

/* Takes <cache>/.locks/models--ORG--NAME/<etag>.lock with flock(LOCK_EX), waiting while
 * another process downloads the same blob: the lock file huggingface_hub's filelock takes, so
 * embp and Python tools pulling at once into one cache (replicas on a shared volume) take turns
 * instead of appending to one .incomplete file. Returns the descriptor to close, or -1 when
 * the lock cannot be made (a read-only .locks: go on unlocked, as huggingface_hub does). */
static int lock_blob(session *s, const char *etag) {
    char path[2048];
    snprintf(path, sizeof path, "%s/.locks/models--%s--%s/%s.lock", s->o->cache, s->id->org,
             s->id->name, etag);
    if (mkdir_parent(path) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0664); /* group-writable, as theirs */
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (s->o->progress) /* say why nothing moves */
            s->o->progress(s->o->progress_ctx, etag, 0, 0, 3);
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
            ;
    }
    return fd;
}

/* Makes snapshots/<commit>/<path> present: nothing to do when it already resolves, a symlink
 * when the blob is there, else a download first. */
static embp_status fetch_file(session *s, const char *commit, const char *path,
                              embp_error *err) {
    char link[2048];
    snprintf(link, sizeof link, "%s/snapshots/%s/%s", s->repo, commit, path);
    struct stat st;
    if (stat(link, &st) == 0 && S_ISREG(st.st_mode)) { /* a commit's files never change */
        if (s->o->progress)
            s->o->progress(s->o->progress_ctx, path, (uint64_t)st.st_size,
                           (uint64_t)st.st_size, 2);
        return EMBP_OK;
    }
    file_meta m;
    embp_status rc = head_file(s, commit, path, &m, err);
    if (rc != EMBP_OK)
        return rc;
    char blob[1600];
    snprintf(blob, sizeof blob, "%s/blobs/%s", s->repo, m.etag);
    int lock = lock_blob(s, m.etag);
    int cached = stat(blob, &st) == 0 && S_ISREG(st.st_mode); /* perhaps while we waited */
    if (!cached)
        rc = download_blob(s, path, &m, blob, err);
    if (lock >= 0)
        close(lock); /* releases the flock */
    if (rc != EMBP_OK || (rc = link_snapshot(s, commit, path, m.etag, err)) != EMBP_OK)
        return rc;
    if (s->o->progress)
        s->o->progress(s->o->progress_ctx, path, m.size, m.size, cached ? 2 : 1);
    return EMBP_OK;
}

/* ================================================================ a pull */

static int listed(const embp_hub_listing *l, const char *path) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->paths[i], path))
            return 1;
    return 0;
}

/* The module folders of the snapshot's modules.json (fetched first) into dirs. */
static embp_status read_modules(session *s, const char *commit, char *dirs, size_t size,
                                embp_error *err) {
    embp_status rc = fetch_file(s, commit, "modules.json", err);
    if (rc != EMBP_OK)
        return rc;
    char path[2048];
    snprintf(path, sizeof path, "%s/snapshots/%s/modules.json", s->repo, commit);
    FILE *f = fopen(path, "rb");
    if (!f)
        return embp_fail(err, EMBP_EIO, "%s: %s", path, strerror(errno));
    char text[65536];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    rc = embp_hub_module_dirs(text, n, dirs, size, err);
    if (rc != EMBP_OK)
        embp_error_prefix(err, path);
    return rc;
}

/* The files of l to fetch, checked for what embp cannot do without. */
static embp_status check_listing(session *s, const embp_hub_listing *l, embp_error *err) {
    const char *missing = !listed(l, "config.json") ? "config.json"
                          : !listed(l, "tokenizer.json") ? "tokenizer.json (the fast tokenizer)"
                          : NULL;
    if (!missing && !listed(l, "model.safetensors") &&
        !listed(l, "model.safetensors.index.json"))
        missing = listed(l, "pytorch_model.bin") || listed(l, "pytorch_model.bin.index.json")
                      ? "model.safetensors (it has only pytorch_model.bin; embp reads "
                        "safetensors: convert it, or pick a revision that has them)"
                      : "model.safetensors";
    if (missing)
        return embp_fail(err, EMBP_EUNSUPPORTED, "%s/%s@%s has no %s; embp needs config.json, "
                         "tokenizer.json and model.safetensors at the repository's root",
                         s->id->org, s->id->name, s->id->revision, missing);
    return EMBP_OK;
}

static embp_status pull_files(session *s, const embp_hub_listing *l, embp_error *err) {
    embp_status rc = check_listing(s, l, err);
    if (rc != EMBP_OK)
        return rc;
    char dirs[4096] = "";
    if (listed(l, "modules.json") &&
        (rc = read_modules(s, l->sha, dirs, sizeof dirs, err)) != EMBP_OK)
        return rc;
    for (int i = 0; i < l->n; i++) {
        if (!embp_hub_wanted(l->paths[i], dirs) || !strcmp(l->paths[i], "modules.json"))
            continue;
        if ((rc = fetch_file(s, l->sha, l->paths[i], err)) != EMBP_OK)
            return rc;
    }
    return EMBP_OK;
}

embp_status embp_hub_pull(const embp_hub_opts *o, const embp_hub_id *id, char *dir, size_t size,
                          embp_error *err) {
    if (o->offline) {
        embp_status rc = embp_hub_find(o, id, dir, size, err);
        if (rc != EMBP_OK && err)
            snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                     " and HF_HUB_OFFLINE forbids downloading it: unset HF_HUB_OFFLINE, or set "
                     "EMB_PROVIDER_MODEL_PATH to a local model folder");
        return rc;
    }
    session s = {.o = o, .id = id};
    repo_dir(o, id, s.repo, sizeof s.repo);
    if (mkdir_p(s.repo) != 0)
        return disk_fail(s.repo, errno, 0, err);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(s.curl = curl_easy_init()))
        return embp_fail(err, EMBP_ENOMEM, "cannot start libcurl");
    embp_hub_listing l;
    embp_status rc = get_listing(&s, &l, err);
    if (rc == EMBP_OK) {
        rc = pull_files(&s, &l, err);
        if (rc == EMBP_OK && strcmp(id->revision, l.sha) != 0) {
            char ref[1700];
            snprintf(ref, sizeof ref, "%s/refs/%s", s.repo, id->revision);
            if (mkdir_parent(ref) != 0 || write_atomic(ref, l.sha) != 0)
                rc = disk_fail(ref, errno, 0, err);
        }
        if (rc == EMBP_OK)
            snprintf(dir, size, "%s/snapshots/%s", s.repo, l.sha);
        embp_hub_listing_free(&l);
    }
    curl_easy_cleanup(s.curl);
    return rc;
}

embp_status embp_hub_resolve(const embp_hub_opts *o, const embp_hub_id *id, char *dir,
                             size_t size, embp_error *err) {
    if (embp_hub_find(o, id, dir, size, NULL) == EMBP_OK)
        return EMBP_OK;
    return embp_hub_pull(o, id, dir, size, err);
}

/* ================================================================ progress */

static void human(double v, char *out, size_t size) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    for (; v >= 1000 && i < 4; i++)
        v /= 1000;
    snprintf(out, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

void embp_hub_progress_stderr(void *ctx, const char *path, uint64_t done, uint64_t total,
                              int state) {
    embp_hub_progress_state *p = ctx;
    double t = embp_clock_s(CLOCK_MONOTONIC);
    if (strcmp(p->path, path) != 0) {
        snprintf(p->path, sizeof p->path, "%s", path);
        p->started = t;
    }
    char d[32], tot[32], rate[32];
    human((double)done, d, sizeof d);
    human((double)total, tot, sizeof tot);
    double secs = t - p->started;
    rate[0] = '\0';
    if (secs > 0.2) {
        human((double)done / secs, rate, sizeof rate);
        strcat(rate, "/s");
    }
    int tty = isatty(STDERR_FILENO);
    if (state == 0) {
        if (!tty)
            return;
        int pct = total ? (int)(100.0 * (double)done / (double)total) : 0;
        char bar[31];
        for (int i = 0; i < 30; i++)
            bar[i] = i < pct * 30 / 100 ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%-34.34s [%s] %3d%% %s / %s  %s  ", path, bar, pct, d, tot, rate);
        return;
    }
    if (state == 3) {
        fprintf(stderr, "%swaiting for another process downloading blob %s\n",
                tty ? "\r\033[K" : "embp pull: ", path);
        return;
    }
    fprintf(stderr, "%s%-34s %s %s%s%s\n", tty ? "\r\033[K" : "embp pull: ", path, tot,
            state == 2 ? "(cached)" : "downloaded, verified", *rate && state == 1 ? ", " : "",
            state == 1 ? rate : "");
}
