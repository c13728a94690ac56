"""transformers' Qwen3Model as the reference for embp's Qwen3 (model/qwen3.c).

    qwen3_reference.py EMBP_BIN WORK_DIR SOURCE_DIR [--real]

Makes a sentence-transformers folder as Qwen3-Embedding ships one (Transformer, Pooling
lasttoken, Normalize) from a randomly initialized Qwen3Model (torch.manual_seed; norms
randomized too, so a gain read from the wrong tensor shows), saved by save_pretrained, with a
byte-level BPE tokenizer trained here by HF `tokenizers` the way Qwen2/Qwen3's is built: NFC,
Split by Qwen's regex then ByteLevel without its own regex, a post-processor appending
<|endoftext|> (the token last-token pooling reads). The reference is sentence-transformers on
that folder. Checks: embp tokenize's ids equal HF tokenizers'; embp embed fp32 and embp serve's
/v1/embeddings reach cosine >= COS_MIN on every text; matryoshka `--dimensions` match the
reference truncated; bf16/int8/int4 stay above PLAN_COS_MIN; a model saved in shards
(model.safetensors.index.json) gives the same vectors.

--real: Qwen3-Embedding-0.6B's shapes (hidden 1024, 28 layers, 16/8 heads of 128, intermediate
3072, vocab 151669; 2.4 GB fp32 under WORK_DIR), the same checks in fp32 and the plans'
fidelity; EMBP_SLOW_TESTS=1 tests/test_qwen3_reference.sh runs it."""
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refutil import (Server, corpus_lines, cosines, embp_embed, embp_tokenize,  # noqa: E402
                     finish, hf_ids, st_encode, st_model)

COS_MIN = 0.9999
# Fidelity of the reduced plans to the reference on these random models (the bounds leave a
# margin under the measured minima and still catch a plan computing garbage). int4 round to
# nearest loses much on random weights (transformers itself, run on int4-rounded weights, gives
# min cosine 0.86 at g32 to its fp32 on the small model), so int4 is also held to that
# simulation: SIM_COS_MIN.
PLAN_COS_MIN = {"bf16": 0.9995, "int8": 0.995, "int4": 0.75}
SIM_COS_MIN = 0.999
EOT = "<|endoftext|>"
# Qwen2/Qwen3's pre-tokenizer regex (tokenizer.json of Qwen3-Embedding)
QWEN_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
           r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SMALL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
             head_dim=64, intermediate_size=512, max_position_embeddings=2048, rope_theta=1e6,
             rms_norm_eps=1e-6, tie_word_embeddings=True, initializer_range=0.05)
REAL = dict(hidden_size=1024, num_hidden_layers=28, num_attention_heads=16,
            num_key_value_heads=8, head_dim=128, intermediate_size=3072,
            max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
            tie_word_embeddings=True, vocab_size=151669)
MAX_SEQ = 256


def corpus(src):
    lines = corpus_lines(src)
    lines += ["multilingual " * 200, "слово " * 300, "a\r\n\r\nb  c\t\td", "I'll've it's 12345"]
    return list(dict.fromkeys(lines))


def qwen_tokenizer(texts, vocab_size):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False, trim_offsets=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts * 3, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOT, "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    eot = tok.token_to_id(EOT)
    tok.post_processor = processors.TemplateProcessing(
        single="$A:0 %s:0" % EOT, pair="$A:0 %s:0 $B:1 %s:1" % (EOT, EOT),
        special_tokens=[(EOT, eot)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOT, pad_token=EOT)


def st_folder(path, model, tok, max_seq, shard=None):
    if shard:
        model.save_pretrained(path, safe_serialization=True, max_shard_size=shard)
    else:
        model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize"}]
    with open(os.path.join(path, "modules.json"), "w") as f:
        json.dump(modules, f)
    os.makedirs(os.path.join(path, "1_Pooling"), exist_ok=True)
    with open(os.path.join(path, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": model.config.hidden_size,
                   "pooling_mode_lasttoken": True, "pooling_mode_mean_tokens": False,
                   "include_prompt": True}, f)
    with open(os.path.join(path, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": max_seq, "do_lower_case": False}, f)
    with open(os.path.join(path, "config_sentence_transformers.json"), "w") as f:
        json.dump({"prompts": {"query": "Instruct: Given a web search query, retrieve relevant "
                               "passages that answer the query\nQuery:", "document": ""},
                   "default_prompt_name": None, "similarity_fn_name": "cosine"}, f)


def make_model(shape, vocab, seed=0):
    import torch
    from transformers import Qwen3Config, Qwen3Model
    torch.manual_seed(seed)
    cfg = Qwen3Config(**dict(shape, vocab_size=vocab))
    model = Qwen3Model(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.normal_(1.0, 0.2)
    return model


def rtn_int4(model, g):
    """model with every projection weight rounded as embp's int4 stores it (kernels/quant.h:
    per group of g along K, fp16 scale max|w| / 7, q in -7..7)."""
    import copy
    import torch
    m = copy.deepcopy(model)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if p.dim() == 2 and "embed" not in n:
                N, K = p.shape
                x = p.reshape(N, K // g, g)
                s = (x.abs().amax(-1, keepdim=True) / 7).half().float()
                q = torch.round(x / torch.where(s > 0, s, 1)).clamp(-7, 7)
                p.copy_((q * s).reshape(N, K))
    return m


def check(binary, path, texts, plans, failures, tag):
    model = st_model(path)
    max_len = model.max_seq_length
    t0 = time.time()
    ref = st_encode(model, texts)
    print("%s: sentence-transformers on %d texts in %.1f s" % (tag, len(texts), time.time() - t0))
    ids = hf_ids(path, max_len, texts)
    assert all(i[-1] == model.tokenizer.convert_tokens_to_ids(EOT) for i in ids)
    got = embp_tokenize(binary, path, texts)
    bad = [k for k in range(len(texts)) if got[k] != ids[k]]
    print("  embp tokenize: ids equal on %d of %d texts (%d cut at %d tokens)"
          % (len(texts) - len(bad), len(texts), sum(len(i) == max_len for i in ids), max_len))
    failures += ["%s tokenize: text %d %r" % (tag, k, texts[k][:60]) for k in bad[:5]]
    fp32, _ = embp_embed(binary, path, texts, ["--precision", "fp32"])
    c = cosines(ref, fp32)
    print("  fp32 vs transformers: min cosine %.7f (text %d), max |diff| %.2e"
          % (c.min(), int(c.argmin()), float(np.abs(ref - fp32).max())))
    if c.min() < COS_MIN:
        failures.append("%s fp32: min cosine %.7f < %g" % (tag, c.min(), COS_MIN))
    for plan, flags in plans:
        got, _ = embp_embed(binary, path, texts, flags)
        cr, cf = cosines(ref, got), cosines(fp32, got)
        print("  %-9s vs transformers: min cosine %.5f, mean %.6f; vs embp fp32 min %.5f"
              % (plan, cr.min(), cr.mean(), cf.min()))
        if cr.min() < PLAN_COS_MIN[plan.split()[0]]:
            failures.append("%s %s: min cosine %.5f < %g" % (tag, plan, cr.min(),
                                                              PLAN_COS_MIN[plan.split()[0]]))
    return model, ref, fp32


def main():
    binary, work, src = sys.argv[1:4]
    real = "--real" in sys.argv[4:]
    os.makedirs(work, exist_ok=True)
    texts = corpus(src)
    failures = []
    tok = qwen_tokenizer(texts, 2000)
    texts = texts[::3] + texts[-4:]  # 130 texts, the long ones kept: the CI budget
    if real:
        texts = texts[::16] + texts[-3:-2]  # 10: each pass at 0.6B costs ~1.2 GFLOP a token
    path = os.path.join(work, "qwen3")
    if real and os.path.exists(os.path.join(path, "model.safetensors")):  # a rerun: 2.4 GB kept
        from transformers import Qwen3Config
        model = type("saved", (), {"config": Qwen3Config.from_pretrained(path)})
    else:
        model = make_model(REAL, REAL["vocab_size"]) if real else make_model(SMALL, len(tok))
        st_folder(path, model, tok, MAX_SEQ)
    print(json.dumps({k: model.config.to_dict().get(k) for k in
                      ("hidden_size", "num_hidden_layers", "num_attention_heads",
                       "num_key_value_heads", "head_dim", "vocab_size", "rope_parameters")}))
    plans = [("bf16", ["--precision", "bf16"]), ("int8", ["--precision", "int8"])]
    plans += [("int4 g%d" % g, ["--precision", "int4", "--quant-group-size", str(g)])
              for g in ((32, 64, 128) if real else (32,))]
    st, ref, fp32 = check(binary, path, texts, plans, failures, "qwen3")

    # int4 against transformers on the same int4-rounded weights: the kernels, not rounding
    if not real:
        sim_path = os.path.join(work, "qwen3-int4-rtn")
        st_folder(sim_path, rtn_int4(model, 32), tok, MAX_SEQ)
        sim = st_encode(st_model(sim_path), texts)
        got, _ = embp_embed(binary, path, texts, ["--precision", "int4"])
        c = cosines(sim, got)
        print("  int4 g32 vs transformers on int4-rounded weights: min cosine %.5f" % c.min())
        if c.min() < SIM_COS_MIN:
            failures.append("int4 vs its simulation: min cosine %.5f < %g" % (c.min(),
                                                                            SIM_COS_MIN))

    # matryoshka: the first d values, compared by cosine to the reference's first d
    for d in (32, 128):
        got, _ = embp_embed(binary, path, texts[:50], ["--dimensions", str(d)])
        c = cosines(ref[:50, :d], got)
        print("  --dimensions %d: min cosine %.7f to the reference's first %d" % (d, c.min(), d))
        if got.shape[1] != d or c.min() < COS_MIN:
            failures.append("dimensions %d: shape %s, min cosine %.7f" % (d, got.shape, c.min()))

    # Qwen3-Embedding's instruction for queries, "Instruct: {task}\nQuery:", from
    # config_sentence_transformers.json's prompts: --prompt-name and "prompt_name" over HTTP give
    # what encode(prompt_name="query") gives, and it moves the vectors
    qtexts = texts[:40]
    qref = np.asarray(st.encode(qtexts, prompt_name="query", convert_to_numpy=True), np.float32)
    moved = cosines(ref[:40], qref)
    got, _ = embp_embed(binary, path, qtexts, ["--prompt-name", "query"])
    c = cosines(qref, got)
    print("  --prompt-name query: min cosine %.7f to encode(prompt_name='query'); the prompt "
          "moves the vectors to cosine %.3f..%.3f of the plain ones" % (c.min(), moved.min(),
                                                                        moved.max()))
    if c.min() < COS_MIN or moved.max() > 0.9999:
        failures.append("prompt_name query: min cosine %.7f, moved max %.5f" % (c.min(),
                                                                               moved.max()))

    # the server: /v1/embeddings, one request and requests of 64, and prompt_name
    srv = Server(binary, path)
    try:
        got = srv.embed(qtexts, prompt_name="query")
        c = cosines(qref, got)
        print("  /v1/embeddings prompt_name query: min cosine %.7f" % c.min())
        if c.min() < COS_MIN:
            failures.append("/v1/embeddings prompt_name: min cosine %.7f" % c.min())
        keep = [k for k, t in enumerate(texts) if t]
        got = np.concatenate([srv.embed([texts[k] for k in keep[i:i + 64]])
                              for i in range(0, len(keep), 64)])
        c = cosines(ref[keep], got)
        print("  /v1/embeddings: min cosine %.7f over %d texts" % (c.min(), len(keep)))
        if c.min() < COS_MIN:
            failures.append("/v1/embeddings: min cosine %.7f" % c.min())
    finally:
        srv.stop()

    # embp quantize: int8 and int4 folders load with their storage and give the vectors of the
    # plan quantizing at load (the same rounding, done ahead), and are smaller
    for prec, flags in (("int8", []), ("int4", ["--group-size", "32"])) if not real else ():
        q = os.path.join(work, "qwen3-" + prec)
        r = subprocess.run([binary, "quantize", path, q, "--precision", prec, "--no-fidelity"]
                           + flags, capture_output=True, text=True)
        if r.returncode:
            failures.append("embp quantize %s: %s" % (prec, r.stderr[-300:]))
            continue
        got, _ = embp_embed(binary, q, texts[:40])
        atload, _ = embp_embed(binary, path, texts[:40], ["--precision", prec])
        c = cosines(atload, got)
        size = os.path.getsize(os.path.join(q, "model.safetensors"))
        full = os.path.getsize(os.path.join(path, "model.safetensors"))
        print("  embp quantize %s: %.2fx the fp32 file; vs the %s plan at load min cosine %.7f"
              % (prec, size / full, prec, c.min()))
        if c.min() < 0.99999:
            failures.append("quantized %s folder: min cosine %.7f to the plan" % (prec, c.min()))

    if not real:
        # the decoders that are Qwen3 without parts: Qwen2 (q/k/v biases, no q/k norm), Mistral
        # (a sliding window, here 24 tokens of 256), Llama (biases on q/k/v/o)
        import torch
        import transformers as tf
        small = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=32, intermediate_size=256,
                     max_position_embeddings=2048, rope_theta=1e5, rms_norm_eps=1e-5,
                     initializer_range=0.05, vocab_size=len(tok))
        for name, cfg_cls, cls, extra in (("qwen2", tf.Qwen2Config, tf.Qwen2Model, {}),
                                          ("mistral", tf.MistralConfig, tf.MistralModel,
                                           {"sliding_window": 24}),
                                          ("llama", tf.LlamaConfig, tf.LlamaModel,
                                           {"attention_bias": True})):
            torch.manual_seed(1)
            fam = cls(cfg_cls(**dict(small, **extra))).eval()
            with torch.no_grad():
                for n, p in fam.named_parameters():
                    if "norm" in n:
                        p.normal_(1.0, 0.2)
                    elif n.endswith(".bias"):
                        p.normal_(0.0, 0.1)
            fpath = os.path.join(work, name)
            st_folder(fpath, fam, tok, MAX_SEQ)
            sub = texts[::2]
            fref = st_encode(st_model(fpath), sub)
            got, _ = embp_embed(binary, fpath, sub)
            c = cosines(fref, got)
            print("  %s: fp32 vs transformers %s: min cosine %.7f over %d texts"
                  % (name, cls.__name__, c.min(), len(sub)))
            if c.min() < COS_MIN:
                failures.append("%s fp32: min cosine %.7f" % (name, c.min()))

        # shards: the same model saved by save_pretrained(max_shard_size=...) loads as one
        sharded = os.path.join(work, "qwen3-sharded")
        st_folder(sharded, model, tok, MAX_SEQ, shard="300KB")
        n = len([f for f in os.listdir(sharded) if f.endswith(".safetensors")])
        got, _ = embp_embed(binary, sharded, texts[:40])
        diff = float(np.abs(got - fp32[:40]).max())
        print("  sharded (%d files + model.safetensors.index.json): max |diff| to one file %.2e"
              % (n, diff))
        if n < 2 or diff > 0:
            failures.append("sharded: %d files, max |diff| %.2e" % (n, diff))

    finish(failures)


if __name__ == "__main__":
    main()
