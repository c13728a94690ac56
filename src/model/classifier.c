/* The sequence-classification head of a cross-encoder (classifier.h). */
#include "model/classifier.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "model/bert_impl.h"

typedef enum { ACT_TANH, ACT_RELU } head_act;

struct embp_classifier {
    int H, L;
    head_act act;
    /* one allocation, starting at w1: */
    float *w1, *b1; /* (H, H) (H): the dense layer, weights (out, in) as torch stores them */
    float *w2, *b2; /* (L, H) (L): to the logits */
    float *h;       /* (H) scratch: one sequence's dense output */
};

/* A family's head: its two layers' tensor names (without ".weight"/".bias") and activation. */
typedef struct {
    const char *model_type, *dense, *out;
    head_act act;
} head_recipe;

static const head_recipe heads[] = {
    {"bert", "pooler.dense", "classifier", ACT_TANH},
    {"roberta", "classifier.dense", "classifier.out_proj", ACT_TANH},
    {"xlm-roberta", "classifier.dense", "classifier.out_proj", ACT_TANH},
    {"camembert", "classifier.dense", "classifier.out_proj", ACT_TANH},
    {"distilbert", "pre_classifier", "classifier", ACT_RELU},
};

/* Tensor name.suffix (under prefix, or without: BERT's pooler lives under "bert.", the
 * classifier beside it) as fp32 (rows, cols > 0 ? cols : none) into out. */
static embp_status load(const embp_safetensors *st, const char *prefix, const char *name,
                        const char *suffix, int rows, int cols, float *out, embp_error *err) {
    char full[160];
    const embp_st_tensor *t = NULL;
    for (int i = 0; i < 2 && !t; i++) {
        snprintf(full, sizeof full, "%s%s.%s", i ? "" : prefix, name, suffix);
        t = embp_st_find(st, full);
    }
    if (!t)
        return embp_fail(err, EMBP_EFORMAT, "model.safetensors: the classification head's "
                         "tensor '%s.%s' is missing (looked under '%s' and without a prefix)",
                         name, suffix, prefix);
    return embp_bert_tensor_f32(embp_kernels_pick(embp_cpu_get()), st, t, rows, cols, out, err);
}

embp_status embp_classifier_load(const embp_model_config *cfg, const embp_safetensors *st,
                                 embp_classifier **out, embp_error *err) {
    const char *type = cfg->model_type[0] ? cfg->model_type : "bert";
    const head_recipe *r = NULL;
    char names[128] = "";
    *out = NULL;
    for (size_t i = 0; i < sizeof heads / sizeof heads[0] && !r; i++) {
        if (strcmp(heads[i].model_type, type) == 0)
            r = &heads[i];
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", heads[i].model_type);
    }
    if (!r)
        return embp_fail(err, EMBP_EUNSUPPORTED, "config.json: architectures[0] '%s': embp has "
                         "no classification head for model_type '%s' (model/classifier.c has: "
                         "%s)", cfg->architecture, type, names);
    if (cfg->num_labels < 1)
        return embp_fail(err, EMBP_EINVAL, "config.json: num_labels %d", cfg->num_labels);
    size_t H = (size_t)cfg->hidden, L = (size_t)cfg->num_labels;
    embp_classifier *c = embp_calloc(1, sizeof *c);
    float *block = embp_malloc((H * H + H + L * H + L + H) * sizeof(float));
    if (!c || !block) {
        embp_free(c);
        embp_free(block);
        return embp_fail(err, EMBP_ENOMEM, "out of memory for a %zu x %zu classification head",
                         H, L);
    }
    *c = (embp_classifier){.H = cfg->hidden, .L = cfg->num_labels, .act = r->act, .w1 = block};
    c->b1 = c->w1 + H * H;
    c->w2 = c->b1 + H;
    c->b2 = c->w2 + L * H;
    c->h = c->b2 + L;
    const char *p = cfg->tensor_prefix;
    embp_status rc;
    if ((rc = load(st, p, r->dense, "weight", c->H, c->H, c->w1, err)) ||
        (rc = load(st, p, r->dense, "bias", c->H, 0, c->b1, err)) ||
        (rc = load(st, p, r->out, "weight", c->L, c->H, c->w2, err)) ||
        (rc = load(st, p, r->out, "bias", c->L, 0, c->b2, err))) {
        embp_classifier_free(c);
        return rc;
    }
    *out = c;
    return EMBP_OK;
}

void embp_classifier_free(embp_classifier *c) {
    if (c)
        embp_free(c->w1); /* the block */
    embp_free(c);
}

int embp_classifier_labels(const embp_classifier *c) {
    return c->L;
}

size_t embp_classifier_weight_bytes(const embp_classifier *c) {
    return ((size_t)c->H * (c->H + 1) + (size_t)c->L * (c->H + 1)) * sizeof(float);
}

/* y (rows) = W x + b, W (rows, cols) row-major. */
static void matvec(const float *w, const float *b, const float *x, int rows, int cols, float *y) {
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * cols;
        float s = 0.0f;
        for (int k = 0; k < cols; k++)
            s += wr[k] * x[k];
        y[r] = s + b[r];
    }
}

/* Two matrix-vector products per sequence, on one thread: a pass of n pairs costs n (H^2 +
 * L H) multiply-adds here against the encoder's ~12 H^2 per token per layer. */
void embp_classifier_apply(embp_classifier *c, const float *hidden, const int *offsets, int n,
                           float *logits) {
    int H = c->H;
    float *h = c->h;
    for (int s = 0; s < n; s++) {
        matvec(c->w1, c->b1, hidden + (size_t)offsets[s] * H, H, H, h);
        for (int k = 0; k < H; k++)
            h[k] = c->act == ACT_TANH ? tanhf(h[k]) : h[k] > 0.0f ? h[k] : 0.0f;
        matvec(c->w2, c->b2, h, c->L, H, logits + (size_t)s * c->L);
    }
}
