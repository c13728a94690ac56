#!/usr/bin/env bash
# Where the CPU time of 32 x 128 forward passes goes, by code, for each plan: perf sampling
# (cpu-clock: works in VMs without hardware counters) of bench_forward --batch-only, grouped into
# oneDNN's GEMMs (libdnnl and the code it generates at run time), the OpenMP runtime (libgomp:
# barriers and threads spinning while they wait), embp's own ops, and the rest. Samples count
# CPU time, so a machine shared with other processes moves the figures less than wall time.
#   bench/profile.sh MODEL_DIR [--threads N] [--seconds S] [PLAN...]   (plans: fp32 bf16 int8 int4)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
threads=2; secs=3; plans=()
while [ $# -gt 0 ]; do case $1 in --threads) threads=$2; shift 2;; --seconds) secs=$2; shift 2;; *) plans+=("$1"); shift;; esac; done
[ ${#plans[@]} -gt 0 ] || plans=(fp32 bf16 int8 int4)
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "| plan | GEMM (oneDNN / int4 kernel) | OpenMP runtime | own ops (largest) | other |"
echo "|---|---|---|---|---|"
for pr in "${plans[@]}"; do
  perf record -q -e cpu-clock -F 1999 -o "$tmp/$pr.data" -- ./build/bench_forward "$dir" --batch-only \
    --seconds "$secs" --threads "$threads" --precision "$pr" > /dev/null 2>&1
  perf report -i "$tmp/$pr.data" --stdio --sort dso,sym -t "|" 2>/dev/null | /usr/bin/python3 -c '
import re, sys
plan, groups, own = sys.argv[1], {"gemm": 0.0, "omp": 0.0, "own": 0.0, "other": 0.0}, {}
for line in sys.stdin:
    f = line.rstrip("\n").split("|")
    if len(f) < 3 or not f[0].strip().endswith("%"):
        continue
    pct, dso, sym = float(f[0].strip()[:-1]), f[1].strip(), re.sub(r"^\[.\]\s*", "", f[2].strip())
    if "dnnl" in dso or dso.startswith("[JIT]") or "int4" in sym or sym.startswith(("gemm_", "panels_", "block_")):
        groups["gemm"] += pct
    elif "gomp" in dso:
        groups["omp"] += pct
    elif dso == "bench_forward":
        groups["own"] += pct
        name = re.sub(r"(_simd|\._omp_fn\.\d+)$", "", sym)
        own[name] = own.get(name, 0.0) + pct
    else:
        groups["other"] += pct
top = ", ".join("%s %.1f%%" % kv for kv in sorted(own.items(), key=lambda kv: -kv[1])[:6])
print("| %s | %.1f%% | %.1f%% | %.1f%% (%s) | %.1f%% |" % (plan, groups["gemm"], groups["omp"], groups["own"], top, groups["other"]))
' "$pr"
done
