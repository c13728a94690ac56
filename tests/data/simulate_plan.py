#!/usr/bin/python3
"""The arithmetic of one embp precision plan, simulated in numpy from its documentation alone
(README's precision guide, docs/QUANTIZED_FORMAT.md, src/kernels/quant.h and int4.h): an
independent reference for a quantized plan, as reference_embed.py is for fp32.

  simulate_plan.py MODEL_DIR STORAGE COMPUTE [--group G] [--int8-weight-max 127|63]
                   [--weights-as-is] [--attention-bf16] [--int4-dequantized]
                   < tokenized.jsonl > embeddings.jsonl

Input lines carry "input_ids" (e.g. the fixtures' *.peer.jsonl); each output line is the input
object plus "embedding". What the plan does, step by step:
  storage fp16 / bf16   dense weights and the word table rounded to fp16 / bf16 (round to
                        nearest even); position and token-type tables, LayerNorm, biases fp32.
  storage int8          dense weights per output channel: s = fp32(max|W[n]| / 127),
                        q = rint(W / s) in -127..127 (fp32 division, half to even).
  storage int4          groups of g along K: s = fp16(fp32(max|W| / 7)), q = rint(W / s) in
                        -7..7; the word table (int8 and int4 storage) is int8 per row.
                        With compute bf16, a GEMM of 512 rows (a batch's tokens) or more on an
                        AVX512_BF16 CPU runs on the weights dequantized to bf16(q s) (round to
                        nearest even): --int4-dequantized simulates every GEMM so.
  compute bf16          GEMM inputs (activations and weights) rounded to bf16, products summed
                        exactly (fp32 in embp).
  compute int8          activations per token: s = fp32(max|x| / 127), q = rint(x * fp32(1/s))
                        + 128 (u8, zero point 128); int32 sums, so the product is exact and
                        y = sum (q - 128) s * W_q; without VNNI (--int8-weight-max 63) int8
                        weights past 63 are requantized: f = 63 / max|q|, q' = rint(q f),
                        s' = s / f.
  attention             unrounded, except compute bf16 or int8 on a CPU with AVX512_BF16
                        (--attention-bf16) and a head size a multiple of 32: q, k and v rounded
                        to bf16, p = exp(s - max s), out = (bf16(p) v) / sum p (kernels.h's
                        attention_bf16).
  always                softmax, GELU, LayerNorm, pooling and normalization unrounded (float64
                        here, fp32 in embp).
--weights-as-is: the folder's weights already hold the storage's values (a folder written by
embp quantize, read back by tests/data/dequantize.py): only the compute rounding is applied."""
import argparse, json, os, sys
import numpy as np

sys.path.insert(0, os.path.join(os.environ.get("EMBP_SHARED", "../shared"), "tools"))
from make_fixture_model import _gelu, _layer_norm, folder_pooling, pool, read_safetensors  # noqa: E402

F32 = np.float32


def bf16(x):
    """fp32 -> bf16 (round to nearest even), returned as fp32; inputs are finite."""
    u = np.ascontiguousarray(x, F32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(F32)


def fp16(x):
    return np.asarray(x, F32).astype(np.float16).astype(F32)


def int8_rows(w, qmax=127):
    """Per row: (q, s) with W ~ q s, quant.h's int8; qmax 63 refits as oneDNN without VNNI."""
    w = np.asarray(w, F32)
    s = (np.abs(w).max(1) / F32(127)).astype(F32)
    safe = np.where(s > 0, s, F32(1))[:, None]
    q = np.where(s[:, None] > 0, np.clip(np.rint(w / safe), -127, 127), 0).astype(F32)
    if qmax < 127:
        amax = np.abs(q).max(1)
        f = np.where(amax > qmax, F32(qmax) / np.maximum(amax, 1).astype(F32), F32(1)).astype(F32)
        q = np.where((f < 1)[:, None], np.rint((q * f[:, None]).astype(F32)), q)
        s = (s / f).astype(F32)
    return q, s


def int4_groups(w, g):
    """Dequantized int4 weights: per group of g along K, fp16 scale max|W| / 7, q in -7..7."""
    w = np.asarray(w, F32)
    N, K = w.shape
    wg = w.reshape(N, K // g, g)
    s = fp16((np.abs(wg).max(2) / F32(7)).astype(F32))[:, :, None]
    q = np.where(s > 0, np.clip(np.rint(wg / np.where(s > 0, s, F32(1))), -7, 7), 0)
    return (q.astype(np.float64) * s).reshape(N, K)


def act_u8(x):
    """Per token u8 with zero point 128, dequantized: (q - 128) s."""
    x = np.asarray(x, F32)
    amax = np.abs(x).max(-1, keepdims=True)
    s = np.where(amax > 0, amax / F32(127), F32(1)).astype(F32)
    inv = (F32(1) / s).astype(F32)
    q = np.clip(np.rint((x * inv).astype(F32)), -128, 127)
    return q.astype(np.float64) * s


class Plan:
    def __init__(self, storage, compute, group, int8_weight_max, as_is, attention_bf16=False,
                 int4_dequantized=False):
        self.storage, self.compute, self.group = storage, compute, group
        self.int4_dq = int4_dequantized and storage == "int4" and compute == "bf16"
        self.qmax, self.as_is = int8_weight_max, as_is
        self.attn_bf16 = attention_bf16 and compute in ("bf16", "int8")

    def table(self, w):
        """The word table as the storage keeps it."""
        if self.as_is or self.storage == "fp32":
            return w.astype(np.float64)
        if self.storage in ("int8", "int4"):
            q, s = int8_rows(w)
            return q.astype(np.float64) * s[:, None]
        return (bf16(w) if self.storage == "bf16" else fp16(w)).astype(np.float64)

    def weight(self, w):
        """A dense weight [N, K] as the GEMM multiplies it (float64 of the rounded values)."""
        w = np.asarray(w, F32)
        if not self.as_is:
            if self.storage == "int4":
                w = int4_groups(w, self.group).astype(F32)  # q s, exact in fp32
            elif self.storage == "int8":
                q, s = int8_rows(w, self.qmax if self.compute == "int8" else 127)
                return q.astype(np.float64) * s[:, None]
            if self.storage in ("bf16", "fp16"):
                w = bf16(w) if self.storage == "bf16" else fp16(w)
        elif self.storage == "int8" and self.compute == "int8" and self.qmax < 127:
            # a dequantized int8 file: recover q and s per row, refit as the loader does
            s = (np.abs(w).max(1) / F32(127)).astype(F32)
            q, _ = int8_rows(w)
            q2, s2 = int8_rows(q, self.qmax)  # q's own scale is 1
            return q2.astype(np.float64) * (s2 * s)[:, None]
        if self.compute == "bf16" and (self.storage != "int4" or self.int4_dq):
            w = bf16(w)
        return w.astype(np.float64)

    def act(self, x):
        if self.compute == "bf16":
            return bf16(np.asarray(x, F32)).astype(np.float64)
        if self.compute == "int8":
            return act_u8(x)
        return x


def forward(w, cfg, ids, plan):
    S = len(ids)
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps = H // nh, cfg.get("layer_norm_eps", 1e-12)
    g = lambda k: w[k].astype(np.float64)
    x = plan.table(w["embeddings.word_embeddings.weight"])[ids] + \
        g("embeddings.position_embeddings.weight")[:S] + g("embeddings.token_type_embeddings.weight")[0]
    x = _layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        lin = lambda t, n: plan.act(t) @ plan.weight(w[p + n + ".weight"]).T + g(p + n + ".bias")
        heads = lambda t: t.reshape(S, nh, hd).transpose(1, 0, 2)
        q, k, v = (heads(lin(x, "attention.self." + n)) for n in ("query", "key", "value"))
        rb = plan.attn_bf16 and hd % 32 == 0
        if rb:
            q, k, v = (bf16(np.asarray(t, F32)).astype(np.float64) for t in (q, k, v))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        pb = bf16(np.asarray(s, F32)).astype(np.float64) if rb else s
        a = ((pb @ v) / s.sum(-1, keepdims=True)).transpose(1, 0, 2).reshape(S, H)
        x = _layer_norm(lin(a, "attention.output.dense") + x, g(p + "attention.output.LayerNorm.weight"),
                        g(p + "attention.output.LayerNorm.bias"), eps)
        f = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
        x = _layer_norm(f + x, g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), eps)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("storage", choices=["fp32", "fp16", "bf16", "int8", "int4"])
    ap.add_argument("compute", choices=["fp32", "bf16", "int8"])
    ap.add_argument("--group", type=int, default=32)
    ap.add_argument("--int8-weight-max", type=int, default=127, choices=[127, 63])
    ap.add_argument("--weights-as-is", action="store_true")
    ap.add_argument("--attention-bf16", action="store_true")
    ap.add_argument("--int4-dequantized", action="store_true")
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    w = read_safetensors(os.path.join(a.model, "model.safetensors"))
    w = {k[5:] if k.startswith("bert.") else k: np.asarray(v, F32) for k, v in w.items()}
    plan = Plan(a.storage, a.compute, a.group, a.int8_weight_max, a.weights_as_is, a.attention_bf16,
                a.int4_dequantized)
    cache = {}
    plan.weight = (lambda f: lambda m: cache.setdefault(id(m), f(m)))(plan.weight)  # once per tensor
    mode, normalize = folder_pooling(a.model)
    for line in sys.stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        ids = np.array(row["input_ids"])
        h = forward(w, cfg, ids, plan)[None]
        row["embedding"] = pool(h, np.ones((1, len(ids))), mode, normalize)[0].tolist()
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
