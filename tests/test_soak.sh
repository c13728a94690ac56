#!/usr/bin/env bash
# The soak (bench/soak.py) for 2 minutes on the tiny fixture: ~80% of the measured capacity,
# 70% valid requests checked against the ONNX Runtime peer, 15% invalid (each must be a 400),
# 15% abandoned. Fails on a lost or wrong answer, a server death or unhealthy /health, or RSS
# growing more than 5% after the first 30 s (falling RSS is memory returned, not a leak). Not
# under the sanitizers (ASan's quarantine and shadow memory are not the RSS a deployment sees): exits 77 there.
set -euo pipefail
[ -n "${EMBP_TEST_SANITIZER:-}" ] && { echo "soak: skipped under the sanitizer build"; exit 77; }
bin=${EMBP_BIN:?EMBP_BIN: the embp binary}
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
src=${EMBP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 "$src/bench/soak.py" --bin "$bin" --model "$fx/tiny" --peer "$fx/tiny.peer.jsonl" \
  --seconds "${EMBP_SOAK_SECONDS:-120}" --assert-flat
