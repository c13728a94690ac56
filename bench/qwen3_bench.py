"""Qwen3-Embedding-0.6B's shapes, per plan: load time, RSS, tokens/s at 1x64, 1x512, 8x512, beside
transformers on torch at the same threads, in one run.

    qwen3_bench.py EMBP_BIN WORK_DIR SOURCE_DIR [--threads N] [--plans fp32,bf16,...]

The model is tests/qwen3_reference.py's --real one (random weights at the real shapes, saved by
save_pretrained: 2.4 GB fp32), made in WORK_DIR/qwen3 unless it is there. Each plan runs
`embp serve` on it; load time is start to "listening", RSS is /proc's VmRSS after the timed
requests, tokens/s is over `/v1/embeddings` requests of B texts of L tokens (HTTP included;
the best of QWEN3_BENCH_REPEATS, default 1, after a 1x64 warm-up). transformers: Qwen3Model.forward on the same ids plus
last-token pooling, torch.set_num_threads(N). Prints a markdown table."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from qwen3_reference import REAL, corpus, make_model, qwen_tokenizer, st_folder  # noqa: E402

SHAPES = [(1, 64), (1, 512), (8, 512)]
REPEATS = int(os.environ.get("QWEN3_BENCH_REPEATS", "1"))
PLANS = {"fp32": ["--precision", "fp32"], "bf16": ["--precision", "bf16"],
         "int8": ["--precision", "int8"],
         "int4 g32": ["--precision", "int4", "--quant-group-size", "32"],
         "int4 g64": ["--precision", "int4", "--quant-group-size", "64"],
         "int4 g128": ["--precision", "int4", "--quant-group-size", "128"]}


def texts_of(tok, n):
    """A text of exactly n tokens, <|endoftext|> included."""
    words = n - 1
    while True:
        t = "the" + " the" * (words - 1)
        got = len(tok(t)["input_ids"])
        if got == n:
            return t
        words += n - got


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+)", f.read())
    return int(m.group(1)) / 1024


def post(port, texts):
    req = urllib.request.Request("http://127.0.0.1:%d/v1/embeddings" % port,
                                 data=json.dumps({"input": texts}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3600) as r:
        return json.load(r)


def embp_plan(binary, path, flags, threads, batches):
    t0 = time.time()
    log = open(os.path.join(os.path.dirname(path), "serve.log"), "w+")
    p = subprocess.Popen([binary, "serve", "--model", path, "--host", "127.0.0.1", "--port", "0",
                          "--fidelity-cache", "off", "--threads", str(threads)] + flags,
                         stderr=log, stdout=subprocess.DEVNULL)
    try:
        port = None
        while port is None:
            log.seek(0)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
            if m:
                port = int(m.group(1))
            elif p.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read()[-1000:])
            time.sleep(0.1)
        load = time.time() - t0
        rates = []
        post(port, batches[0][:1])  # warm-up: the first pass's page faults and primitives
        for texts in batches:
            best = 1e9
            for _ in range(REPEATS):
                t = time.time()
                post(port, texts)
                best = min(best, time.time() - t)
            rates.append(best)
        return load, rss_mb(p.pid), rates
    finally:
        p.terminate()
        p.wait()


def torch_rates(path, tok, batches, threads):
    import torch
    from transformers import AutoModel
    torch.set_num_threads(threads)
    model = AutoModel.from_pretrained(path, torch_dtype=torch.float32).eval()
    rates = []
    with torch.inference_mode():
        model(**tok(batches[0][:1], return_tensors="pt"))
        for texts in batches:
            enc = tok(texts, return_tensors="pt", padding=True)
            best = 1e9
            for _ in range(REPEATS):
                t = time.time()
                h = model(**enc).last_hidden_state[:, -1]
                torch.nn.functional.normalize(h, dim=-1)
                best = min(best, time.time() - t)
            rates.append(best)
    return rates


def main():
    binary, work, src = sys.argv[1:4]
    args = sys.argv[4:]
    threads = int(args[args.index("--threads") + 1]) if "--threads" in args else os.cpu_count()
    plans = args[args.index("--plans") + 1].split(",") if "--plans" in args else list(PLANS)
    tok = qwen_tokenizer(corpus(src), 2000)
    path = os.path.join(work, "qwen3")
    if not os.path.exists(os.path.join(path, "config.json")):
        st_folder(path, make_model(REAL, REAL["vocab_size"]), tok, 8192)
    fp32_bytes = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                     if f.endswith(".safetensors"))
    batches = [[texts_of(tok, L)] * B for B, L in SHAPES]
    head = " | ".join("%dx%d tok/s" % s for s in SHAPES)
    print("threads %d; fp32 weights %.0f MB; the machine was shared by 8 engineers (load %s)"
          % (threads, fp32_bytes / 1e6, open("/proc/loadavg").read().split()[0]))
    print("| plan | load s | RSS MB | RSS / fp32 bytes | %s |" % head)
    print("|---|---:|---:|---:|" + "---:|" * len(SHAPES))
    for name in plans:
        load, rss, secs = embp_plan(binary, path, PLANS[name], threads, batches)
        rates = " | ".join("%.0f" % (B * L / s) for (B, L), s in zip(SHAPES, secs))
        print("| embp %s | %.1f | %.0f | %.2f | %s |" % (name, load, rss, rss * 2**20 / fp32_bytes, rates), flush=True)
    secs = torch_rates(path, tok, batches, threads)
    rates = " | ".join("%.0f" % (B * L / s) for (B, L), s in zip(SHAPES, secs))
    print("| transformers fp32 (torch) | | | | %s |" % rates)


if __name__ == "__main__":
    main()
