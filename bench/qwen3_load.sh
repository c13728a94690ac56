#!/usr/bin/env bash
# Load time, CPU and peak RSS per plan of a Qwen3 folder, `embp embed` and `embp serve` until it
# listens (bench/qwen3_load.py), for one or more embp binaries in one run (before/after).
# Usage: bench/qwen3_load.sh [MODEL_DIR (default /tmp/embp-qwen3/qwen3, bench/qwen3.sh's)]
#        [EMBP_BIN ... (default build/embp)] [--plans fp32,bf16,int8,int4 g32] [--repeats N]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd); model=${1:-/tmp/embp-qwen3/qwen3}; shift || true
bins=(); while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do bins+=("$1"); shift; done
[ ${#bins[@]} -gt 0 ] || bins=("$src/build/embp")
python3 "$src/bench/qwen3_load.py" "$model" "${bins[@]}" "$@"
