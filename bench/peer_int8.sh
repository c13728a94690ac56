#!/usr/bin/env bash
# ONNX Runtime int8 next to embp int8, and both fp32s, on one model folder, in one run: ORT's
# int8 is onnxruntime.quantization.quantize_dynamic (s8 weights, u8 activations quantized at run
# time: the int8 path Infinity runs on CPU), served by the same peer (../shared/tools/peer) as
# ORT fp32. Fidelity: each int8's mean and minimum cosine to its own fp32 over the same texts.
# Prints a Markdown table, or with --json one JSON line of the same figures (bench/run.sh's).
#   bench/peer_int8.sh MODEL_DIR [--seconds S] [--threads N] [--texts FILE] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
secs=3; threads=2; texts=build/fixtures/sentences.txt; json=0
while [ $# -gt 0 ]; do case $1 in --seconds) secs=$2; shift 2;; --threads) threads=$2; shift 2;; --texts) texts=$2; shift 2;;
  --json) json=1; shift;; *) echo "unknown $1"; exit 2;; esac; done
peer=${EMBP_PEER_DIR:-build/peer}
venv=build/venv-ort
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import onnxruntime, onnx" 2>/dev/null || "$venv/bin/pip" install -q onnxruntime onnx
q=${dir%/}-ort-int8
if [ ! -f "$q/onnx/model.onnx" ]; then
  mkdir -p "$q/onnx"
  for f in "$dir"/*; do [ "$(basename "$f")" = onnx ] || ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$q/"; done
  "$venv/bin/python" -c "
import sys
from onnxruntime.quantization import quantize_dynamic, QuantType
quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QInt8)" "$dir/onnx/model.onnx" "$q/onnx/model.onnx" 2>/dev/null
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -64 "$texts" > "$tmp/texts"
jget() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['$1'])"; }
for side in fp32 int8; do
  d=$dir; [ $side = int8 ] && d=$q
  node "$peer/peer.mjs" bench "$d" --batch 32 --seq 128 --seconds "$secs" --threads "$threads" | jget tokens_per_second > "$tmp/ort-$side-t"
  node "$peer/peer.mjs" bench "$d" --batch 1 --seq 16 --seconds "$secs" --threads "$threads" | jget p50_ms > "$tmp/ort-$side-l"
  node "$peer/peer.mjs" embed "$d" --threads "$threads" < "$tmp/texts" > "$tmp/ort-$side.jsonl"
  bf=$(./build/bench_forward "$dir" --seconds "$secs" --threads "$threads" --precision $side)
  echo "$bf" | awk '/batch 32 x 128/{print $5}' > "$tmp/embp-$side-t"
  echo "$bf" | awk '/batch  1 x  16/{print $10}' > "$tmp/embp-$side-l"
  ./build/embp embed --model "$dir" --precision $side --threads "$threads" < "$tmp/texts" > "$tmp/embp-$side.jsonl"
done
/usr/bin/python3 - "$tmp" "$threads" "$json" "$(cd "$peer" && node -e "console.log(require('onnxruntime-node/package.json').version)")" <<'PY'
import json, math, sys
tmp, threads, as_json, ort = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
def vecs(name):
    return [json.loads(l)["embedding"] for l in open("%s/%s.jsonl" % (tmp, name))]
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
def fid(side):
    c = [cos(a, b) for a, b in zip(vecs(side + "-fp32"), vecs(side + "-int8"))]
    return sum(c) / len(c), min(c), len(c)
num = lambda f: float(open("%s/%s" % (tmp, f)).read())
ort8 = num("ort-int8-t")
if as_json:
    row = {"ort": ort, "threads": int(threads), "texts": fid("ort")[2]}
    for side in ("ort", "embp"):
        for p in ("fp32", "int8"):
            row["%s_%s" % (side, p)] = {"t32": num("%s-%s-t" % (side, p)), "p1": num("%s-%s-l" % (side, p))}
        row["%s_int8" % side].update(zip(("cos_mean", "cos_min"), fid(side)[:2]))
    print(json.dumps(row))
    sys.exit(0)
print("| %s threads | 32x128 tokens/s | vs ORT int8 | 1x16 p50 ms | int8 cosine to own fp32 (mean / min, %d texts) |" % (threads, fid("ort")[2]))
print("|---|---|---|---|---|")
for side, label in (("ort", "ONNX Runtime"), ("embp", "embp")):
    for p in ("fp32", "int8"):
        t, l = num("%s-%s-t" % (side, p)), num("%s-%s-l" % (side, p))
        f = "%.5f / %.5f" % fid(side)[:2] if p == "int8" else ""
        print("| %s %s | %.0f | %.2fx | %.2f | %s |" % (label, p, t, t / ort8, l, f))
PY
