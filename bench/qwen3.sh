#!/usr/bin/env bash
# Qwen3-Embedding-0.6B-shaped model per plan beside transformers (bench/qwen3_bench.py).
# Usage: bench/qwen3.sh [WORK_DIR (default /tmp/embp-qwen3; the 2.4 GB model is kept there)]
#        [--threads N] [--plans fp32,bf16,int8,int4 g32,...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd); work=${1:-/tmp/embp-qwen3}; shift || true
mkdir -p "$work"
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$src/build/venv/bin/python" \
  "$src/bench/qwen3_bench.py" "$src/build/embp" "$work" "$src" "$@"
