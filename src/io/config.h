/* A sentence-transformers / Hugging Face model folder's configuration files:
 *   config.json                     architecture and shapes (BERT family)
 *   modules.json                    the module chain: Transformer -> Pooling -> [Dense] -> [Normalize]
 *   1_Pooling/config.json           (or the path modules.json names) pooling mode
 *   sentence_bert_config.json       max_seq_length
 *   tokenizer.json                  path only here; tokenizer/ parses it
 * Missing optional files get sentence-transformers' defaults (no modules.json: mean pooling,
 * no normalization, max_seq_length = max_position_embeddings). A malformed or inconsistent
 * file is an error naming the file and the field.
 */
#ifndef EMBP_IO_CONFIG_H
#define EMBP_IO_CONFIG_H

#include "core/status.h"

typedef struct {
    /* config.json */
    char architecture[64];  /* architectures[0], e.g. "BertModel"; "" when absent */
    char model_type[32];    /* "bert", "roberta", "xlm-roberta", "camembert" (model/arch.c) */
    int hidden;             /* hidden_size */
    int layers;             /* num_hidden_layers */
    int heads;              /* num_attention_heads; hidden % heads == 0 */
    int intermediate;       /* intermediate_size */
    int vocab_size;
    int max_position;       /* max_position_embeddings */
    int type_vocab_size;    /* 0 when the model has no token type embeddings */
    int pad_token_id;
    int position_offset;    /* position row of a sequence's first token: 0 (BERT); pad_token_id
                             * + 1 for the RoBERTa family, whose positions count only non-pad
                             * tokens from there (HF create_position_ids_from_input_ids) */
    float layer_norm_eps;
    char hidden_act[24];    /* "gelu" (exact erf) is the one supported now */
    char position_embedding_type[24]; /* "absolute" */
    char tensor_prefix[32]; /* "", "bert." or "roberta." (task heads save with the prefix) */
    char torch_dtype[16];   /* "float32", "float16", "bfloat16", or "" */

    /* sentence-transformers modules */
    embp_pooling pooling;
    int normalize;          /* a Normalize module follows pooling */
    int max_seq_len;        /* sentence_bert_config.json max_seq_length, capped at
                             * max_position - position_offset */
    int is_demo;            /* config.json has "embp_demo": true */
} embp_model_config;

/* Reads all of the above from dir. */
embp_status embp_config_load(const char *dir, embp_model_config *out /* OUT */, embp_error *err);

/* The parts, for tests and fuzzing: each parses one file's text (name_for_errors names it in
 * messages) into out, leaving the fields it does not own untouched. */
embp_status embp_config_parse_config_json(const char *text, size_t len, const char *name_for_errors,
                                          embp_model_config *out, embp_error *err);
embp_status embp_config_parse_pooling_json(const char *text, size_t len,
                                           const char *name_for_errors, embp_model_config *out,
                                           embp_error *err);

#endif
