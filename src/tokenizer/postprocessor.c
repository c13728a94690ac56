/* tokenizer.json "post_processor": TemplateProcessing (single and pair templates, type ids),
 * BertProcessing ([CLS] A [SEP] B [SEP]), RobertaProcessing (<s> A </s></s> B </s>),
 * ByteLevel (offsets only: no ids), Sequence (each wraps what the previous produced, as HF
 * applies them in turn), or null. All become templates; besides ids and type ids, only the
 * trim_offsets passes of ByteLevel and RobertaProcessing are kept (for offsets). */
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/pipeline.h"

#define POST_SUPPORTED "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence"

static int tmpl_push(embp_template *t, int32_t id, int seq, uint32_t type_id) {
    embp_tmpl_item *p = embp_realloc(t->p, ((size_t)t->n + 1) * sizeof *p);
    if (!p) return -1;
    t->p = p;
    t->p[t->n++] = (embp_tmpl_item){id, seq, type_id};
    if (seq < 0) t->n_special++;
    return 0;
}

static void tmpl_free(embp_template *t) {
    embp_free(t->p);
    memset(t, 0, sizeof *t);
}

/* The identity templates: A alone; A then B. */
static int tmpl_identity(embp_postprocessor *pp) {
    return tmpl_push(&pp->single, -1, 0, 0) || tmpl_push(&pp->pair, -1, 0, 0) ||
           tmpl_push(&pp->pair, -1, 1, 1);
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

static embp_status parse_cls_sep(json_t *j, const char *name, bool roberta, embp_postprocessor *pp,
                                 embp_error *err) {
    int32_t cls = 0, sep = 0;
    embp_status st;
    if ((st = pair_id(j, "cls", name, &cls, err)) || (st = pair_id(j, "sep", name, &sep, err)))
        return st;
    embp_template *s = &pp->single, *p = &pp->pair;
    uint32_t tb = roberta ? 0 : 1; /* Roberta gives B type 0 too */
    int rc = tmpl_push(s, cls, -1, 0) || tmpl_push(s, -1, 0, 0) || tmpl_push(s, sep, -1, 0) ||
             tmpl_push(p, cls, -1, 0) || tmpl_push(p, -1, 0, 0) || tmpl_push(p, sep, -1, 0) ||
             (roberta && tmpl_push(p, sep, -1, 0)) || tmpl_push(p, -1, 1, tb) ||
             tmpl_push(p, sep, -1, tb);
    return rc ? embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name) : EMBP_OK;
}

/* One template ("single" or "pair") of TemplateProcessing. */
static embp_status parse_template(json_t *j, const char *key, const char *name, embp_template *t,
                                  embp_error *err) {
    json_t *arr = json_object_get(j, key), *specials = json_object_get(j, "special_tokens");
    int seen[2] = {0, 0};
    if (!json_is_array(arr))
        return embp_fail(err, EMBP_EFORMAT, "%s: post_processor.%s must be an array", name, key);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *it = json_array_get(arr, i);
        json_t *sq = json_object_get(it, "Sequence"), *sp = json_object_get(it, "SpecialToken");
        json_t *item = json_is_object(sq) ? sq : sp;
        json_t *type = json_object_get(item, "type_id");
        const char *id = json_string_value(json_object_get(item, "id"));
        if (!json_is_object(item) || !id ||
            (type && (!json_is_integer(type) || json_integer_value(type) < 0 ||
                      json_integer_value(type) > UINT32_MAX)))
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: post_processor.%s[%zu] must be {\"Sequence\": {\"id\", "
                             "\"type_id\"}} or {\"SpecialToken\": {...}}",
                             name, key, i);
        uint32_t type_id = (uint32_t)json_integer_value(type);
        if (json_is_object(sq)) {
            int which = strcmp(id, "A") == 0 ? 0 : strcmp(id, "B") == 0 ? 1 : -1;
            if (which < 0 || seen[which]++)
                return embp_fail(err, EMBP_EFORMAT,
                                 "%s: post_processor.%s[%zu]: sequence \"%.8s\" must be A or B, "
                                 "once",
                                 name, key, i, id);
            if (tmpl_push(t, -1, which, type_id))
                return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
            continue;
        }
        json_t *ids = json_object_get(json_object_get(specials, id), "ids");
        if (!json_is_array(ids))
            return embp_fail(err, EMBP_EFORMAT,
                             "%s: post_processor: special token \"%.64s\" of the %s template is "
                             "not in special_tokens",
                             name, id, key);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            json_t *v = json_array_get(ids, k);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) >= INT32_MAX)
                return embp_fail(err, EMBP_EFORMAT,
                                 "%s: post_processor.special_tokens[\"%.64s\"].ids[%zu] is not an "
                                 "id",
                                 name, id, k);
            if (tmpl_push(t, (int32_t)json_integer_value(v), -1, type_id))
                return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        }
    }
    bool pair = strcmp(key, "pair") == 0;
    if (seen[0] != 1 || seen[1] != (pair ? 1 : 0))
        return embp_fail(err, EMBP_EFORMAT, "%s: post_processor.%s must hold %s", name, key,
                         pair ? "sequences A and B" : "sequence A (and not B)");
    return EMBP_OK;
}

static embp_status parse_one(json_t *j, const char *name, embp_postprocessor *pp, embp_error *err);

/* outer with sequence A replaced by the items of inner (HF's Sequence applies inner first,
 * then wraps its result); into *out. */
static int compose(const embp_template *outer, const embp_template *inner, embp_template *out) {
    for (int i = 0; i < outer->n; i++) {
        const embp_tmpl_item *o = &outer->p[i];
        if (o->seq != 0) {
            if (tmpl_push(out, o->id, o->seq, o->type_id)) return -1;
            continue;
        }
        for (int k = 0; k < inner->n; k++)
            if (tmpl_push(out, inner->p[k].id, inner->p[k].seq, inner->p[k].type_id)) return -1;
    }
    return 0;
}

static embp_status parse_sequence(json_t *j, const char *name, embp_postprocessor *pp,
                                  embp_error *err) {
    json_t *arr = json_object_get(j, "processors");
    if (!json_is_array(arr))
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: post_processor Sequence: \"processors\" must be an array", name);
    if (tmpl_identity(pp)) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        embp_postprocessor step;
        embp_template s = {0}, p = {0};
        embp_status st = parse_one(json_array_get(arr, i), name, &step, err);
        /* A step that adds nothing changes nothing; the first that adds gives its templates;
         * a later one wraps the merged result (one encoding by then) in its single template. */
        bool skip = !st && step.single.n_special == 0 && step.pair.n_special == 0;
        bool first = pp->single.n_special == 0 && pp->pair.n_special == 0;
        int rc = st || skip ? 0
                 : first    ? compose(&step.single, &pp->single, &s)
                            : compose(&step.single, &pp->single, &s) ||
                               compose(&step.single, &pp->pair, &p);
        if (!st && !skip && first) { /* step.pair as is */
            tmpl_free(&p);
            p = step.pair;
            step.pair = (embp_template){0};
        }
        tmpl_free(&step.single);
        tmpl_free(&step.pair);
        if (!st && step.n_trim && pp->n_trim + step.n_trim <= 32) { /* HF trims once per step */
            pp->trim_prefix |= step.trim_prefix << pp->n_trim;
            pp->n_trim += step.n_trim;
        }
        if (st || rc) {
            tmpl_free(&s);
            tmpl_free(&p);
            return st ? st : embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
        }
        if (skip) continue;
        tmpl_free(&pp->single);
        tmpl_free(&pp->pair);
        pp->single = s;
        pp->pair = p;
    }
    return EMBP_OK;
}

static embp_status parse_one(json_t *j, const char *name, embp_postprocessor *pp, embp_error *err) {
    memset(pp, 0, sizeof *pp);
    const char *type = json_string_value(json_object_get(j, "type"));
    embp_status st;
    if (!json_is_object(j) || !type)
        return embp_fail(err, EMBP_EFORMAT,
                         "%s: post_processor must be null or an object with a \"type\"", name);
    if (strcmp(type, "TemplateProcessing") == 0) {
        if ((st = parse_template(j, "single", name, &pp->single, err))) return st;
        json_t *pair = json_object_get(j, "pair");
        if (json_array_size(pair) > 0) /* [] (what some files hold) is as absent */
            return parse_template(j, "pair", name, &pp->pair, err);
        /* no pair template: the single one, then B */
        embp_tmpl_item a = {-1, 0, 0};
        int rc = compose(&pp->single, &(embp_template){&a, 1, 0}, &pp->pair) ||
                 tmpl_push(&pp->pair, -1, 1, 1);
        return rc ? embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name) : EMBP_OK;
    }
    if (strcmp(type, "BertProcessing") == 0) return parse_cls_sep(j, name, false, pp, err);
    bool roberta = strcmp(type, "RobertaProcessing") == 0, trim = true, prefix = true;
    if (roberta || strcmp(type, "ByteLevel") == 0) { /* offsets only: trim_offsets */
        const char *w = roberta ? "post_processor RobertaProcessing" : "post_processor ByteLevel";
        if ((st = embp_json_bool(j, "trim_offsets", true, &trim, name, w, err)) ||
            (st = embp_json_bool(j, "add_prefix_space", true, &prefix, name, w, err)))
            return st;
        pp->n_trim = trim;
        pp->trim_prefix = trim && prefix;
        if (roberta) return parse_cls_sep(j, name, true, pp, err);
        return tmpl_identity(pp) ? embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name) : EMBP_OK;
    }
    if (strcmp(type, "Sequence") == 0) return parse_sequence(j, name, pp, err);
    return embp_fail(err, EMBP_EUNSUPPORTED,
                     "%s: post_processor type '%.64s' is not supported (supported: " POST_SUPPORTED
                     ", null)",
                     name, type);
}

embp_status embp_postprocessor_parse(json_t *j, const char *name, embp_postprocessor *pp,
                                     embp_error *err) {
    embp_status st;
    if (!j || json_is_null(j)) {
        memset(pp, 0, sizeof *pp);
        st = tmpl_identity(pp) ? embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name) : EMBP_OK;
    } else {
        st = parse_one(j, name, pp, err);
    }
    if (st) return st;
    /* The single template's specials before and after A, for encoding one sequence. */
    pp->pre = embp_malloc(((size_t)pp->single.n + 1) * sizeof *pp->pre);
    pp->post = embp_malloc(((size_t)pp->single.n + 1) * sizeof *pp->post);
    if (!pp->pre || !pp->post) return embp_fail(err, EMBP_ENOMEM, "%s: out of memory", name);
    bool after = false;
    for (int i = 0; i < pp->single.n; i++) {
        const embp_tmpl_item *it = &pp->single.p[i];
        if (it->seq == 0)
            after = true;
        else if (after)
            pp->post[pp->n_post++] = it->id;
        else
            pp->pre[pp->n_pre++] = it->id;
    }
    return EMBP_OK;
}

void embp_postprocessor_clear(embp_postprocessor *pp) {
    if (!pp) return;
    tmpl_free(&pp->single);
    tmpl_free(&pp->pair);
    embp_free(pp->pre);
    embp_free(pp->post);
    memset(pp, 0, sizeof *pp);
}
