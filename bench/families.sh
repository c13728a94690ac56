#!/usr/bin/env bash
# Tokens/s per model family, embp beside the ONNX Runtime peer (../shared/tools/peer: HF
# tokenizers + ONNX Runtime) on the same folder, threads and texts in one run: for each family
# bench/families.py makes a randomly initialized transformers model at a real model's width with
# LAYERS layers and exports its onnx/model.onnx with torch.onnx from the same weights; each
# side's vectors are checked against the other's before any timing (fp32 min cosine >= 0.9999
# on 32 corpus lines), then batch 32 x 128 is timed on both sides (peer.mjs bench's texts, which
# bench_forward times too), embp in each plan. Writes bench/results/families.md.
#   bench/families.sh [--layers N] [--seconds S] [--threads N] [FAMILY ...]
# To add a family: a row in bench/families.py's FAMILIES; this script runs every folder it made.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=4; secs=3; threads=2; only=()
while [ $# -gt 0 ]; do case $1 in
  --layers) layers=$2; shift 2;; --seconds) secs=$2; shift 2;; --threads) threads=$2; shift 2;;
  -*) echo "unknown $1"; exit 2;; *) only+=("$1"); shift;; esac; done
shared=$(cd "${EMBP_SHARED:-../shared}" && pwd)
[ -x build/bench_forward ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j"$(nproc)" >/dev/null; }
peer=${EMBP_PEER_DIR:-build/peer}
if [ ! -d "$peer/node_modules/onnxruntime-node" ]; then
  mkdir -p "$peer"; cp "$shared/tools/peer/"* "$peer/"
  (cd "$peer" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
PY=$(scripts/venv.sh --reference)/bin/python
"$PY" -c 'import onnx' 2>/dev/null || build/venv/bin/pip install -q onnx
fx=build/bench-families-$layers
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
  "$PY" bench/families.py "$fx" . "$layers" ${only[@]+"${only[@]}"} 2>/dev/null
precisions="fp32 int8"
grep -q avx512_bf16 /proc/cpuinfo && precisions="fp32 bf16 int8"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
load0=$(cut -d' ' -f1 /proc/loadavg)
fig=$work/figures.jsonl
sed -n 1,32p tests/data/sentences_extra.txt > "$work/check.txt"
for d in "$fx"/*/; do
  m=$(basename "$d")
  [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $m "* ]] || continue
  # correctness first: the two sides' vectors of the same texts
  node "$peer/peer.mjs" embed "$d" --threads "$threads" < "$work/check.txt" > "$work/peer.jsonl"
  "$PY" - "$d" "$work/peer.jsonl" "$work/check.txt" build/embp <<'PY'
import json, sys
sys.path.insert(0, "tests")
import numpy as np
from st_reference import cosines, embp_embed
d, peer, check, binary = sys.argv[1:]
texts = [l.rstrip("\n") for l in open(check, encoding="utf-8")]
ref = np.array([json.loads(l)["embedding"] for l in open(peer)], dtype=np.float32)
got, _ = embp_embed(binary, d, texts, ["--precision", "fp32"])
c = cosines(ref, got).min()
print("check %s: fp32 min cosine embp vs ONNX Runtime %.7f" % (d, c), file=sys.stderr)
if c < 0.9999:
    sys.exit("families: %s vectors differ from the peer's (min cosine %.6f)" % (d, c))
PY
  p=$(node "$peer/peer.mjs" bench "$d" --batch 32 --seq 128 --seconds "$secs" --threads "$threads")
  for pr in $precisions; do
    bf=$(./build/bench_forward "$d" --seconds "$secs" --precision "$pr" --threads "$threads" --batch-only)
    echo "$bf" | grep -q " $threads threads on " || { echo "families: bench_forward did not run $threads threads"; exit 1; }
    "$PY" - "$m" "$pr" "$bf" "$p" "$threads" >> "$fig" <<'PY'
import json, re, sys
m, pr, bf, p, threads = sys.argv[1:]
p = json.loads(p)
assert p["threads"] == int(threads), p
t = float(re.search(r"batch 32 x 128: +(\S+) tokens/s", bf).group(1))
print(json.dumps({"family": m, "plan": pr, "embp": t, "ort": p["tokens_per_second"]}))
PY
    tail -1 "$fig"
  done
done
"$PY" - "$fig" "$fx/families.json" "$threads" "$secs" "$(date -u +%Y-%m-%d)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$load0" \
  "$(cut -d' ' -f1 /proc/loadavg)" "$(nproc)" > bench/results/families.md <<'PY'
import json, sys
fig, fams, threads, secs, date, cpu, load0, load1, cores = sys.argv[1:]
rows = [json.loads(l) for l in open(fig)]
fams = json.load(open(fams))
plans = list(dict.fromkeys(r["plan"] for r in rows))
print("# embp per model family beside ONNX Runtime (%s)\n" % date)
print("%s, %s threads on each side, batch 32 x 128 (peer.mjs bench's texts, tokenization "
      "included), %s s per figure. Models: randomly initialized transformers models at the "
      "real model's width (hidden, heads, FFN) with the layers below, exported by torch.onnx "
      "from the same weights; each side's fp32 vectors checked against the other's first. "
      "1-minute load average %s at the start and %s at the end on %s cores%s\n"
      % (cpu, threads, secs, load0, load1, cores,
         ": above the core count, **the machine was shared with other jobs while this ran**, "
         "each side lost time to them as it ran, and a figure of a few timed calls can hang on "
         "one stall." if max(float(load0), float(load1)) > float(cores) else
         " (no other work of note ran)."))
print("| family | width of | hidden x layers | ONNX Runtime fp32 tok/s | "
      + " | ".join("embp %s tok/s (x ORT)" % p for p in plans) + " |")
print("|---|---|---|---:|" + "---:|" * len(plans))
for fam in dict.fromkeys(r["family"] for r in rows):
    rs = {r["plan"]: r for r in rows if r["family"] == fam}
    ort = sum(r["ort"] for r in rs.values()) / len(rs)
    f = fams.get(fam, {})
    print("| %s | %s | %s x %s | %.0f | " % (fam, f.get("like", "?"), f.get("hidden", "?"),
                                            f.get("layers", "?"), ort)
          + " | ".join("%.0f (%.2fx)" % (rs[p]["embp"], rs[p]["embp"] / rs[p]["ort"])
                       if p in rs else "-" for p in plans) + " |")
PY
cat bench/results/families.md
