/* Fuzz target: a sharded model folder's model.safetensors.index.json, as a stranger's download
 * could hold it, opened through embp_st_open_dir (io/safetensors.c). The shards are fixed and
 * real: a.safetensors (tensors y, z), xa.safetensors (x, w; its name holds "a.safetensors", the
 * substring the old strstr match accepted) and b.safetensors (v). The input is the index text.
 * When the folder opens, every weight_map entry (read again here with jansson) must name the
 * file its tensor is really in, and every tensor opened must be one a mapped file holds; when
 * it does not, the error must say why. Either way nothing may crash or leak. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "io/safetensors.h"

/* The real home of each tensor. */
static const char *home_of(const char *name) {
    static const char *const homes[][2] = {{"y", "a"}, {"z", "a"}, {"x", "xa"}, {"w", "xa"},
                                           {"v", "b"}};
    for (size_t i = 0; i < sizeof homes / sizeof homes[0]; i++)
        if (strcmp(name, homes[i][0]) == 0)
            return homes[i][1];
    return NULL;
}

static const char *dir;

static void setup(void) {
    dir = fz_tmpdir("shards");
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    embp_st_write_tensor ta[2] = {{"y", EMBP_DT_F32, 1, {2}, a}, {"z", EMBP_DT_F32, 1, {3}, b}};
    embp_st_write_tensor tx[2] = {{"w", EMBP_DT_F32, 1, {2}, a}, {"x", EMBP_DT_F32, 1, {3}, b}};
    embp_st_write_tensor tb[1] = {{"v", EMBP_DT_F32, 1, {2}, a}};
    const struct {
        const char *file;
        const embp_st_write_tensor *t;
        int n;
    } shards[] = {{"a", ta, 2}, {"xa", tx, 2}, {"b", tb, 1}};
    for (size_t i = 0; i < sizeof shards / sizeof shards[0]; i++) {
        char p[128];
        embp_error err;
        snprintf(p, sizeof p, "%s/%s.safetensors", dir, shards[i].file);
        if (embp_st_write(p, shards[i].t, shards[i].n, NULL, NULL, 0, &err) != EMBP_OK) {
            fprintf(stderr, "fuzz_shard_index: %s\n", err.msg);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir)
        setup();
    fz_write(dir, "model.safetensors.index.json", data, size);
    embp_safetensors *st = NULL;
    embp_error err;
    err.msg[0] = 0;
    if (embp_st_open_dir(dir, &st, &err) != EMBP_OK) {
        if (!err.msg[0] || st)
            __builtin_trap(); /* a refusal says why and returns nothing */
        return 0;
    }
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *map = json_object_get(root, "weight_map"), *v;
    const char *name;
    if (!json_is_object(map))
        __builtin_trap(); /* opened without a weight_map */
    json_object_foreach(map, name, v) {
        const embp_st_tensor *t = embp_st_find(st, name);
        const char *home = home_of(name);
        char want[256];
        snprintf(want, sizeof want, "%s/%s.safetensors", dir, home ? home : "?");
        /* the entry names the tensor's real file, and the tensor opened is from there */
        if (!t || !home || strcmp(t->file, want) != 0 ||
            snprintf(want, sizeof want, "%s.safetensors", home) < 0 ||
            strcmp(json_string_value(v), want) != 0)
            __builtin_trap();
    }
    for (int i = 0; i < embp_st_count(st); i++) { /* and every tensor is a real one */
        const embp_st_tensor *t = embp_st_at(st, i);
        if (!home_of(t->name) || embp_st_find(st, t->name) != t)
            __builtin_trap();
    }
    json_decref(root);
    embp_st_close(st);
    return 0;
}
