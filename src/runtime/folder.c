/* embp_folder: a model folder parsed once (folder.h). */
#include "runtime/folder.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/qformat.h"
#include "model/arch.h"
#include "precision/plan.h"

/* The storage embp quantize recorded in st (io/qformat.h's metadata), or -1 for an ordinary
 * folder; int4's group size. desc names the file in messages. */
static embp_status peek_metadata(const embp_safetensors *st, const char *desc, int *storage,
                                 int *group, embp_error *err) {
    *storage = -1, *group = 0;
    embp_qf_meta meta;
    embp_status rc = embp_qf_meta_read(st, desc, &meta, err);
    if (rc == EMBP_OK && meta.storage)
        *storage = embp_storage_parse(meta.storage), *group = meta.group_size;
    return rc;
}

/* An id past config.json's vocab_size would fail every pass holding it, at request time:
 * refused at load, naming tokenizer.json's part, the id and its token. */
static embp_status check_vocab(const embp_folder *f, const char *tok_path, embp_error *err) {
    const char *source;
    int32_t max_id = embp_tokenizer_max_id(f->tok, &source);
    if (max_id < f->cfg.vocab_size)
        return EMBP_OK;
    const char *tok = embp_tokenizer_id_to_token(f->tok, max_id);
    return embp_fail(err, EMBP_EFORMAT, "%s: %s has token id %d (\"%.64s\"), outside "
                     "%s/config.json's vocab_size %d", tok_path, source, (int)max_id,
                     tok ? tok : "?", f->path, f->cfg.vocab_size);
}

/* 1 when the normalizer n is Lowercase or a Sequence holding one. */
static int has_lowercase(json_t *n) {
    const char *type = json_string_value(json_object_get(n, "type"));
    if (type && strcmp(type, "Lowercase") == 0)
        return 1;
    json_t *v;
    size_t i;
    if (type && strcmp(type, "Sequence") == 0) {
        json_array_foreach(json_object_get(n, "normalizers"), i, v) {
            if (has_lowercase(v))
                return 1;
        }
    }
    return 0;
}

/* tokenizer.json at path with sentence_bert_config.json's do_lower_case: as
 * sentence-transformers sets it on a fast tokenizer, a Lowercase normalizer first (the old one,
 * a Sequence's members, after it), unless one is already there. */
static embp_status load_lowercased(const char *path, embp_tokenizer **out, embp_error *err) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return embp_fail(err, EMBP_EFORMAT, "%s: invalid JSON: %s (line %d)", path,
                         root ? "not an object" : je.text, root ? 0 : je.line);
    }
    json_t *norm = json_object_get(root, "normalizer");
    if (!has_lowercase(norm)) {
        json_t *list = json_array();
        json_array_append_new(list, json_pack("{s:s}", "type", "Lowercase"));
        const char *type = json_string_value(json_object_get(norm, "type"));
        if (type && strcmp(type, "Sequence") == 0)
            json_array_extend(list, json_object_get(norm, "normalizers"));
        else if (norm && !json_is_null(norm))
            json_array_append(list, norm);
        json_object_set_new(root, "normalizer",
                            json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", list));
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return embp_fail(err, EMBP_ENOMEM, "%s: out of memory adding do_lower_case", path);
    embp_status rc = embp_tokenizer_load_json(text, strlen(text), path, out, err);
    free(text);
    return rc;
}

/* Where the architecture's positions start (its recipe's pos_after_pad: 0, or pad_token_id + 1)
 * into f->cfg.position_offset, and max_seq_len capped at the positions left. */
static embp_status apply_positions(embp_folder *f, embp_error *err) {
    embp_model_config *c = &f->cfg;
    const embp_arch *a = embp_arch_find(c, err);
    if (!a)
        return EMBP_EUNSUPPORTED;
    c->position_offset = a->recipe.pos_after_pad ? c->pad_token_id + 1 : 0;
    if (c->position_offset >= c->max_position)
        return embp_fail(err, EMBP_EFORMAT, "%s/config.json: pad_token_id %d leaves no position "
                         "of max_position_embeddings %d (model_type '%s' counts positions from "
                         "pad_token_id + 1)", f->path, c->pad_token_id, c->max_position,
                         c->model_type);
    if (c->max_seq_len > c->max_position - c->position_offset)
        c->max_seq_len = c->max_position - c->position_offset;
    return EMBP_OK;
}

embp_status embp_folder_open(const char *dir, embp_folder **out, embp_error *err) {
    *out = NULL;
    if (!dir || !*dir)
        return embp_fail(err, EMBP_EINVAL, "model folder path is empty");
    embp_folder *f = embp_calloc(1, sizeof *f);
    if (!f || !(f->path = embp_strdup(dir))) {
        embp_free(f);
        return embp_fail(err, EMBP_ENOMEM, "out of memory");
    }
    char path[4096];
    snprintf(f->file_desc, sizeof f->file_desc, "%s/model.safetensors", dir);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    embp_status rc;
    if ((rc = embp_config_load(dir, &f->cfg, err)) || (rc = apply_positions(f, err)) ||
        (rc = f->cfg.do_lower_case ? load_lowercased(path, &f->tok, err)
                                   : embp_tokenizer_load(path, &f->tok, err)) ||
        (rc = check_vocab(f, path, err)) ||
        (rc = embp_st_open_dir(dir, &f->st, err)) ||
        (rc = peek_metadata(f->st, f->file_desc, &f->file_storage, &f->file_group, err))) {
        embp_folder_free(f);
        return rc;
    }
    *out = f;
    return EMBP_OK;
}

void embp_folder_free(embp_folder *f) {
    if (!f)
        return;
    embp_st_close(f->st);
    embp_tokenizer_free(f->tok);
    embp_free(f->path);
    embp_free(f);
}

embp_status embp_folder_weights(embp_folder *f, const embp_safetensors **out, embp_error *err) {
    embp_status rc;
    *out = NULL;
    if (!f->st && (rc = embp_st_open_dir(f->path, &f->st, err)))
        return rc;
    if (!f->finite_checked) {
        if ((rc = embp_st_check_finite(f->st, err)))
            return rc;
        f->finite_checked = 1; /* the scan released each tensor's pages as it went */
    }
    *out = f->st;
    return EMBP_OK;
}

void embp_folder_release_weights(embp_folder *f) {
    if (f && f->st)
        embp_st_release_pages(f->st);
}
