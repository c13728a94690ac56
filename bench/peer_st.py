"""sentence-transformers on torch, the peer a Python user would pick, on one model folder: tokens/s
at 32 sequences x 128 tokens and p50 latency at 1 x 16, in fp32 and (where the CPU has
AVX512_BF16) under torch.autocast bf16, with the threads given. The texts are peer.mjs's: words
that are one token each, so every sequence is exactly L tokens with [CLS] and [SEP]. encode() sorts
by length and pads each batch, as users run it. With --corpus, also tokens/s of whole encode()
passes over that file's lines (batch 32: sorted by length, longest first, by encode itself); with
--texts, the bf16 vectors' mean and minimum cosine to the fp32 ones over that file's lines.
Prints one JSON line per precision.

    build/venv/bin/python bench/peer_st.py MODEL_DIR [--seconds S] [--threads N] [--corpus FILE]
                                           [--texts FILE]
(scripts/venv.sh --reference makes build/venv with torch==2.13.0 CPU and sentence-transformers)
"""
import argparse
import contextlib
import json
import statistics
import time

import torch
from sentence_transformers import SentenceTransformer

WORDS = ["the", "of", "and", "in", "to", "was", "he", "is", "for", "on"]


def texts(batch, seq):
    return [" ".join(WORDS[(i + k) % 10] for k in range(seq - 2)) for i in range(batch)]


def timed(model, batch, seq, seconds, bf16):
    t = texts(batch, seq)
    tokens = sum(len(ids) for ids in model.tokenizer(t)["input_ids"])
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        model.encode(t, batch_size=batch)
        lat, t0 = [], time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            s = time.perf_counter()
            model.encode(t, batch_size=batch)
            lat.append(time.perf_counter() - s)
    return tokens * len(lat) / sum(lat), 1e3 * statistics.median(lat)


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def mixed(model, corpus, seconds, bf16):
    """Tokens/s of whole encode() passes over corpus (at least one, then until seconds)."""
    tok = model.tokenizer(corpus, truncation=True, max_length=model.max_seq_length)
    tokens = sum(len(ids) for ids in tok["input_ids"])
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        model.encode(corpus[:32], batch_size=32)
        passes, t0 = 0, time.perf_counter()
        while passes == 0 or time.perf_counter() - t0 < seconds:
            model.encode(corpus, batch_size=32)
            passes += 1
    return tokens * passes / (time.perf_counter() - t0)


def vectors(model, texts, bf16):
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        v = model.encode(texts, batch_size=32, convert_to_tensor=True).float()
    return torch.nn.functional.normalize(v, dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--corpus")
    ap.add_argument("--texts")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = SentenceTransformer(a.model, device="cpu")
    flags = open("/proc/cpuinfo").read()
    corpus = lines(a.corpus) if a.corpus else None
    texts = lines(a.texts) if a.texts else None
    fp32 = vectors(model, texts, False) if texts else None
    for bf16 in (False, True):
        if bf16 and "avx512_bf16" not in flags:
            continue
        tps, _ = timed(model, 32, 128, a.seconds, bf16)
        _, p50 = timed(model, 1, 16, a.seconds, bf16)
        row = {"engine": "sentence-transformers %s, torch %s" % (
            __import__("sentence_transformers").__version__, torch.__version__),
            "precision": "bf16 autocast" if bf16 else "fp32", "threads": a.threads,
            "tokens_per_second": tps, "p50_ms_1x16": p50}
        if corpus:
            row["mixed_tokens_per_second"] = mixed(model, corpus, a.seconds, bf16)
        if texts:
            cos = (vectors(model, texts, bf16) * fp32).sum(dim=1)
            row.update(cos_mean=float(cos.mean()), cos_min=float(cos.min()), cos_texts=len(texts))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
