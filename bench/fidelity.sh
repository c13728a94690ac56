#!/usr/bin/env bash
# One command for the real-model precision table: makes the venv (sentence-transformers) and gets
# the real all-MiniLM-L6-v2 when missing, builds embp, then runs bench/fidelity.py, which writes
# bench/results/fidelity.md (and .json). ~10 minutes on 2 cores; not part of CI.
#   bench/fidelity.sh [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/venv.sh --reference >/dev/null
./scripts/get-model.sh >/dev/null
[ -x build/embp ] && [ -x build/bench_forward ] ||
  { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j"$(nproc)" >/dev/null; }
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false exec build/venv/bin/python bench/fidelity.py "$@"
