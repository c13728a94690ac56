/* The embp binary ($EMBP_BIN) from outside: embed and tokenize against the HF tokenizers +
 * ONNX Runtime peer, info --json against config.json, --help and bad values, broken model
 * folders, and SIGTERM while a request is in flight (it still gets its full answer). */
#include "srvutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

/* ---------------------------------------------------------------- running the binary */

typedef struct {
    pid_t pid;
    int out, err; /* read ends of the child's stdout and stderr */
} child;

/* Starts EMBP_BIN with args (NULL-terminated, after argv[0]), extra environment entries
 * ("K=V", NULL-terminated, may be NULL) and stdin from stdin_path (NULL: /dev/null). */
static child spawn(const char *const *args, const char *const *env, const char *stdin_path) {
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        fail_msg("pipe: %s", strerror(errno));
    child c = {fork(), po[0], pe[0]};
    if (c.pid == 0) {
        int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)(uintptr_t)env[i]);
        const char *argv[64] = {tu_bin()};
        for (int i = 0; args[i] && i < 62; i++)
            argv[i + 1] = args[i];
        execv(tu_bin(), (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    return c;
}

/* Appends what is readable on fd to *buf (len *n); returns 0 at EOF. */
static int drain(int fd, char **buf, size_t *n) {
    char tmp[65536];
    ssize_t k = read(fd, tmp, sizeof tmp);
    if (k <= 0)
        return 0;
    *buf = realloc(*buf, *n + (size_t)k + 1);
    memcpy(*buf + *n, tmp, (size_t)k);
    *n += (size_t)k;
    (*buf)[*n] = '\0';
    return 1;
}

/* Collects the child's stdout and stderr until both close, then its exit status (the raw
 * waitpid status). Kills it after 120 s. */
static int finish(child c, char **out, char **err) {
    size_t no = 0, ne = 0;
    *out = calloc(1, 1);
    *err = calloc(1, 1);
    int open_o = 1, open_e = 1;
    time_t t0 = time(NULL);
    while (open_o || open_e) {
        struct pollfd p[2] = {{open_o ? c.out : -1, POLLIN, 0}, {open_e ? c.err : -1, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            open_o = drain(c.out, out, &no);
        if (p[1].revents)
            open_e = drain(c.err, err, &ne);
        if (time(NULL) - t0 > 120) {
            kill(c.pid, SIGKILL);
            break;
        }
    }
    close(c.out);
    close(c.err);
    int st = 0;
    waitpid(c.pid, &st, 0);
    return st;
}

static int run(const char *const *args, const char *const *env, const char *stdin_path,
               char **out, char **err) {
    return finish(spawn(args, env, stdin_path), out, err);
}

/* The child exited normally with code (not killed by a signal). */
static void expect_exit(int st, int code, const char *what, const char *err) {
    if (!WIFEXITED(st))
        fail_msg("%s: killed by signal %d\nstderr: %.2000s", what, WTERMSIG(st), err);
    if (code >= 0 ? WEXITSTATUS(st) != code : WEXITSTATUS(st) == 0)
        fail_msg("%s: exit code %d, expected %s%d\nstderr: %.2000s", what, WEXITSTATUS(st),
                 code >= 0 ? "" : "not ", code >= 0 ? code : 0, err);
}

/* ---------------------------------------------------------------- embed, tokenize, info */

/* Checks `embp embed` JSON lines in out against peer rows: text, token count, vector. */
static void expect_embed_lines_match_peer(char *out, const json_t *peer, const char *label) {
    size_t n = json_array_size(peer), i = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        json_t *j = json_loads(line, JSON_ALLOW_NUL, NULL), *row = json_array_get(peer, i);
        if (!j || !row)
            fail_msg("%s: line %zu is not JSON or has no peer row: %.200s", label, i, line);
        assert_int_equal(json_integer_value(json_object_get(j, "index")), i);
        assert_true(json_equal(json_object_get(j, "text"), json_object_get(row, "text")));
        assert_int_equal(json_integer_value(json_object_get(j, "tokens")),
                         json_array_size(json_object_get(row, "input_ids")));
        json_t *e = json_object_get(j, "embedding");
        float got[1024];
        double want[1024];
        int d = su_peer_vec(row, want, 1024);
        assert_int_equal(json_array_size(e), d);
        for (int k = 0; k < d; k++)
            got[k] = (float)json_number_value(json_array_get(e, (size_t)k));
        double cos = tu_cosine(got, want, d), md = tu_maxdiff(got, want, d);
        if (!(cos >= 0.99999 && md <= 1e-4))
            fail_msg("%s line %zu: cosine %.7f max|diff| %.3g (embp %.6f peer %.6f)", label, i,
                     cos, md, (double)got[0], want[0]);
        json_decref(j);
    }
    if (i != n)
        fail_msg("%s: %zu lines out, the peer has %zu", label, i, n);
}

static void test_embed_lines_of_stdin_equal_the_peer(void **state) {
    (void)state;
    char *model = tu_fixture("tiny"), *corpus = tu_fixture("sentences.txt");
    char *pp = tu_fixture("tiny.peer.jsonl");
    json_t *peer = tu_read_jsonl(pp);
    /* 200 tokens per chunk forces many flushes by budget; the default, one chunk of 81. */
    const char *budgets[] = {"16384", "200"};
    for (int b = 0; b < 2; b++) {
        const char *args[] = {"embed", "--model", model, "--max-batch-tokens", budgets[b], NULL};
        char *out, *err;
        int st = run(args, NULL, corpus, &out, &err);
        expect_exit(st, 0, "embp embed", err);
        expect_embed_lines_match_peer(out, peer, budgets[b]);
        free(out);
        free(err);
    }
    json_decref(peer);
    free(pp);
    free(model);
    free(corpus);
}

static void test_tokenize_ids_equal_the_peer(void **state) {
    (void)state;
    char *model = tu_fixture("tiny"), *tp = tu_fixture("tiny.tokens.jsonl");
    char corpus[4096];
    snprintf(corpus, sizeof corpus, "%s/tests/data/tokenizer_corpus.txt", tu_source());
    json_t *peer = tu_read_jsonl(tp);
    const char *args[] = {"tokenize", "--model", model, NULL};
    char *out, *err;
    int st = run(args, NULL, corpus, &out, &err);
    expect_exit(st, 0, "embp tokenize", err);
    size_t i = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        json_t *j = json_loads(line, JSON_ALLOW_NUL, NULL), *row = json_array_get(peer, i);
        json_t *got = json_object_get(j, "ids"), *want = json_object_get(row, "input_ids");
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
            fail_msg("line %zu %s\n embp %s\n peer %s", i,
                     json_string_value(json_object_get(row, "text")), g, w);
        }
        assert_int_equal(json_array_size(json_object_get(j, "tokens")), json_array_size(want));
        json_decref(j);
    }
    assert_int_equal(i, json_array_size(peer));
    json_decref(peer);
    free(out);
    free(err);
    free(tp);
    free(model);
}

/* Finite weights that overflow in the forward pass (word row of "a", id 5, and the token-type
 * row at 3e38 each: +inf in the sum, NaN after LayerNorm; see test_model.c): embed exits 1
 * naming the model and the input and never prints "nan"; lines without "a" still embed. */
static void test_embed_of_a_non_finite_vector_fails_instead_of_printing_nan(void **state) {
    (void)state;
    const char *names[] = {"embeddings.word_embeddings.weight",
                           "embeddings.token_type_embeddings.weight"};
    long at[] = {5 * 64, 0};
    float big[] = {3e38f, 3e38f};
    char *dir = tu_fixture_copy_with_values("tiny", names, at, big, 2);
    const char *args[] = {"embed", "--model", dir, "--text", "b c", "--text", "a b", NULL};
    char *out, *err;
    int st = run(args, NULL, NULL, &out, &err);
    print_message("stderr: %s", err);
    expect_exit(st, 1, "embp embed of an overflowing input", err);
    assert_null(strstr(out, "nan"));
    assert_null(strstr(out, "NaN"));
    assert_non_null(strstr(err, "model '"));
    assert_non_null(strstr(err, "input 1"));
    free(out), free(err);
    const char *ok_args[] = {"embed", "--model", dir, "--text", "b c", NULL};
    st = run(ok_args, NULL, NULL, &out, &err);
    expect_exit(st, 0, "embp embed without the overflowing token", err);
    assert_non_null(strstr(out, "\"embedding\""));
    free(out), free(err);
    tu_remove_dir(dir);
}

static void test_info_json_names_the_model_and_its_config_shapes(void **state) {
    (void)state;
    char *model = tu_fixture("tiny"), *cfgp = tu_fixture("tiny/config.json");
    json_t *cfg = json_load_file(cfgp, 0, NULL);
    const char *args[] = {"info", "--json", "--model", model, NULL};
    char *out, *err;
    int st = run(args, NULL, NULL, &out, &err);
    expect_exit(st, 0, "embp info --json", err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("info --json is not JSON (%s): %.500s", je.text, out);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "tiny");
    assert_string_equal(json_string_value(json_object_get(j, "architecture")), "BertModel");
    json_t *shapes = json_object_get(j, "shapes");
    const char *pairs[][2] = {{"hidden", "hidden_size"}, {"layers", "num_hidden_layers"},
                              {"heads", "num_attention_heads"},
                              {"intermediate", "intermediate_size"},
                              {"vocab_size", "vocab_size"}};
    for (int k = 0; k < 5; k++)
        if (json_integer_value(json_object_get(shapes, pairs[k][0])) !=
            json_integer_value(json_object_get(cfg, pairs[k][1])))
            fail_msg("shapes.%s is %lld, config.json %s is %lld", pairs[k][0],
                     (long long)json_integer_value(json_object_get(shapes, pairs[k][0])),
                     pairs[k][1], (long long)json_integer_value(json_object_get(cfg, pairs[k][1])));
    assert_string_equal(json_string_value(json_object_get(j, "pooling")), "mean");
    json_decref(j);
    json_decref(cfg);
    free(out);
    free(err);
    free(cfgp);
    free(model);
}

/* ---------------------------------------------------------------- flags */

static void test_help_of_each_command_exits_0_and_names_every_flag(void **state) {
    (void)state;
    /* The documented flags of each command (README settings table), and their variables. */
    static const char *common[] = {"--model", "EMB_PROVIDER_MODEL_PATH", "--model-name",
                                   "EMB_PROVIDER_MODEL_NAME", "--log-level",
                                   "EMB_PROVIDER_LOG_LEVEL", "--help", NULL};
    static const char *serve[] = {
        "--host", "--port", "EMB_PROVIDER_PORT", "--api-key", "--max-batch-size",
        "--max-context-length", "--max-request-bytes", "--max-batch-tokens",
        "--max-wait-time-ms", "--max-queue-tokens", "EMB_PROVIDER_MAX_QUEUE_TOKENS",
        "--max-connections", "--timeout", "--truncate", "--no-truncate", "--threads",
        "--precision", "--storage-precision", "--computation-precision", "--precision-overrides",
        "--enable-quantization", "--quantization-method", "--precision-strict",
        "--length-grouping", "EMB_PROVIDER_ENABLE_LENGTH_GROUPING", NULL};
    static const char *embed[] = {"--text", "--dimensions", "--truncate", "--max-batch-tokens",
                                  "--max-context-length", "--threads", "--precision", NULL};
    static const char *tokenize[] = {"--text", "--truncate", "--max-context-length", NULL};
    static const char *info[] = {"--json", "--threads", "--precision", NULL};
    struct {
        const char *cmd, **flags;
    } cmds[] = {{"serve", serve}, {"embed", embed}, {"tokenize", tokenize}, {"info", info}};
    for (int c = 0; c < 4; c++) {
        const char *args[] = {cmds[c].cmd, "--help", NULL};
        char *out, *err;
        int st = run(args, NULL, NULL, &out, &err);
        expect_exit(st, 0, cmds[c].cmd, err);
        for (const char **f = common; *f; f++)
            if (!strstr(out, *f))
                fail_msg("embp %s --help does not name %s:\n%s", cmds[c].cmd, *f, out);
        for (const char **f = cmds[c].flags; *f; f++)
            if (!strstr(out, *f))
                fail_msg("embp %s --help does not name %s:\n%s", cmds[c].cmd, *f, out);
        free(out);
        free(err);
    }
    /* quantize and demo-model take their own flags, not the settings table */
    static const char *quantize[] = {"--precision", "int8", "int4", "bf16", "fp16", "--group-size",
                                     "--method", "rtn", "--no-fidelity", "--force", "--help", NULL};
    static const char *demo[] = {"--seed", "--assets", "random weights", NULL};
    struct {
        const char *cmd, **flags;
    } own[] = {{"quantize", quantize}, {"demo-model", demo}};
    for (int c = 0; c < 2; c++) {
        const char *args[] = {own[c].cmd, "--help", NULL};
        char *out, *err;
        int st = run(args, NULL, NULL, &out, &err);
        expect_exit(st, 0, own[c].cmd, err);
        for (const char **f = own[c].flags; *f; f++)
            if (!strstr(out, *f))
                fail_msg("embp %s --help does not name %s:\n%s", own[c].cmd, *f, out);
        free(out);
        free(err);
    }
    const char *args[] = {"--help", NULL};
    char *out, *err;
    int st = run(args, NULL, NULL, &out, &err);
    expect_exit(st, 0, "embp --help", err);
    assert_non_null(strstr(out, "serve"));
    assert_non_null(strstr(out, "tokenize"));
    assert_non_null(strstr(out, "quantize"));
    assert_non_null(strstr(out, "EMB_PROVIDER_ENABLE_LENGTH_GROUPING"));
    free(out);
    free(err);
}

/* cmd with args and env exits non-zero (not by a signal), stderr containing needle. */
static void expect_refused(const char *const *args, const char *const *env, const char *needle) {
    char *out, *err;
    int st = run(args, env, NULL, &out, &err);
    expect_exit(st, -1, args[0], err);
    if (!strstr(err, needle))
        fail_msg("embp %s %s: stderr does not name \"%s\":\n%s", args[0], args[1] ? args[1] : "",
                 needle, err);
    free(out);
    free(err);
}

static void test_bad_flag_or_variable_value_exits_nonzero_naming_it(void **state) {
    (void)state;
    const char *a1[] = {"serve", "--port", "99999", NULL};
    expect_refused(a1, NULL, "--port=99999");
    const char *a2[] = {"serve", "--max-queue-tokens=lots", NULL};
    expect_refused(a2, NULL, "--max-queue-tokens=lots");
    const char *a3[] = {"serve", NULL};
    const char *e3[] = {"EMB_PROVIDER_TRUNCATE=maybe", NULL};
    expect_refused(a3, e3, "EMB_PROVIDER_TRUNCATE=maybe");
    const char *e4[] = {"EMB_PROVIDER_LOG_LEVEL=loud", NULL};
    expect_refused(a3, e4, "EMB_PROVIDER_LOG_LEVEL=loud");
    const char *a5[] = {"embed", "--bogus", NULL};
    expect_refused(a5, NULL, "--bogus");
    const char *a6[] = {"embed", "--dimensions", "0", NULL};
    expect_refused(a6, NULL, "--dimensions");
}

/* ---------------------------------------------------------------- broken model folders */

static void write_file(const char *dir, const char *name, const char *text, long truncate_at) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (truncate_at >= 0) {
        assert_int_equal(truncate(p, truncate_at), 0);
        return;
    }
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void test_missing_or_broken_model_folder_names_the_file_and_field(void **state) {
    (void)state;
    const char *args[] = {"info", "--model", NULL, NULL};
    args[2] = "/nonexistent/model";
    expect_refused(args, NULL, "/nonexistent/model/config.json");
    char *d = tu_fixture_copy("tiny");
    args[2] = d;
    write_file(d, "config.json", "{\"model_type\":\"bert\",\"hidden_size\":\"big\"}", -1);
    expect_refused(args, NULL, "hidden_size");
    expect_refused(args, NULL, "config.json");
    tu_remove_dir(d);
    d = tu_fixture_copy("tiny");
    args[2] = d;
    write_file(d, "model.safetensors", NULL, 100);
    expect_refused(args, NULL, "model.safetensors");
    tu_remove_dir(d);
    d = tu_fixture_copy("tiny");
    args[2] = d;
    char p[4096];
    snprintf(p, sizeof p, "%s/tokenizer.json", d);
    assert_int_equal(unlink(p), 0);
    expect_refused(args, NULL, "tokenizer.json");
    const char *embed_args[] = {"embed", "--model", d, "--text", "hello", NULL};
    expect_refused(embed_args, NULL, "tokenizer.json");
    tu_remove_dir(d);
}

/* ---------------------------------------------------------------- SIGTERM */

typedef struct {
    int port;
    const char *body;
    int sent; /* set once the whole request is written */
    httpc_reply reply;
} big_request;

static void *send_big(void *p) {
    big_request *b = p;
    int fd = httpc_connect(b->port);
    char head[256];
    int n = snprintf(head, sizeof head, "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: "
                     "close\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     strlen(b->body));
    b->reply.status = -1;
    if (fd < 0 || httpc_send_all(fd, head, (size_t)n) || httpc_send_all(fd, b->body,
                                                                         strlen(b->body)))
        return NULL;
    __atomic_store_n(&b->sent, 1, __ATOMIC_SEQ_CST);
    char *raw;
    size_t len = httpc_read_all(fd, &raw, 60000);
    httpc_parse(raw, len, &b->reply);
    close(fd);
    return NULL;
}

/* POSTs q (taken) to /v1/embeddings on port from a thread and SIGTERMs pid 100 ms after the
 * body is out (the server has read it and is embedding it); returns the reply once it (or its
 * absence: status -1) is in. Free it with httpc_free. */
static httpc_reply sigterm_during(int port, json_t *q, pid_t pid) {
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    big_request b = {.port = port, .body = body};
    pthread_t th;
    pthread_create(&th, NULL, send_big, &b);
    while (!__atomic_load_n(&b.sent, __ATOMIC_SEQ_CST))
        usleep(1000);
    usleep(100000);
    kill(pid, SIGTERM);
    pthread_join(th, NULL);
    free(body);
    return b.reply;
}

/* Reads the child's stderr until "listening on HOST:PORT"; returns PORT. */
static int wait_listening(child *c, char **log, size_t *n) {
    time_t t0 = time(NULL);
    while (time(NULL) - t0 < 60) {
        struct pollfd p = {c->err, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0 && !drain(c->err, log, n))
            break;
        const char *at = *log ? strstr(*log, "listening on ") : NULL;
        const char *eol = at ? strchr(at, '\n') : NULL, *colon = NULL;
        for (const char *q = at; eol && q < eol; q++)
            if (*q == ':')
                colon = q; /* the last one: an IPv6 host has several */
        if (colon)
            return atoi(colon + 1);
    }
    fail_msg("embp serve did not start listening:\n%s", *log ? *log : "");
    return 0;
}

static void test_sigterm_lets_the_request_in_flight_finish_and_exits_0(void **state) {
    (void)state;
    char *model = tu_fixture("minilm"), *pp = tu_fixture("minilm.peer.jsonl");
    json_t *peer = tu_read_jsonl(pp);
    const char *args[] = {"serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
                          NULL};
    child c = spawn(args, NULL, NULL);
    char *log = NULL;
    size_t nlog = 0;
    int port = wait_listening(&c, &log, &nlog);
    /* 96 inputs, two in 8 of 130-256 tokens: ~7k tokens, ~0.5 s of work on 2 cores (~13 s
     * under ASan with 1024-token passes, inside the server's 30 s drain). */
    enum { N = 96 };
    int rows[N];
    json_t *in = json_array();
    for (int i = 0; i < N; i++) {
        rows[i] = i % 8 == 1 ? 55 : i % 8 == 5 ? 80 : i % 81;
        json_array_append_new(in, json_copy(json_object_get(json_array_get(peer, (size_t)rows[i]),
                                                            "text")));
    }
    json_t *q = json_pack("{s:o, s:s}", "input", in, "encoding_format", "float");
    httpc_reply reply = sigterm_during(port, q, c.pid);
    char *out, *err;
    int st = finish(c, &out, &err);
    if (reply.status != 200)
        fail_msg("request in flight at SIGTERM got %d: %.300s\nserver log:\n%s%s", reply.status,
                 reply.body ? reply.body : "", log ? log : "", err);
    json_t *answer = json_loads(reply.body, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(answer, "data")), N);
    for (int i = 0; i < N; i++) {
        float got[384];
        double want[384];
        assert_int_equal(su_row(answer, i, got, 384), 384);
        su_peer_vec(json_array_get(peer, (size_t)rows[i]), want, 384);
        if (tu_cosine(got, want, 384) < 0.99999)
            fail_msg("row %d: cosine %.7f to the peer", i, tu_cosine(got, want, 384));
    }
    expect_exit(st, 0, "embp serve after SIGTERM", err);
    /* The request's log line comes after the SIGTERM line: it really was in flight. */
    const char *sig = strstr(err, "SIGTERM"), *req = strstr(err, "POST /v1/embeddings status=200");
    if (!sig || !req || req < sig || !strstr(err, "stopped"))
        fail_msg("expected SIGTERM, then the request's line, then stopped:\n%s", err);
    json_decref(answer);
    httpc_free(&reply);
    free(log);
    free(out);
    free(err);
    json_decref(peer);
    free(pp);
    free(model);
}

/* --drain-timeout 0: SIGTERM with a request in flight closes its connection at once (no
 * answer); the log says how many were still running and under which setting, and the process
 * exits 0 once the work already queued is done. */
static void test_sigterm_with_drain_timeout_0_closes_connections_at_once(void **state) {
    (void)state;
    char *model = tu_fixture("minilm");
    const char *args[] = {"serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
                          "--drain-timeout", "0", NULL};
    child c = spawn(args, NULL, NULL);
    char *log = NULL;
    size_t nlog = 0;
    int port = wait_listening(&c, &log, &nlog);
    /* 40 inputs of ~200 tokens: ~8k tokens, ~1 s of work in a release build. */
    json_t *in = json_array();
    for (int i = 0; i < 40; i++) {
        char text[2048] = "";
        for (int w = 0; w < 200; w++)
            strcat(text, w % 3 ? "river " : "stone ");
        json_array_append_new(in, json_string(text));
    }
    json_t *q = json_pack("{s:o}", "input", in);
    httpc_reply reply = sigterm_during(port, q, c.pid);
    char *out, *err;
    int st = finish(c, &out, &err);
    expect_exit(st, 0, "embp serve after SIGTERM with --drain-timeout 0", err);
    if (reply.status == 200 || !strstr(err, "1 requests were still running after 0 s") ||
        !strstr(err, "EMB_PROVIDER_DRAIN_TIMEOUT_S"))
        fail_msg("expected no answer and the drain warning, got status %d; log:\n%s",
                 reply.status, err);
    httpc_free(&reply);
    free(log);
    free(out);
    free(err);
    free(model);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_lines_of_stdin_equal_the_peer),
        cmocka_unit_test(test_tokenize_ids_equal_the_peer),
        cmocka_unit_test(test_info_json_names_the_model_and_its_config_shapes),
        cmocka_unit_test(test_embed_of_a_non_finite_vector_fails_instead_of_printing_nan),
        cmocka_unit_test(test_help_of_each_command_exits_0_and_names_every_flag),
        cmocka_unit_test(test_bad_flag_or_variable_value_exits_nonzero_naming_it),
        cmocka_unit_test(test_missing_or_broken_model_folder_names_the_file_and_field),
        cmocka_unit_test(test_sigterm_lets_the_request_in_flight_finish_and_exits_0),
        cmocka_unit_test(test_sigterm_with_drain_timeout_0_closes_connections_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
