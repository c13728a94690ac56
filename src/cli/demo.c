/* embp demo-model: a model folder at all-MiniLM-L6-v2's real shapes with its real tokenizer and
 * configuration (assets/all-MiniLM-L6-v2, Apache-2.0) and seeded random weights. It exists so
 * the first command on a machine without network access ends with a working server; its
 * vectors carry no meaning, and config.json says so ("embp_demo": true). */
#include "cli/demo.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/safetensors.h"

#ifndef EMBP_SOURCE_DIR
#define EMBP_SOURCE_DIR "."
#endif

static const char *copied[] = {"tokenizer.json",       "tokenizer_config.json",
                               "special_tokens_map.json", "vocab.txt",
                               "modules.json",         "sentence_bert_config.json",
                               "config_sentence_transformers.json", "1_Pooling/config.json"};

/* splitmix64: a seeded generator whose stream is the same on every machine. */
static double uniform(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static void fill_normal(float *x, size_t n, float mean, float sd, uint64_t *s) {
    for (size_t i = 0; i < n; i += 2) { /* Box-Muller, two values per draw */
        double r = sqrt(-2.0 * log(uniform(s))), t = 6.283185307179586 * uniform(s);
        x[i] = mean + sd * (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = mean + sd * (float)(r * sin(t));
    }
}

typedef struct {
    embp_st_write_tensor *t;
    int n;
    uint64_t seed;
} tensors;

static int add(tensors *ts, const char *name, int64_t rows, int64_t cols, float mean, float sd) {
    embp_st_write_tensor *t = &ts->t[ts->n++];
    size_t count = (size_t)rows * (size_t)(cols ? cols : 1);
    float *x = malloc(count * sizeof *x);
    if (!x)
        return 0;
    fill_normal(x, count, mean, sd, &ts->seed);
    t->name = strdup(name);
    t->dtype = EMBP_DT_F32;
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->data = x;
    return t->name != NULL;
}

/* BertModel's tensors at the shapes config.json gives, weights N(0, 0.02), LayerNorm gains
 * N(1, 0.02): the scale of a trained model's parameters. */
static int make_weights(json_t *cfg, tensors *ts) {
    int64_t H = json_integer_value(json_object_get(cfg, "hidden_size"));
    int64_t I = json_integer_value(json_object_get(cfg, "intermediate_size"));
    int64_t V = json_integer_value(json_object_get(cfg, "vocab_size"));
    int64_t P = json_integer_value(json_object_get(cfg, "max_position_embeddings"));
    int64_t T = json_integer_value(json_object_get(cfg, "type_vocab_size"));
    int64_t L = json_integer_value(json_object_get(cfg, "num_hidden_layers"));
    int ok = add(ts, "embeddings.word_embeddings.weight", V, H, 0, 0.02f) &&
             add(ts, "embeddings.position_embeddings.weight", P, H, 0, 0.02f) &&
             add(ts, "embeddings.token_type_embeddings.weight", T, H, 0, 0.02f) &&
             add(ts, "embeddings.LayerNorm.weight", H, 0, 1, 0.02f) &&
             add(ts, "embeddings.LayerNorm.bias", H, 0, 0, 0.02f);
    static const char *dense[] = {"attention.self.query", "attention.self.key",
                                  "attention.self.value", "attention.output.dense",
                                  "intermediate.dense", "output.dense"};
    char name[128];
    for (int64_t l = 0; ok && l < L; l++) {
        for (int d = 0; ok && d < 6; d++) {
            int64_t out = d == 4 ? I : H, in = d == 5 ? I : H;
            snprintf(name, sizeof name, "encoder.layer.%lld.%s.weight", (long long)l, dense[d]);
            ok = add(ts, name, out, in, 0, 0.02f);
            snprintf(name, sizeof name, "encoder.layer.%lld.%s.bias", (long long)l, dense[d]);
            ok = ok && add(ts, name, out, 0, 0, 0.02f);
        }
        static const char *ln[] = {"attention.output.LayerNorm", "output.LayerNorm"};
        for (int k = 0; ok && k < 2; k++) {
            snprintf(name, sizeof name, "encoder.layer.%lld.%s.weight", (long long)l, ln[k]);
            ok = add(ts, name, H, 0, 1, 0.02f);
            snprintf(name, sizeof name, "encoder.layer.%lld.%s.bias", (long long)l, ln[k]);
            ok = ok && add(ts, name, H, 0, 0, 0.02f);
        }
    }
    return ok;
}

static void usage(FILE *f) {
    fputs("usage: embp demo-model OUT_DIR [--assets DIR] [--seed N]\n"
          "\n"
          "Writes a model folder with all-MiniLM-L6-v2's real configuration and tokenizer and\n"
          "seeded random weights at its real shapes (384 wide, 6 layers, 22.7M parameters).\n"
          "For trying embp where no pretrained weights can be downloaded: the server runs and\n"
          "answers, but the vectors carry no meaning. embp marks such a model as a demo in its\n"
          "startup log, in /v1/models and in `embp info`.\n"
          "\n"
          "  --assets DIR  the real MiniLM files to copy (default: the source tree's\n"
          "                assets/all-MiniLM-L6-v2)\n"
          "  --seed N      random seed (default 42)\n",
          f);
}

static int write_config(const char *assets, const char *out) {
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/config.json", assets);
    snprintf(to, sizeof to, "%s/config.json", out);
    json_error_t je;
    json_t *cfg = json_load_file(from, 0, &je);
    if (!cfg) {
        fprintf(stderr, "embp demo-model: %s: %s\n", from, je.text);
        return 0;
    }
    json_object_set_new(cfg, "embp_demo", json_true());
    json_object_set_new(cfg, "embp_demo_note",
                        json_string("seeded random weights at all-MiniLM-L6-v2's shapes: the "
                                    "vectors carry no meaning"));
    int ok = json_dump_file(cfg, to, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0;
    json_decref(cfg);
    if (!ok)
        fprintf(stderr, "embp demo-model: cannot write %s\n", to);
    return ok;
}

int embp_cli_demo_model(int argc, char **argv) {
    const char *out = NULL, *assets = EMBP_SOURCE_DIR "/assets/all-MiniLM-L6-v2";
    uint64_t seed = 42;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--assets") == 0 && i + 1 < argc) {
            assets = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && !out) {
            out = argv[i];
        } else {
            fprintf(stderr, "embp demo-model: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!out) {
        usage(stderr);
        return 2;
    }
    char path[4096], from[4096];
    snprintf(path, sizeof path, "%s/1_Pooling", out);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", out);
    for (char *p = parent + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = '\0';
            mkdir(parent, 0755);
            *p = '/';
        }
    mkdir(out, 0755);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "embp demo-model: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        snprintf(from, sizeof from, "%s/%s", assets, copied[i]);
        snprintf(path, sizeof path, "%s/%s", out, copied[i]);
        embp_error cerr;
        if (embp_copy_file(from, path, &cerr) != EMBP_OK) {
            fprintf(stderr, "embp demo-model: %s\n", cerr.msg);
            return 1;
        }
    }
    if (!write_config(assets, out))
        return 1;
    snprintf(path, sizeof path, "%s/config.json", out);
    json_t *cfg = json_load_file(path, 0, NULL);
    tensors ts = {calloc(512, sizeof(embp_st_write_tensor)), 0, seed};
    int ok = cfg && ts.t && make_weights(cfg, &ts);
    embp_error err;
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    const char *mk[] = {"format", "embp_demo"}, *mv[] = {"pt", "seeded random weights"};
    if (ok && embp_st_write(path, ts.t, ts.n, mk, mv, 2, &err) != EMBP_OK) {
        fprintf(stderr, "embp demo-model: %s\n", err.msg);
        ok = 0;
    }
    for (int i = 0; ts.t && i < ts.n; i++) {
        free(embp_unconst(ts.t[i].name));
        free(embp_unconst(ts.t[i].data));
    }
    json_decref(cfg);
    free(ts.t);
    if (ok)
        fprintf(stderr, "embp demo-model: wrote %s (DEMO: random weights, vectors carry no "
                        "meaning)\n", out);
    return ok ? 0 : 1;
}
