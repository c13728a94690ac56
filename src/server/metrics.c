/* GET /metrics (metrics.h): counters and fixed-bucket histograms under one mutex, written in
 * Prometheus' text format. By hand: the format is a few lines of text, and the C client
 * library (prometheus-client-c) is not in Debian. */
#include "server/metrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"

/* ---------------------------------------------------------------- histograms */

#define MAX_BUCKETS 16

typedef struct {
    const double *le; /* n upper bounds, ascending; +Inf is implicit */
    int n;
} buckets;

/* clang-format off */
static const double secs[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                              1, 2.5, 5, 10, 30};
static const double seqs[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double toks[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536};
/* clang-format on */
static const buckets secs_b = {secs, sizeof secs / sizeof secs[0]};
static const buckets seqs_b = {seqs, sizeof seqs / sizeof seqs[0]};
static const buckets toks_b = {toks, sizeof toks / sizeof toks[0]};

typedef struct {
    unsigned long count[MAX_BUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
    double sum;
} histogram;

static void observe(histogram *h, const buckets *b, double v) {
    int i = 0;
    while (i < b->n && v > b->le[i])
        i++;
    h->count[i]++;
    h->sum += v;
}

/* ---------------------------------------------------------------- the counters */

#define MAX_ROUTES   64  /* distinct routes seen (the table's, plus "unmatched") */
#define MAX_STATUSES 256 /* distinct (route, status) pairs */

typedef struct {
    struct embp_metrics *m;
    embp_registry_model *rm;
    histogram wait, batch, tokens;
    unsigned long tokens_total, inputs_total;
} model_metrics;

struct embp_metrics {
    pthread_mutex_t mu;
    double started; /* CLOCK_REALTIME seconds at create */
    double started_mono;
    int n_routes, n_statuses;
    struct {
        const char *route;
        histogram latency;
    } routes[MAX_ROUTES];
    struct {
        const char *route;
        int status;
        unsigned long n;
    } statuses[MAX_STATUSES];
    int n_models;
    model_metrics models[]; /* n_models */
};

/* Batcher observers: on the worker thread, under the batcher's lock; take only ours. */
static void on_start(void *ctx, double wait_s) {
    model_metrics *mm = ctx;
    pthread_mutex_lock(&mm->m->mu);
    observe(&mm->wait, &secs_b, wait_s);
    pthread_mutex_unlock(&mm->m->mu);
}

static void on_pass(void *ctx, int n, long tokens) {
    model_metrics *mm = ctx;
    pthread_mutex_lock(&mm->m->mu);
    observe(&mm->batch, &seqs_b, n);
    observe(&mm->tokens, &toks_b, (double)tokens);
    mm->inputs_total += (unsigned long)n;
    mm->tokens_total += (unsigned long)tokens;
    pthread_mutex_unlock(&mm->m->mu);
}

embp_metrics *embp_metrics_create(embp_registry_model *models, int n_models) {
    embp_metrics *m = embp_calloc(1, sizeof *m + (size_t)n_models * sizeof(model_metrics));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->started = embp_clock_s(CLOCK_REALTIME);
    m->started_mono = embp_clock_s(CLOCK_MONOTONIC);
    m->n_models = n_models;
    for (int i = 0; i < n_models; i++) {
        model_metrics *mm = &m->models[i];
        mm->m = m;
        mm->rm = &models[i];
        if (models[i].batcher)
            embp_batcher_observe(models[i].batcher,
                                 &(embp_batcher_observer){on_start, on_pass, mm});
    }
    return m;
}

void embp_metrics_free(embp_metrics *m) {
    if (!m)
        return;
    for (int i = 0; i < m->n_models; i++)
        if (m->models[i].rm->batcher)
            embp_batcher_observe(m->models[i].rm->batcher, NULL);
    pthread_mutex_destroy(&m->mu);
    embp_free(m);
}

static int same_route(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

void embp_metrics_request(embp_metrics *m, const char *route, int status, double seconds) {
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    int i = 0, k = 0;
    while (i < m->n_routes && !same_route(m->routes[i].route, route))
        i++;
    if (i == m->n_routes && i < MAX_ROUTES)
        m->routes[m->n_routes++].route = route;
    if (i < m->n_routes)
        observe(&m->routes[i].latency, &secs_b, seconds);
    while (k < m->n_statuses &&
           !(m->statuses[k].status == status && same_route(m->statuses[k].route, route)))
        k++;
    if (k == m->n_statuses && k < MAX_STATUSES) {
        m->statuses[k].route = route;
        m->statuses[k].status = status;
        m->n_statuses++;
    }
    if (k < m->n_statuses)
        m->statuses[k].n++;
    pthread_mutex_unlock(&m->mu);
}

/* ---------------------------------------------------------------- exposition */

static void family(embp_buf *b, const char *name, const char *type, const char *help) {
    char line[512];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    embp_buf_puts(b, line);
}

/* v as a label value: backslash, double quote and newline escaped, as the format asks. */
static void label_value(embp_buf *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            embp_buf_append(b, "\\", 1);
        if (*v == '\n')
            embp_buf_puts(b, "\\n");
        else
            embp_buf_append(b, v, 1);
    }
}

/* name{label="value"[,extra]} then " value\n". */
static void sample(embp_buf *b, const char *name, const char *label, const char *value,
                   const char *extra, double v) {
    embp_buf_puts(b, name);
    if (label) {
        embp_buf_puts(b, "{");
        embp_buf_puts(b, label);
        embp_buf_puts(b, "=\"");
        label_value(b, value);
        embp_buf_puts(b, "\"");
        if (extra) {
            embp_buf_puts(b, ",");
            embp_buf_puts(b, extra);
        }
        embp_buf_puts(b, "}");
    }
    char num[48]; /* counts as integers; sums and gauges to 9 digits */
    if (v == (double)(long long)v && v < 1e15 && v > -1e15)
        snprintf(num, sizeof num, " %lld\n", (long long)v);
    else
        snprintf(num, sizeof num, " %.9g\n", v);
    embp_buf_puts(b, num);
}

static void write_histogram(embp_buf *b, const char *name, const char *label, const char *value,
                            const histogram *h, const buckets *bk) {
    char series[160], le[48];
    unsigned long cum = 0;
    snprintf(series, sizeof series, "%s_bucket", name);
    for (int i = 0; i <= bk->n; i++) {
        cum += h->count[i];
        if (i < bk->n)
            snprintf(le, sizeof le, "le=\"%g\"", bk->le[i]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        sample(b, series, label, value, le, (double)cum);
    }
    snprintf(series, sizeof series, "%s_sum", name);
    sample(b, series, label, value, NULL, h->sum);
    snprintf(series, sizeof series, "%s_count", name);
    sample(b, series, label, value, NULL, (double)cum);
}

static const char *route_label(const char *route) {
    return route ? route : "unmatched";
}

static void write_requests(embp_buf *b, const embp_metrics *m) {
    family(b, "embp_http_requests_total", "counter", "HTTP requests answered, by route (the "
           "route table's path; unmatched: no route) and status");
    for (int k = 0; k < m->n_statuses; k++) {
        char st[32];
        snprintf(st, sizeof st, "status=\"%d\"", m->statuses[k].status);
        sample(b, "embp_http_requests_total", "route", route_label(m->statuses[k].route), st,
               (double)m->statuses[k].n);
    }
    family(b, "embp_http_request_duration_seconds", "histogram", "time from a request's "
           "headers to its answer, by route");
    for (int i = 0; i < m->n_routes; i++)
        write_histogram(b, "embp_http_request_duration_seconds", "route",
                        route_label(m->routes[i].route), &m->routes[i].latency, &secs_b);
}

/* queued[2 i], queued[2 i + 1]: model i's queued tokens and requests, read before taking m's
 * lock (the batcher's lock is taken before ours by the observers, never after). */
static void write_models(embp_buf *b, const embp_metrics *m, const long *queued) {
    static const struct {
        const char *name, *help;
        size_t off;
        const buckets *bk;
    } hists[] = {
        {"embp_queue_wait_seconds", "time from a request's submit to the batcher until its "
         "first sequence runs, by model", offsetof(model_metrics, wait), &secs_b},
        {"embp_batch_size", "sequences per forward pass, by model",
         offsetof(model_metrics, batch), &seqs_b},
        {"embp_batch_tokens", "tokens per forward pass, by model",
         offsetof(model_metrics, tokens), &toks_b},
    };
    for (size_t h = 0; h < sizeof hists / sizeof hists[0]; h++) {
        family(b, hists[h].name, "histogram", hists[h].help);
        for (int i = 0; i < m->n_models; i++)
            write_histogram(b, hists[h].name, "model", m->models[i].rm->info.name,
                            (const histogram *)(const void *)((const char *)&m->models[i] +
                                                              hists[h].off), hists[h].bk);
    }
    family(b, "embp_queue_tokens", "gauge", "tokens waiting in the model's batcher queue");
    for (int i = 0; i < m->n_models; i++)
        sample(b, "embp_queue_tokens", "model", m->models[i].rm->info.name, NULL,
               (double)queued[2 * i]);
    family(b, "embp_queue_requests", "gauge", "requests with sequences waiting in the model's "
           "batcher queue");
    for (int i = 0; i < m->n_models; i++)
        sample(b, "embp_queue_requests", "model", m->models[i].rm->info.name, NULL,
               (double)queued[2 * i + 1]);
    family(b, "embp_tokens_total", "counter", "tokens embedded, by model");
    for (int i = 0; i < m->n_models; i++)
        sample(b, "embp_tokens_total", "model", m->models[i].rm->info.name, NULL,
               (double)m->models[i].tokens_total);
    family(b, "embp_inputs_total", "counter", "inputs (sequences) embedded, by model");
    for (int i = 0; i < m->n_models; i++)
        sample(b, "embp_inputs_total", "model", m->models[i].rm->info.name, NULL,
               (double)m->models[i].inputs_total);
}

/* Resident and virtual memory from /proc/self/statm (pages); 0 where it cannot be read. */
static void process_memory(double *rss, double *vsize) {
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            size = resident = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    *rss = (double)resident * page;
    *vsize = (double)size * page;
}

static void write_process(embp_buf *b, const embp_metrics *m) {
    double rss, vsize;
    process_memory(&rss, &vsize);
    family(b, "process_resident_memory_bytes", "gauge", "resident memory size in bytes");
    sample(b, "process_resident_memory_bytes", NULL, NULL, NULL, rss);
    family(b, "process_virtual_memory_bytes", "gauge", "virtual memory size in bytes");
    sample(b, "process_virtual_memory_bytes", NULL, NULL, NULL, vsize);
    family(b, "embp_start_time_seconds", "gauge", "when the server started, seconds since the "
           "Unix epoch");
    sample(b, "embp_start_time_seconds", NULL, NULL, NULL, m->started);
    family(b, "embp_uptime_seconds", "gauge", "seconds since the server started");
    sample(b, "embp_uptime_seconds", NULL, NULL, NULL,
           embp_clock_s(CLOCK_MONOTONIC) - m->started_mono);
}

void embp_metrics_write(embp_metrics *m, embp_buf *b) {
    long queued[64] = {0}, *q = m->n_models <= 32 ? queued
                                                  : embp_calloc(2 * (size_t)m->n_models,
                                                                sizeof *q);
    if (!q) {
        b->oom = 1;
        return;
    }
    for (int i = 0; i < m->n_models; i++) {
        embp_batcher *bt = m->models[i].rm->batcher;
        q[2 * i] = bt ? embp_batcher_queued_tokens(bt) : 0;
        q[2 * i + 1] = bt ? embp_batcher_queued_requests(bt) : 0;
    }
    pthread_mutex_lock(&m->mu);
    write_requests(b, m);
    write_models(b, m, q);
    write_process(b, m);
    pthread_mutex_unlock(&m->mu);
    if (q != queued)
        embp_free(q);
}
