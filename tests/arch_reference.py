"""transformers as the reference for the encoder families embp runs besides BERT.

    arch_reference.py EMBP_BIN WORK_DIR SOURCE_DIR

For each family it makes a sentence-transformers folder in WORK_DIR from a randomly initialized
transformers model of that class (torch.manual_seed), saved by save_pretrained
(safe_serialization=True), with a tokenizer trained here, modules.json and mean pooling:

  xlm-roberta  XLMRobertaModel (bare: tensors without a prefix), a SentencePiece Unigram model
               converted by XLMRobertaTokenizerFast (Precompiled, Metaspace, RobertaProcessing)
  roberta      RobertaModel, a byte-level BPE trained by `tokenizers`, then Normalize
  camembert    CamembertForMaskedLM (a task head: tensors under "roberta."), the Unigram model
  distilbert   DistilBertModel (its own tensor names and config keys), a WordPiece trained by
               `tokenizers`, then Normalize
  mpnet        MPNetModel (relative position buckets), a WordPiece with MPNet's specials and
               <s> ... </s> template, then Normalize as all-mpnet-base-v2; texts up to 128
               tokens reach every bucket (distance >= 91 is the last); EMBP_SLOW_TESTS=1 runs
               all-mpnet-base-v2's shapes (768 x 12 layers, vocab 30527) instead

The reference is sentence-transformers on that folder: transformers' forward (positions from
pad_token_id + 1, create_position_ids_from_input_ids), mean pooling, Normalize. embp fp32 must
reach cosine >= COS_MIN on every text of a multilingual corpus; bf16, int8 and int4 must run and
keep the cosines below; a folder whose model_type embp lacks must fail at load naming it and
the model_types embp runs.

`embp quantize` of each folder to int8 and int4 must write every linear layer of the encoder
(the names below, transformers' nn.Linear weights of each layer) as I8 / U8 codes with their
_scale, never float, and the quantized folder must embed within the plan's bound of the
reference and as embp embeds the source at that plan."""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refutil import (corpus_lines, cosines, embp_embed, embp_tokenize, finish, hf_ids,  # noqa: E402
                     randomize, st_encode, st_model)

COS_MIN = 0.99999
# Fidelity of the reduced plans to the reference on these random models (measured: see the
# printed minima; the bounds leave a margin and still catch a plan that computes garbage).
PLAN_COS_MIN = {"bf16": 0.9999, "int8": 0.999, "int4": 0.95}
MAX_SEQ = 128
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def corpus(src):
    lines = corpus_lines(src)
    # a literal <pad> (an added special token: its position is padding_idx, not the next one)
    # and texts cut at max_seq_length (the last position row that embp may use)
    lines += ["a <pad> b <pad>", "<pad>", "multilingual " * 200, "слово " * 300]
    return list(dict.fromkeys(lines))


def spm_tokenizer(work, texts):
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizerFast
    data = os.path.join(work, "spm.txt")
    with open(data, "w", encoding="utf-8") as f:
        f.write("\n".join(texts * 3))
    spm.SentencePieceTrainer.train(input=data, model_prefix=os.path.join(work, "uni"),
                                   vocab_size=1000, model_type="unigram",
                                   normalization_rule_name="nmt_nfkc",
                                   character_coverage=0.995, minloglevel=2)
    return XLMRobertaTokenizerFast(vocab_file=os.path.join(work, "uni.model"))


def trained_bpe(texts, specials):
    """A byte-level BPE `tokenizers` trains on texts (BpeTrainer + ByteLevel), no post-processor."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts * 3, trainers.BpeTrainer(
        vocab_size=1200, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def bpe_tokenizer(texts):
    from tokenizers import processors
    from transformers import RobertaTokenizerFast
    tok = trained_bpe(texts, SPECIALS)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")))
    return RobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                pad_token="<pad>", mask_token="<mask>")


def wordpiece(texts, special, unk, vocab_size=1000):
    """A WordPiece trained by `tokenizers` as BERT's: BertNormalizer lowercase, BertPreTokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    tok = Tokenizer(models.WordPiece(unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts * 3, trainers.WordPieceTrainer(vocab_size=vocab_size,
                                                                 special_tokens=special))
    return tok


def wordpiece_tokenizer(texts, vocab_size=1000):
    from tokenizers import processors
    from transformers import DistilBertTokenizerFast
    tok = wordpiece(texts, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[UNK]", vocab_size)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return DistilBertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def mpnet_family(texts, vocab_size=1000):
    """MPNet: all-mpnet-base-v2's tokenizer layout (BertNormalizer lowercase, WordPiece, specials
    <s> <pad> </s> <unk> first, "<s> $A </s>") trained here, and its config; the family row of
    make_models. Its relative position table is scaled to the scores' size so that a wrong
    bucket shows."""
    from tokenizers import processors
    import transformers as tf
    tok = wordpiece(texts, SPECIALS, "<unk>", vocab_size)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    fast = tf.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                      sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                      pad_token="<pad>", mask_token="<mask>")
    cfg = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
               max_position_embeddings=MAX_SEQ + 2, pad_token_id=1, layer_norm_eps=1e-5,
               relative_attention_num_buckets=32, initializer_range=0.1)
    if os.environ.get("EMBP_SLOW_TESTS") == "1":  # all-mpnet-base-v2's shapes
        cfg.update(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                   intermediate_size=3072, vocab_size=30527, initializer_range=0.02)

    def scale(model):
        import torch
        with torch.no_grad():
            model.encoder.relative_attention_bias.weight.normal_(0.0, 1.0)
    return ("mpnet", tf.MPNetConfig, tf.MPNetModel, fast, True, cfg, scale)


def mpnet_plans(binary, path, texts, ref, layers):
    """The plans beside --precision on MPNet: storage-only fp16/bf16 (fp32 compute), int4 with
    int8 compute (its `embp quantize` folders are quantized_folders_fail's, as every family's)."""
    failures = []
    plans = {"fp16": (["--precision", "fp16"], PLAN_COS_MIN["bf16"]),
             "fp16/fp32": (["--storage-precision", "fp16", "--computation-precision", "fp32"],
                           PLAN_COS_MIN["bf16"]),
             "bf16/fp32": (["--storage-precision", "bf16", "--computation-precision", "fp32"],
                           PLAN_COS_MIN["bf16"]),
             "int4/int8": (["--storage-precision", "int4", "--computation-precision", "int8"],
                           PLAN_COS_MIN["int4"])}
    for plan, (flags, bound) in plans.items():
        c = cosines(ref, embp_embed(binary, path, texts, flags)[0])
        print("  %-9s vs transformers: min cosine %.5f" % (plan, c.min()))
        if c.min() < bound:
            failures.append("mpnet %s: min cosine %.5f < %g" % (plan, c.min(), bound))
    return failures


def st_folder(path, model, tok, normalize):
    """A sentence-transformers folder: the model, its tokenizer, mean pooling [, Normalize]."""
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    st_modules(path, model.config.dim if hasattr(model.config, "dim")
               else model.config.hidden_size, normalize)


def st_modules(path, hidden, normalize, pooling="mean", max_seq=MAX_SEQ):
    """A sentence-transformers folder's module files: modules.json, 1_Pooling/config.json
    (pooling "mean" or "cls"), sentence_bert_config.json."""
    modules = [{"idx": 0, "name": "0", "path": "",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(path, "modules.json"), "w") as f:
        json.dump(modules, f)
    os.makedirs(os.path.join(path, "1_Pooling"), exist_ok=True)
    with open(os.path.join(path, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": hidden,
                   "pooling_mode_mean_tokens": pooling == "mean",
                   "pooling_mode_cls_token": pooling == "cls",
                   "pooling_mode_max_tokens": False}, f)
    with open(os.path.join(path, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": max_seq, "do_lower_case": False}, f)


def make_models(work, texts):
    import torch
    import transformers as tf
    uni = spm_tokenizer(work, texts)
    bpe = bpe_tokenizer(texts)
    shapes = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128, max_position_embeddings=MAX_SEQ + 2, pad_token_id=1,
                  type_vocab_size=1, layer_norm_eps=1e-5, initializer_range=0.1)
    families = [("xlm-roberta", tf.XLMRobertaConfig, tf.XLMRobertaModel, uni, False, shapes, None),
                ("roberta", tf.RobertaConfig, tf.RobertaModel, bpe, True, shapes, None),
                ("camembert", tf.CamembertConfig, tf.CamembertForMaskedLM, uni, False, shapes,
                 None)]
    wp = wordpiece_tokenizer(texts)
    distil = dict(dim=64, n_layers=2, n_heads=4, hidden_dim=128, max_position_embeddings=MAX_SEQ,
                  pad_token_id=0, initializer_range=0.1)
    families.append(("distilbert", tf.DistilBertConfig, tf.DistilBertModel, wp, True, distil, None))
    families.append(mpnet_family(texts))
    out = []
    for name, config_cls, model_cls, tok, normalize, cfg, scale in families:
        assert tok.pad_token_id == cfg["pad_token_id"], (name, tok.pad_token_id)
        torch.manual_seed(0)
        model = model_cls(config_cls(**dict(dict(vocab_size=len(tok)), **cfg))).eval()
        randomize(model)
        if scale:
            scale(model)
        path = os.path.join(work, name)
        st_folder(path, model, tok, normalize)
        out.append((name, path))
    return out


# The encoder layers' linear weights of each family, as transformers names them (a task head
# nests them under "roberta." / "distilbert."): what int8 and int4 files must hold as codes.
DENSE = {
    "bert": r"(^|\.)encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\."
            r"dense|intermediate\.dense|output\.dense)\.weight$",
    "distilbert": r"(^|\.)transformer\.layer\.\d+\.(attention\.(q_lin|k_lin|v_lin|out_lin)|"
                  r"ffn\.(lin1|lin2))\.weight$",
    "mpnet": r"(^|\.)encoder\.layer\.\d+\.(attention\.attn\.(q|k|v|o)|intermediate\.dense|"
             r"output\.dense)\.weight$",
    # the rotary encoders (tests/rotenc_reference.py): 4 and 5 per layer
    "modernbert": r"(^|\.)layers\.\d+\.(attn\.(Wqkv|Wo)|mlp\.(Wi|Wo))\.weight$",
    "nomic_bert": r"(^|\.)layers\.\d+\.(attn\.(Wqkv|out_proj)|mlp\.(fc11|fc12|fc2))\.weight$",
}


def safetensors_header(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))


def quantized_folders_fail(binary, name, path, texts, ref, family, n_dense,
                           plan_min=PLAN_COS_MIN, plans=("int8", "int4"), flags=()):
    """embp quantize (with flags) to each of plans: the n_dense dense weights (DENSE[family]'s
    names) as I8 / U8 codes with their _scale, the folder's vectors within plan_min[plan] of ref
    and as embp embeds the source at that plan. Returns the failures."""
    import re
    failures = []
    dense = re.compile(DENSE[family])
    for plan in plans:
        q = path + "-" + plan
        r = subprocess.run([binary, "quantize", path, q, "--precision", plan, *flags],
                           capture_output=True)
        if r.returncode != 0:
            failures.append("%s: embp quantize --precision %s exits %d: %s"
                            % (name, plan, r.returncode, r.stderr.decode()[-300:]))
            continue
        h = safetensors_header(os.path.join(q, "model.safetensors"))
        want = "I8" if plan == "int8" else "U8"
        names = [k for k in h if k != "__metadata__" and dense.search(k)]
        wrong = [(k, h[k]["dtype"]) for k in names
                 if h[k]["dtype"] != want or k + "_scale" not in h]
        print("  quantize %s: %d encoder linear weights, %d as %s with a scale%s"
              % (plan, len(names), len(names) - len(wrong), want,
                 "; not: %s" % wrong[:3] if wrong else ""))
        if len(names) != n_dense or wrong:
            failures.append("%s %s: %d linear weights (want %d), not quantized: %s"
                            % (name, plan, len(names), n_dense, wrong[:4]))
        got, _ = embp_embed(binary, q, texts)
        at_load, _ = embp_embed(binary, path, texts, ["--precision", plan])
        cr, cl = cosines(ref, got), cosines(at_load, got)
        print("  %s folder vs transformers: min cosine %.5f; vs the source at --precision %s: "
              "min %.7f" % (plan, cr.min(), plan, cl.min()))
        if cr.min() < plan_min[plan]:
            failures.append("%s %s folder: min cosine %.5f < %g" % (name, plan, cr.min(),
                                                                    plan_min[plan]))
        if cl.min() < COS_MIN:
            failures.append("%s %s folder: min cosine %.7f to the source quantized at load"
                            % (name, plan, cl.min()))
    return failures


def unsupported_model_type_fails(binary, path):
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    cfg["model_type"] = "gpt2"
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([binary, "embed", "--model", path, "--text", "x"], capture_output=True)
    msg = r.stderr.decode()
    ok = r.returncode != 0 and "'gpt2'" in msg and "xlm-roberta" in msg and "distilbert" in msg
    print("model_type gpt2: embp embed exits %d: %s" % (r.returncode, msg.strip()[-200:]))
    return [] if ok else ["a model_type embp lacks did not fail naming it and the supported ones"]


def embp_vs_reference(binary, name, path, texts, ref, plan_min):
    """embp's vectors for texts from the folder at path against ref: fp32 at cosine >= COS_MIN
    on every text, each plan of plan_min at its bound. Returns the failures."""
    failures = []
    fp32, _ = embp_embed(binary, path, texts, ["--precision", "fp32"])
    c = cosines(ref, fp32)
    diff = float(np.abs(ref - fp32).max())
    print("  %s fp32 vs reference: min cosine %.7f (text %d), max |diff| %.2e"
          % (name, c.min(), int(c.argmin()), diff))
    if c.min() < COS_MIN:
        failures.append("%s fp32: min cosine %.7f < %g on %r" % (name, c.min(), COS_MIN,
                                                                 texts[int(c.argmin())][:60]))
    for plan, bound in plan_min.items():
        got, _ = embp_embed(binary, path, texts, ["--precision", plan])
        cr, cf = cosines(ref, got), cosines(fp32, got)
        print("  %s %-4s vs reference: min cosine %.5f, mean %.6f; vs embp fp32 min %.5f"
              % (name, plan, cr.min(), cr.mean(), cf.min()))
        if cr.min() < bound:
            failures.append("%s %s: min cosine %.5f < %g" % (name, plan, cr.min(), bound))
    return failures


def main():
    binary, work, src = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    texts = corpus(src)
    failures = []
    for name, path in make_models(work, texts):
        model = st_model(path)
        ref = st_encode(model, texts)
        ids = model.tokenizer(texts, truncation=True, max_length=MAX_SEQ)["input_ids"]
        assert any(len(i) == MAX_SEQ for i in ids), "no text reaches max_seq_length"
        assert name == "distilbert" or any(1 in i[1:-1] for i in ids), "no text holds a <pad>"
        print("%s: %d texts, %d cut at %d tokens, %s" % (name, len(texts),
              sum(len(i) == MAX_SEQ for i in ids), MAX_SEQ,
              sorted(f for f in os.listdir(path) if f.endswith((".json", ".safetensors")))))
        if name == "mpnet":  # a tokenizer.json layout no other family here has
            same = sum(a == b for a, b in zip(embp_tokenize(binary, path, texts),
                                              hf_ids(path, MAX_SEQ, texts)))
            print("  token ids equal to HF tokenizers on %d of %d texts" % (same, len(texts)))
            if same != len(texts):
                failures.append("mpnet: token ids differ from HF tokenizers on %d texts"
                                % (len(texts) - same))
        failures += embp_vs_reference(binary, name, path, texts, ref, PLAN_COS_MIN)
        with open(os.path.join(path, "config.json")) as f:
            cfg = json.load(f)
        layers = cfg.get("num_hidden_layers", cfg.get("n_layers"))
        family = name if name in DENSE else "bert"
        failures += quantized_folders_fail(binary, name, path, texts, ref, family, 6 * layers)
        if name == "mpnet":
            failures += mpnet_plans(binary, path, texts, ref,
                                    model[0].auto_model.config.num_hidden_layers)
    failures += unsupported_model_type_fails(binary, os.path.join(work, "camembert"))
    finish(failures)


if __name__ == "__main__":
    main()
