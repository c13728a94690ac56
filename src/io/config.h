/* A sentence-transformers / Hugging Face model folder's configuration files:
 *   config.json                     architecture and shapes (BERT family)
 *   modules.json                    the module chain: Transformer -> Pooling -> [Dense] -> [Normalize]
 *   1_Pooling/config.json           (or the path modules.json names) pooling mode, include_prompt
 *   2_Dense/config.json             (each Dense module modules.json names) its shape, bias and
 *                                   activation; the weights (model.safetensors there) are
 *                                   runtime/model.c's to load
 *   sentence_bert_config.json       max_seq_length, do_lower_case
 *   tokenizer_config.json           model_max_length: max_seq_length when the above has none
 *                                   (sentence-transformers 6 saves it there)
 *   config_sentence_transformers.json  prompts (name -> text), default_prompt_name
 *   tokenizer.json                  path only here; tokenizer/ parses it
 * Missing optional files get sentence-transformers' defaults (no modules.json: mean pooling,
 * no normalization, max_seq_length = max_position_embeddings). A malformed or inconsistent
 * file is an error naming the file and the field.
 */
#ifndef EMBP_IO_CONFIG_H
#define EMBP_IO_CONFIG_H

#include "core/status.h"

/* Room for a folder's prompts (names and texts, NUL-terminated): a fixed arena, so the config
 * stays a plain value that models copy and nobody frees. The longest sets published (tens of
 * task instructions) take a few KiB. */
#define EMBP_PROMPTS_BYTES 32768
/* Dense modules after pooling (sentence-transformers models use one or two). */
#define EMBP_MAX_DENSE 4

/* The activations a Dense module may name (torch.nn.modules.*). */
typedef enum {
    EMBP_ACT_IDENTITY,
    EMBP_ACT_TANH,
    EMBP_ACT_RELU,
    EMBP_ACT_SIGMOID,
    EMBP_ACT_GELU, /* torch.nn.GELU's default: exact erf */
} embp_activation;

/* One sentence-transformers Dense module: y = act(W x + b), W (out, in) and b (out) in
 * path/model.safetensors as linear.weight / linear.bias. */
typedef struct {
    int in, out, bias;
    embp_activation act;
    char path[256]; /* the module's folder, relative to the model folder ("2_Dense") */
} embp_dense_config;

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
                             * tokens from there (HF create_position_ids_from_input_ids). Not
                             * read from the file: the architecture's recipe (model/arch.h
                             * pos_after_pad), set by runtime/folder.c */
    float layer_norm_eps;
    int rel_buckets;        /* relative_attention_num_buckets (MPNet's bias table rows); 0: none */
    char hidden_act[24];    /* "gelu" (exact erf) is the one supported now */
    char position_embedding_type[24]; /* "absolute" */
    char tensor_prefix[32]; /* "", "bert.", "roberta.", "mpnet." (task heads save with the prefix) */
    char torch_dtype[16];   /* "float32", "float16", "bfloat16", or "" */
    int num_labels;         /* architectures[0] *ForSequenceClassification (a cross-encoder):
                             * its labels (id2label's size, else num_labels, else transformers'
                             * default 2); 0: an encoder without a classification head */
    /* decoder families (qwen3, qwen2, mistral, llama): io/config.c's read_decoder */
    int kv_heads;           /* num_key_value_heads (GQA); heads when absent */
    int head_dim;           /* head_dim; hidden / heads when absent */
    double rope_theta;      /* rope_theta or rope_parameters.rope_theta; 10000 when absent */
    int attention_bias;     /* q/k/v/o projections have biases (Qwen2's q/k/v always have) */
    int sliding_window;     /* Mistral's: each token sees this many, itself included; 0: all */
    /* rotary encoders (model/rotenc.c: modernbert, nomic_bert); zero for the others. Their
     * rope_theta (above) is the rotary base of the global layers (nomic_bert: of every layer) */
    double rope_theta_local; /* of the sliding-window layers (modernbert) */
    float rotary_fraction;   /* share of each head rotated (nomic_bert rotary_emb_fraction) */
    int window;              /* a sliding-window layer's token sees tokens within +-window
                              * (a bidirectional window, not sliding_window's causal count) */
    int global_every;        /* layer i attends globally when i % global_every == 0 */
    int norm_bias;           /* LayerNorms have a bias (modernbert norm_bias) */
    int qkv_bias, out_bias, up_bias, down_bias; /* which dense layers have a bias */

    /* sentence-transformers modules */
    embp_pooling pooling;
    int include_prompt;     /* 1 (default): pooling takes the prompt's tokens too; 0: it leaves
                             * them out (sentence-transformers' Pooling include_prompt) */
    embp_dense_config dense[EMBP_MAX_DENSE]; /* after pooling, in modules.json's order */
    int n_dense;
    int normalize;          /* a Normalize module follows pooling (and the Dense modules) */
    int dim;                /* the embedding size: hidden, or the last Dense's out_features */
    int max_seq_len;        /* sentence_bert_config.json max_seq_length, else
                             * tokenizer_config.json model_max_length, capped at
                             * max_position (and at max_position - position_offset by
                             * runtime/folder.c) */
    int do_lower_case;      /* sentence_bert_config.json: lowercase the text first */
    /* config_sentence_transformers.json: n_prompts (name, text) pairs packed in prompt_data as
     * name\0text\0...; default_prompt indexes them, -1 for none. */
    int n_prompts, default_prompt;
    char prompt_data[EMBP_PROMPTS_BYTES];
    int is_demo;            /* config.json has "embp_demo": true */
} embp_model_config;

/* The tokens per input a decoder family (qwen3) gets when its folder allows more. */
#define EMBP_DECODER_DEFAULT_CONTEXT 8192

/* Reads all of the above from dir. */
embp_status embp_config_load(const char *dir, embp_model_config *out /* OUT */, embp_error *err);

/* The parts, for tests and fuzzing: each parses one file's text (name_for_errors names it in
 * messages) into out, leaving the fields it does not own untouched. */
embp_status embp_config_parse_config_json(const char *text, size_t len, const char *name_for_errors,
                                          embp_model_config *out, embp_error *err);
embp_status embp_config_parse_pooling_json(const char *text, size_t len,
                                           const char *name_for_errors, embp_model_config *out,
                                           embp_error *err);

embp_status embp_config_parse_dense_json(const char *text, size_t len, const char *name_for_errors,
                                         embp_model_config *out, embp_error *err);
embp_status embp_config_parse_prompts_json(const char *text, size_t len,
                                           const char *name_for_errors, embp_model_config *out,
                                           embp_error *err);

/* Prompt i (0 <= i < n_prompts): its name, and its text in *text (may be NULL). */
const char *embp_config_prompt(const embp_model_config *c, int i, const char **text /* OUT */);
/* The index of the prompt called name, or -1. */
int embp_config_find_prompt(const embp_model_config *c, const char *name);
/* The prompt names as "'a', 'b'" (or "none") into buf, for messages. */
void embp_config_prompt_names(const embp_model_config *c, char *buf, size_t size);

#endif
