#!/usr/bin/env bash
# Soak run: bench/soak.py against `embp serve` on a fixture (default: the tiny fixture for
# EMBP_SOAK_SECONDS, default 1800 = 30 minutes). tests/test_soak.sh runs a 2-minute version.
#   bench/soak.sh [MODEL_FIXTURE]   (env: EMBP_BIN, EMBP_FIXTURES, EMBP_SOAK_SECONDS)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${EMBP_BIN:-$src/build/embp}
fx=${EMBP_FIXTURES:-$src/build/fixtures}
m=${1:-tiny}
exec python3 "$src/bench/soak.py" --bin "$bin" --model "$fx/$m" --peer "$fx/$m.peer.jsonl" \
  --seconds "${EMBP_SOAK_SECONDS:-1800}" --assert-flat
