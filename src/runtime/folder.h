/* A model folder parsed once: config.json (+ the sentence-transformers modules), tokenizer.json,
 * and the weights' tensor index (mapped, not read). Every model built from it shares these:
 * `auto` and fidelity build several plans from one folder without touching the disk again.
 *
 *     embp_folder *f;
 *     embp_folder_open("/models/all-MiniLM-L6-v2", &f, &err);
 *     ... resolve a plan (precision/plan.h) from f->file_storage and the request ...
 *     embp_model_build(f, &plan, opts, &m, &err);   // runtime/model.h: m borrows f
 *     embp_folder_release_weights(f);                // packed: the file's pages can go
 */
#ifndef EMBP_RUNTIME_FOLDER_H
#define EMBP_RUNTIME_FOLDER_H

#include "io/config.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    char *path;
    embp_model_config cfg;
    embp_tokenizer *tok;
    embp_safetensors *st; /* mapped until embp_folder_free: models may use tensors in place */
    int finite_checked;   /* the weights were scanned for NaN/Inf (once per open) */
    /* Written by embp quantize (io metadata "embp.storage"): the file's storage (embp_storage)
     * and int4 group, or -1 and 0 for an ordinary checkpoint. */
    int file_storage, file_group;
    char file_desc[4200]; /* "<dir>/model.safetensors", for messages */
} embp_folder;

/* Parses dir's config, tokenizer and tensor index. Errors name the file and the field. */
embp_status embp_folder_open(const char *dir, embp_folder **out /* OUT */, embp_error *err);
void embp_folder_free(embp_folder *f); /* NULL is fine */

/* The weights, checked finite on first use. */
embp_status embp_folder_weights(embp_folder *f, const embp_safetensors **out /* OUT */,
                                embp_error *err);
/* Drops the weights' resident pages once the models built from f are packed (madvise; the
 * page cache keeps them): the mapping stays until embp_folder_free, because a model reads the
 * tensors whose format its plan keeps (the word table in the file's dtype) in place, faulting
 * their pages back as it uses them. A model built from f must be freed before f (a model that
 * owns f, embp_model_own_folder, frees it last). */
void embp_folder_release_weights(embp_folder *f);

#endif
