/* DistilBERT (model_type "distilbert"): BERT's arithmetic (post-norm layers, exact GELU, absolute
 * positions from 0) without token types, under its own tensor names and config keys
 * (io/config.c reads dim, hidden_dim, n_layers, n_heads, activation). So it is bert's load with
 * a renaming, and bert's forward; this file holds the names. */
#include "model/distilbert.h"

#include <string.h>

#include "model/bert_impl.h"

/* BERT's layer tensor part -> DistilBERT's (HF modeling_distilbert: TransformerBlock). */
static const char *const names[][2] = {
    {"attention.self.query.", "attention.q_lin."},
    {"attention.self.key.", "attention.k_lin."},
    {"attention.self.value.", "attention.v_lin."},
    {"attention.output.dense.", "attention.out_lin."},
    {"attention.output.LayerNorm.", "sa_layer_norm."},
    {"intermediate.dense.", "ffn.lin1."},
    {"output.dense.", "ffn.lin2."},
    {"output.LayerNorm.", "output_layer_norm."},
};

/* "encoder.layer.N.<bert part><weight|bias>" -> "transformer.layer.N.<distilbert part>...";
 * the embeddings' names are BERT's. */
static const char *rename_tensor(const char *bert_name, char *buf, size_t size) {
    return embp_bert_rename_layer(bert_name, "transformer.layer.", names,
                                  sizeof names / sizeof names[0], buf, size);
}

embp_status embp_distilbert_load(const embp_model_config *cfg, const embp_safetensors *st,
                                 const embp_plan *plan, int max_tokens, int max_len,
                                 int n_threads, embp_bert **out, embp_error *err) {
    return embp_bert_load_renamed(cfg, st, plan, max_tokens, max_len, n_threads, rename_tensor,
                                  out, err);
}

int embp_distilbert_dense_weight(const char *name) {
    static const char *const ends[] = {".attention.q_lin.weight", ".attention.k_lin.weight",
                                       ".attention.v_lin.weight", ".attention.out_lin.weight",
                                       ".ffn.lin1.weight", ".ffn.lin2.weight"};
    return embp_bert_named_dense(name, "transformer.layer.", ends, sizeof ends / sizeof ends[0]);
}
