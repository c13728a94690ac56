"""What each precision plan costs in quality on the real all-MiniLM-L6-v2, and what it buys.
    bench/fidelity.sh [--seconds S] [--repeat N] [--out bench/results/fidelity.md]
For every plan this CPU runs (`--precision-strict`: a plan that would fall back is listed as not
run), against sentence-transformers fp32 on the real weights:
  - mean and minimum cosine over tests/data/st_corpus.jsonl (558 varied texts);
  - retrieval agreement on 2,500 real sentences (bench/retrieval_sentences.py): the mean
    overlap@10 of each sentence's ten nearest neighbours (cosine, itself excluded) with those
    sentence-transformers gives, and the Spearman correlation of all 3.1 M pairwise similarities;
  - the built-in 42-sentence probe's figure for the plan (`embp info --fidelity`), the one
    `auto` decides on, to see whether it predicts the corpus;
  - speed: build/bench_forward's tokens/s at batch 32 x 128 and p50 latency at 1 x 16, the
    best of --repeat runs.
Writes the Markdown table to --out and the raw figures next to it (.json). Takes ~10 minutes on
2 cores. Run it through bench/fidelity.sh, which makes the venv and gets the model first."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import st_reference as ref  # noqa: E402

PLANS = [  # (name, embp flags, bench_forward flags)
    ("fp32", ["--precision", "fp32"], ["--precision", "fp32"]),
    ("fp16", ["--precision", "fp16"], ["--precision", "fp16"]),
    ("fp16 storage, fp32 compute", ["--storage-precision", "fp16", "--computation-precision",
                                    "fp32"], ["--storage", "fp16", "--compute", "fp32"]),
    ("bf16", ["--precision", "bf16"], ["--precision", "bf16"]),
    ("int8", ["--precision", "int8"], ["--precision", "int8"]),
    ("int4 g32", ["--precision", "int4", "--quant-group-size", "32"],
     ["--precision", "int4", "--group-size", "32"]),
    ("int4 g64", ["--precision", "int4", "--quant-group-size", "64"],
     ["--precision", "int4", "--group-size", "64"]),
    ("int4 g128", ["--precision", "int4", "--quant-group-size", "128"],
     ["--precision", "int4", "--group-size", "128"]),
    ("int4 g32, int8 compute", ["--storage-precision", "int4", "--computation-precision",
                                "int8"], ["--storage", "int4", "--compute", "int8"]),
    ("auto", ["--precision", "auto"], ["--precision", "auto"]),
]


def embed_lines(binary, model, texts, flags):
    """One `embp embed` over stdin lines (texts without line breaks)."""
    assert not any("\n" in t or "\r" in t for t in texts)
    r = subprocess.run([binary, "embed", "--model", model, *flags],
                       input="\n".join(texts).encode() + b"\n", capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("embp embed %s: %s" % (" ".join(flags), r.stderr.decode()[-1500:]))
    rows = [json.loads(l) for l in r.stdout.decode().split("\n") if l.strip()]
    assert len(rows) == len(texts)
    return np.array([row["embedding"] for row in rows], dtype=np.float32)


def info(binary, model, flags):
    """The plan embp resolves (storage/compute) and its probe-set fidelity."""
    r = subprocess.run([binary, "info", "--model", model, "--fidelity", *flags],
                       capture_output=True)
    out = r.stdout.decode() + r.stderr.decode()
    if r.returncode != 0:
        return None, None, None, out.strip().splitlines()[-1] if out.strip() else "failed"
    plan = re.search(r"^precision\s+(.*)$", out, re.M).group(1)
    m = re.search(r"mean cosine ([0-9.]+), min ([0-9.]+)", out)
    return plan, float(m.group(1)) if m else None, float(m.group(2)) if m else None, ""


def speed(model, flags, seconds, repeat):
    """The best of repeat runs: on a shared machine the others' load only ever slows a run."""
    best_tps, best_p50 = None, None
    for _ in range(repeat):
        r = subprocess.run([os.path.join(ROOT, "build", "bench_forward"), model, "--seconds",
                            str(seconds), *flags], capture_output=True)
        out = r.stdout.decode()
        tps = re.search(r"batch 32 x 128:\s+(\d+) tokens/s", out)
        p50 = re.search(r"batch  1 x  16:.*p50\s+([0-9.]+) ms", out)
        if tps:
            best_tps = max(best_tps or 0, int(tps.group(1)))
        if p50:
            best_p50 = min(best_p50 or 1e9, float(p50.group(1)))
    return best_tps, best_p50


def unit(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def neighbours(v, k=10):
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1)[:, :k], s


def ranks(x):
    r = np.empty(len(x), dtype=np.float64)
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r


def retrieval(ref_nn, ref_pairs, v):
    nn, s = neighbours(unit(v))
    overlap = np.mean([len(set(a) & set(b)) / 10.0 for a, b in zip(ref_nn, nn)])
    iu = np.triu_indices(len(v), 1)
    spearman = np.corrcoef(ref_pairs, ranks(s[iu]))[0, 1]
    return float(overlap), float(spearman)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="speed runs per plan; the best is kept")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "fidelity.md"))
    ap.add_argument("--model", default=None)
    a = ap.parse_args()
    binary = os.path.join(ROOT, "build", "embp")
    model = a.model or subprocess.run([os.path.join(ROOT, "scripts", "get-model.sh")],
                                      capture_output=True, check=True).stdout.decode().strip()
    model = os.path.join(ROOT, model) if not os.path.isabs(model) else model
    corpus = ref.load_texts(os.path.join(ROOT, "tests", "data", "st_corpus.jsonl"))
    sents = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench",
                                                             "retrieval_sentences.py")],
                           capture_output=True, check=True).stdout.decode().split("\n")[:-1]
    t0 = time.time()
    st = ref.st_model(model)
    ref_corpus, ref_sents = ref.st_encode(st, corpus), ref.st_encode(st, sents)
    print("sentence-transformers fp32: %d + %d texts in %.0f s" % (len(corpus), len(sents),
                                                                   time.time() - t0), flush=True)
    ref_nn, s = neighbours(unit(ref_sents))
    ref_pairs = ranks(s[np.triu_indices(len(sents), 1)])
    cache = tempfile.mkdtemp(prefix="embp-fidelity-")
    rows = []
    for name, flags, bflags in PLANS:
        t0 = time.time()
        common = ["--precision-strict", "--fidelity-cache", cache]
        plan, pmean, pmin, why = info(binary, model, flags + common)
        plan = plan and plan.replace(", accumulation fp32", "")
        row = {"plan": name, "flags": " ".join(flags), "runs_as": plan, "probe_mean": pmean,
               "probe_min": pmin}
        if plan is None:
            row["not_run"] = why
            rows.append(row)
            print("%-26s not run here: %s" % (name, why), flush=True)
            continue
        vc, _ = ref.embp_embed(binary, model, corpus, flags + common)
        cos = ref.cosines(ref_corpus, vc)
        vs = embed_lines(binary, model, sents, flags + common)
        cos_s = ref.cosines(ref_sents, vs)
        overlap, spearman = retrieval(ref_nn, ref_pairs, vs)
        tps, p50 = speed(model, bflags, a.seconds, a.repeat)
        row.update(corpus_mean=float(cos.mean()), corpus_min=float(cos.min()),
                   corpus_worst=corpus[int(cos.argmin())][:80], sents_mean=float(cos_s.mean()),
                   sents_min=float(cos_s.min()), overlap10=overlap, spearman=spearman,
                   tokens_per_s=tps, p50_ms_1x16=p50)
        rows.append(row)
        print("%-26s %-40s corpus mean %.6f min %.6f | probe mean %s min %s | overlap@10 %.4f "
              "spearman %.6f | %s tok/s (%.0f s)" % (name, plan, cos.mean(), cos.min(), pmean,
                                                    pmin, overlap, spearman, tps,
                                                    time.time() - t0), flush=True)
    machine = subprocess.run([os.path.join(ROOT, "..", "shared", "tools", "machine.sh")],
                             capture_output=True).stdout.decode().splitlines()[:2] \
        if os.path.exists(os.path.join(ROOT, "..", "shared", "tools", "machine.sh")) else []
    write(a.out, rows, machine, len(corpus), len(sents), a.repeat)


def fmt(v, spec):
    return "–" if v is None else spec % v


def write(path, rows, machine, n_corpus, n_sents, repeat):
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump({"machine": machine, "rows": rows}, f, indent=1)
    lines = [
        "Real all-MiniLM-L6-v2 (sha256 53aa5117...), each plan against sentence-transformers "
        "fp32, measured %s on %s." % (time.strftime("%Y-%m-%d", time.gmtime()),
                                      "; ".join(" ".join(m.split()) for m in machine)),
        "Cosine: over tests/data/st_corpus.jsonl (%d texts). Retrieval: %d sentences from "
        "bench/retrieval_sentences.py (Python's help topics and stdlib docstrings, Debian's "
        "license texts); overlap@10 of each sentence's 10 nearest neighbours with "
        "sentence-transformers', Spearman of all pairwise cosines. Probe: embp's 42-sentence "
        "set that `auto` decides on. Speed: build/bench_forward, batch 32 x 128 (tokens/s) "
        "and 1 x 16 (p50), best of %d runs." % (n_corpus, n_sents, repeat),
        "",
        "| plan | runs as | mean cosine | min cosine | probe mean / min | overlap@10 | "
        "Spearman | tokens/s | p50 1x16 |",
        "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "not_run" in r:
            lines.append("| %s | not on this CPU: %s | | | | | | | |" % (r["plan"], r["not_run"]))
            continue
        lines.append("| %s | %s | %.6f | %.6f | %s / %s | %.4f | %.6f | %s | %s |" % (
            r["plan"], r["runs_as"], r["corpus_mean"], r["corpus_min"],
            fmt(r["probe_mean"], "%.6f"), fmt(r["probe_min"], "%.6f"), r["overlap10"],
            r["spearman"], fmt(r["tokens_per_s"], "%d"), fmt(r["p50_ms_1x16"], "%.2f ms")))
    by = {r["plan"]: r for r in rows if "not_run" not in r}

    def goal(plan, what, ok):
        r = by.get(plan)
        return "- %s: %s" % (what, "not run here" if r is None else
                             ("met" if ok(r) else "NOT met") + " (mean %.6f, min %.6f)"
                             % (r["corpus_mean"], r["corpus_min"]))
    lines += ["", "Goals (corpus cosine to sentence-transformers fp32):",
              goal("int8", "int8 mean >= 0.999 and min >= 0.995",
                   lambda r: r["corpus_mean"] >= 0.999 and r["corpus_min"] >= 0.995),
              goal("int4 g32", "int4 g32 mean >= 0.99", lambda r: r["corpus_mean"] >= 0.99),
              "", "Does the probe predict the corpus? |probe - corpus|, mean and min cosine:"]
    for r in by.values():
        if r["probe_mean"] is not None:
            lines.append("- %s: mean %.6f, min %.6f" % (r["plan"],
                         abs(r["probe_mean"] - r["corpus_mean"]),
                         abs(r["probe_min"] - r["corpus_min"])))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
