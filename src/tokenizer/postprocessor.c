/* tokenizer.json "post_processor" for one sequence: TemplateProcessing's "single" template,
 * BertProcessing and RobertaProcessing (cls X sep), or null. Only ids matter here: type ids
 * are all 0 for one sequence, and offsets are not tracked. */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define POST_SUPPORTED "TemplateProcessing, BertProcessing, RobertaProcessing"

/* Appends ids to *arr (length *n). */
static int append_ids(int32_t **arr, int *n, const int32_t *ids, int count) {
    int32_t *p = embp_realloc(*arr, ((size_t)*n + (size_t)count + 1) * sizeof *p);
    if (!p) return -1;
    memcpy(p + *n, ids, (size_t)count * sizeof *p);
    *arr = p;
    *n += count;
    return 0;
}

/* A ["[CLS]", 101] pair of BertProcessing: the id. */
static embp_status pair_id(json_t *j, const char *key, const char *name, int32_t *id,
                           embp_error *err) {
    json_t *pair = json_object_get(j, key);
    json_t *v = json_array_get(pair, 1);
    if (!json_is_array(pair) || json_array_size(pair) != 2 ||
        !json_is_string(json_array_get(pair, 0)) || !json_is_integer(v) ||
        json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: post_processor.%s must be [token, id] with a non-negative id", name,
                         key);
    *id = (int32_t)json_integer_value(v);
    return EMBP_OK;
}

/* One {"SpecialToken": {"id": "[CLS]"}} of the template: its ids from "special_tokens". */
static embp_status special_ids(json_t *j, json_t *item, const char *name, embp_postprocessor *pp,
                               bool before, embp_error *err) {
    const char *key = json_string_value(json_object_get(item, "id"));
    json_t *tok = key ? json_object_get(json_object_get(j, "special_tokens"), key) : NULL;
    json_t *ids = json_object_get(tok, "ids");
    if (!key || !json_is_array(ids))
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: post_processor: special token \"%.64s\" of the single template is "
                         "not in special_tokens",
                         name, key ? key : "(no id)");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX)
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: post_processor.special_tokens[\"%.64s\"].ids[%zu] is not an id",
                             name, key, i);
        int32_t id = (int32_t)json_integer_value(v);
        if (append_ids(before ? &pp->pre : &pp->post, before ? &pp->n_pre : &pp->n_post, &id, 1))
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    }
    return EMBP_OK;
}

static embp_status parse_template(json_t *j, const char *name, embp_postprocessor *pp,
                                  embp_error *err) {
    json_t *single = json_object_get(j, "single");
    int n_seq = 0;
    if (!json_is_array(single))
        return embp_fail(err, EMBP_EFORMAT, "%s: post_processor.single must be an array", name);
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *it = json_array_get(single, i);
        json_t *sp = json_object_get(it, "SpecialToken");
        if (json_is_object(json_object_get(it, "Sequence"))) {
            n_seq++;
            continue;
        }
        if (!json_is_object(sp))
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: post_processor.single[%zu] is neither Sequence nor SpecialToken",
                             name, i);
        embp_status st = special_ids(j, sp, name, pp, n_seq == 0, err);
        if (st) return st;
    }
    if (n_seq != 1)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: post_processor.single has %d Sequence items, expected 1", name,
                         n_seq);
    return EMBP_OK;
}

embp_status embp_postprocessor_parse(json_t *j, const char *name, embp_postprocessor *pp,
                                     embp_error *err) {
    memset(pp, 0, sizeof *pp);
    if (!j || json_is_null(j)) return EMBP_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: post_processor must be null or an object with a \"type\"", name);
    if (strcmp(type, "TemplateProcessing") == 0) return parse_template(j, name, pp, err);
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
        int32_t cls, sep;
        embp_status st;
        if ((st = pair_id(j, "cls", name, &cls, err)) || (st = pair_id(j, "sep", name, &sep, err)))
            return st;
        if (append_ids(&pp->pre, &pp->n_pre, &cls, 1) ||
            append_ids(&pp->post, &pp->n_post, &sep, 1))
            return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        return EMBP_OK;
    }
    return embp_fail(err, EMBP_EUNSUPPORTED,
                     "%s: post_processor type '%.64s' is not supported (supported: " POST_SUPPORTED
                     ", null)",
                     name, type);
}

void embp_postprocessor_clear(embp_postprocessor *pp) {
    if (!pp) return;
    embp_free(pp->pre);
    embp_free(pp->post);
    memset(pp, 0, sizeof *pp);
}
