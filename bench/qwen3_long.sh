#!/usr/bin/env bash
# Peak RSS of one Qwen3 input at 1k..8k tokens (bench/qwen3_long.py), with build/venv's
# transformers making the model. Usage: bench/qwen3_long.sh [build dir] [qwen3_long.py options:
# --model DIR (an existing folder, e.g. the 0.6B one) --lengths 1024,8192 --precision fp32]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd); build=${1:-$src/build}; shift || true
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$src/build/venv/bin/python" \
  "$src/bench/qwen3_long.py" "$build/embp" "$work" "$src" "$@"
