#!/usr/bin/env bash
# bench/chart.py on a small hand-written sample of a bench run's figures
# (tests/data/chart_figures.jsonl) and of bench/fidelity.sh's output (chart_fidelity.json): the
# points it draws join the two by model and plan as its docstring says (expected values below,
# read off the sample by hand), the SVG and PNG are written, the title names the machine and the
# date, and the same figures give the same SVG bytes. Exits 77 without matplotlib. ~3 s.
set -euo pipefail
src=${EMBP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
py=$src/build/venv/bin/python
if ! "$py" -c "import matplotlib" 2>/dev/null; then
  echo "SKIP: $src/build/venv lacks matplotlib (scripts/venv.sh --reference installs it)"
  exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
d=$src/tests/data
"$py" "$src/bench/chart.py" "$d/chart_figures.jsonl" "$d/chart_fidelity.json" --out "$tmp/a" > "$tmp/points"
"$py" "$src/bench/chart.py" "$d/chart_figures.jsonl" "$d/chart_fidelity.json" --out "$tmp/b" > /dev/null
"$py" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
got = {(p["model"], p["plan"]): p for p in map(json.loads, open(tmp + "/points"))}
real, fixture = "real all-MiniLM-L6-v2 vs sentence-transformers fp32", "seeded fixture vs ONNX Runtime fp32"
want = {  # (model, plan): (tokens/s, mean cosine, MiB, source)
    ("minilm", "fp32"): (18000, 1.0, 86, real),         # fidelity.json's row, same storage/compute
    ("minilm", "int8"): (40000, 0.996, 22, real),
    ("minilm", "int4"): (15000, 0.995, 18, fixture),    # "int4 g32" ran as int4/int8 there: the check's
    ("base", "fp32"): (1100, 0.9999998, 418, fixture),  # fidelity.json is MiniLM's only
    ("base", "int8"): (2800, 0.9992, 106, fixture),
    ("minilm", "ORT fp32"): (13000, 1.0, None, None),
    ("minilm", "ORT int8"): (25000, 0.9993, None, None),
}
bad = []
for k, (tps, cos, mib, source) in want.items():
    p = got.get(k)
    if p is None:
        bad.append("%s: not drawn" % (k,))
        continue
    if p["tokens_per_s"] != tps or abs(p["cos_mean"] - cos) > 1e-12:
        bad.append("%s: tokens/s %s, cosine %s; want %s, %s" % (k, p["tokens_per_s"], p["cos_mean"], tps, cos))
    if mib is not None and (abs(p["weights_mib"] - mib) > 1e-9 or p["source"] != source):
        bad.append("%s: %s MiB from %r; want %s MiB from %r" % (k, p["weights_mib"], p["source"], mib, source))
if set(got) != set(want):
    bad.append("drew %s, want %s" % (sorted(got), sorted(want)))
svg_a, svg_b = open(tmp + "/a.svg", "rb").read(), open(tmp + "/b.svg", "rb").read()
if svg_a != svg_b:
    bad.append("the same figures gave two different SVGs")
for text in ("Sample CPU 9000", "2026-11-29", "AVX-512 BF16/VNNI", "1.50 1.25 1.00 / 2.00 1.50 1.10"):
    if text.encode() not in svg_a:
        bad.append("the SVG lacks %r" % text)
if open(tmp + "/a.png", "rb").read(8) != b"\x89PNG\r\n\x1a\n":
    bad.append("a.png is not a PNG")
print("\n".join(bad) or "chart.py: %d points joined as expected; SVG and PNG written" % len(got))
sys.exit(1 if bad else 0)
PY
