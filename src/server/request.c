/* Parses and validates OpenAI embeddings requests. Every failure says which field, what was
 * expected and what was found, as an OpenAI invalid_request_error. */
#include "server/request.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/text.h"
#include "runtime/model.h"

int embp_http_fail(embp_http_error *e, int status, const char *type, const char *param,
                   const char *code, const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->param = param;
    e->code = code;
    /* A %.200s of a client's text can cut a UTF-8 character; the body must stay valid UTF-8. */
    char raw[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    embp_utf8_sanitize(raw, e->message, sizeof e->message);
    return 0;
}

#define BAD(e, param, ...) embp_http_fail(e, 400, "invalid_request_error", param, NULL, __VA_ARGS__)

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

/* body is len bytes of JSON. Returns the byte offset where nesting first exceeds max_depth, or
 * -1; *values gets an upper bound on the values jansson would allocate: every container opened
 * and every comma outside strings (each starts one more value or key). Counting
 * commas alone missed `[[[[1]]]]`: no comma, four arrays. jansson recurses once per level (up
 * to 2048 deep); we refuse far earlier, and say where. */
static long scan_body(const char *body, size_t len, int max_depth, long *values) {
    int depth = 0, in_str = 0;
    *values = 0;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ',') {
            ++*values;
        } else if (c == '[' || c == '{') {
            ++*values;
            if (++depth > max_depth)
                return (long)i;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- input */

int embp_request_no_nul(const char *s, size_t n, const char *param, const char *where,
                        embp_http_error *e) {
    const char *z = memchr(s, '\0', n);
    if (z)
        return BAD(e, param, "%s contains a NUL character (\\u0000) at byte %zu", where,
                   (size_t)(z - s));
    return 1;
}

/* v is the string input[idx] (idx -1: input itself). Copies it into r->texts[slot]. */
static int take_text(embp_request *r, int slot, const json_t *v, int idx, embp_http_error *e) {
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char where[32] = "input";
    if (idx >= 0)
        snprintf(where, sizeof where, "input[%d]", idx);
    if (n == 0)
        return BAD(e, "input", "%s is an empty string; every input must have at least one "
                   "character", where);
    if (!embp_request_no_nul(s, n, "input", where, e))
        return 0;
    r->texts[slot] = embp_strndup(s, n);
    r->text_lens[slot] = n;
    if (!r->texts[slot])
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    return 1;
}

/* arr is an array of token ids named `where`. Copies it into r->ids[slot]. */
static int take_ids(embp_request *r, int slot, const json_t *arr, const char *where,
                    embp_http_error *e) {
    size_t n = json_array_size(arr);
    if (n == 0)
        return BAD(e, "input", "%s is an empty array of token ids", where);
    if (n > (size_t)INT32_MAX)
        return BAD(e, "input", "%s has too many token ids", where);
    r->ids[slot] = embp_malloc(n * sizeof(int32_t));
    if (!r->ids[slot])
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    r->n_ids[slot] = (int)n;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(arr, i);
        if (!json_is_integer(t))
            return BAD(e, "input", "%s[%zu] must be a token id (an integer), found %s", where,
                       i, type_name(t));
        json_int_t id = json_integer_value(t);
        if (id < 0 || id > INT32_MAX)
            return BAD(e, "input", "%s[%zu] is token id %lld, which is not a valid id", where,
                       i, (long long)id);
        r->ids[slot][i] = (int32_t)id;
    }
    return 1;
}

static int alloc_inputs(embp_request *r, int n, int is_tokens, embp_http_error *e) {
    r->n_inputs = n;
    r->is_tokens = is_tokens;
    if (is_tokens) {
        r->ids = embp_calloc((size_t)n, sizeof *r->ids);
        r->n_ids = embp_calloc((size_t)n, sizeof *r->n_ids);
        if (r->ids && r->n_ids)
            return 1;
    } else {
        r->texts = embp_calloc((size_t)n, sizeof *r->texts);
        r->text_lens = embp_calloc((size_t)n, sizeof *r->text_lens);
        if (r->texts && r->text_lens)
            return 1;
    }
    return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
}

/* arr is a non-empty array; its first element decides the form: strings, token ids (one
 * input) or arrays of token ids. Every element must have that form, unless lim->mixed allows
 * strings and arrays of token ids side by side (TEI's batches). */
static int parse_input_array(embp_request *r, const json_t *arr, const embp_request_limits *lim,
                             embp_http_error *e) {
    size_t n = json_array_size(arr);
    const json_t *first = json_array_get(arr, 0);
    if (json_is_integer(first))
        return alloc_inputs(r, 1, 1, e) && take_ids(r, 0, arr, "input", e);
    if (!json_is_string(first) && !json_is_array(first))
        return BAD(e, "input", "input[0] must be a string, a token id or an array of token ids, "
                   "found %s", type_name(first));
    if (n > (size_t)lim->max_inputs)
        return BAD(e, "input", "input has %zu items; at most %d are allowed per request "
                   "(EMB_PROVIDER_MAX_BATCH_SIZE)", n, lim->max_inputs);
    int strings = json_is_string(first), mixed = 0;
    for (size_t i = 1; lim->mixed && i < n; i++)
        mixed |= json_is_string(json_array_get(arr, i)) != strings;
    if (mixed ? !alloc_inputs(r, (int)n, 0, e) || !alloc_inputs(r, (int)n, 1, e)
              : !alloc_inputs(r, (int)n, !strings, e))
        return 0;
    r->is_tokens = !strings && !mixed;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (mixed && (json_is_string(v) || json_is_array(v)))
            strings = json_is_string(v); /* TEI: each item a string or token ids */
        else if (mixed)
            return BAD(e, "input", "input[%zu] must be a string or an array of token ids, "
                       "found %s", i, type_name(v));
        if (strings ? !json_is_string(v) : !json_is_array(v))
            return BAD(e, "input", "input[%zu] must be %s like input[0] (arrays cannot mix "
                       "kinds), found %s", i, strings ? "a string" : "an array of token ids",
                       type_name(v));
        char where[32];
        snprintf(where, sizeof where, "input[%zu]", i);
        if (strings ? !take_text(r, (int)i, v, (int)i, e) : !take_ids(r, (int)i, v, where, e))
            return 0;
    }
    return 1;
}

/* in: the value of "input" (NULL: missing). */
static int parse_input_value(embp_request *r, const json_t *in, const embp_request_limits *lim,
                             embp_http_error *e) {
    if (!in)
        return BAD(e, "input", "'input' is required: a string, an array of strings, an array of "
                   "token ids or an array of arrays of token ids");
    if (json_is_string(in))
        return alloc_inputs(r, 1, 0, e) && take_text(r, 0, in, -1, e);
    if (!json_is_array(in))
        return BAD(e, "input", "'input' must be a string, an array of strings, an array of "
                   "token ids or an array of arrays of token ids; found %s", type_name(in));
    if (json_array_size(in) == 0)
        return BAD(e, "input", "'input' is an empty array; give at least one input");
    return parse_input_array(r, in, lim, e);
}

static int parse_input(embp_request *r, const json_t *root, const embp_request_limits *lim,
                       embp_http_error *e) {
    return parse_input_value(r, json_object_get(root, "input"), lim, e);
}

/* ---------------------------------------------------------------- options */

static int parse_encoding(embp_request *r, const json_t *v, embp_http_error *e) {
    if (!v || json_is_null(v))
        return 1;
    const char *s = json_string_value(v);
    if (s && embp_encoding_parse(s, &r->encoding) == 0)
        return 1;
    if (s)
        return BAD(e, "encoding_format", "'encoding_format' must be one of " EMBP_ENCODING_NAMES
                   ", found \"%.64s\"", s);
    return BAD(e, "encoding_format", "'encoding_format' must be one of " EMBP_ENCODING_NAMES
               ", found %s", type_name(v));
}

/* Cohere's embedding_types: a non-empty list of distinct encoding names. */
static int parse_types(embp_request *r, const json_t *v, int has_format, embp_http_error *e) {
    if (!v || json_is_null(v))
        return 1;
    if (has_format)
        return BAD(e, "embedding_types", "give 'encoding_format' (OpenAI's answer) or "
                   "'embedding_types' (Cohere's answer, several encodings at once), not both");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return BAD(e, "embedding_types", "'embedding_types' must be a non-empty array of "
                   EMBP_ENCODING_NAMES ", found %s", json_is_array(v) ? "an empty array" :
                   type_name(v));
    size_t i;
    const json_t *t;
    json_array_foreach(v, i, t) {
        embp_encoding enc;
        const char *s = json_string_value(t);
        if (!s || embp_encoding_parse(s, &enc) != 0)
            return BAD(e, "embedding_types", "embedding_types[%zu] must be one of "
                       EMBP_ENCODING_NAMES ", found %s%.64s%s", i, s ? "\"" : type_name(t),
                       s ? s : "", s ? "\"" : "");
        for (int k = 0; k < r->n_types; k++)
            if (r->types[k] == enc)
                return BAD(e, "embedding_types", "embedding_types[%zu] repeats \"%s\"", i, s);
        r->types[r->n_types++] = enc;
    }
    return 1;
}

static int parse_options(embp_request *r, const json_t *root, embp_http_error *e) {
    const json_t *v = json_object_get(root, "model");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return BAD(e, "model", "'model' must be a string, found %s", type_name(v));
        r->model = embp_strdup(json_string_value(v));
        if (!r->model)
            return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    const json_t *fmt = json_object_get(root, "encoding_format");
    if (!parse_encoding(r, fmt, e) ||
        !parse_types(r, json_object_get(root, "embedding_types"), fmt && !json_is_null(fmt), e))
        return 0;
    v = json_object_get(root, "dimensions");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            return BAD(e, "dimensions", "'dimensions' must be an integer, found %s",
                       type_name(v));
        if (json_integer_value(v) < 1 || json_integer_value(v) > INT32_MAX)
            return BAD(e, "dimensions", "'dimensions' must be at least 1, found %lld",
                       (long long)json_integer_value(v));
        r->dimensions = (int)json_integer_value(v);
    }
    v = json_object_get(root, "user");
    if (v && !json_is_null(v) && !json_is_string(v))
        return BAD(e, "user", "'user' must be a string, found %s", type_name(v));
    static const char *const prompt_keys[] = {"prompt", "prompt_name"};
    for (int k = 0; k < 2; k++) {
        v = json_object_get(root, prompt_keys[k]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return BAD(e, prompt_keys[k], "'%s' must be a string, found %s", prompt_keys[k],
                       type_name(v));
        if (memchr(json_string_value(v), '\0', json_string_length(v)))
            return BAD(e, prompt_keys[k], "'%s' contains a NUL character (\\u0000)",
                       prompt_keys[k]);
        char **dst = k ? &r->prompt_name : &r->prompt;
        if (!(*dst = embp_strdup(json_string_value(v))))
            return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    v = json_object_get(root, "truncate");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return BAD(e, "truncate", "'truncate' must be true or false, found %s",
                       type_name(v));
        r->truncate = json_is_true(v);
    }
    return 1;
}

/* ---------------------------------------------------------------- entry points */

int embp_request_load_json(const char *body, size_t len, const embp_request_limits *lim,
                           json_t **root_out, embp_http_error *e) {
    *root_out = NULL;
    int max_depth = lim->max_depth > 0 ? lim->max_depth : 16;
    long values, max_values = lim->max_values > 0 ? lim->max_values
                                                  : (long)lim->max_inputs * 512 + 64;
    long deep = scan_body(body, len, max_depth, &values);
    if (deep >= 0)
        return BAD(e, NULL, "the JSON body nests deeper than %d levels (at byte %ld)", max_depth,
                   deep);
    /* A parsed value costs jansson ~40 bytes: "1," (2 bytes) would grow 20x in memory. */
    if (values > max_values)
        return BAD(e, "input", "the body holds more than %ld values; a request takes at most "
                   "%d inputs (EMB_PROVIDER_MAX_BATCH_SIZE) of at most 512 token ids on average",
                   max_values, lim->max_inputs);
    json_error_t je;
    /* Duplicate keys are refused: last-wins would let a proxy that reads the first one see a
     * different request than we serve. */
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    /* jansson leaves the error text empty when its lexer cannot allocate its first buffer. */
    if (!root && (json_error_code(&je) == json_error_out_of_memory || !je.text[0]))
        return embp_http_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    if (!root && json_error_code(&je) == json_error_duplicate_key)
        return BAD(e, NULL, "the body has a duplicate key: %s at line %d, column %d (byte %d)",
                   je.text, je.line, je.column, je.position);
    if (!root)
        return BAD(e, NULL, "the body is not valid JSON%s: %s at line %d, column %d (byte %d)",
                   json_error_code(&je) == json_error_invalid_utf8 ? " (invalid UTF-8)" : "",
                   je.text, je.line, je.column, je.position);
    if (!json_is_object(root)) {
        BAD(e, NULL, "the body must be a JSON object, found %s", type_name(root));
        json_decref(root);
        return 0;
    }
    *root_out = root;
    return 1;
}

int embp_request_take_input(embp_request *out, const json_t *in, const embp_request_limits *lim,
                            embp_http_error *e) {
    return parse_input_value(out, in, lim, e);
}

int embp_request_parse(const char *body, size_t len, const embp_request_limits *lim,
                       embp_request *out, embp_http_error *e) {
    memset(out, 0, sizeof *out);
    out->truncate = lim->default_truncate;
    json_t *root;
    if (!embp_request_load_json(body, len, lim, &root, e))
        return 0;
    int ok = parse_options(out, root, e) && parse_input(out, root, lim, e);
    json_decref(root);
    if (!ok)
        embp_request_free(out);
    return ok;
}

int embp_request_check_model(embp_request *r, int dim, int vocab_size, int max_seq_len,
                             embp_http_error *e) {
    if (r->dimensions > dim)
        return BAD(e, "dimensions", "'dimensions' is %d but this model's embeddings have %d",
                   r->dimensions, dim);
    for (int i = 0; i < r->n_inputs; i++) {
        if (!embp_request_is_ids(r, i))
            continue;
        int bi, bj; /* the runtime's id rule; lengths are capped below, not refused */
        const int32_t *row = r->ids[i];
        if (embp_tokens_find_invalid(&row, &r->n_ids[i], 1, INT32_MAX, vocab_size, &bi, &bj) !=
                EMBP_OK && bj >= 0)
            return BAD(e, "input", "input[%d][%d] is token id %d, outside this model's "
                       "vocabulary [0, %d)", i, bj, (int)row[bj], vocab_size);
        if (r->n_ids[i] <= max_seq_len)
            continue;
        if (!r->truncate)
            return embp_http_fail(e, 400, "invalid_request_error", "input",
                                  "context_length_exceeded", "input[%d] has %d tokens; this "
                                  "model takes at most %d (truncate is false)", i, r->n_ids[i],
                                  max_seq_len);
        if (r->truncate_left) /* keep the last ids */
            memmove(r->ids[i], r->ids[i] + (r->n_ids[i] - max_seq_len),
                    (size_t)max_seq_len * sizeof *r->ids[i]);
        r->n_ids[i] = max_seq_len;
    }
    return 1;
}

void embp_request_free(embp_request *r) {
    if (!r)
        return;
    for (int i = 0; i < r->n_inputs; i++) {
        if (r->texts)
            embp_free(r->texts[i]);
        if (r->ids)
            embp_free(r->ids[i]);
    }
    embp_free(r->texts);
    embp_free(r->text_lens);
    embp_free(r->ids);
    embp_free(r->n_ids);
    embp_free(r->model);
    embp_free(r->prompt);
    embp_free(r->prompt_name);
    memset(r, 0, sizeof *r);
}
