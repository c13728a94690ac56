/* embp embed | rerank | tokenize | info: the model without the server, for scripts and
 * checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/cpu.h"
#include "runtime/encoding.h"
#include "runtime/model.h"
#include "runtime/registry.h"
#include "settings/openmp.h"
#include "core/buf.h"

/* Calls fn(text, len, index, ctx) for each --text, else each line of stdin (split on '\n'
 * only; a final empty line is dropped, as the peer's readLines does). Stops at fn's nonzero. */
static int for_each_text(const embp_cli_args *a, int (*fn)(const char *, size_t, int, void *),
                         void *ctx) {
    for (int i = 0; i < a->n_texts; i++)
        if (fn(a->texts[i], strlen(a->texts[i]), i, ctx))
            return 1;
    if (a->n_texts)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (int i = 0; !rc && (n = getline(&line, &cap, stdin)) >= 0; i++) {
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        rc = fn(line, (size_t)n, i, ctx);
    }
    free(line);
    return rc;
}

/* Lines are embedded in chunks of up to CHUNK texts (or the token budget), one model call
 * each: one call per line would run the GEMMs at M = a sentence's length, far below what the
 * matmuls need to reach their speed. */
enum { CHUNK = 128 };

typedef struct {
    embp_registry_model *m;
    int truncate, dims;
    const char *prompt; /* put before each text (embp_prompt_resolve); "" none */
    embp_encoding encoding;   /* --encoding */
    embp_quant_ranges ranges; /* its int8/uint8 buckets (--quantize-ranges) */
    long budget;   /* tokens per chunk (--max-batch-tokens) */
    int32_t *ids;  /* (CHUNK, max_seq_len): each pending text's ids */
    float *vec;    /* (CHUNK, dims or dim) */
    embp_buf out;
    /* The pending chunk: count texts (owned copies), their lengths, input indices, ids. */
    char *texts[CHUNK];
    size_t text_lens[CHUNK];
    int index[CHUNK], n_ids[CHUNK], skip[CHUNK], count;
    long tokens;
} run_ctx;

/* Tokenizes the prompt and text into ids (room for max_seq_len) by the registry's context
 * rule, *skip getting the prompt ids pooling leaves out; prints the error and returns -1 when
 * it fails. */
static int tokenize_text(run_ctx *r, const char *text, size_t len, int index, int32_t *ids,
                         int *skip) {
    embp_error err;
    int n = 0, n_full = 0;
    embp_status rc = embp_registry_tokenize_prompt(r->m, r->prompt, text, len, r->truncate, ids,
                                                   &n, &n_full, skip, &err);
    if (rc == EMBP_ETOOLONG)
        fprintf(stderr, "embp: line %d has %d tokens; the model takes at most %d "
                "(--no-truncate)\n", index + 1, n_full, r->m->max_seq_len);
    else if (rc != EMBP_OK)
        fprintf(stderr, "embp: line %d: %s\n", index + 1, err.msg);
    return rc == EMBP_OK ? n : -1;
}

static void put_text_field(embp_buf *b, const char *text, size_t len, int index) {
    char head[48];
    snprintf(head, sizeof head, "{\"index\":%d,\"text\":", index);
    embp_buf_puts(b, head);
    embp_buf_json_string(b, text, len);
}

/* Appends pending text k's JSON line, with its vector v (d floats), to r->out. */
static void put_embedding(run_ctx *r, int k, const float *v, int d) {
    put_text_field(&r->out, r->texts[k], r->text_lens[k], r->index[k]);
    char mid[48];
    snprintf(mid, sizeof mid, ",\"tokens\":%d,\"embedding\":", r->n_ids[k]);
    embp_buf_puts(&r->out, mid);
    embp_encoding_write(&r->out, r->encoding, v, d, &r->ranges);
    embp_buf_puts(&r->out, "}\n");
}

/* Embeds the pending chunk in one model call and prints its lines. Returns nonzero on error. */
static int flush_chunk(run_ctx *r) {
    if (r->count == 0)
        return 0;
    size_t cap = (size_t)r->m->info.max_seq_len;
    const int32_t *ids[CHUNK];
    for (int k = 0; k < r->count; k++)
        ids[k] = r->ids + (size_t)k * cap;
    embp_error err;
    int rc = 0;
    if (embp_embed_tokens_skip(r->m->model, ids, r->n_ids, r->skip, r->count, r->dims, r->vec,
                               &err) != EMBP_OK) {
        fprintf(stderr, "embp: lines %d..%d: %s\n", r->index[0] + 1,
                r->index[r->count - 1] + 1, err.msg);
        rc = 1;
    }
    int d = r->dims ? r->dims : r->m->info.dim;
    r->out.len = 0;
    for (int k = 0; !rc && k < r->count; k++)
        put_embedding(r, k, r->vec + (size_t)k * (size_t)d, d);
    if (!rc)
        rc = r->out.oom || fwrite(r->out.p, 1, r->out.len, stdout) != r->out.len;
    for (int k = 0; k < r->count; k++)
        embp_free(r->texts[k]);
    r->count = 0;
    r->tokens = 0;
    return rc;
}

/* Adds one line to the pending chunk, flushing it first when the line would not fit. */
static int embed_one(const char *text, size_t len, int index, void *ctx) {
    run_ctx *r = ctx;
    if (r->count == CHUNK && flush_chunk(r))
        return 1;
    int k = r->count, skip = 0;
    int n = tokenize_text(r, text, len, index, r->ids + (size_t)k * r->m->info.max_seq_len,
                          &skip);
    if (n < 0)
        return 1;
    if (k > 0 && r->tokens + n > r->budget) { /* flushing reads slots < k only */
        if (flush_chunk(r))
            return 1;
        memmove(r->ids, r->ids + (size_t)k * r->m->info.max_seq_len, (size_t)n * sizeof *r->ids);
        k = 0;
    }
    r->texts[k] = embp_strndup(text, len);
    if (!r->texts[k]) {
        fputs("embp: out of memory\n", stderr);
        return 1;
    }
    r->text_lens[k] = len;
    r->index[k] = index;
    r->n_ids[k] = n;
    r->skip[k] = skip;
    r->count = k + 1;
    r->tokens += n;
    return 0;
}

static int tokenize_one(const char *text, size_t len, int index, void *ctx) {
    run_ctx *r = ctx;
    int n = tokenize_text(r, text, len, index, r->ids, NULL);
    if (n < 0)
        return 1;
    r->out.len = 0;
    put_text_field(&r->out, text, len, index);
    embp_buf_puts(&r->out, ",\"ids\":[");
    for (int j = 0; j < n; j++) {
        char num[16];
        snprintf(num, sizeof num, "%s%d", j ? "," : "", (int)r->ids[j]);
        embp_buf_puts(&r->out, num);
    }
    embp_buf_puts(&r->out, "],\"tokens\":[");
    for (int j = 0; j < n; j++) {
        const char *t = embp_token_str(r->m->model, r->ids[j]);
        if (j)
            embp_buf_puts(&r->out, ",");
        embp_buf_json_string(&r->out, t ? t : "", t ? strlen(t) : 0);
    }
    embp_buf_puts(&r->out, "]}\n");
    return r->out.oom || fwrite(r->out.p, 1, r->out.len, stdout) != r->out.len;
}

/* The shared body of embed and tokenize: parse, load the default model, run fn per text. */
/* Parses the command's settings and loads its models. Returns -1 to go on, else the exit
 * code (0 after --help). */
static int parse_and_load(int argc, char **argv, unsigned cmd, const char *usage, embp_config *c,
                          embp_cli_args *a, embp_registry_model **models, int *n) {
    int rc = embp_cli_parse(argc, argv, cmd, usage, c, a);
    if (rc)
        return rc == 1 ? 0 : rc;
    embp_error err;
    if (embp_config_load_models(c, a->exe_dir, 0, models, n, &err) != EMBP_OK) {
        fprintf(stderr, "embp: %s\n", err.msg);
        return 1;
    }
    return -1;
}

/* Checks --dimensions against r's model and reads its --encoding's ranges into r->ranges;
 * prints what is wrong and returns 0. */
static int embed_opts_ok(const embp_cli_args *a, const embp_config *c, run_ctx *r) {
    const embp_model_info *i = &r->m->info;
    embp_error err;
    if (a->dimensions > i->dim) {
        fprintf(stderr, "embp: --dimensions %d is more than the model's %d\n", a->dimensions,
                i->dim);
        return 0;
    }
    if (embp_quant_ranges_parse(c->quantize_ranges, "EMB_PROVIDER_QUANTIZE_RANGES", &r->ranges,
                                &err) != EMBP_OK) {
        fprintf(stderr, "embp: %s\n", err.msg);
        return 0;
    }
    if ((r->encoding == EMBP_ENCODING_INT8 || r->encoding == EMBP_ENCODING_UINT8) &&
        !embp_quant_ranges_fit(&r->ranges, i->dim)) {
        fprintf(stderr, "embp: EMB_PROVIDER_QUANTIZE_RANGES holds %d dimensions; model %s has "
                "%d\n", r->ranges.dim, i->name, i->dim);
        return 0;
    }
    return 1;
}

static int run_texts(int argc, char **argv, unsigned cmd, const char *usage,
                     int (*fn)(const char *, size_t, int, void *), int (*finish)(run_ctx *)) {
    embp_config c;
    embp_cli_args a;
    embp_registry_model *models = NULL;
    int n = 0;
    int rc = parse_and_load(argc, argv, cmd, usage, &c, &a, &models, &n);
    if (rc >= 0)
        return rc;
    run_ctx r = {.m = &models[0], .truncate = c.truncate, .dims = a.dimensions,
                 .encoding = (embp_encoding)a.encoding,
                 .budget = embp_model_max_batch_tokens(models[0].model), .prompt = ""};
    embp_prompt choice = {a.prompt, a.prompt_name};
    embp_error err;
    if (cmd == EMBP_CMD_EMBED && embp_prompt_resolve(models[0].model, &choice, &r.prompt, &err)) {
        fprintf(stderr, "embp: --prompt-name: %s\n", err.msg);
        embp_registry_free(models, n);
        return 2;
    }
    if (cmd == EMBP_CMD_EMBED && (a.query || models[0].info.num_labels)) {
        fprintf(stderr, "embp: %s\n", a.query ? "--query is embp rerank's flag" : "the model is "
                "a reranker (a cross-encoder): it scores pairs (embp rerank --query Q), it makes "
                "no embeddings");
        embp_registry_free(models, n);
        return 2;
    }
    if (cmd == EMBP_CMD_EMBED && !embed_opts_ok(&a, &c, &r)) {
        embp_quant_ranges_free(&r.ranges);
        embp_registry_free(models, n);
        return 2;
    }
    r.ids = embp_calloc((size_t)CHUNK * (size_t)models[0].info.max_seq_len, sizeof(int32_t));
    r.vec = embp_calloc((size_t)CHUNK * (size_t)models[0].info.dim, sizeof(float));
    if (!r.ids || !r.vec)
        fputs("embp: out of memory\n", stderr);
    rc = !r.ids || !r.vec || for_each_text(&a, fn, &r);
    if (finish && !rc)
        rc = finish(&r);
    for (int k = 0; k < r.count; k++) /* left pending by an error */
        embp_free(r.texts[k]);
    embp_free(r.ids);
    embp_free(r.vec);
    embp_buf_free(&r.out);
    embp_quant_ranges_free(&r.ranges);
    embp_registry_free(models, n);
    return rc;
}

int embp_cli_embed(int argc, char **argv) {
    return run_texts(argc, argv, EMBP_CMD_EMBED, "embed [--text T ...] [flags] < lines",
                     embed_one, flush_chunk);
}

/* ---------------------------------------------------------------- rerank */

/* The texts of embp rerank: copies of every --text or stdin line. */
typedef struct {
    char **texts;
    size_t *lens;
    int n, cap;
} text_list;

static int collect_text(const char *text, size_t len, int index, void *ctx) {
    text_list *l = ctx;
    (void)index;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **t = embp_realloc(l->texts, (size_t)cap * sizeof *t);
        size_t *n = t ? embp_realloc(l->lens, (size_t)cap * sizeof *n) : NULL;
        if (t)
            l->texts = t;
        if (!t || !n) {
            fputs("embp: out of memory\n", stderr);
            return 1;
        }
        l->lens = n, l->cap = cap;
    }
    if (!(l->texts[l->n] = embp_strndup(text, len))) {
        fputs("embp: out of memory\n", stderr);
        return 1;
    }
    l->lens[l->n++] = len;
    return 0;
}

typedef struct {
    double logit;
    int index;
} scored;

static int cmp_scored(const void *a, const void *b) { /* best first, ties in input order */
    const scored *x = a, *y = b;
    return x->logit != y->logit ? (x->logit < y->logit ? 1 : -1) : (x->index > y->index) -
                                                                      (x->index < y->index);
}

/* Tokenizes each (query, text) pair, scores them in one model call (split into passes by the
 * token budget) and prints them best first. */
static int rerank_texts(embp_registry_model *m, const char *query, int truncate,
                        const text_list *l) {
    size_t cap = (size_t)m->max_seq_len, n = (size_t)l->n;
    int32_t *ids = embp_malloc((n ? n : 1) * cap * sizeof *ids);
    int32_t *types = embp_malloc((n ? n : 1) * cap * sizeof *types);
    const int32_t **pi = embp_calloc(n ? n : 1, sizeof *pi), **pt = embp_calloc(n ? n : 1,
                                                                                sizeof *pt);
    int *lens = embp_calloc(n ? n : 1, sizeof *lens);
    float *logits = embp_calloc(n ? n : 1, sizeof *logits);
    scored *order = embp_calloc(n ? n : 1, sizeof *order);
    embp_error err;
    int rc = !ids || !types || !pi || !pt || !lens || !logits || !order;
    if (rc)
        fputs("embp: out of memory\n", stderr);
    for (size_t i = 0; !rc && i < n; i++) {
        int full = 0;
        pi[i] = ids + i * cap, pt[i] = types + i * cap;
        embp_status st = embp_registry_tokenize_pair(m, query, strlen(query), l->texts[i],
                                                     l->lens[i], truncate, 0, 0, ids + i * cap,
                                                     types + i * cap, &lens[i], &full, &err);
        if (st == EMBP_ETOOLONG)
            fprintf(stderr, "embp: the query with line %zu has %d tokens; the model takes at "
                    "most %d (--no-truncate)\n", i + 1, full, m->max_seq_len);
        else if (st != EMBP_OK)
            fprintf(stderr, "embp: line %zu: %s\n", i + 1, err.msg);
        rc = st != EMBP_OK;
    }
    if (!rc && (embp_model_check_tokens(m->model, pi, lens, (int)n, &err) ||
                embp_model_score_checked(m->model, pi, pt, lens, (int)n, logits, &err))) {
        fprintf(stderr, "embp: %s\n", err.msg);
        rc = 1;
    }
    for (size_t i = 0; !rc && i < n; i++)
        order[i] = (scored){logits[i], (int)i};
    if (!rc)
        qsort(order, n, sizeof *order, cmp_scored);
    embp_buf out = {0};
    for (size_t k = 0; !rc && k < n; k++) {
        int i = order[k].index;
        char f[32], g[32], mid[48];
        put_text_field(&out, l->texts[i], l->lens[i], i);
        embp_format_float((float)(1.0 / (1.0 + exp(-order[k].logit))), f);
        embp_format_float((float)order[k].logit, g);
        snprintf(mid, sizeof mid, ",\"tokens\":%d,\"score\":", lens[i]);
        embp_buf_puts(&out, mid);
        embp_buf_puts(&out, f);
        embp_buf_puts(&out, ",\"logit\":");
        embp_buf_puts(&out, g);
        embp_buf_puts(&out, "}\n");
    }
    if (!rc)
        rc = out.oom || fwrite(out.p, 1, out.len, stdout) != out.len;
    embp_buf_free(&out);
    embp_free(ids), embp_free(types), embp_free(pi), embp_free(pt);
    embp_free(lens), embp_free(logits), embp_free(order);
    return rc;
}

int embp_cli_rerank(int argc, char **argv) {
    embp_config c;
    embp_cli_args a;
    embp_registry_model *models = NULL;
    int n = 0;
    int rc = parse_and_load(argc, argv, EMBP_CMD_EMBED, "rerank --query Q [--text T ...] "
                            "[flags] < lines", &c, &a, &models, &n);
    if (rc >= 0)
        return rc;
    text_list l = {0};
    if (!a.query || a.dimensions)
        fprintf(stderr, "embp rerank: %s\n", a.dimensions ? "--dimensions is embp embed's flag"
                : "--query Q is required (the query each text is scored against)");
    else if (!models[0].info.num_labels)
        fprintf(stderr, "embp rerank: model %s is an embedding model, not a reranker (a "
                "cross-encoder: config.json architectures *ForSequenceClassification)\n",
                models[0].info.name);
    rc = !a.query || a.dimensions || !models[0].info.num_labels ? 2 : 0;
    if (!rc)
        rc = for_each_text(&a, collect_text, &l) || rerank_texts(&models[0], a.query, c.truncate,
                                                                 &l);
    for (int i = 0; i < l.n; i++)
        embp_free(l.texts[i]);
    embp_free(l.texts);
    embp_free(l.lens);
    embp_registry_free(models, n);
    return rc;
}

int embp_cli_tokenize(int argc, char **argv) {
    return run_texts(argc, argv, EMBP_CMD_TOKENIZE, "tokenize [--text T ...] [flags] < lines",
                     tokenize_one, NULL);
}

static void print_info_text(const embp_registry_model *m, const embp_cpu *cpu, const char *feats,
                            const char *all) {
    const embp_model_info *i = &m->info;
    if (i->is_demo)
        printf("WARN: %s is a DEMO model: seeded random weights, its vectors carry no meaning\n",
               i->name);
    printf("model         %s\npath          %s\narchitecture  %s\n", i->name, i->path,
           i->architecture ? i->architecture : "");
    printf("shapes        hidden %d, layers %d, heads %d, intermediate %d, vocab %d, "
           "positions %d\n", i->hidden, i->layers, i->heads, i->intermediate, i->vocab_size,
           i->max_position);
    if (i->num_labels)
        printf("kind          reranker: a cross-encoder scoring (query, text) pairs (embp rerank, "
               "POST /rerank, /v1/rerank)\n");
    printf("embedding     dim %d, pooling %s, normalize %s\nmax_seq_len   %d\n", i->dim,
           embp_pooling_str(i->pooling), i->normalize ? "yes" : "no", m->max_seq_len);
    if (i->n_dense)
        printf("modules       %d Dense after pooling (fp32), include_prompt %s\n", i->n_dense,
               i->include_prompt ? "true" : "false");
    for (int k = 0; k < i->n_prompts; k++) {
        const char *text, *name = embp_model_prompt(m->model, k, &text);
        printf("%-13s %s: \"%s\"%s\n", k ? "" : "prompts", name, text,
               i->default_prompt_name && !strcmp(name, i->default_prompt_name) ? " (default)"
                                                                                : "");
    }
    printf("weights       %.1f MiB in memory\n", (double)i->weight_bytes / (1024.0 * 1024.0));
    printf("precision     storage %s, compute %s, accumulation %s%s%s\n", i->storage, i->compute,
           i->accumulation, i->plan_reason && *i->plan_reason ? "; " : "",
           i->plan_reason ? i->plan_reason : "");
    printf("requested     %s\n", i->requested ? i->requested : "");
    if (i->quant_group_size)
        printf("int4 group    %d weights along K, fp16 scales\n", i->quant_group_size);
    if (isnan(i->fidelity_mean))
        printf("fidelity      not measured (embp info --fidelity measures it)\n");
    else if (i->num_labels > 0)
        printf("fidelity      scores: mean Pearson r %.6f, min %.6f to fp32's logits of the "
               "probe pairs\n", i->fidelity_mean, i->fidelity_min);
    else
        printf("fidelity      mean cosine %.6f, min %.6f to fp32 on the probe set\n",
               i->fidelity_mean, i->fidelity_min);
    printf("cpu           %s (%s), %d cores\n", cpu->brand, cpu->vendor, cpu->n_cores);
    printf("features      %s\nmasked        %s\n", feats, *cpu->masked ? cpu->masked : "none");
    char omp[160];
    printf("openmp        %s\n", embp_openmp_describe(omp, sizeof omp));
    (void)all;
}

static void print_info_json(const embp_registry_model *m, const embp_cpu *cpu, const char *feats,
                            const char *all) {
    const embp_model_info *i = &m->info;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:i, s:s, s:b, s:i, s:I, "
        "s:{s:s, s:s, s:s, s:s}, s:b, s:{s:s, s:s, s:i, s:s, s:s, s:s}}",
        "name", i->name, "path", i->path, "architecture", i->architecture ? i->architecture : "",
        "shapes", "hidden", i->hidden, "layers", i->layers, "heads", i->heads, "intermediate",
        i->intermediate, "vocab_size", i->vocab_size, "max_position", i->max_position, "dim",
        i->dim, "pooling", embp_pooling_str(i->pooling), "normalize", i->normalize,
        "max_seq_len", m->max_seq_len, "weight_bytes", (json_int_t)i->weight_bytes, "precision",
        "storage", i->storage, "compute", i->compute, "accumulation", i->accumulation, "reason",
        i->plan_reason ? i->plan_reason : "", "demo", i->is_demo, "cpu", "vendor", cpu->vendor,
        "brand", cpu->brand, "cores", cpu->n_cores, "features", feats, "features_unmasked", all,
        "masked", cpu->masked);
    if (o) {
        json_object_set_new(o, "precision", embp_registry_precision_json(i));
        json_object_set_new(o, "kind", json_string(embp_registry_kind(i)));
        json_object_set_new(o, "prompts", embp_registry_prompts_json(m));
        json_object_set_new(o, "dense_modules", json_integer(i->n_dense));
        char omp[160];
        json_object_set_new(o, "openmp", json_string(embp_openmp_describe(omp, sizeof omp)));
    }
    if (o && i->is_demo)
        json_object_set_new(o, "warning", json_string("demo model: seeded random weights, the "
                                                      "vectors carry no meaning"));
    char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

int embp_cli_info(int argc, char **argv) {
    embp_config c;
    embp_cli_args a;
    embp_registry_model *models = NULL;
    int n = 0;
    int rc = parse_and_load(argc, argv, EMBP_CMD_INFO, "info [--json] [flags]", &c, &a, &models,
                            &n);
    if (rc >= 0)
        return rc;
    embp_error err;
    const embp_cpu *cpu = embp_cpu_get();
    char feats[512], all[512];
    embp_cpu_features_str(cpu, feats, sizeof feats);
    embp_cpu_features_str(embp_cpu_get_unmasked(), all, sizeof all);
    for (int k = 0; k < n; k++) {
        if (a.fidelity) {
            const char *cache = strcmp(c.fidelity_cache, "off") ? c.fidelity_cache : NULL;
            if (embp_model_measure_fidelity(models[k].model, cache, &err) != EMBP_OK) {
                fprintf(stderr, "embp: measuring fidelity of %s: %s\n", models[k].info.name,
                        err.msg);
                embp_registry_free(models, n);
                return 1;
            }
            embp_model_get_info(models[k].model, &models[k].info);
        }
        (a.json ? print_info_json : print_info_text)(&models[k], cpu, feats, all);
    }
    embp_registry_free(models, n);
    return 0;
}
