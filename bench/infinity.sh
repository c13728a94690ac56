#!/usr/bin/env bash
# Infinity (infinity-emb from PyPI: FastAPI + its optimum / ONNX Runtime engine on CPU), the
# server a Python user would run, beside `embp serve` on the real all-MiniLM-L6-v2, both loaded by
# the same load client (build/bench_http: keep-alive connections, one request in flight each, the
# same 17-token sentence) at 1, 8 and 64 clients.
#   bench/infinity.sh folder
#       makes build/venv-infinity (torch==2.13.0+cpu first, then infinity-emb[optimum,server]
#       held to it: no other torch, no CUDA package) and prints a folder holding the real
#       all-MiniLM-L6-v2 (scripts/get-model.sh) with onnx/model.onnx exported from its weights by
#       optimum (the exporter the Hub's ONNX files come from); made once, under build/.
#   bench/infinity.sh bench [--seconds S] [--threads N]
#       one JSON line per server and load, then one for Infinity's set-up. Before any timing, the
#       servers' vectors for the same texts are compared (Infinity against embp fp32: cosine
#       >= 0.9999, or the run stops with status 1).
# Infinity runs as its users start it (`infinity_emb v2 --engine optimum --device cpu
# --pooling-method mean`, its
# default batch size and ONNX graph optimization, the fp32 model.onnx): ONNX Runtime's own thread
# count (all cores) is not a flag of Infinity's, so embp gets --threads N = this machine's cores.
# Its usage.prompt_tokens counts characters unless --lengths-via-tokenize (an extra tokenization
# per request), so tokens/s here is inputs/s x the sentence's token count (embp's usage).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/venv-infinity
VERSION=0.0.78
say() { echo "infinity.sh: $*" >&2; }

make_venv() {
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -c 'import infinity_emb, optimum.onnxruntime, optimum.exporters.onnx' 2>/dev/null &&
    return 0
  local pip=("$venv/bin/pip" install -q)
  # torch first, pinned to the CPU build (a plain requirement would resolve to a CUDA build)
  "${pip[@]}" "torch==2.13.0+cpu" >&2 ||
    { say "torch==2.13.0+cpu not found (scripts/venv.sh --reference says where it comes from)"; exit 1; }
  local held; held=$(mktemp); echo "torch==2.13.0+cpu" > "$held"
  "${pip[@]}" -c "$held" "infinity-emb[optimum,server]==$VERSION" >&2
  rm -f "$held"
  if "$venv/bin/pip" freeze | grep -iE '^nvidia|^triton|^torch==' | grep -v '^torch==2.13.0+cpu$' >&2; then
    say "$venv took the packages above (CUDA or another torch): refusing to run"; exit 1
  fi
}

folder() { # the real model with onnx/model.onnx, under build/bench-fixtures
  local src out=build/bench-fixtures/minilm-real
  src=$(./scripts/get-model.sh) || { say "scripts/get-model.sh found no all-MiniLM-L6-v2"; exit 1; }
  if [ ! -f "$out/onnx/model.onnx" ]; then
    make_venv
    rm -rf "$out" "$out.tmp"; mkdir -p "$out.tmp"
    src=$(cd "$src" && pwd)
    for f in "$src"/*; do [ "$(basename "$f")" = onnx ] || ln -s "$f" "$out.tmp/"; done
    HF_HUB_OFFLINE=1 "$venv/bin/optimum-cli" export onnx --model "$src" --task feature-extraction \
      --opset 17 "$out.tmp/export" >&2
    mkdir -p "$out.tmp/onnx"; mv "$out.tmp/export/model.onnx" "$out.tmp/onnx/model.onnx"
    rm -rf "$out.tmp/export"; mv -T "$out.tmp" "$out"
  fi
  echo "$out"
}

case ${1:-} in
  folder) folder; exit 0;;
  bench) shift;;
  *) echo "usage: bench/infinity.sh folder | bench [--seconds S] [--threads N]" >&2; exit 2;;
esac
secs=3; threads=$(nproc)
while [ $# -gt 0 ]; do case $1 in --seconds) secs=$2; shift 2;; --threads) threads=$2; shift 2;;
  *) echo "unknown $1" >&2; exit 2;; esac; done
[ "$threads" = "$(nproc)" ] ||
  { say "--threads $threads: Infinity runs ONNX Runtime on all $(nproc) cores; give $(nproc)"; exit 2; }
dir=$(folder)
make_venv
work=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
sent="The quick brown fox jumps over the lazy dog by the river bank today." # run.sh's sentence
budget=1024 # run.sh's server budget

start() { # name port command...: starts it, writes exec-to-/health seconds to $work/up-NAME
  local name=$1 port=$2 t0; shift 2
  t0=$(date +%s%N)
  "$@" > "$work/$name.log" 2>&1 & pids+=($!)
  /usr/bin/python3 bench/wait_health.py "http://127.0.0.1:$port/health" "$t0" --pid $! --timeout 600 \
    > "$work/up-$name" || { tail -30 "$work/$name.log" >&2; exit 1; }
}
stop() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }
embed() { # port text...: the vectors, one JSON array per line
  local port=$1; shift
  /usr/bin/python3 - "$port" "$@" <<'PY'
import json, sys, urllib.request
port, texts = sys.argv[1], sys.argv[2:]
req = urllib.request.Request("http://127.0.0.1:%s/v1/embeddings" % port, json.dumps(
    {"input": texts}).encode(), {"Content-Type": "application/json"})
body = json.load(urllib.request.urlopen(req, timeout=60))
rows = sorted(body["data"], key=lambda d: d["index"])
print(json.dumps({"vectors": [d["embedding"] for d in rows], "prompt_tokens": body["usage"]["prompt_tokens"]}))
PY
}
load() { # server port: one JSON line per clients x inputs
  local spec
  for spec in 1x1 8x1 64x1 64x8; do
    ./build/bench_http --port "$2" --clients "${spec%x*}" --inputs "${spec#*x}" --seconds "$secs" \
      --text "$sent" | /usr/bin/python3 -c "
import json, sys
r = json.loads(sys.stdin.readline()); r.update(kind='infinity_run', server=sys.argv[1]); print(json.dumps(r))" "$1"
  done
}
texts=("$sent" "hello" "Infinity and embp embed the same texts for this check."
       "$(printf 'a longer passage about vector search and retrieval %.0s' 1 2 3 4 5 6)")

port=$((20000 + RANDOM % 20000))
for plan in fp32 int8; do
  start "embp-$plan" $port ./build/embp serve --model "$dir" --host 127.0.0.1 --port $port \
    --max-batch-tokens $budget --threads "$threads" --precision "$plan" --log-level warn
  embed $port "${texts[@]}" > "$work/embp-$plan.json"
  embed $port "$sent" > "$work/sent-$plan.json" # its token count, from embp's usage
  load "embp $plan" $port > "$work/runs-embp-$plan.jsonl" || exit 1
  stop
done

# Infinity's folder: the same files with model.onnx at its top, and Infinity started inside it
# with --model-id . : infinity-emb 0.0.78 passes the ONNX file's path as listed from the model id
# ("DIR/onnx/model.onnx") as optimum's file_name, which optimum-onnx 0.1 compares with each
# file's bare name, so any other layout fails at start-up ("Could not find any ONNX files with
# target file name ..."). The relative id also keeps its optimized graph under HF_HOME (it joins
# the id under its cache folder; an absolute one would put the graph into the model folder).
idir=$dir-infinity
if [ ! -e "$idir/model.onnx" ]; then
  rm -rf "$idir"; mkdir -p "$idir"
  for f in "$(cd "$dir" && pwd)"/*; do [ "$(basename "$f")" = onnx ] || ln -s "$(readlink -f "$f")" "$idir/"; done
  ln -s "$(cd "$dir" && pwd)/onnx/model.onnx" "$idir/model.onnx"
fi
# --pooling-method mean: the model's 1_Pooling is mean, and Infinity's optimum engine pools the
# CLS token for anything but an explicit mean (its default "auto" included: cosine 0.36 to
# sentence-transformers' vectors here).
export HF_HOME=$PWD/$venv/hf HF_HUB_OFFLINE=1 INFINITY_ANONYMOUS_USAGE_STATS=0 DO_NOT_TRACK=1
iport=$((port + 1))
optimized=false; [ -n "$(find "$HF_HOME" -name '*_optimized.onnx' 2>/dev/null | head -1)" ] && optimized=true
start infinity $iport env -C "$idir" "$PWD/$venv/bin/infinity_emb" v2 --model-id . --engine optimum --device cpu \
  --pooling-method mean --host 127.0.0.1 --port $iport --url-prefix /v1 --log-level warning
embed $iport "${texts[@]}" > "$work/infinity.json"
load infinity $iport > "$work/runs-infinity.jsonl" || exit 1
stop
# Whether its ONNX graph optimization ran (it logs a failure as a warning and goes on unoptimized)
grep -m1 -A2 'Optimization failed with' "$work/infinity.log" | tr -s ' \n' ' ' | cut -c1-300 > "$work/opt-error" || true

/usr/bin/python3 - "$work" "$(cat "$work/up-infinity")" "$threads" "$optimized" "$("$venv/bin/python" -c '
import importlib.metadata as m
print(" ".join("%s %s" % (p, m.version(p)) for p in ("infinity-emb", "onnxruntime", "optimum", "optimum-onnx", "torch")))')" <<'PY'
import json, math, sys
work, iup, threads, cached, versions = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "true", sys.argv[5]
def load(name):
    return json.load(open("%s/%s.json" % (work, name)))
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
ref, inf, e8 = load("embp-fp32"), load("infinity"), load("embp-int8")
worst = min(cos(a, b) for a, b in zip(ref["vectors"], inf["vectors"]))
worst8 = min(cos(a, b) for a, b in zip(ref["vectors"], e8["vectors"]))
if not worst >= 0.9999:
    sys.exit("infinity.sh: Infinity's vectors differ from embp fp32's: worst cosine %.6f" % worst)
sent_tokens = load("sent-fp32")["prompt_tokens"]
runs = []
for name in ("embp-fp32", "embp-int8", "infinity"):
    for line in open("%s/runs-%s.jsonl" % (work, name)):
        r = json.loads(line)
        if r.get("errors", 1):
            sys.exit("infinity.sh: %s had %s errors at %s x %s" % (name, r.get("errors"), r["clients"], r["inputs"]))
        runs.append(r)
for r in runs:  # tokens from embp's count of the sentence (Infinity's usage counts characters)
    r["usage_tokens_per_s"] = r["tokens_per_s"]
    r["tokens_per_s"] = r["inputs_per_s"] * sent_tokens
    print(json.dumps(r))
print(json.dumps({"kind": "infinity", "versions": versions, "threads": threads,
                  "startup_s": iup, "optimized_graph_cached": cached,
                  "optimize_error": open(work + "/opt-error").read().strip() or None, "embp_startup_s": {p: float(open("%s/up-embp-%s" % (work, p)).read())
                                                      for p in ("fp32", "int8")},
                  "sentence_tokens": sent_tokens, "check_texts": len(ref["vectors"]),
                  "check_min_cos": worst, "int8_min_cos": worst8, "batch_size": 32}))
PY
