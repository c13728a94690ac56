/* The Hugging Face Hub downloader behind `embp pull ORG/NAME[@REVISION]` and `--model ORG/NAME`.
 * It fetches only the files an embedding model needs into the standard Hugging Face cache, the
 * layout huggingface_hub reads and writes, so Python tools and embp share one copy:
 *
 *   <cache>/models--ORG--NAME/                 <cache>: $HF_HUB_CACHE, else $HF_HOME/hub, else
 *     refs/<revision>                            $XDG_CACHE_HOME/huggingface/hub, else
 *                                                ~/.cache/huggingface/hub
 *         the 40-hex commit <revision> (a branch or tag, "main" by default) pointed to when
 *         last pulled; written last, so a ref always names a complete pull
 *     blobs/<etag>                  one file's bytes, named by the Hub's ETag: the sha256 for an
 *                                   LFS file (X-Linked-Etag), the git blob sha1 otherwise; each
 *                                   is checked against the bytes before it gets its name
 *     blobs/<etag>.incomplete       a download in progress, resumed with an HTTP Range request
 *   <cache>/.locks/models--ORG--NAME/<etag>.lock   flock()ed while a process downloads <etag>,
 *                                                  as huggingface_hub's filelock does
 *     snapshots/<commit>/<path>     a relative symlink to ../../blobs/<etag>
 *
 * The protocol, as huggingface_hub's file_download.py and hf_api.py speak it:
 *   GET  <endpoint>/api/models/ORG/NAME/revision/<revision>  -> {"sha": commit, "siblings":
 *        [{"rfilename": path}, ...]}
 *   HEAD <endpoint>/ORG/NAME/resolve/<commit>/<path>          -> 200 with ETag, or (LFS) a
 *        redirect whose X-Linked-Etag / X-Linked-Size name the file's sha256 and size and whose
 *        Location is where its bytes are; X-Repo-Commit names the commit either way.
 * Not a general Hub client: no uploads, no datasets, no Xet protocol (the Hub still serves Xet
 * files through the redirect). */
#ifndef EMBP_HUB_HUB_H
#define EMBP_HUB_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* ORG/NAME[@REVISION], parsed. Names follow the Hub's rules: letters, digits, '-', '_', '.',
 * no leading or trailing '-' or '.', no "--" or "..", at most 96 characters. */
typedef struct {
    char org[97], name[97];
    char revision[256]; /* "main" when the id has no @REVISION */
} embp_hub_id;

/* Parses spec into id; EMBP_EINVAL with a message showing the expected form. */
embp_status embp_hub_parse_id(const char *spec, embp_hub_id *id /* OUT */, embp_error *err);

/* 1 when spec has the form ORG/NAME[@REVISION] (so `--model` may mean a Hub model), else 0. */
int embp_hub_is_id(const char *spec);

/* Called as bytes arrive (state 0, at most ~10 times a second), once when a file is complete
 * (state 1: downloaded and verified), once for a file the cache already holds (state 2), and
 * with the blob's etag as path when another process is downloading it and we wait (state 3).
 * total is 0 when the server did not say. */
typedef void (*embp_hub_progress_fn)(void *ctx, const char *path, uint64_t done, uint64_t total,
                                     int state);

typedef struct {
    char endpoint[512];     /* HF_ENDPOINT (default https://huggingface.co), no trailing '/' */
    char cache[1024];       /* the hub cache folder (see above) */
    char token[512];        /* HF_TOKEN, else the file $HF_HOME/token; "" for none */
    int offline;            /* HF_HUB_OFFLINE=1|true|yes|on: never touch the network */
    long connect_timeout_s; /* per connection attempt; a dead network fails within it */
    embp_hub_progress_fn progress; /* NULL: silent */
    void *progress_ctx;
} embp_hub_opts;

/* Fills o from the HF_* variables that getenv_fn (getenv, or a test's) returns. */
void embp_hub_opts_from_env(embp_hub_opts *o /* OUT */, const char *(*getenv_fn)(const char *));

/* The snapshot folder of id in the cache, without touching the network: the commit is the
 * revision itself when it is a 40-hex hash, else the one refs/<revision> names; the folder must
 * hold config.json, tokenizer.json and model.safetensors (or its index), as a Python tool that
 * fetched only some files may leave less. EMBP_EIO with "not in the cache" (naming the folder)
 * otherwise. */
embp_status embp_hub_find(const embp_hub_opts *o, const embp_hub_id *id, char *dir /* OUT */,
                          size_t size, embp_error *err);

/* Asks the Hub which commit id's revision is, downloads the model files it lacks into the
 * cache (verified, resumable), then writes refs/<revision>; dir gets the snapshot folder. With
 * o->offline it is embp_hub_find. Errors say what to do: set HF_TOKEN (401/403), check the
 * name (404), use a local folder (no network), free space (disk full). */
embp_status embp_hub_pull(const embp_hub_opts *o, const embp_hub_id *id, char *dir /* OUT */,
                          size_t size, embp_error *err);

/* embp_hub_find, else (unless offline) embp_hub_pull: what `--model ORG/NAME` does. */
embp_status embp_hub_resolve(const embp_hub_opts *o, const embp_hub_id *id, char *dir /* OUT */,
                             size_t size, embp_error *err);

/* A progress printer for stderr: a bar redrawn in place when stderr is a terminal, else one
 * line per file. ctx is an embp_hub_progress_state, zeroed by the caller. */
typedef struct {
    char path[256];
    double started, last; /* seconds (CLOCK_MONOTONIC) */
} embp_hub_progress_state;
void embp_hub_progress_stderr(void *ctx, const char *path, uint64_t done, uint64_t total,
                              int state);

/* ---------------------------------------------------------------- parsers (tests, fuzzing) */

/* The repository listing of GET /api/models/ORG/NAME/revision/R: the commit and the files. */
typedef struct {
    char sha[41];
    char **paths; /* every sibling's rfilename that is a safe relative path; owned */
    int n;
} embp_hub_listing;

/* Parses the JSON text (len bytes) into l; EMBP_EFORMAT naming the field when "sha" is not 40
 * hex digits or "siblings" is not a list of {"rfilename": string}. Paths with "..", a leading
 * '/', a backslash or an empty part are dropped. Free with embp_hub_listing_free. */
embp_status embp_hub_listing_parse(const char *json, size_t len, embp_hub_listing *l /* OUT */,
                                   embp_error *err);
void embp_hub_listing_free(embp_hub_listing *l);

/* The module folders modules.json (len bytes) lists ("1_Pooling", "2_Dense", ...), as one
 * '\n'-separated string in out; unsafe or empty paths are left out. EMBP_EFORMAT if the text
 * is not a JSON list. */
embp_status embp_hub_module_dirs(const char *json, size_t len, char *out /* OUT */, size_t size,
                                 embp_error *err);

/* 1 when repo path is a file embp needs: the root configs, tokenizer files and safetensors
 * weights (one file or shards with their index), and the .json/.safetensors/.txt files directly
 * inside a folder of module_dirs ('\n'-separated). Never .bin, .onnx, .h5, openvino, ... */
int embp_hub_wanted(const char *path, const char *module_dirs);

/* 1 when etag (already stripped of W/ and quotes) is safe as a file name: [A-Za-z0-9_.-],
 * 1..128 characters, not "." or "..". */
int embp_hub_etag_ok(const char *etag);

#endif
