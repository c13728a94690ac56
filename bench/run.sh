#!/usr/bin/env bash
# One command: embp next to the ONNX Runtime peer (../shared/tools/peer: HF tokenizers + ONNX
# Runtime, same fixture model, same threads, same texts) in one run, as a Markdown table of
# ratios. Writes bench/results/latest.md. Takes a few minutes.
#   bench/run.sh [--seconds S] [--quick]    (--quick: MiniLM shapes only)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=3; quick=0
while [ $# -gt 0 ]; do case $1 in --seconds) secs=$2; shift 2;; --quick) quick=1; shift;; *) echo "unknown $1"; exit 2;; esac; done
shared=$(cd "${EMBP_SHARED:-../shared}" && pwd)
[ -x build/bench_forward ] && [ -x build/bench_http ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j"$(nproc)" >/dev/null; }
fx=build/bench-fixtures; mkdir -p "$fx"
peer=${EMBP_PEER_DIR:-build/peer}
if [ ! -d "$peer/node_modules/onnxruntime-node" ]; then
  mkdir -p "$peer"; cp "$shared/tools/peer/"* "$peer/"
  (cd "$peer" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
PY=/usr/bin/python3
[ -f "$fx/minilm/onnx/model.onnx" ] || $PY "$shared/tools/make_fixture_model.py" "$fx/minilm" --like "$shared/models/all-MiniLM-L6-v2" --seed 11 --onnx >/dev/null
models=minilm
if [ $quick = 0 ]; then
  [ -f "$fx/base/onnx/model.onnx" ] || $PY "$shared/tools/make_fixture_model.py" "$fx/base" --like "$shared/models/all-MiniLM-L6-v2" \
     --hidden 768 --layers 12 --heads 12 --intermediate 3072 --seed 5 --onnx >/dev/null
  models="minilm base"
fi
[ -f "$fx/corpus.txt" ] || $PY bench/make_corpus.py "$fx/corpus.txt"
jget() { $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['$1'])"; }
precisions="fp32 int8 int4"
grep -q avx512_bf16 /proc/cpuinfo && precisions="fp32 bf16 int8 int4"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); feats=$(./build/embp info --model "$fx/minilm" 2>/dev/null | awk '/^features/{ $1=""; print }' | xargs)
out=$(mktemp)
{
echo "Measured $(date -u +%Y-%m-%d) on $cpu ($(nproc) cores; $feats), 2 threads each, ${secs} s per figure."
echo "Peer: ONNX Runtime $(cd "$peer" && node -e "console.log(require('onnxruntime-node/package.json').version)") (onnxruntime-node) + HF tokenizers, same fixture, padded batches."
echo
for m in $models; do
  d=$fx/$m
  p32=$(node "$peer/peer.mjs" bench "$d" --batch 32 --seq 128 --seconds "$secs" --threads 2 | jget tokens_per_second)
  p1=$(node "$peer/peer.mjs" bench "$d" --batch 1 --seq 16 --seconds "$secs" --threads 2 | jget p50_ms)
  pmix=$(node bench/peer_bench.mjs "$peer" "$d" mixed "$fx/corpus.txt" --seconds "$secs" --threads 2 | jget tokens_per_second)
  echo "**$m-shaped fixture** (peer: $(printf '%.0f' "$p32") tokens/s at 32x128, p50 $(printf '%.2f' "$p1") ms at 1x16, $(printf '%.0f' "$pmix") tokens/s mixed)"
  echo
  echo "| embp plan | 32x128 tokens/s | vs peer | 1x16 p50 ms | vs peer | mixed corpus tokens/s | vs peer | encoder GFLOP/s (% of fp32 GEMM peak) | weights MiB | RSS after load MiB |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for pr in $precisions; do
    bf=$(./build/bench_forward "$d" --seconds "$secs" --precision $pr 2>&1)
    t32=$(echo "$bf" | awk '/batch 32 x 128/{print $5}')
    g32=$(echo "$bf" | awk '/batch 32 x 128/{print $7}')
    l1=$(echo "$bf" | awk '/batch  1 x  16/{print $10}')
    peak=$(echo "$bf" | awk '/peak fp32 GEMM/{print $(NF-1)}')
    mx=$(./build/bench_mixed "$d" "$fx/corpus.txt" --seconds "$secs" --precision $pr)
    plan=$(echo "$mx" | $PY -c "import json,sys; j=json.loads(sys.stdin.readline()); print(j['storage']+'/'+j['compute'])")
    tmix=$(echo "$mx" | jget tokens_per_second); wb=$(echo "$mx" | jget weight_bytes); rss=$(echo "$mx" | jget rss_after_load)
    $PY - "$pr" "$plan" "$t32" "$p32" "$l1" "$p1" "$tmix" "$pmix" "$g32" "$peak" "$wb" "$rss" <<'PY'
import sys
pr, plan, t32, p32, l1, p1, tm, pm, g, peak, wb, rss = sys.argv[1:]
t32, p32, l1, p1, tm, pm, g, peak = map(float, (t32, p32, l1, p1, tm, pm, g, peak))
print("| %s (%s) | %.0f | %.2fx | %.2f | %.2fx | %.0f | %.2fx | %.0f (%.0f%%) | %.1f | %.0f |" % (
    pr, plan, t32, t32 / p32, l1, l1 / p1, tm, tm / pm, g, 100 * g / peak, int(wb) / 2**20, int(rss) / 2**20))
PY
  done
  echo
  # where the time goes (bench_forward --profile, bench/profile.sh) and ONNX Runtime int8
  echo "Per-op profile of $m, each GEMM against this CPU's instruction limit (bench_forward --profile):"
  echo; echo '```'
  for pr in $precisions; do
    pk=; [ $pr = fp32 ] && pk=--peaks
    ./build/bench_forward "$d" --profile 5 --precision $pr $pk --seconds "$secs" | grep -v '^model '
  done
  echo '```'; echo
  bench/profile.sh "$d" --seconds "$secs" $precisions; echo
  bench/peer_int8.sh "$d" --seconds "$secs" --threads 2; echo
  echo "sentence-transformers on torch, same texts and threads (bench/peer_st.py):"; echo; echo '```'
  "$(scripts/venv.sh --reference)/bin/python" bench/peer_st.py "$d" --seconds "$secs" --threads 2 2>/dev/null; echo '```'; echo
done
# the server, end to end, MiniLM fp32. bench_http (bench/bench_http.c): one keep-alive HTTP/1.1
# connection per client thread, requests back to back, so no process start-up lands in the figures.
sent="The quick brown fox jumps over the lazy dog by the river bank today." # 17 tokens with [CLS] [SEP]
budget=1024 # EMB_PROVIDER_MAX_BATCH_TOKENS's default for MiniLM, set on both sides so they stay equal
for _ in $(seq 512); do echo "$sent"; done > "$fx/sentence512.txt"
inproc=$(./build/bench_mixed "$fx/minilm" "$fx/sentence512.txt" --seconds "$secs" --budget $budget | jget tokens_per_second)
port=$((20000 + RANDOM % 20000))
./build/embp serve --model "$fx/minilm" --host 127.0.0.1 --port $port --max-batch-tokens $budget --log-level warn > /tmp/embp-bench-serve.log 2>&1 & spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
rss0=$(awk '/VmRSS/{print $2}' /proc/$spid/status)
echo 5 > /proc/$spid/clear_refs 2>/dev/null || true # VmHWM from here: under load, not loading
wbytes=$(./build/embp info --model "$fx/minilm" --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['weight_bytes'])")
check=$(node tests/load_client.mjs "http://127.0.0.1:$port" --clients 8 --seconds 1 --inputs 4 || true)
runs=$(for spec in 1x1 8x1 64x1 64x8; do
  ./build/bench_http --port $port --clients "${spec%x*}" --inputs "${spec#*x}" --seconds "$secs" --text "$sent" || echo '{}'
done)
hwm=$(awk '/VmHWM/{print $2}' /proc/$spid/status); rss1=$(awk '/VmRSS/{print $2}' /proc/$spid/status)
kill $spid; wait $spid 2>/dev/null || true
# the same single-client latency with the int8 plan
./build/embp serve --model "$fx/minilm" --host 127.0.0.1 --port $port --precision int8 --log-level warn > /tmp/embp-bench-serve8.log 2>&1 & spid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
one8=$(./build/bench_http --port $port --clients 1 --inputs 1 --seconds "$secs" --text "$sent" || echo '{}')
kill $spid; wait $spid 2>/dev/null || true
$PY - "$inproc" "$runs" "$check" "$budget" "$rss0" "$rss1" "$hwm" "$wbytes" "$one8" <<'PY'
import json, sys
inproc, runs, check = float(sys.argv[1]), [json.loads(l) for l in sys.argv[2].splitlines()], sys.argv[3]
budget = int(sys.argv[4])
one8 = json.loads(sys.argv[9]) if sys.argv[9].strip() else {}
rss0, rss1, hwm, wb = int(sys.argv[5]) / 1024, int(sys.argv[6]) / 1024, int(sys.argv[7]) / 1024, int(sys.argv[8]) / 2**20
one = runs[0]
print("**Server, MiniLM-shaped fp32, loopback** (bench_http, keep-alive; one 17-token sentence per request, "
      "1 client): p50 %.2f ms, p99 %.2f ms; with the int8 plan p50 %.2f ms, p99 %.2f ms." % (one.get("p50_ms", 0),
      one.get("p99_ms", 0), one8.get("p50_ms", 0), one8.get("p99_ms", 0)))
print()
print("Server resident memory (MiniLM fp32, default budget): weights %.1f MiB; RSS after load and warm-up %.0f MiB "
      "(weights + %.0f); peak during the runs below (VmHWM, reset after load) %.0f MiB (weights + %.0f; target: + 64 or less); "
      "after the runs %.0f MiB." % (wb, rss0, rss0 - wb, hwm, hwm - wb, rss1))
print()
print("| clients x inputs per request | requests/s | inputs/s | tokens/s | vs in-process | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|")
for r in runs:
    if "clients" not in r:
        print("| (bench_http failed) | | | | | | | |"); continue
    print("| %d x %d | %.1f | %.0f | %.0f | %.2fx | %.1f | %.1f | %d |" % (r["clients"], r["inputs"], r["rps"],
          r["inputs_per_s"], r["tokens_per_s"], r["tokens_per_s"] / inproc, r["p50_ms"], r["p99_ms"], r["errors"]))
print()
c = json.loads(check.splitlines()[-1]) if check.strip() else {}
print("In-process: bench_mixed on 512 copies of the same sentence (64 clients x 8 inputs) packed into "
      "batches of %d tokens, the server's budget (EMB_PROVIDER_MAX_BATCH_TOKENS): %.0f tokens/s. \"vs "
      "in-process\" is the server's tokens/s (usage.prompt_tokens) over that; the target is 0.90x or more "
      "at 64 x 8, where the 64 waiting requests (8704 tokens) fill every batch as the in-process run does. "
      "Rows with 1 input per request measure request overhead and latency more than the model. Answers "
      "checked first by tests/load_client.mjs (8 clients x 4 inputs, 1 s, vectors vs each text alone): "
      "%s." % (budget, inproc,
      "%s requests, %s mismatches, %s errors" % (sum(c.get("statuses", {}).values()), c.get("mismatches", "?"),
      c.get("errors", "?")) if c else "did not run"))
PY
echo
echo "The load client runs on the same 2 cores as the server, so server figures are a floor."
} | tee "$out"
cp "$out" bench/results/latest.md
isa=avx2; case " $feats " in *" avx512f "*) isa=avx512;; esac # each machine's runs side by side
cp "$out" "bench/results/$(date -u +%Y-%m-%d)-$(echo "$cpu" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-')$isa-$(nproc)cores.md"
