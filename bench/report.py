#!/usr/bin/python3
"""bench/run.sh's figures (one JSON object per line) as Markdown: the run, a table per model,
the server, and the targets with each status computed here from those figures (never typed).
  report.py figures.jsonl > latest.md"""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
run = next(r for r in rows if r["kind"] == "run")
peers = {r["model"]: r for r in rows if r["kind"] == "peer"}
embp = {(r["model"], r["plan"]): r for r in rows if r["kind"] == "embp"}
srv = next((r for r in rows if r["kind"] == "server"), None)
MiB = 2 ** 20
out = []
say = out.append

say("Measured %s on %s (%d cores; %s), %d s per figure. Threads: embp %d (its bench programs and "
    "server, `--threads`), the peer %d (ONNX Runtime intraOpNumThreads, interOp 1), each read back "
    "from the side's own output. Both sides' timings include tokenization." % (
        run["date"], run["cpu"], run["cores"], run["features"], run["seconds"],
        run["threads"], run["threads"]))
say("Peer: ONNX Runtime %s (onnxruntime-node) + HF tokenizers, same fixture, padded batches. "
    "Before any timing, every plan's vectors of 32 corpus lines were checked against the peer's "
    "(cosine >= 0.99999 fp32, 0.9999 bf16, 0.999 int8, 0.99 int4); a wrong vector ends the run." % run["ort"])
say("")
for m, p in peers.items():
    say("**%s-shaped fixture** (peer: %.0f tokens/s at 32x128, p50 %.2f ms at 1x16, %.0f tokens/s mixed)" % (
        m, p["t32"], p["p1"], p["mix"]))
    say("")
    say("| embp plan | 32x128 tokens/s | vs peer | 1x16 p50 ms | vs peer | mixed corpus tokens/s | vs peer | "
        "encoder GFLOP/s (% of fp32 GEMM peak) | weights MiB | RSS after load MiB |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    for pr in run["precisions"]:
        e = embp[(m, pr)]
        say("| %s (%s) | %.0f | %.2fx | %.2f | %.2fx | %.0f | %.2fx | %.0f (%.0f%%) | %.1f | %.0f |" % (
            pr, e["run_as"], e["t32"], e["t32"] / p["t32"], e["p1"], e["p1"] / p["p1"], e["mix"],
            e["mix"] / p["mix"], e["gflops"], 100 * e["gflops"] / e["peak"], e["weights"] / MiB,
            e["rss_load"] / MiB))
    say("")

if srv:
    one, one8 = srv["runs"][0], srv["int8_1x1"]
    wb = srv["weights"] / MiB
    rss0, rss1, hwm = srv["rss0_kb"] / 1024, srv["rss1_kb"] / 1024, srv["hwm_kb"] / 1024
    say("**Server, MiniLM-shaped fp32, loopback** (bench_http, keep-alive; one 17-token sentence per request, "
        "1 client): p50 %.2f ms, p99 %.2f ms; with the int8 plan p50 %.2f ms, p99 %.2f ms." % (
            one["p50_ms"], one["p99_ms"], one8["p50_ms"], one8["p99_ms"]))
    say("")
    say("Server resident memory (MiniLM fp32, default budget): weights %.1f MiB; RSS after load and warm-up "
        "%.0f MiB (weights + %.0f); peak during the runs below (VmHWM, reset after load) %.0f MiB (weights + "
        "%.0f); after the runs %.0f MiB." % (wb, rss0, rss0 - wb, hwm, hwm - wb, rss1))
    say("")
    say("| clients x inputs per request | requests/s | inputs/s | tokens/s | vs in-process | p50 ms | p99 ms | errors |")
    say("|---|---|---|---|---|---|---|---|")
    for r in srv["runs"]:
        say("| %d x %d | %.1f | %.0f | %.0f | %.2fx | %.1f | %.1f | %d |" % (
            r["clients"], r["inputs"], r["rps"], r["inputs_per_s"], r["tokens_per_s"],
            r["tokens_per_s"] / srv["inproc"], r["p50_ms"], r["p99_ms"], r["errors"]))
    say("")
    c = srv["check"]
    say("In-process: bench_mixed on 512 copies of the same sentence (64 clients x 8 inputs) packed into "
        "batches of %d tokens, the server's budget (EMB_PROVIDER_MAX_BATCH_TOKENS): %.0f tokens/s. \"vs "
        "in-process\" is the server's tokens/s (usage.prompt_tokens) over that. Rows with 1 input per request "
        "measure request overhead and latency more than the model. Answers checked first by "
        "tests/load_client.mjs (8 clients x 4 inputs, 1 s, vectors vs each text alone): %d requests, %d "
        "mismatches, %d errors. The load client runs on the same cores as the server, so server figures "
        "are a floor." % (srv["budget"], srv["inproc"], sum(c["statuses"].values()), c["mismatches"], c["errors"]))
    say("")

# The targets, each judged from the figures above.
def status(ok, partly=None):
    return "met" if ok else ("met %s" % partly if partly else "not met")

targets = []
for m, p in peers.items():
    f = embp[(m, "fp32")]
    r32 = f["t32"] / p["t32"]
    best = max((embp[(m, pr)]["t32"] / p["t32"], pr) for pr in run["precisions"])
    targets.append(("%s: fp32 >= 1.5x peer at 32x128" % m, "fp32 %.2fx (best: %s %.2fx)" % (r32, best[1], best[0]),
                    status(r32 >= 1.5, "with %s" % best[1] if best[0] >= 1.5 else None)))
    rm = f["mix"] / p["mix"]
    targets.append(("%s: >= 2x peer on the mixed corpus" % m, "fp32 %.2fx" % rm, status(rm >= 2)))
    eff = f["gflops"] / f["peak"]
    targets.append(("%s: >= 75%% of fp32 GEMM peak in the encoder" % m, "%.0f%%" % (100 * eff), status(eff >= 0.75)))
    lat = {pr: embp[(m, pr)]["p1"] / p["p1"] for pr in run["precisions"]}
    fast = [pr for pr in run["precisions"] if lat[pr] <= 0.6]
    targets.append(("%s: 1x16 p50 <= 0.6x peer" % m, ", ".join("%s %.2fx" % (pr, lat[pr]) for pr in run["precisions"]),
                    status(lat["fp32"] <= 0.6, "with %s only" % " and ".join(fast) if fast else None)))
    if "bf16" in run["precisions"]:
        b = embp[(m, "bf16")]["t32"] / f["t32"]
        targets.append(("%s: bf16 >= 1.7x embp fp32 at 32x128" % m, "%.2fx" % b, status(b >= 1.7)))
    else:
        targets.append(("%s: bf16 >= 1.7x embp fp32 at 32x128" % m, "no AVX512_BF16 on this CPU",
                        "not measured here"))
    i8 = embp[(m, "int8")]["t32"] / f["t32"]
    targets.append(("%s: int8 >= 2.5x embp fp32 at 32x128" % m, "%.2fx (%s)" % (i8, embp[(m, "int8")]["run_as"]),
                    status(i8 >= 2.5)))
    w4 = embp[(m, "int4")]["weights"] / f["weights"]
    targets.append(("%s: int4 weights <= 0.3x fp32" % m, "%.2fx in memory" % w4, status(w4 <= 0.3)))
if srv:
    targets.append(("<= 3 ms p50 over HTTP (MiniLM, 1 client)", "fp32 %.2f ms, int8 %.2f ms" % (one["p50_ms"], one8["p50_ms"]),
                    status(one["p50_ms"] <= 3, "with int8" if one8["p50_ms"] <= 3 else None)))
    r64 = next(r for r in srv["runs"] if r["clients"] == 64 and r["inputs"] == 8)
    targets.append(("64 clients within 10% of in-process", "64 x 8: %.2fx" % (r64["tokens_per_s"] / srv["inproc"]),
                    status(r64["tokens_per_s"] / srv["inproc"] >= 0.90)))
    targets.append(("server RSS <= weights + 64 MiB (MiniLM fp32)", "peak weights + %.0f MiB" % (hwm - wb),
                    status(hwm - wb <= 64)))
say("Targets, judged by bench/report.py from this run's figures alone (one run on one machine: "
    "run it again before trusting a status near its line):")
say("")
say("| target | this run | status |")
say("|---|---|---|")
for t in targets:
    say("| %s | %s | %s |" % t)
print("\n".join(out))
