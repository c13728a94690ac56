/* TEI's routes over real sockets with the tiny fixture, against independent references: /embed
 * rows against the ONNX Runtime peer's vectors (and /v1/embeddings), /tokenize ids against the
 * peer's (HF tokenizers') input_ids and hand-computed byte offsets, batches mixing strings and
 * token ids against the peer's vectors, left truncation against the peer's ids cut by hand,
 * /similarity against the peer's cosines, /decode of hand-checked ids; TEI's error shape and
 * status codes; /info's TEI fields with embp's own object under "embp"; model aliases
 * (EMB_PROVIDER_MODEL_ALIASES) resolved, listed in /v1/models, and refused at load when they
 * name no served model. */
#include "srvutil.h"

static srv_fixture *F;
static json_t *peer;

static const char *alias_env(const char *name) {
    return strcmp(name, "EMB_PROVIDER_MODEL_ALIASES") == 0
               ? "{\"text-embedding-3-small\": \"tiny\", \"ada\": \"tiny\"}"
               : NULL;
}

static void with_aliases(embp_config *c) {
    embp_error err;
    if (embp_config_from_env(c, alias_env, &err) != EMBP_OK)
        fail_msg("aliases: %s", err.msg);
    c->max_context_length = 16; /* so that truncation shows on the peer's longer lines */
}

static int setup(void **state) {
    *state = F = su_start("tiny", with_aliases);
    peer = F->peers[0];
    return 0;
}

/* POSTs body to url; returns the status and the parsed reply in *out (NULL: not JSON). */
static int post(const char *url, const char *body, json_t **out) {
    httpc_reply r = httpc_request(F->port, "POST", url, NULL, body, strlen(body));
    *out = r.body ? json_loads(r.body, JSON_DECODE_ANY, NULL) : NULL;
    int st = r.status;
    if (!*out)
        fprintf(stderr, "%s: not JSON: %.300s\n", url, r.body ? r.body : "");
    httpc_free(&r);
    return st;
}

static int post_json(const char *url, json_t *q, json_t **out) { /* takes q */
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    int st = post(url, body, out);
    free(body);
    return st;
}

static const json_t *peer_row(int i) {
    return json_array_get(peer, (size_t)i);
}

static const char *peer_text(int i) {
    return json_string_value(json_object_get(peer_row(i), "text"));
}

/* TEI's error body: {"error": msg with needle, "error_type": type}, with status. */
static void expect_tei_error(int st, json_t *reply, int status, const char *type,
                             const char *needle) {
    const char *m = json_string_value(json_object_get(reply, "error"));
    const char *t = json_string_value(json_object_get(reply, "error_type"));
    if (st != status || !m || !t || strcmp(t, type) || !strstr(m, needle) ||
        json_object_size(reply) != 2) {
        char *s = reply ? json_dumps(reply, 0) : NULL;
        fail_msg("expected %d %s \"%s\", got %d %s", status, type, needle, st, s ? s : "");
    }
    json_decref(reply);
}

/* The float array v into out (room for max); its length. */
static int floats(const json_t *v, float *out, int max) {
    int n = (int)json_array_size(v);
    for (int k = 0; k < n && k < max; k++)
        out[k] = (float)json_number_value(json_array_get(v, (size_t)k));
    return n;
}

#define MAXD 512

static void test_embed_rows_are_the_peers_vectors(void **state) {
    (void)state;
    json_t *in = json_array(), *reply;
    int n = 12;
    for (int i = 0; i < n; i++)
        json_array_append_new(in, json_string(peer_text(i)));
    assert_int_equal(post_json("/embed", json_pack("{s:o}", "inputs", in), &reply), 200);
    assert_int_equal((int)json_array_size(reply), n);
    for (int i = 0; i < n; i++) {
        float got[MAXD];
        double want[MAXD];
        int k = floats(json_array_get(reply, (size_t)i), got, MAXD);
        int ids = (int)json_array_size(json_object_get(peer_row(i), "input_ids"));
        assert_int_equal(k, su_peer_vec(peer_row(i), want, MAXD));
        if (ids > 16)
            continue; /* cut to 16 here; the peer embedded it whole */
        double cos = tu_cosine(got, want, k);
        if (cos < 0.99999)
            fail_msg("row %d (%s): cosine %.7f to the peer", i, peer_text(i), cos);
    }
    json_decref(reply);
    /* one string: still a list of one vector, TEI's shape; POST / is /embed */
    assert_int_equal(post("/", "{\"inputs\":\"Hello world\",\"normalize\":true}", &reply), 200);
    assert_int_equal((int)json_array_size(reply), 1);
    float got[MAXD];
    double want[MAXD];
    int k = floats(json_array_get(reply, 0), got, MAXD);
    assert_int_equal(k, su_peer_vec(peer_row(0), want, MAXD));
    assert_true(tu_cosine(got, want, k) >= 0.99999);
    json_decref(reply);
}

/* Left truncation keeps the end: the same vector as the peer's ids cut by hand, sent as ids. */
static void test_left_truncation_keeps_the_last_tokens(void **state) {
    (void)state;
    int row = -1;
    for (int i = 0; i < (int)json_array_size(peer) && row < 0; i++)
        if (json_array_size(json_object_get(peer_row(i), "input_ids")) > 20)
            row = i;
    assert_true(row >= 0);
    json_t *ids = json_object_get(peer_row(row), "input_ids"), *cut = json_array(), *a, *b;
    size_t n = json_array_size(ids);
    json_array_append(cut, json_array_get(ids, 0)); /* [CLS], the last 14 text ids, [SEP] */
    for (size_t j = n - 15; j < n; j++)
        json_array_append(cut, json_array_get(ids, j));
    assert_int_equal(post_json("/embed", json_pack("{s:s, s:s, s:b}", "inputs", peer_text(row),
                                                   "truncation_direction", "left", "truncate",
                                                   1), &a), 200);
    assert_int_equal(post_json("/embed", json_pack("{s:[o]}", "inputs", cut), &b), 200);
    float x[MAXD], y[MAXD];
    double yd[MAXD];
    int k = floats(json_array_get(a, 0), x, MAXD);
    assert_int_equal(floats(json_array_get(b, 0), y, MAXD), k);
    for (int j = 0; j < k; j++)
        yd[j] = y[j];
    assert_true(tu_maxdiff(x, yd, k) < 1e-6);
    json_decref(a);
    json_decref(b);
    /* right (the default) differs from left on this line */
    assert_int_equal(post_json("/embed", json_pack("{s:s}", "inputs", peer_text(row)), &a), 200);
    floats(json_array_get(a, 0), y, MAXD);
    for (int j = 0; j < k; j++)
        yd[j] = y[j];
    assert_true(tu_maxdiff(x, yd, k) > 1e-3);
    json_decref(a);
    /* token ids cut on the left keep their last 16 */
    json_t *tail = json_array();
    for (size_t j = n - 16; j < n; j++)
        json_array_append(tail, json_array_get(ids, j));
    assert_int_equal(post_json("/embed", json_pack("{s:[O], s:s}", "inputs", ids,
                                                   "truncation_direction", "left"), &a), 200);
    assert_int_equal(post_json("/embed", json_pack("{s:[o]}", "inputs", tail), &b), 200);
    floats(json_array_get(a, 0), x, MAXD);
    floats(json_array_get(b, 0), y, MAXD);
    for (int j = 0; j < k; j++)
        yd[j] = y[j];
    assert_true(tu_maxdiff(x, yd, k) < 1e-6);
    json_decref(a);
    json_decref(b);
    /* truncate false: a longer input is TEI's 422 */
    int st = post_json("/embed", json_pack("{s:s, s:b}", "inputs", peer_text(row), "truncate", 0),
                       &a);
    expect_tei_error(st, a, 422, "validation", "takes at most 16");
}

static void test_tokenize_ids_are_hf_tokenizers_ids(void **state) {
    (void)state;
    json_t *in = json_array(), *reply;
    for (int i = 0; i < 20; i++)
        json_array_append_new(in, json_string(peer_text(i)));
    assert_int_equal(post_json("/tokenize", json_pack("{s:o}", "inputs", in), &reply), 200);
    assert_int_equal((int)json_array_size(reply), 20);
    for (int i = 0; i < 20; i++) {
        json_t *toks = json_array_get(reply, (size_t)i);
        json_t *want = json_object_get(peer_row(i), "input_ids");
        assert_int_equal(json_array_size(toks), json_array_size(want));
        for (size_t k = 0; k < json_array_size(want); k++) {
            json_t *t = json_array_get(toks, k);
            json_int_t id = json_integer_value(json_object_get(t, "id"));
            assert_int_equal(id, json_integer_value(json_array_get(want, k)));
            /* HF's special_tokens_mask: the [CLS] and [SEP] the template added, not [UNK] */
            int first_or_last = k == 0 || k + 1 == json_array_size(want);
            assert_int_equal(json_is_true(json_object_get(t, "special")), first_or_last);
            assert_true(json_is_string(json_object_get(t, "text")));
        }
    }
    json_decref(reply);
    /* without the special tokens; a pair with the template's */
    assert_int_equal(post("/tokenize", "{\"inputs\":[\"Hello world\",[\"Hello\",\"world\"]],"
                          "\"add_special_tokens\":false}", &reply), 200);
    json_t *one = json_array_get(reply, 0), *pair = json_array_get(reply, 1);
    assert_int_equal(json_array_size(one), 2);
    /* TEI's text is the input's slice at the token's offsets, not the (lowercased) token */
    assert_string_equal(json_string_value(json_object_get(json_array_get(one, 0), "text")),
                        "Hello");
    assert_int_equal(json_array_size(pair), 2);
    json_decref(reply);
    assert_int_equal(post("/tokenize", "{\"inputs\":[[\"Hello\",\"world\"]]}", &reply), 200);
    pair = json_array_get(reply, 0); /* [CLS] hello [SEP] world [SEP] */
    assert_int_equal(json_array_size(pair), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(pair, 3), "id")), 137);
    json_decref(reply);
}

/* One token of a /tokenize reply: its id, special flag, byte offsets (-1: null) and text. */
static void expect_token(const json_t *t, int id, int special, int start, int stop,
                         const char *text) {
    const json_t *a = json_object_get(t, "start"), *b = json_object_get(t, "stop");
    int got_a = json_is_null(a) ? -1 : (int)json_integer_value(a);
    int got_b = json_is_null(b) ? -1 : (int)json_integer_value(b);
    const char *got_t = json_string_value(json_object_get(t, "text"));
    if (json_integer_value(json_object_get(t, "id")) != id ||
        json_is_true(json_object_get(t, "special")) != special || !a || !b || got_a != start ||
        got_b != stop || !got_t || strcmp(got_t, text) || json_object_size(t) != 5) {
        char *s = json_dumps(t, 0);
        fail_msg("expected {id %d, special %d, start %d, stop %d, text \"%s\"}, got %s", id,
                 special, start, stop, text, s);
    }
}

/* TEI's offsets (router's into_tokens): bytes into the input (UTF-8), null for the special
 * tokens the template adds, "text" the input's slice there. Hand-computed: tiny's
 * BertNormalizer lowercases and strips accents, so "Héllo wörld" is hello (136) world (137),
 * "é" and "ö" two bytes each; a pair's offsets count in each text. */
static void test_tokenize_offsets_are_teis_bytes(void **state) {
    (void)state;
    json_t *reply;
    assert_int_equal(post("/tokenize", "{\"inputs\":[\"H\u00e9llo w\u00f6rld\",[\"Hello\","
                          "\"  w\u00f6rld\"]]}", &reply), 200);
    const json_t *one = json_array_get(reply, 0), *pair = json_array_get(reply, 1);
    assert_int_equal(json_array_size(one), 4);
    expect_token(json_array_get(one, 0), 2, 1, -1, -1, "[CLS]");
    expect_token(json_array_get(one, 1), 136, 0, 0, 6, "H\xc3\xa9llo");
    expect_token(json_array_get(one, 2), 137, 0, 7, 13, "w\xc3\xb6rld");
    expect_token(json_array_get(one, 3), 3, 1, -1, -1, "[SEP]");
    assert_int_equal(json_array_size(pair), 5);
    expect_token(json_array_get(pair, 1), 136, 0, 0, 5, "Hello");
    expect_token(json_array_get(pair, 2), 3, 1, -1, -1, "[SEP]");
    expect_token(json_array_get(pair, 3), 137, 0, 2, 8, "w\xc3\xb6rld");
    json_decref(reply);
    assert_int_equal(post("/tokenize", "{\"inputs\":\"world\",\"add_special_tokens\":false}",
                          &reply), 200);
    assert_int_equal(json_array_size(json_array_get(reply, 0)), 1);
    expect_token(json_array_get(json_array_get(reply, 0), 0), 137, 0, 0, 5, "world");
    json_decref(reply);
}

/* TEI's Input takes each item of a batch as a string or token ids: a batch may mix them. Both
 * forms of "Hello world" (the peer's input_ids) give the peer's vector, in either order. */
static void test_embed_batches_mix_strings_and_ids(void **state) {
    (void)state;
    double want[MAXD];
    int d = su_peer_vec(peer_row(0), want, MAXD);
    char ids[256];
    char *s = json_dumps(json_object_get(peer_row(0), "input_ids"), JSON_COMPACT);
    snprintf(ids, sizeof ids, "%s", s);
    free(s);
    for (int order = 0; order < 2; order++) {
        char body[512];
        snprintf(body, sizeof body, order ? "{\"inputs\":[%s,\"%s\"]}" : "{\"inputs\":[\"%s\",%s]}",
                 order ? ids : peer_text(0), order ? peer_text(0) : ids);
        json_t *reply;
        assert_int_equal(post("/embed", body, &reply), 200);
        assert_int_equal((int)json_array_size(reply), 2);
        for (size_t i = 0; i < 2; i++) {
            float got[MAXD];
            assert_int_equal(floats(json_array_get(reply, i), got, MAXD), d);
            double cos = tu_cosine(got, want, d);
            if (cos < 0.99999)
                fail_msg("%s: row %zu cosine %.7f to the peer", body, i, cos);
        }
        json_decref(reply);
    }
    json_t *reply;
    int st = post("/embed", "{\"inputs\":[\"a\",[2,3],7]}", &reply);
    expect_tei_error(st, reply, 422, "validation",
                     "input[2] must be a string or an array of token ids");
    /* with a prompt, ids are decoded (specials skipped) and re-encoded with it, as TEI does:
     * the peer's first text and its own ids then give one vector, not the unprompted one */
    char body[512];
    snprintf(body, sizeof body, "{\"inputs\":[\"%s\",%s],\"prompt\":\"q: \"}", peer_text(0),
             ids);
    assert_int_equal(post("/embed", body, &reply), 200);
    float text_row[MAXD], ids_row[MAXD];
    assert_int_equal(floats(json_array_get(reply, 0), text_row, MAXD), d);
    assert_int_equal(floats(json_array_get(reply, 1), ids_row, MAXD), d);
    double same = 0, moved = 0;
    for (int k = 0; k < d; k++) {
        same = fmax(same, fabs((double)text_row[k] - ids_row[k]));
        moved = fmax(moved, fabs((double)text_row[k] - want[k]));
    }
    if (same > 1e-6 || moved < 1e-3)
        fail_msg("%s: text and its ids differ by %g; the prompt moved the vector by %g", body,
                 same, moved);
    json_decref(reply);
    /* /v1/embeddings stays OpenAI's: one kind per batch */
    st = post("/v1/embeddings", "{\"input\":[\"a\",[2,3]]}", &reply);
    assert_int_equal(st, 400);
    json_decref(reply);
}

static void test_decode_gives_text_back(void **state) {
    (void)state;
    json_t *reply;
    /* [CLS] hello world [SEP] of the peer's first line: WordPiece decoder, specials skipped */
    assert_int_equal(post("/decode", "{\"ids\":[2,136,137,3]}", &reply), 200);
    assert_string_equal(json_string_value(json_array_get(reply, 0)), "hello world");
    json_decref(reply);
    assert_int_equal(post("/decode", "{\"ids\":[[2,136,137,3],[136]],\"skip_special_tokens\":"
                          "false}", &reply), 200);
    assert_string_equal(json_string_value(json_array_get(reply, 0)), "[CLS] hello world [SEP]");
    assert_string_equal(json_string_value(json_array_get(reply, 1)), "hello");
    json_decref(reply);
    int st = post("/decode", "{\"ids\":[]}", &reply);
    assert_int_equal(st, 200); /* TEI: one empty sequence decodes to "" */
    assert_string_equal(json_string_value(json_array_get(reply, 0)), "");
    json_decref(reply);
    st = post("/decode", "{\"ids\":[1,-2]}", &reply);
    expect_tei_error(st, reply, 422, "validation", "ids[0][1]");
}

static void test_similarity_is_the_peers_cosine(void **state) {
    (void)state;
    json_t *sents = json_array(), *reply;
    int rows[5], n = 0; /* lines within the 16-token cap, as the peer embedded them whole */
    for (int i = 1; i < (int)json_array_size(peer) && n < 5; i++)
        if (json_array_size(json_object_get(peer_row(i), "input_ids")) <= 16) {
            rows[n++] = i;
            json_array_append_new(sents, json_string(peer_text(i)));
        }
    assert_int_equal(n, 5);
    int st = post_json("/similarity",
                       json_pack("{s:{s:s, s:o}}", "inputs", "source_sentence", peer_text(0),
                                 "sentences", sents), &reply);
    assert_int_equal(st, 200);
    assert_int_equal((int)json_array_size(reply), 5);
    double a[MAXD], b[MAXD];
    int d = su_peer_vec(peer_row(0), a, MAXD);
    for (int i = 1; i <= 5; i++) {
        su_peer_vec(peer_row(rows[i - 1]), b, MAXD);
        double dot = 0, na = 0, nb = 0;
        for (int j = 0; j < d; j++)
            dot += a[j] * b[j], na += a[j] * a[j], nb += b[j] * b[j];
        double want = dot / sqrt(na * nb), got = json_number_value(json_array_get(reply, i - 1));
        if (fabs(got - want) > 1e-5)
            fail_msg("similarity %d: %.7f, the peer's cosine %.7f", i, got, want);
    }
    json_decref(reply);
    st = post("/similarity", "{\"inputs\":{\"source_sentence\":\"a\",\"sentences\":[]}}", &reply);
    expect_tei_error(st, reply, 400, "empty", "sentences");
}

static void test_errors_are_tei_shaped_on_tei_routes_and_openai_shaped_on_openai_routes(
    void **state) {
    (void)state;
    static const struct {
        const char *url, *body;
        int status;
        const char *type, *needle;
    } cases[] = {
        {"/embed", "{\"inputs\":[]}", 400, "empty", "`inputs` cannot be empty"},
        {"/embed", "{\"inputs\":", 422, "validation", "not valid JSON"},
        {"/embed", "{\"inputs\":\"a\",\"truncation_direction\":\"up\"}",
         422, "validation", "truncation_direction"},
        {"/embed", "{\"inputs\":\"a\",\"model\":\"nope\"}", 404, "validation", "served: tiny"},
        {"/embed", "{\"inputs\":\"a\",\"prompt_name\":\"query\"}",
         422, "validation", "query"}, /* tiny has no prompts */
        {"/embed", "{\"inputs\":[5,6],\"prompt_name\":\"query\"}", 422, "validation", "query"},
        {"/embed", "{\"inputs\":\"a\",\"normalize\":false}", 422, "validation", "Normalize module"},
        {"/embed", "{\"inputs\":\"a\",\"dimensions\":65}", 422, "validation", "dimensions"},
        {"/embed_all", "{\"inputs\":[]}", 400, "empty", "`inputs` cannot be empty"},
    };
    json_t *reply;
    int st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st = post(cases[i].url, cases[i].body, &reply);
        expect_tei_error(st, reply, cases[i].status, cases[i].type, cases[i].needle);
    }
    httpc_reply r = httpc_request(F->port, "GET", "/tokenize", NULL, NULL, 0);
    reply = json_loads(r.body, 0, NULL);
    expect_tei_error(r.status, reply, 405, "validation", "takes POST");
    httpc_free(&r);
    r = httpc_request(F->port, "HEAD", "/embed", NULL, NULL, 0); /* HEAD only where GET is */
    assert_int_equal(r.status, 405);
    httpc_free(&r);
    /* the OpenAI route keeps OpenAI's shape */
    st = post("/v1/embeddings", "{\"input\":[]}", &reply);
    assert_int_equal(st, 400);
    assert_true(json_is_object(json_object_get(reply, "error")));
    assert_non_null(json_object_get(json_object_get(reply, "error"), "code"));
    json_decref(reply);
}

/* /embed_all: one vector per token (as many as HF's ids); their mean (tiny pools by mean),
 * normalized, is the peer's sentence vector. */
static void test_embed_all_token_vectors_pool_to_the_peers_vector(void **state) {
    (void)state;
    json_t *in = json_array(), *reply;
    int rows[4], n = 0;
    for (int i = 0; i < (int)json_array_size(peer) && n < 4; i++)
        if (json_array_size(json_object_get(peer_row(i), "input_ids")) <= 16) {
            rows[n++] = i;
            json_array_append_new(in, json_string(peer_text(i)));
        }
    assert_int_equal(post_json("/embed_all", json_pack("{s:o}", "inputs", in), &reply), 200);
    assert_int_equal((int)json_array_size(reply), n);
    for (int i = 0; i < n; i++) {
        json_t *toks = json_array_get(reply, (size_t)i);
        size_t t = json_array_size(toks);
        assert_int_equal(t, json_array_size(json_object_get(peer_row(rows[i]), "input_ids")));
        double want[MAXD], mean[MAXD] = {0};
        float v[MAXD], pooled[MAXD];
        int d = su_peer_vec(peer_row(rows[i]), want, MAXD);
        for (size_t k = 0; k < t; k++) {
            assert_int_equal(floats(json_array_get(toks, k), v, MAXD), d);
            for (int j = 0; j < d; j++)
                mean[j] += v[j] / (double)t;
        }
        for (int j = 0; j < d; j++)
            pooled[j] = (float)mean[j];
        double cos = tu_cosine(pooled, want, d);
        if (cos < 0.99999)
            fail_msg("row %d: the mean of /embed_all's vectors has cosine %.7f to the peer", i,
                     cos);
    }
    json_decref(reply);
}

static void test_dimensions_keep_the_first_values_renormalized(void **state) {
    (void)state;
    json_t *full, *cut;
    assert_int_equal(post("/embed", "{\"inputs\":\"Hello world\"}", &full), 200);
    assert_int_equal(post("/embed", "{\"inputs\":\"Hello world\",\"dimensions\":8}", &cut), 200);
    float f[MAXD], c[MAXD];
    floats(json_array_get(full, 0), f, MAXD);
    assert_int_equal(floats(json_array_get(cut, 0), c, MAXD), 8);
    double norm = 0;
    for (int j = 0; j < 8; j++)
        norm += (double)f[j] * f[j];
    for (int j = 0; j < 8; j++)
        assert_true(fabs(c[j] - f[j] / sqrt(norm)) < 1e-6);
    json_decref(full);
    json_decref(cut);
}

static void test_info_has_tei_fields_and_embps_own(void **state) {
    (void)state;
    json_t *j = su_get_json(F->port, "/info");
    assert_string_equal(json_string_value(json_object_get(j, "model_id")), "tiny");
    assert_int_equal(json_integer_value(json_object_get(j, "max_input_length")), 16);
    assert_true(json_integer_value(json_object_get(j, "max_batch_tokens")) >= 16);
    assert_true(json_is_true(json_object_get(j, "auto_truncate")));
    assert_string_equal(json_string_value(json_object_get(j, "model_dtype")), "float32");
    assert_string_equal(json_string_value(json_object_get(j, "router")), "embp");
    assert_true(json_is_null(json_object_get(j, "sha")));
    assert_true(json_is_null(json_object_get(j, "docker_label")));
    json_t *pool = json_object_get(json_object_get(json_object_get(j, "model_type"),
                                                   "embedding"), "pooling");
    assert_string_equal(json_string_value(pool), "mean");
    json_t *embp = json_object_get(j, "embp");
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(embp, "models"), 0), "id")), "tiny");
    assert_string_equal(json_string_value(json_object_get(json_object_get(embp, "aliases"),
                                                          "ada")), "tiny");
    assert_non_null(json_object_get(json_object_get(embp, "cpu"), "features"));
    json_decref(j);
}

static void test_aliases_resolve_and_are_listed(void **state) {
    (void)state;
    json_t *a, *b;
    assert_int_equal(post("/v1/embeddings", "{\"input\":\"Hello world\",\"model\":\"tiny\"}", &a),
                     200);
    assert_int_equal(post("/v1/embeddings", "{\"input\":\"Hello world\",\"model\":"
                          "\"text-embedding-3-small\"}", &b), 200);
    float x[MAXD], y[MAXD];
    double yd[MAXD];
    int n = su_row(a, 0, x, MAXD);
    assert_int_equal(su_row(b, 0, y, MAXD), n);
    for (int j = 0; j < n; j++)
        yd[j] = y[j];
    assert_true(tu_maxdiff(x, yd, n) == 0.0);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "text-embedding-3-small");
    json_decref(a);
    json_decref(b);
    assert_int_equal(post("/embed", "{\"inputs\":\"Hello world\",\"model\":\"ada\"}", &a), 200);
    json_decref(a);
    int st = post("/v1/embeddings", "{\"input\":\"a\",\"model\":\"text-embedding-3-large\"}", &a);
    assert_int_equal(st, 404);
    const char *msg = json_string_value(json_object_get(json_object_get(a, "error"), "message"));
    assert_non_null(strstr(msg, "served: tiny (aliases: text-embedding-3-small -> tiny, ada -> "
                            "tiny)"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "error"), "code")),
                        "model_not_found");
    json_decref(a);
    httpc_reply r = httpc_request(F->port, "GET", "/v1/models", NULL, NULL, 0);
    json_t *list = json_object_get(a = json_loads(r.body, 0, NULL), "data");
    httpc_free(&r);
    assert_int_equal(json_array_size(list), 3);
    json_t *e = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(e, "id")), "text-embedding-3-small");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "embp"),
                                                          "alias_of")), "tiny");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "embp"), "dim")), 64);
    json_decref(a);
}

static const char *g_env;
static const char *one_env(const char *name) {
    return strcmp(name, "EMB_PROVIDER_MODEL_ALIASES") == 0 ? g_env : NULL;
}

static void test_bad_aliases_fail_at_start_naming_the_variable(void **state) {
    (void)state;
    struct {
        const char *env, *needle;
        int at_load; /* 0: the variable's parse fails; 1: loading the models does */
    } cases[] = {
        {"{\"a\": ", "EMB_PROVIDER_MODEL_ALIASES: invalid JSON", 0},
        {"[\"a\"]", "must be a JSON object", 0},
        {"{\"a\": 3}", "alias \"a\" must map to a served model id", 0},
        {"{\"small\": \"minilm\"}", "alias \"small\" maps to \"minilm\", which is not a served "
                                    "model id (served: tiny)", 1},
        {"{\"tiny\": \"tiny\"}", "alias \"tiny\" is already a served model's id", 1},
    };
    char *path = tu_fixture("tiny");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        embp_config c;
        embp_error err = {0};
        embp_config_defaults(&c);
        c.model_path = path;
        g_env = cases[i].env;
        embp_status st = embp_config_from_env(&c, one_env, &err);
        if (cases[i].at_load) {
            assert_int_equal(st, EMBP_OK);
            embp_registry_model *m = NULL;
            int n = 0;
            st = embp_config_load_models(&c, ".", 0, &m, &n, &err);
            assert_null(m);
        }
        assert_int_equal(st, EMBP_ECONFIG);
        if (!strstr(err.msg, cases[i].needle) || !strstr(err.msg, "EMB_PROVIDER_MODEL_ALIASES"))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].needle);
    }
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_rows_are_the_peers_vectors),
        cmocka_unit_test(test_left_truncation_keeps_the_last_tokens),
        cmocka_unit_test(test_tokenize_ids_are_hf_tokenizers_ids),
        cmocka_unit_test(test_tokenize_offsets_are_teis_bytes),
        cmocka_unit_test(test_embed_batches_mix_strings_and_ids),
        cmocka_unit_test(test_decode_gives_text_back),
        cmocka_unit_test(test_similarity_is_the_peers_cosine),
        cmocka_unit_test(
            test_errors_are_tei_shaped_on_tei_routes_and_openai_shaped_on_openai_routes),
        cmocka_unit_test(test_dimensions_keep_the_first_values_renormalized),
        cmocka_unit_test(test_embed_all_token_vectors_pool_to_the_peers_vector),
        cmocka_unit_test(test_info_has_tei_fields_and_embps_own),
        cmocka_unit_test(test_aliases_resolve_and_are_listed),
        cmocka_unit_test(test_bad_aliases_fail_at_start_naming_the_variable),
    };
    return cmocka_run_group_tests(tests, setup, su_group_teardown);
}
