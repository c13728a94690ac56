"""Qwen3-Embedding-0.6B's shapes, per plan: load time, RSS, tokens/s at 1x64, 1x512, 8x512, beside
transformers on torch at the same threads, in one run.

    qwen3_bench.py EMBP_BIN WORK_DIR SOURCE_DIR [--threads N] [--plans fp32,bf16,...]

The model is tests/qwen3_reference.py's --real one (random weights at the real shapes, saved by
save_pretrained: 2.4 GB fp32), made in WORK_DIR/qwen3 unless it is there. Each plan runs
`embp serve` on it (tests/refutil.Server; embp_plan says how it is timed; best of REPEATS per
shape after a warm-up); peak RSS is the server's VmHWM, which counts the weight file's pages
while load reads them. transformers: Qwen3Model.forward on the same ids plus last-token
pooling, torch.set_num_threads(N). Prints a markdown table."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from qwen3_reference import REAL, corpus, make_model, qwen_tokenizer, st_folder  # noqa: E402
from refutil import Server  # noqa: E402

SHAPES = [(1, 64), (1, 512), (8, 512)]
REPEATS = 2
PLANS = {"fp32": ["--precision", "fp32"], "bf16": ["--precision", "bf16"],
         "int8": ["--precision", "int8"],
         "int4 g32": ["--precision", "int4", "--quant-group-size", "32"],
         "int4 g64": ["--precision", "int4", "--quant-group-size", "64"],
         "int4 g128": ["--precision", "int4", "--quant-group-size", "128"]}


def texts_of(tok, n, k=0):
    """A text of exactly n tokens, <|endoftext|> included; k makes it differ from the others of a
    batch (a server may answer repeated inputs once)."""
    words = n - 1
    while True:
        t = "%d" % k + " the" * (words - 1)
        got = len(tok(t)["input_ids"])
        if got == n:
            return t
        words += n - got


def post(srv, texts, tokens):
    status, out = srv.post("/v1/embeddings", {"input": texts, "model": "qwen3"})
    assert status == 200 and len(out["data"]) == len(texts), (status, out)
    if out["usage"]["prompt_tokens"] != tokens:
        raise RuntimeError("embp counted %s tokens, expected %d" % (out["usage"], tokens))


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def embp_plan(binary, path, flags, threads, batches):
    """One `embp serve` per plan (tests/refutil.Server): load wall and CPU time until it listens
    (it loads the model first; the log is polled every 0.1 s), then per shape one warm-up
    request (the first pass of a shape sizes and fills its scratch) and REPEATS timed
    /v1/embeddings requests (best kept), so tokens/s includes tokenizing, pooling and HTTP."""
    t0 = time.time()
    srv = Server(binary, path, ["--model-name", "qwen3", "--threads", str(threads),
                                "--timeout", "3600"] + flags)
    try:
        load, load_cpu = time.time() - t0, cpu_s(srv.proc.pid)
        secs = []
        for (B, L), texts in zip(SHAPES, batches):
            post(srv, texts, B * L)
            best = 1e9
            for _ in range(REPEATS):
                t = time.time()
                post(srv, texts, B * L)
                best = min(best, time.time() - t)
            secs.append(best)
        return load, load_cpu, peak_rss_mib(srv.proc.pid), secs
    finally:
        srv.stop()


def torch_rates(path, tok, batches, threads):
    import torch
    from transformers import AutoModel
    torch.set_num_threads(threads)
    model = AutoModel.from_pretrained(path, torch_dtype=torch.float32).eval()
    rates = []
    with torch.inference_mode():
        for texts in batches:
            enc = tok(texts, return_tensors="pt", padding=True)
            model(**enc)  # warm-up, as embp's
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
    sbc = os.path.join(path, "sentence_bert_config.json")
    cfg = json.load(open(sbc))
    if cfg.get("max_seq_length", 0) < max(L for _, L in SHAPES):
        cfg["max_seq_length"] = 8192  # a folder made for the tests cuts at 256 tokens
        json.dump(cfg, open(sbc, "w"))
    fp32_bytes = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                     if f.endswith(".safetensors"))
    batches = [[texts_of(tok, L, k) for k in range(B)] for B, L in SHAPES]
    head = " | ".join("%dx%d tok/s" % s for s in SHAPES)
    print("threads %d; fp32 weights %.0f MB; 1-minute load average at start %s"
          % (threads, fp32_bytes / 1e6, open("/proc/loadavg").read().split()[0]))
    print("| plan | load wall s | load CPU s | peak RSS MiB | %s |" % head)
    print("|---|---:|---:|---:|" + "---:|" * len(SHAPES))
    for name in plans:
        load, cpu, rss, secs = embp_plan(binary, path, PLANS[name], threads, batches)
        rates = " | ".join("%.0f" % (B * L / s) for (B, L), s in zip(SHAPES, secs))
        print("| embp %s | %.1f | %.1f | %.0f | %s |" % (name, load, cpu, rss, rates), flush=True)
    secs = torch_rates(path, tok, batches, threads)
    rates = " | ".join("%.0f" % (B * L / s) for (B, L), s in zip(SHAPES, secs))
    print("| transformers fp32 (torch) | | | | %s |" % rates)


if __name__ == "__main__":
    main()
