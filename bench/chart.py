"""The precision trade-off as a picture: every plan of every model bench/run.sh measured, its
tokens/s at 32 x 128 against its fidelity to fp32 (mean cosine), its weights' memory as the
marker's area, with the machine, the date and the load in the title. Written as OUT.svg and
OUT.png; the points it drew are printed, one JSON line each.

    chart.py FIGURES.jsonl [FIDELITY.json] [--out bench/results/tradeoff]

FIGURES.jsonl is bench/run.sh's figures (bench/results/latest.jsonl or a machine's dated
.jsonl): tokens/s and weight bytes per model and plan ("embp" rows), each plan's cosine to the
ONNX Runtime fp32 peer on the run's 32 check texts ("check" rows), and ONNX Runtime's int8 and
fp32 ("int8peer" rows), drawn as reference crosses. FIDELITY.json is bench/fidelity.sh's: the
real all-MiniLM-L6-v2 against sentence-transformers fp32 over 558 texts. The two are joined by
model and plan: the MiniLM-shaped model's fidelity comes from FIDELITY.json where it has the plan
and the plan ran as the same storage and compute there (the `int4` plan is "int4 g32": the
default group size), else from the run's own check, whose fixture has random weights (said in
the legend: such weights round far more gently than trained ones). The horizontal axis is
1 - mean cosine on a log scale, labelled in cosines, with fp32 (1 - cosine below 1e-7) drawn at
1e-7."""
import argparse
import json
import sys

FLOOR = 1e-7  # 1 - cosine is drawn no lower: fp32 against fp32 is 0 or float rounding
REAL_MODEL = "minilm"  # FIDELITY.json is the real all-MiniLM-L6-v2: the MiniLM-shaped model's
FIDELITY_PLAN = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16", "int8": "int8", "int4": "int4 g32"}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def points(rows, fidelity):
    """The joined points: one dict per model and plan (embp), then the peers' reference points."""
    fid = {r["plan"]: r for r in (fidelity or {}).get("rows", []) if "not_run" not in r}
    check = {(r["model"], r["plan"]): r for r in rows if r["kind"] == "check"}
    out = []
    for r in rows:
        if r["kind"] != "embp":
            continue
        storage, compute = r["run_as"].split("/")
        f = fid.get(FIDELITY_PLAN.get(r["plan"], r["plan"])) if r["model"] == REAL_MODEL else None
        if f and f.get("runs_as") == "storage %s, compute %s" % (storage, compute):
            cos, source = f["corpus_mean"], "real all-MiniLM-L6-v2 vs sentence-transformers fp32"
        elif (r["model"], r["plan"]) in check:
            cos, source = check[(r["model"], r["plan"])]["cos_mean"], "seeded fixture vs ONNX Runtime fp32"
        else:
            continue  # no fidelity figure for this plan: not drawn, and not guessed
        out.append({"model": r["model"], "plan": r["plan"], "engine": "embp", "run_as": r["run_as"],
                    "tokens_per_s": r["t32"], "cos_mean": cos, "weights_mib": r["weights"] / 2 ** 20,
                    "source": source})
    for r in rows:
        if r["kind"] != "int8peer":
            continue
        for pr in ("fp32", "int8"):
            p = r["ort_" + pr]
            out.append({"model": r["model"], "plan": "ORT " + pr, "engine": "onnxruntime",
                        "tokens_per_s": p["t32"], "cos_mean": p.get("cos_mean", 1.0),
                        "weights_mib": None, "source": "against its own fp32"})
    return out


def draw(pts, run, end, out):
    import math

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    plt.rcParams["svg.hashsalt"] = "embp-tradeoff"  # the same figures give the same SVG
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    models = sorted({p["model"] for p in pts}, key=lambda m: (m != REAL_MODEL, m))
    fig, axes = plt.subplots(1, len(models), figsize=(max(9.5, 5.4 * len(models)), 5.6), dpi=110,
                             squeeze=False)
    sources = sorted({p["source"] for p in pts if p["engine"] == "embp"})
    marker = {s: m for s, m in zip(sources, ["o", "s", "D"])}
    wmax = max(p["weights_mib"] for p in pts if p["engine"] == "embp")
    xs = [max(1 - p["cos_mean"], FLOOR) for p in pts]
    lo, hi = min(xs), max(xs)
    ticks = [10.0 ** k for k in range(-7, 1) if lo / 3 <= 10.0 ** k <= hi * 3]
    label = lambda v, _: "fp32 (1.0)" if v <= FLOOR else "%.*f" % (max(1, round(-math.log10(v))), 1 - v)
    for i, (m, ax) in enumerate(zip(models, axes[0])):
        c = COLORS[i % len(COLORS)]
        mine = [p for p in pts if p["model"] == m and p["engine"] == "embp"]
        ordered = sorted(mine, key=lambda p: -p["cos_mean"])
        ax.plot([max(1 - p["cos_mean"], FLOOR) for p in ordered], [p["tokens_per_s"] for p in ordered],
                color=c, alpha=0.3, lw=1, zorder=2)
        for p in mine:
            x = max(1 - p["cos_mean"], FLOOR)
            ax.scatter(x, p["tokens_per_s"], s=30 + 900 * p["weights_mib"] / wmax, color=c, alpha=0.55,
                       marker=marker[p["source"]], edgecolors="black", linewidths=0.6, zorder=3)
            ax.annotate("%s\n%.0f MiB" % (p["plan"], p["weights_mib"]), (x, p["tokens_per_s"]),
                        textcoords="offset points", xytext=(0, -22), ha="center", va="top",
                        fontsize=8, zorder=4)
        for p in pts:
            if p["model"] == m and p["engine"] != "embp":
                x = max(1 - p["cos_mean"], FLOOR)
                ax.scatter(x, p["tokens_per_s"], s=50, color="black", marker="x", linewidths=1.3, zorder=3)
                ax.annotate(p["plan"], (x, p["tokens_per_s"]), textcoords="offset points",
                            xytext=(-6, 6), ha="right", fontsize=7.5)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(label))
        ax.set_xlim(hi * 3, lo / 3)  # right: closer to fp32
        top = max(p["tokens_per_s"] for p in pts if p["model"] == m)
        ax.set_ylim(-0.08 * top, 1.15 * top)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title("%s%s" % (m, " (real all-MiniLM-L6-v2 fidelity)" if any(
            p["source"].startswith("real") for p in mine) else ""), fontsize=10)
        ax.set_xlabel("mean cosine to fp32 (log scale of 1 - cosine)", fontsize=9)
        ax.set_ylabel("tokens/s, batch 32 x 128, %d threads" % run["threads"], fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    load = " / ".join(" ".join(x) for x in (run.get("load_start"), end.get("load_end")) if x)
    fig.suptitle("embp precision plans: speed against fidelity to fp32; marker area: weights in memory\n"
                 "%s, %d cores (%s), %s%s" % (run["cpu"], run["cores"], isa(run["features"]), run["date"],
                                              ", load average %s (start / end)" % load if load else ""),
                 fontsize=10)
    handles = [plt.Line2D([], [], color="grey", marker=marker[s], ls="", mfc="none", label="fidelity: " + s)
               for s in sources]
    if any(p["engine"] != "embp" for p in pts):
        handles.append(plt.Line2D([], [], color="black", marker="x", ls="",
                                  label="ONNX Runtime (int8: quantize_dynamic, against its own fp32)"))
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=2 if len(models) < 2 else len(handles),
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out + ".svg", metadata={"Date": None})
    fig.savefig(out + ".png", metadata={"Software": None})
    plt.close(fig)


def isa(features):
    f = features.split()
    if "avx512_bf16" in f and "avx512_vnni" in f:
        return "AVX-512 BF16/VNNI"
    return "AVX-512" if "avx512f" in f else ("AVX2" if "avx2" in f else "no AVX2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("figures")
    ap.add_argument("fidelity", nargs="?")
    ap.add_argument("--out", default="bench/results/tradeoff")
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.figures) if l.strip()]
    run = next(r for r in rows if r["kind"] == "run")
    end = next((r for r in rows if r["kind"] == "end"), {})
    fidelity = json.load(open(a.fidelity)) if a.fidelity else None
    pts = points(rows, fidelity)
    if not any(p["engine"] == "embp" for p in pts):
        sys.exit("chart.py: %s has no embp plan with a fidelity figure to draw" % a.figures)
    draw(pts, run, end, a.out)
    for p in pts:
        print(json.dumps(p))


if __name__ == "__main__":
    main()
