"""References for the rotary encoders embp runs (model/rotenc.c): ModernBERT and NomicBERT.

    rotenc_reference.py EMBP_BIN WORK_DIR SOURCE_DIR [--real]

Quick shapes by default (the suite's test_rotenc_reference); --real at the published models'
shapes (test_rotenc_slow, behind EMBP_SLOW_TESTS=1).

ModernBERT: the oracle is transformers. A randomly initialized ModernBertModel (torch seed 0,
attn_implementation "eager", norms and biases randomized too) saved by save_pretrained as
safetensors, with a byte-level BPE tokenizer trained here by `tokenizers` (BpeTrainer +
ByteLevel, [CLS] $A [SEP] like ModernBERT's), into two sentence-transformers folders: CLS
pooling (as Alibaba-NLP/gte-modernbert-base) and mean pooling + Normalize (as
nomic-ai/modernbert-embed-base, its config.json rewritten in the Hub's keys:
global_attn_every_n_layers, global_rope_theta, local_rope_theta). sentence-transformers embeds
the corpus; texts run past 128 tokens so the +-64 sliding window matters, which the script checks
(the same folder with every layer global must give other vectors).

NomicBERT: nomic-ai/nomic-embed-text-v1.5's checkpoint as published (tensor names Wqkv,
fc11/fc12/fc2, norm1/norm2, emb_ln; GPT-2 style config keys n_embd, n_layer, rotary_emb_base)
belongs to nomic-ai's modeling_hf_nomic_bert.py, loaded with trust_remote_code. transformers 5's
own NomicBertModel renames those tensors but does not read those config keys (it takes its
defaults: a 64-wide checkpoint is refused as mismatched), so it is not the oracle. The reference
is an independent numpy forward written from that published modeling code (float64):
embeddings word + token type 0, emb_ln; per layer a fused Wqkv, non-interleaved rotary (fp32 angle
table, base rotary_emb_base) on q and k, softmax(q k^T / sqrt(D)) v, out_proj, post-norm
LayerNorm norm1; fc2(fc11(x) * silu(fc12(x))), norm2; mean pooling, Normalize. Random weights
under the real tensor names and config keys go into a safetensors folder with a trained WordPiece
tokenizer. The numpy forward is itself checked against transformers' NomicBertModel (its own
port, with the tensors renamed as its conversion mapping renames them), so a misreading of the
published code shows twice.

embp fp32 must reach cosine >= COS_MIN on every text; bf16, int8 and int4 must run and stay
above PLAN_COS_MIN."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_reference import (corpus, embp_vs_reference, st_modules, trained_bpe,  # noqa: E402
                            wordpiece_tokenizer)
from arch_reference import quantized_folders_fail  # noqa: E402
from refutil import cosines, finish, randomize  # noqa: E402

COS_MIN = 0.99999
# Fidelity of the reduced plans on these random models (measured minima are printed; quick
# shapes: int4 0.934 on the 64-wide NomicBERT, whose rows are two int4 groups; the bounds leave a
# margin and still catch a plan that computes garbage).
PLAN_COS_MIN = {"bf16": 0.9999, "int8": 0.999, "int4": 0.9}
MAX_SEQ = 512
MB_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def texts_of(src, real):
    texts = corpus(src)
    # long texts: past the 128-token local window, some past max_seq_length (cut there)
    words = [t for t in texts if len(t) > 40]
    longs = [" ".join(words[i:i + 6]) for i in range(0, 60, 6)] + ["window " * 300]
    texts = texts + longs
    return texts[:150] + longs


def bpe_tokenizer(texts):
    """ModernBERT's kind of tokenizer: byte-level BPE, [CLS] $A [SEP]."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast
    tok = trained_bpe(texts, MB_SPECIALS)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")


def st_files(path, hidden, pooling, normalize):
    st_modules(path, hidden, normalize, pooling, MAX_SEQ)


# ---------------------------------------------------------------- ModernBERT

def modernbert_shape(real):
    if real:  # Alibaba-NLP/gte-modernbert-base, nomic-ai/modernbert-embed-base
        return dict(hidden_size=768, num_hidden_layers=22, num_attention_heads=12,
                    intermediate_size=1152, vocab_size=50368)
    return dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                intermediate_size=96, vocab_size=1200)


def hub_keys(path):
    """config.json in the keys the Hub's ModernBERT configs use (transformers 5 writes
    layer_types and rope_parameters; it reads both)."""
    p = os.path.join(path, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    every = cfg["layer_types"][1:].index("full_attention") + 1 \
        if "full_attention" in cfg["layer_types"][1:] else len(cfg["layer_types"])
    rope = cfg.pop("rope_parameters")
    del cfg["layer_types"]
    cfg.update(global_attn_every_n_layers=every,
               global_rope_theta=rope["full_attention"]["rope_theta"],
               local_rope_theta=rope["sliding_attention"]["rope_theta"])
    with open(p, "w") as f:
        json.dump(cfg, f, indent=2)


def modernbert_config(tok, real, **over):
    """transformers' ModernBertConfig at modernbert_shape(real) for tok's special tokens: local
    attention over 128 tokens with a global layer every third, nomic-ai/modernbert-embed-base's
    rope thetas, no biases; over replaces any field (bench/families.py: num_hidden_layers)."""
    import transformers as tf
    args = dict(modernbert_shape(real), max_position_embeddings=8192, local_attention=128,
                global_attn_every_n_layers=3, global_rope_theta=160000.0,
                local_rope_theta=10000.0, norm_bias=False, attention_bias=False,
                mlp_bias=False, pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
                sep_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id,
                eos_token_id=tok.sep_token_id, initializer_range=0.02 if real else 0.1)
    args.update(over)
    return tf.ModernBertConfig(**args)


def make_modernbert(work, texts, real):
    import torch
    import transformers as tf
    tok = bpe_tokenizer(texts)
    shape = modernbert_shape(real)
    assert len(tok) <= shape["vocab_size"]
    cfg = modernbert_config(tok, real)
    torch.manual_seed(0)
    model = tf.ModernBertModel(cfg).eval()
    randomize(model)
    out = []
    for name, pooling, normalize in (("modernbert-cls", "cls", False),
                                     ("modernbert-mean", "mean", True)):
        path = os.path.join(work, name)
        model.save_pretrained(path, safe_serialization=True)
        tok.save_pretrained(path)
        st_files(path, shape["hidden_size"], pooling, normalize)
        if pooling == "mean":
            hub_keys(path)
        out.append((name, path))
    return out


def st_encode(path, texts):
    import torch
    from sentence_transformers import SentenceTransformer
    torch.manual_seed(0)
    m = SentenceTransformer(path, device="cpu", model_kwargs={"attn_implementation": "eager"})
    v = m.encode(texts, batch_size=16, convert_to_numpy=True)
    ids = m.tokenizer(texts, truncation=True, max_length=MAX_SEQ)["input_ids"]
    return np.asarray(v, dtype=np.float64), ids


def window_matters(path, texts, ref):
    """The same model with every layer global must differ on long texts, else the test would
    not see a wrong window."""
    alt = path + "-global"
    shutil.copytree(path, alt)
    p = os.path.join(alt, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    cfg["local_attention"] = 2 * 8192
    with open(p, "w") as f:
        json.dump(cfg, f)
    glob, ids = st_encode(alt, texts)
    c = cosines(ref, glob)
    long = [i for i, x in enumerate(ids) if len(x) > 129]
    print("  all-global vs windowed (transformers): min cosine %.5f over %d texts > 129 tokens"
          % (c[long].min(), len(long)))
    return [] if long and c[long].min() < 0.9999 else \
        ["the sliding window did not change transformers' vectors: the test cannot see it"]


# ---------------------------------------------------------------- NomicBERT

def nomic_shape(real):
    if real:  # nomic-ai/nomic-embed-text-v1.5
        return dict(n_embd=768, n_layer=12, n_head=12, n_inner=3072, vocab_size=30528)
    return dict(n_embd=64, n_layer=2, n_head=4, n_inner=128, vocab_size=1100)


def nomic_config(shape):
    """config.json as nomic-ai/nomic-embed-text-v1.5 publishes it (its keys, its values)."""
    return dict(architectures=["NomicBertModel"], model_type="nomic_bert",
                auto_map={"AutoConfig": "nomic-ai/nomic-bert-2048--configuration_hf_nomic_bert."
                          "NomicBertConfig",
                          "AutoModel": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert."
                          "NomicBertModel"},
                activation_function="swiglu", attn_pdrop=0.0, bos_token_id=None, causal=False,
                dense_seq_output=True, embd_pdrop=0.0, eos_token_id=None, fused_bias_fc=True,
                fused_dropout_add_ln=True, initializer_range=0.02, layer_norm_epsilon=1e-12,
                max_trained_positions=2048, mlp_fc1_bias=False, mlp_fc2_bias=False,
                n_positions=8192, pad_vocab_size_multiple=64, parallel_block=False,
                parallel_block_tied_norm=False, prenorm=False, qkv_proj_bias=False,
                reorder_and_upcast_attn=False, resid_pdrop=0.0, rotary_emb_base=1000,
                rotary_emb_fraction=1.0, rotary_emb_interleaved=False, rotary_emb_scale_base=None,
                rotary_scaling_factor=None, scale_attn_by_inverse_layer_idx=False,
                scale_attn_weights=True, summary_activation=None, summary_first_dropout=0.0,
                summary_proj_to_labels=True, summary_type="cls_index", summary_use_proj=True,
                torch_dtype="float32", type_vocab_size=2, use_cache=True, use_flash_attn=True,
                use_rms_norm=False, use_xentropy=True, **shape)


def nomic_weights(cfg, real, seed=0):
    """Random weights under the checkpoint's tensor names (float32). Real shapes: the published
    _init_weights' normal(initializer_range) for embeddings and linears (a 1/sqrt(H) init made
    12 post-norm layers so chaotic that bf16 rounding alone moved vectors to cosine 0.9987);
    quick shapes: wider, so that small layers still mix."""
    rng = np.random.default_rng(seed)
    H, I, V = cfg["n_embd"], cfg["n_inner"], cfg["vocab_size"]

    def n(*s, std=0.1, mean=0.0):
        return (mean + std * rng.standard_normal(s)).astype(np.float32)
    e = cfg["initializer_range"] if real else 0.5
    w = {"embeddings.word_embeddings.weight": n(V, H, std=e),
         "embeddings.token_type_embeddings.weight": n(2, H, std=e),
         "emb_ln.weight": n(H, std=0.2, mean=1.0), "emb_ln.bias": n(H)}
    std = cfg["initializer_range"] / 2 if real else 1.0 / np.sqrt(H)
    for i in range(cfg["n_layer"]):
        p = "encoder.layers.%d." % i
        w[p + "attn.Wqkv.weight"] = n(3 * H, H, std=2 * std)
        w[p + "attn.out_proj.weight"] = n(H, H, std=std)
        w[p + "mlp.fc11.weight"] = n(I, H, std=std)
        w[p + "mlp.fc12.weight"] = n(I, H, std=std)
        w[p + "mlp.fc2.weight"] = n(H, I, std=std if real else 1.0 / np.sqrt(I))
        for k in ("norm1", "norm2"):
            w[p + k + ".weight"] = n(H, std=0.2, mean=1.0)
            w[p + k + ".bias"] = n(H)
    return w


def layer_norm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def nomic_forward(w, cfg, ids):
    """modeling_hf_nomic_bert.py's NomicBertModel on one unpadded sequence, in float64: the
    last hidden states (L, H)."""
    H, NH, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    D = H // NH
    rot = int(D * cfg["rotary_emb_fraction"])
    f = {k: v.astype(np.float64) for k, v in w.items()}
    L = len(ids)
    x = f["embeddings.word_embeddings.weight"][ids] + f["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, f["emb_ln.weight"], f["emb_ln.bias"], eps)
    # NomicBertRotaryEmbedding: inv_freq and the outer product in float32, cos/sin of those
    inv = (1.0 / (np.float32(cfg["rotary_emb_base"]) **
                  (np.arange(0, rot, 2, dtype=np.float32) / np.float32(rot)))).astype(np.float32)
    ang = np.outer(np.arange(L, dtype=np.float32), inv).astype(np.float64)
    cos, sin = np.concatenate([np.cos(ang)] * 2, -1), np.concatenate([np.sin(ang)] * 2, -1)

    def rotary(t):  # (L, NH, D), apply_rotary_emb with interleaved=False
        r, rest = t[..., :rot], t[..., rot:]
        half = np.concatenate([-r[..., rot // 2:], r[..., :rot // 2]], -1)
        return np.concatenate([r * cos[:, None] + half * sin[:, None], rest], -1)

    for i in range(cfg["n_layer"]):
        p = "encoder.layers.%d." % i
        qkv = (x @ f[p + "attn.Wqkv.weight"].T).reshape(L, 3, NH, D)  # (three h d)
        q, k, v = rotary(qkv[:, 0]), rotary(qkv[:, 1]), qkv[:, 2]
        s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(D)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = np.einsum("hqk,khd->qhd", s, v).reshape(L, H)
        x = layer_norm(x + ctx @ f[p + "attn.out_proj.weight"].T, f[p + "norm1.weight"],
                       f[p + "norm1.bias"], eps)
        up, gate = x @ f[p + "mlp.fc11.weight"].T, x @ f[p + "mlp.fc12.weight"].T
        y = (up * (gate / (1.0 + np.exp(-gate)))) @ f[p + "mlp.fc2.weight"].T
        x = layer_norm(x + y, f[p + "norm2.weight"], f[p + "norm2.bias"], eps)
    return x


def make_nomic(work, texts, real, layers=None, vocab_size=1000):
    """The folder as nomic-ai publishes it (config keys, tensor names) in WORK/nomic; LAYERS
    overrides the shape's layer count, VOCAB_SIZE the trained tokenizer's (bench/families.py)."""
    from safetensors.numpy import save_file
    path = os.path.join(work, "nomic")
    os.makedirs(path, exist_ok=True)
    tok = wordpiece_tokenizer(texts, vocab_size)
    cfg = nomic_config(dict(nomic_shape(real), **({"n_layer": layers} if layers else {})))
    cfg["pad_token_id"] = tok.pad_token_id
    assert len(tok) <= cfg["vocab_size"]
    w = nomic_weights(cfg, real)
    save_file(w, os.path.join(path, "model.safetensors"))
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tok.save_pretrained(path)
    st_files(path, cfg["n_embd"], "mean", True)
    return path, cfg, w


def nomic_reference(path, cfg, w, texts):
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    t.no_padding()
    t.enable_truncation(MAX_SEQ)
    ids = [e.ids for e in t.encode_batch(texts)]
    out = []
    for x in ids:
        v = nomic_forward(w, cfg, np.array(x)).mean(0)
        out.append(v / np.linalg.norm(v))
    return np.array(out), ids


def nomic_transformers(cfg, w):
    """transformers' own NomicBertModel with the checkpoint renamed as its conversion mapping
    does (fc11 -> up_proj, fc12 -> gate_proj, Wqkv chunked into q, k, v); None when this
    transformers has no NomicBertModel."""
    import torch
    import transformers as tf
    if not hasattr(tf, "NomicBertModel"):
        return None
    tc = tf.NomicBertConfig(vocab_size=cfg["vocab_size"], hidden_size=cfg["n_embd"],
                            num_hidden_layers=cfg["n_layer"], num_attention_heads=cfg["n_head"],
                            intermediate_size=cfg["n_inner"], hidden_act="silu",
                            layer_norm_eps=cfg["layer_norm_epsilon"], type_vocab_size=2,
                            max_position_embeddings=cfg["n_positions"],
                            rope_parameters={"rope_theta": float(cfg["rotary_emb_base"]),
                                             "rope_type": "default"},
                            pad_token_id=cfg["pad_token_id"])
    tc._attn_implementation = "eager"
    m = tf.NomicBertModel(tc).eval()
    sd = {"embeddings.word_embeddings.weight": w["embeddings.word_embeddings.weight"],
          "embeddings.token_type_embeddings.weight": w["embeddings.token_type_embeddings.weight"],
          "embeddings.LayerNorm.weight": w["emb_ln.weight"],
          "embeddings.LayerNorm.bias": w["emb_ln.bias"]}
    for i in range(cfg["n_layer"]):
        p, o = "encoder.layers.%d." % i, "layers.%d." % i
        q, k, v = np.split(w[p + "attn.Wqkv.weight"], 3, axis=0)
        sd.update({o + "self_attn.q_proj.weight": q, o + "self_attn.k_proj.weight": k,
                   o + "self_attn.v_proj.weight": v,
                   o + "self_attn.o_proj.weight": w[p + "attn.out_proj.weight"],
                   o + "mlp.up_proj.weight": w[p + "mlp.fc11.weight"],
                   o + "mlp.gate_proj.weight": w[p + "mlp.fc12.weight"],
                   o + "mlp.down_proj.weight": w[p + "mlp.fc2.weight"]})
        for a, b in (("norm1", "post_attention_layernorm"), ("norm2", "post_mlp_layernorm")):
            sd[o + b + ".weight"] = w[p + a + ".weight"]
            sd[o + b + ".bias"] = w[p + a + ".bias"]
    missing, unexpected = m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()},
                                            strict=False)
    missing = [k for k in missing if "pooler" not in k]
    assert not missing and not unexpected, (missing, unexpected)
    return m


def nomic_vs_transformers(cfg, w, ids):
    """transformers' NomicBertModel (nomic_transformers) against the numpy forward, last hidden
    states, as a check of the numpy reading; None without that class."""
    import torch
    m = nomic_transformers(cfg, w)
    if m is None:
        return None
    worst = 1.0
    with torch.no_grad():
        for x in ids[:8] + [max(ids, key=len)]:
            h = m(input_ids=torch.tensor([x])).last_hidden_state[0].double().numpy()
            r = nomic_forward(w, cfg, np.array(x))
            worst = min(worst, float(cosines(h, r).min()))
    return worst


# ---------------------------------------------------------------- driver

def refusals(nomic, modern):
    """Variants embp does not run fail at load naming the field, never run wrongly."""
    cases = [(nomic, {"rotary_emb_interleaved": True}, "rotary_emb_interleaved"),
             (nomic, {"prenorm": True}, "prenorm"),
             (nomic, {"rotary_scaling_factor": 2.0}, "rotary_scaling_factor"),
             (nomic, {"activation_function": "gelu"}, "activation_function"),
             (nomic, {"rotary_emb_fraction": 0.0}, "rotary_emb_fraction"),
             (modern, {"layer_types": ["full_attention", "sliding_attention",
                                       "full_attention", "full_attention"]}, "layer_types"),
             (modern, {"hidden_activation": "silu"}, "hidden_activation")]
    failures = []
    for path, change, field in cases:
        alt = path + "-refused"
        shutil.rmtree(alt, ignore_errors=True)
        shutil.copytree(path, alt)
        with open(os.path.join(alt, "config.json")) as f:
            cfg = json.load(f)
        cfg.update(change)
        with open(os.path.join(alt, "config.json"), "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([BIN, "embed", "--model", alt, "--text", "x"], capture_output=True)
        msg = r.stderr.decode().strip()
        print("  %s %s: exit %d, %s" % (os.path.basename(path), change, r.returncode,
                                        msg[-160:]))
        if r.returncode == 0 or field not in msg:
            failures.append("%s with %s did not fail naming %s" % (path, change, field))
    return failures


def main():
    global BIN
    BIN, work, src = sys.argv[1:4]
    real = "--real" in sys.argv[4:]
    os.makedirs(work, exist_ok=True)
    texts = texts_of(src, real)
    failures = []

    for name, path in make_modernbert(work, texts, real):
        ref, ids = st_encode(path, texts)
        print("%s: %d texts, %d longer than 129 tokens, %d cut at %d" % (
            name, len(texts), sum(len(i) > 129 for i in ids), sum(len(i) == MAX_SEQ for i in ids),
            MAX_SEQ))
        if name == "modernbert-cls":
            failures += window_matters(path, texts, ref)
        failures += embp_vs_reference(BIN, name, path, texts, ref, PLAN_COS_MIN)
        failures += quantized_folders_fail(BIN, name, path, texts, ref, "modernbert",
                                           4 * (22 if real else 4), PLAN_COS_MIN, ("int8",),
                                           ["--no-fidelity"])

    path, cfg, w = make_nomic(work, texts, real)
    ref, ids = nomic_reference(path, cfg, w, texts)
    print("nomic_bert: %d texts, %d cut at %d" % (len(texts), sum(len(i) == MAX_SEQ for i in ids),
                                                 MAX_SEQ))
    worst = nomic_vs_transformers(cfg, w, ids)
    if worst is not None:
        print("  numpy reference vs transformers NomicBertModel: min cosine per token %.8f" % worst)
        if worst < 0.999999:
            failures.append("the numpy NomicBERT forward disagrees with transformers' "
                            "NomicBertModel (min token cosine %.8f)" % worst)
    failures += embp_vs_reference(BIN, "nomic_bert", path, texts, ref, PLAN_COS_MIN)
    failures += quantized_folders_fail(BIN, "nomic_bert", path, texts, ref, "nomic_bert",
                                       5 * cfg["n_layer"], PLAN_COS_MIN, ("int8",),
                                       ["--no-fidelity"])

    if not real:
        failures += refusals(path, os.path.join(work, "modernbert-cls"))
    finish(failures)


if __name__ == "__main__":
    main()
