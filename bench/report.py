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
end = next((r for r in rows if r["kind"] == "end"), {})
startup = [r for r in rows if r["kind"] == "startup"]
int8peer = {r["model"]: r for r in rows if r["kind"] == "int8peer"}
st = {}
for r in rows:
    if r["kind"] == "st":
        st.setdefault(r["model"], []).append(r)
inf_runs = [r for r in rows if r["kind"] == "infinity_run"]
inf = next((r for r in rows if r["kind"] == "infinity"), None)
skipped = [r for r in rows if r["kind"] == "skipped"]
MiB = 2 ** 20
out = []
say = out.append

say("Measured %s on %s (%d cores; %s; oneDNN %s; %s), %d s per figure, load average %s at the start "
    "and %s at the end (1, 5, 15 min). Threads: embp %d (its bench programs and "
    "server, `--threads`), the peer %d (ONNX Runtime intraOpNumThreads, interOp 1), each read back "
    "from the side's own output. Both sides' timings include tokenization." % (
        run["date"], run["cpu"], run["cores"], run["features"], run.get("onednn", "?"),
        run.get("os", "?"), run["seconds"], " ".join(run.get("load_start", ["?"])),
        " ".join(end.get("load_end", ["?"])), run["threads"], run["threads"]))
say("Peer: ONNX Runtime %s (onnxruntime-node) + HF tokenizers, same fixture, padded batches%s. "
    "Before any timing, every plan's vectors of 32 corpus lines were checked against the peer's "
    "(cosine >= 0.99999 fp32, 0.9999 bf16, 0.999 int8, 0.99 int4 (0.97 on the base fixture: int4 rounds its 12 random layers harder)); a wrong vector ends the run." % (
        run["ort"], "; on the mixed corpus sorted by length first, longest first, as "
        "sentence-transformers' encode() does" if all(p.get("mix_sorted") for p in peers.values())
        else ""))
say("")
for m, p in peers.items():
    say("**%s-shaped fixture** (peer: %.0f tokens/s at 32x128, p50 %.2f ms at 1x16, %.0f tokens/s mixed)" % (
        m, p["t32"], p["p1"], p["mix"]))
    say("")
    say("| embp plan (storage/compute, kernels) | 32x128 tokens/s | vs peer | 1x16 p50 ms | vs peer | mixed corpus tokens/s | vs peer | "
        "encoder GFLOP/s (% of fp32 GEMM peak) | weights MiB | RSS after load MiB |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    for pr in run["precisions"]:
        e = embp[(m, pr)]
        say("| %s (%s%s) | %.0f | %.2fx | %.2f | %.2fx | %.0f | %.2fx | %.0f (%.0f%%) | %.1f | %.0f |" % (
            pr, e["run_as"], ", %s ops, %s GEMMs" % (e["kernels"], e["gemm"]) if "gemm" in e else "", e["t32"], e["t32"] / p["t32"], e["p1"], e["p1"] / p["p1"], e["mix"],
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

if startup:
    say("**Start-up**: exec of `embp serve` to its first 200 on `/health` (bench/wait_health.py), "
        "%d threads; `auto` twice on one fidelity cache, first empty (it measures its candidates "
        "against fp32 on the probe set), then filled." % run["threads"])
    say("")
    say("| model | plan | seconds | plan it ran |")
    say("|---|---|---|---|")
    for r in startup:
        say("| %s | %s | %.3f | %s |" % (r["model"], r["plan"], r["seconds"], r.get("runs_as") or ""))
    say("")

for m, i8 in int8peer.items():
    e = {pr: embp.get((m, pr)) for pr in ("fp32", "int8")}
    p = peers.get(m, {})
    what = "the real all-MiniLM-L6-v2" if i8.get("weights") == "real" else "the %s-shaped fixture" % m
    say("**Peers in one run, %s** (%d threads each; embp's and ONNX Runtime's 32x128 and 1x16 on "
        "this folder, their mixed-corpus figures from the %s-shaped fixture above, same shapes and "
        "tokenizer; cosine: each int8's or bf16's vectors against the same engine's fp32 on %d "
        "sentences):" % (what, i8["threads"], m, i8["texts"]))
    say("")
    say("| engine | 32x128 tokens/s | vs embp fp32 | 1x16 p50 ms | mixed corpus tokens/s | cosine to own fp32 (mean / min) |")
    say("|---|---|---|---|---|---|")
    base = i8["embp_fp32"]["t32"]
    line = lambda name, t, p50, mix, cos: say("| %s | %.0f | %.2fx | %.2f | %s | %s |" % (
        name, t, t / base, p50, "%.0f" % mix if mix else "", cos))
    cosf = lambda r: "%.5f / %.5f" % (r["cos_mean"], r["cos_min"]) if "cos_mean" in r else ""
    for side, label in (("embp", "embp"), ("ort", "ONNX Runtime %s" % i8["ort"])):
        for pr in ("fp32", "int8"):
            r = i8["%s_%s" % (side, pr)]
            mix = e[pr]["mix"] if side == "embp" and e[pr] else (p.get("mix") if pr == "fp32" else None)
            line("%s %s%s" % (label, pr, " (quantize_dynamic)" if side == "ort" and pr == "int8" else ""),
                 r["t32"], r["p1"], mix, cosf(r))
    for r in st.get(m, []):  # its fp32 against itself says nothing: left blank as the others'
        line("%s, %s" % (r["engine"], r["precision"]), r["tokens_per_second"], r["p50_ms_1x16"],
             r.get("mixed_tokens_per_second"), cosf(r) if r["precision"] != "fp32" else "")
    say("")

if inf:
    say("**Servers: embp against Infinity on the real all-MiniLM-L6-v2, loopback** (bench_http for both: "
        "keep-alive connections, one request in flight each, the same %d-token sentence per input; %s). "
        "Infinity: `infinity_emb v2 --engine optimum --device cpu` (its ONNX Runtime engine on the fp32 "
        "graph it optimizes at start-up, batch size %d, ONNX Runtime's threads: all %d cores); embp "
        "`--threads %d`. Before timing, Infinity's vectors for %d texts matched embp fp32's to cosine "
        ">= %.6f (embp int8 to fp32: %.5f). Start-up to a healthy /health: Infinity %.1f s%s, embp fp32 "
        "%.2f s, int8 %.2f s. The load client shares the 2 cores with the server." % (
            inf["sentence_tokens"], inf["versions"], inf["batch_size"], run["cores"], inf["threads"],
            inf["check_texts"], inf["check_min_cos"], inf["int8_min_cos"], inf["startup_s"],
            " (its optimized graph cached by an earlier start)" if inf.get("optimized_graph_cached")
            else " (optimizing its graph first)",
            inf["embp_startup_s"]["fp32"], inf["embp_startup_s"]["int8"]))
    if inf.get("optimize_error"):
        say("Infinity's ONNX graph optimization failed at start-up and it ran the exported graph as "
            "is (ONNX Runtime's own session optimizations apply): \"%s\"." % inf["optimize_error"])
    say("")
    say("| clients x inputs | server | tokens/s | vs Infinity | p50 ms | vs Infinity | p99 ms | errors |")
    say("|---|---|---|---|---|---|---|---|")
    ref = {(r["clients"], r["inputs"]): r for r in inf_runs if r["server"] == "infinity"}
    for r in sorted(inf_runs, key=lambda r: (r["clients"], r["inputs"], r["server"] != "infinity", r["server"])):
        i = ref[(r["clients"], r["inputs"])]
        say("| %d x %d | %s | %.0f | %.2fx | %.2f | %.2fx | %.2f | %d |" % (
            r["clients"], r["inputs"], r["server"], r["tokens_per_s"], r["tokens_per_s"] / i["tokens_per_s"],
            r["p50_ms"], r["p50_ms"] / i["p50_ms"], r["p99_ms"], r["errors"]))
    say("")
for r in skipped:
    say("**Not run: %s.** %s" % (r["what"], r["why"].strip().replace("\n", " / ")))
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
for m, i8 in int8peer.items():
    r = i8["embp_int8"]["t32"] / i8["ort_int8"]["t32"]
    targets.append(("%s: embp int8 >= 2x ONNX Runtime int8 at 32x128" % m, "%.2fx" % r, status(r >= 2)))
if inf:
    cl = sorted({(r["clients"], r["inputs"]) for r in inf_runs if r["inputs"] == 1})
    ref = {(r["clients"], r["inputs"]): r for r in inf_runs if r["server"] == "infinity"}
    f32 = {(r["clients"], r["inputs"]): r for r in inf_runs if r["server"] == "embp fp32"}
    tr = {k: f32[k]["tokens_per_s"] / ref[k]["tokens_per_s"] for k in cl}
    lr = {k: f32[k]["p50_ms"] / ref[k]["p50_ms"] for k in cl}
    targets.append(("embp fp32 >= 2x Infinity's tokens/s (1, 8, 64 clients)",
                    ", ".join("%d: %.2fx" % (k[0], tr[k]) for k in cl), status(all(v >= 2 for v in tr.values()))))
    targets.append(("embp fp32 p50 <= 0.5x Infinity's (1, 8, 64 clients)",
                    ", ".join("%d: %.2fx" % (k[0], lr[k]) for k in cl), status(all(v <= 0.5 for v in lr.values()))))
up = {(r["model"], r["plan"]): r["seconds"] for r in startup}
if ("minilm", "fp32") in up:
    targets.append(("start-up, MiniLM fp32 <= 0.5 s to a healthy /health", "%.3f s" % up[("minilm", "fp32")],
                    status(up[("minilm", "fp32")] <= 0.5)))
say("Targets, judged by bench/report.py from this run's figures alone (one run on one machine: "
    "run it again before trusting a status near its line):")
say("")
say("| target | this run | status |")
say("|---|---|---|")
for t in targets:
    say("| %s | %s | %s |" % t)
print("\n".join(out))
