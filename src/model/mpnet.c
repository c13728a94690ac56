/* MPNet (model_type "mpnet"): BERT's arithmetic (post-norm layers, exact GELU, absolute positions
 * counted from padding_idx + 1 as RoBERTa's, no token types) under its own tensor names, plus a
 * relative position bias on every layer's attention scores (transformers' modeling_mpnet:
 * MPNetEncoder.compute_position_bias). So it is bert's load with a renaming, then the bias table
 * expanded by distance for bert's forward to pass to the kernels' attention_bias; this file holds
 * the names and the buckets. */
#include "model/mpnet.h"

#include <math.h>

#include "core/alloc.h"
#include "model/bert_impl.h"

/* BERT's layer tensor part -> MPNet's (HF modeling_mpnet: MPNetLayer). */
static const char *const names[][2] = {
    {"attention.self.query.", "attention.attn.q."},
    {"attention.self.key.", "attention.attn.k."},
    {"attention.self.value.", "attention.attn.v."},
    {"attention.output.dense.", "attention.attn.o."},
    {"attention.output.LayerNorm.", "attention.LayerNorm."},
};

/* "encoder.layer.N.<bert part>..." -> "encoder.layer.N.<mpnet part>..."; the embeddings' names
 * and the FFN's (intermediate.dense, output.dense, output.LayerNorm) are BERT's. */
static const char *rename_tensor(const char *bert_name, char *buf, size_t size) {
    return embp_bert_rename_layer(bert_name, "encoder.layer.", names, sizeof names / sizeof names[0], buf,
                                  size);
}

/* transformers calls relative_position_bucket with its defaults whatever the config holds:
 * 32 buckets, max distance 128. */
enum { BUCKETS = 32, MAX_DISTANCE = 128 };

/* Half the buckets for keys before the query, half for after; in each half the first 8
 * distances exactly, then 8 logarithmic ones up to MAX_DISTANCE. Computed in float32 as torch
 * does it (log of n / 8 divided by log(16), truncated), so each boundary falls where it does
 * there: at n = 8 * 2^(k/2) rounded up. */
int embp_mpnet_bucket(int rel) {
    int half = BUCKETS / 2, exact = half / 2, ret = 0, n = -rel;
    if (n < 0) {
        ret = half;
        n = -n;
    }
    if (n < exact)
        return ret + n;
    float scaled = logf((float)n / (float)exact) / (float)log((double)MAX_DISTANCE / exact) *
                   (float)(half - exact);
    int large = exact + (int)scaled;
    return ret + (large < half - 1 ? large : half - 1);
}

/* b->rel_bias (NH, rel_stride): head h's bias for every distance a forward reads (kernels.h
 * attention_bias: -(max_len - 1) .. Lp - 1), from the (buckets, NH) table. */
static embp_status expand_bias(embp_bert *b, const embp_model_config *cfg,
                               const embp_safetensors *st, embp_error *err) {
    float *table = NULL;
    int lp = (b->max_len + 15) / 16 * 16;
    b->rel_zero = b->max_len - 1;
    b->rel_stride = b->rel_zero + lp;
    size_t n = (size_t)b->NH * (size_t)b->rel_stride;
    embp_status rc = embp_bert_load_table(b, st, cfg->tensor_prefix,
                                          "encoder.relative_attention_bias.weight",
                                          cfg->rel_buckets, b->NH, &table, err);
    if (rc == EMBP_OK && !(b->rel_bias = embp_malloc_aligned(n * sizeof(float))))
        rc = embp_fail(err, EMBP_ENOMEM, "out of memory for the relative position bias");
    if (rc == EMBP_OK) {
        for (int h = 0; h < b->NH; h++)
            for (int d = -b->rel_zero; d < lp; d++)
                b->rel_bias[(size_t)h * b->rel_stride + b->rel_zero + d] =
                    table[(size_t)embp_mpnet_bucket(d) * b->NH + h];
        b->weight_bytes += n * sizeof(float);
    }
    if (table) {
        b->weight_bytes -= (size_t)cfg->rel_buckets * b->NH * sizeof(float);
        embp_free_aligned(table);
    }
    return rc;
}

embp_status embp_mpnet_load(const embp_model_config *cfg, const embp_safetensors *st,
                            const embp_plan *plan, int max_tokens, int max_len, int n_threads,
                            embp_bert **out, embp_error *err) {
    if (cfg->rel_buckets < BUCKETS)
        return embp_fail(err, EMBP_ECONFIG, "config.json: relative_attention_num_buckets %d, "
                         "expected at least %d (MPNet's attention reads %d buckets)",
                         cfg->rel_buckets, BUCKETS, BUCKETS);
    embp_status rc = embp_bert_load_renamed(cfg, st, plan, max_tokens, max_len, n_threads,
                                            rename_tensor, out, err);
    if (rc == EMBP_OK && (rc = expand_bias(*out, cfg, st, err))) {
        embp_bert_free(*out);
        *out = NULL;
    }
    return rc;
}

int embp_mpnet_dense_weight(const char *name) {
    static const char *const ends[] = {".attention.attn.q.weight", ".attention.attn.k.weight",
                                       ".attention.attn.v.weight", ".attention.attn.o.weight",
                                       ".intermediate.dense.weight", ".output.dense.weight"};
    return embp_bert_named_dense(name, "encoder.layer.", ends, sizeof ends / sizeof ends[0]);
}
