"""Model folders for bench/families.sh: one per family, a randomly initialized transformers model
of that class at a real model's width, its tokenizer trained here (tests/arch_reference.py's),
saved as a sentence-transformers folder (mean pooling, Normalize) with onnx/model.onnx exported
from the same weights by torch.onnx (opset 17), the inputs the ONNX Runtime peer feeds
(input_ids, attention_mask, token_type_ids; a family without token types ignores the last).

    families.py OUT_DIR SOURCE_DIR LAYERS [FAMILY ...]

A family whose folder an earlier run made (listed in OUT_DIR/families.json) is kept.

Widths (hidden, heads, FFN) are the real models' named in FAMILIES; LAYERS layers each (the
real ones have 6 or 12). Vocabularies are the trained tokenizers' (1000 to 4000), not the real
ones: the word table is only gathered, so its size moves neither side's speed. To add a family:
a row in families() (its config and model class, its tokenizer) and nothing else, or, for a
folder that is not one class's save_pretrained, a maker in MADE."""
import json
import os
import sys

SRC = sys.argv[2] if len(sys.argv) > 2 else "."
sys.path.insert(0, os.path.join(SRC, "tests"))
import arch_reference as ar  # noqa: E402

BASE = dict(hidden_size=768, num_attention_heads=12, intermediate_size=3072)
VOCAB = 4000  # WordPiece: enough for the benchmark's words to be one token each
SMALL = dict(hidden_size=384, num_attention_heads=12, intermediate_size=1536)


def families(work, texts):
    """name -> (real model the width is from, config class, model class, tokenizer, config)."""
    import transformers as tf
    from tokenizers import processors
    wp = ar.wordpiece(texts, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[UNK]", VOCAB)
    wp.post_processor = processors.BertProcessing(("[SEP]", wp.token_to_id("[SEP]")),
                                                  ("[CLS]", wp.token_to_id("[CLS]")))
    bert_tok = tf.BertTokenizerFast(tokenizer_object=wp, unk_token="[UNK]", pad_token="[PAD]",
                                    cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    _, _, _, mp_tok, _, _, _ = ar.mpnet_family(texts, VOCAB)
    uni = ar.spm_tokenizer(work, texts)
    roberta = dict(pad_token_id=1, type_vocab_size=1, layer_norm_eps=1e-5,
                   max_position_embeddings=514)
    return {
        "bert": ("BAAI/bge-base-en-v1.5", tf.BertConfig, tf.BertModel, bert_tok,
                 dict(BASE, pad_token_id=0)),
        "bert-small": ("sentence-transformers/all-MiniLM-L6-v2", tf.BertConfig, tf.BertModel,
                       bert_tok, dict(SMALL, pad_token_id=0)),
        "xlm-roberta": ("intfloat/multilingual-e5-base", tf.XLMRobertaConfig,
                        tf.XLMRobertaModel, uni, dict(BASE, **roberta)),
        "distilbert": ("sentence-transformers/msmarco-distilbert-base-v4", tf.DistilBertConfig,
                       tf.DistilBertModel, bert_tok,
                       dict(dim=768, n_heads=12, hidden_dim=3072, pad_token_id=0)),
        "mpnet": ("sentence-transformers/all-mpnet-base-v2", tf.MPNetConfig, tf.MPNetModel,
                  mp_tok, dict(BASE, pad_token_id=1, layer_norm_eps=1e-5,
                               max_position_embeddings=514)),
    }


def modernbert(path, texts, layers):
    """ModernBERT at its real width (rotenc_reference's shape: GeGLU, local/global attention
    every third layer), LAYERS layers; transformers' own folder keys."""
    import torch
    import transformers as tf
    import rotenc_reference as rr
    tok = rr.bpe_tokenizer(texts)
    cfg = rr.modernbert_config(tok, True, num_hidden_layers=layers)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = tf.ModernBertModel(cfg).eval()
    ar.st_folder(path, model, tok, True)
    return model


def nomic_bert(path, texts, layers):
    """NomicBERT as nomic-ai publishes it (rotenc_reference.make_nomic: its config keys and
    tensor names, which embp reads) at nomic-embed-text-v1.5's width; the peer's graph is
    exported from transformers' NomicBertModel holding the same weights renamed."""
    import rotenc_reference as rr
    made, cfg, w = rr.make_nomic(os.path.dirname(path), texts, True, layers, VOCAB)
    if made != path:
        os.replace(made, path)
    model = rr.nomic_transformers(cfg, w)
    if model is None:
        raise SystemExit("families: this transformers has no NomicBertModel to export")
    return model


# families whose folder is not one transformers class's save_pretrained: name -> (like, maker)
MADE = {"modernbert": ("nomic-ai/modernbert-embed-base", modernbert),
        "nomic-bert": ("nomic-ai/nomic-embed-text-v1.5", nomic_bert)}


def export(model, path):
    import torch

    class Peer(torch.nn.Module):  # the peer's three inputs, last_hidden_state out
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            # kept as an input the graph reads (ONNX Runtime refuses a feed it does not declare)
            return self.m(input_ids=input_ids + token_type_ids * 0,
                          attention_mask=attention_mask).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    os.makedirs(os.path.join(path, "onnx"), exist_ok=True)
    torch.onnx.export(Peer(model), (ids, ids, ids * 0), os.path.join(path, "onnx", "model.onnx"),
                      input_names=names, output_names=["last_hidden_state"],
                      dynamic_axes={k: {0: "batch", 1: "seq"} for k in names + ["last_hidden_state"]},
                      opset_version=17, dynamo=False)


def main():
    import torch
    out, layers, only = sys.argv[1], int(sys.argv[3]), sys.argv[4:]
    os.makedirs(out, exist_ok=True)
    # the words of the benchmark's texts (peer.mjs bench, bench_forward), one token each
    # (each word also starts a line: byte-level BPE tells a word at a text's start from one
    # after a space)
    words = "the of and in to was he is for on".split()
    texts = ar.corpus(SRC) + [" ".join(words[i:] + words[:i]) for i in range(10)] * 100
    index = os.path.join(out, "families.json")
    rows = json.load(open(index)) if os.path.exists(index) else {}

    def wanted(name):  # asked for (or all asked) and not made by an earlier run
        return (not only or name in only) and not (
            name in rows and os.path.exists(os.path.join(out, name, "onnx", "model.onnx")))
    for name, (like, config_cls, model_cls, tok, cfg) in families(out, texts).items():
        if not wanted(name):
            continue
        path = os.path.join(out, name)
        cfg = dict(cfg, **({"n_layers": layers} if name == "distilbert"
                           else {"num_hidden_layers": layers}))
        torch.manual_seed(0)
        model = model_cls(config_cls(**dict(dict(vocab_size=len(tok)), **cfg))).eval()
        ar.st_folder(path, model, tok, True)
        export(model, path)
        rows[name] = {"like": like, "layers": layers,
                      "hidden": getattr(model.config, "hidden_size", getattr(model.config, "dim", 0))}
        print("%s: %s width, %d layers -> %s" % (name, like, layers, path), file=sys.stderr)
    for name, (like, maker) in MADE.items():
        if not wanted(name):
            continue
        path = os.path.join(out, name)
        model = maker(path, texts, layers).eval()
        export(model, path)
        rows[name] = {"like": like, "layers": layers, "hidden": model.config.hidden_size}
        print("%s: %s width, %d layers -> %s" % (name, like, layers, path), file=sys.stderr)
    with open(index, "w") as f:
        json.dump(rows, f)


if __name__ == "__main__":
    main()
