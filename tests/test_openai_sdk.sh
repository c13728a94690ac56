#!/usr/bin/env bash
# The official OpenAI Node SDK against `embp serve` with the tiny fixture: tests/openai_sdk.mjs
# checks the SDK's default (base64) path and encoding_format "float" against the ONNX Runtime
# peer's vectors. Installs the `openai` npm package into $BUILD/node once. No node, no npm or
# a failed install is a FAILURE, never a skip: this test exists to prove SDK compatibility.
set -euo pipefail
bin=${EMBP_BIN:?EMBP_BIN: the embp binary}
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
src=${EMBP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
build=$(cd "$(dirname "$bin")" && pwd)
nodedir=$build/node

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (scripts/setup-test.sh installs it)"
command -v npm >/dev/null || fail "npm is not installed (scripts/setup-test.sh installs it)"
if [ ! -f "$nodedir/node_modules/openai/package.json" ]; then
  mkdir -p "$nodedir"
  npm install --prefix "$nodedir" openai --no-audit --no-fund --loglevel=error \
    || fail "npm install openai into $nodedir failed"
fi
echo "openai SDK $(node -p "require('$nodedir/node_modules/openai/package.json').version")"

log=$(mktemp)
"$bin" serve --model "$fx/tiny" --host 127.0.0.1 --port 0 --log-level info 2>"$log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "embp serve exited before listening"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; fail "embp serve did not listen within 30 s"; }

OPENAI_SDK_DIR=$nodedir node "$src/tests/openai_sdk.mjs" "http://127.0.0.1:$port/v1" \
  "$fx/tiny.peer.jsonl" tiny || { cat "$log" >&2; fail "the OpenAI SDK check failed"; }

kill -TERM "$pid"
wait "$pid" || fail "embp serve exited with $? after SIGTERM"
trap - EXIT
rm -f "$log"
echo "PASS"
