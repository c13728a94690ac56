"""Qwen3-Embedding-0.6B's shapes, per plan: load time, RSS, tokens/s at 1x64, 1x512, 8x512, beside
transformers on torch at the same threads, in one run.

    qwen3_bench.py EMBP_BIN WORK_DIR SOURCE_DIR [--threads N] [--plans fp32,bf16,...]

The model is tests/qwen3_reference.py's --real one (random weights at the real shapes, saved by
save_pretrained: 2.4 GB fp32), made in WORK_DIR/qwen3 unless it is there. Each plan runs
`embp embed` on it: once on a 2-token text (load wall and CPU time), then once per shape with
B texts of L tokens; a shape's time is its run's wall time minus the load run's (so tokens/s
includes tokenizing and pooling, not loading). Peak RSS is /usr/bin/time's, which counts the
weight file's pages while load reads them (the steady state is the plan's weight bytes, `embp
info`). transformers: Qwen3Model.forward on the same ids plus
last-token pooling, torch.set_num_threads(N). Prints a markdown table."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from qwen3_reference import REAL, corpus, make_model, qwen_tokenizer, st_folder  # noqa: E402

SHAPES = [(1, 64), (1, 512), (8, 512)]
REPEATS = 1
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


def timed(argv, stdin):
    """(wall s, user + system s, peak RSS MiB) of one run."""
    r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + argv, input=stdin,
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr[-1000:])
    wall, user, sys_, rss = r.stderr.strip().split("\n")[-1].split()
    return float(wall), float(user) + float(sys_), int(rss) / 1024


def embp_plan(binary, path, flags, threads, batches):
    """`embp embed` runs: one of a single 2-token text (the load), then one per shape; a shape's
    time is its run's minus the load run's."""
    argv = [binary, "embed", "--model", path, "--fidelity-cache", "off", "--threads",
            str(threads)] + flags
    load, load_cpu, rss = timed(argv, "x\n")
    secs = []
    for texts in batches:
        wall, _, peak = timed(argv, "\n".join(texts) + "\n")
        secs.append(max(wall - load, 1e-3))
        rss = max(rss, peak)
    return load, load_cpu, rss, secs


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
