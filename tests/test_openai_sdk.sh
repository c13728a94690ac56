#!/usr/bin/env bash
# The official OpenAI Node SDK against `embp serve` with the tiny fixture: tests/openai_sdk.mjs
# checks the SDK's default (base64) path and encoding_format "float" against the ONNX Runtime
# peer's vectors. Installs the `openai` npm package into $BUILD/node once. No node, no npm or
# a failed install is a FAILURE, never a skip: this test exists to prove SDK compatibility.
. "$(dirname "$0")/lib.sh"
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
build=$(cd "$(dirname "$bin")" && pwd)
nodedir=$build/node

command -v node >/dev/null || fail "node is not installed (scripts/setup-test.sh installs it)"
command -v npm >/dev/null || fail "npm is not installed (scripts/setup-test.sh installs it)"
if [ ! -f "$nodedir/node_modules/openai/package.json" ]; then
  mkdir -p "$nodedir"
  npm install --prefix "$nodedir" openai --no-audit --no-fund --loglevel=error \
    || fail "npm install openai into $nodedir failed"
fi
echo "openai SDK $(node -p "require('$nodedir/node_modules/openai/package.json').version")"

start_server --model "$fx/tiny"

OPENAI_SDK_DIR=$nodedir node "$src/tests/openai_sdk.mjs" "http://127.0.0.1:$port/v1" \
  "$fx/tiny.peer.jsonl" tiny || { cat "$log" >&2; fail "the OpenAI SDK check failed"; }

stop_server
echo "PASS"
