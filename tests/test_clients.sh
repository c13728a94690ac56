#!/usr/bin/env bash
# Real TEI and OpenAI clients from PyPI against one `embp serve` (tiny fixture, an API key, a
# model alias): huggingface_hub's InferenceClient.feature_extraction, LangChain's
# OpenAIEmbeddings and HuggingFaceEndpointEmbeddings, and the OpenAI Node SDK when
# test_openai_sdk.sh has installed it; tests/clients.py checks every vector against the ONNX
# Runtime peer's. The packages come from scripts/venv.sh --clients (build/venv);
# without them the test is skipped (77), never passed.
set -euo pipefail
bin=${EMBP_BIN:?EMBP_BIN: the embp binary}
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
src=${EMBP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
py=$src/build/venv/bin/python
if ! "$py" -c 'import huggingface_hub, langchain_openai, langchain_huggingface' 2>/dev/null; then
  echo "SKIP: huggingface_hub, langchain-openai or langchain-huggingface missing from" \
    "$src/build/venv (scripts/venv.sh --clients installs them; PyPI unreachable?)"
  exit 77
fi
log=$(mktemp)
EMB_PROVIDER_API_KEY=client-key EMB_PROVIDER_MODEL_ALIASES='{"text-embedding-3-small": "tiny"}' \
  "$bin" serve --model "$fx/tiny" --host 127.0.0.1 --port 0 --log-level info 2>"$log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "FAIL: embp serve exited"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "FAIL: embp serve did not listen within 30 s"; exit 1; }
# no proxy for the loopback server; no Hub lookups either
NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 HF_HUB_DISABLE_TELEMETRY=1 \
  "$py" "$src/tests/clients.py" "http://127.0.0.1:$port" client-key text-embedding-3-small \
  "$fx/tiny.peer.jsonl" || { cat "$log" >&2; echo "FAIL: a client check failed"; exit 1; }
# The OpenAI Node SDK against the same server, under the alias, once test_openai_sdk.sh has
# installed it into build/node (that test checks the SDK on its own server either way).
sdk=$(cd "$(dirname "$bin")" && pwd)/node
if [ -f "$sdk/node_modules/openai/package.json" ] && command -v node >/dev/null; then
  EMBP_TEST_API_KEY=client-key OPENAI_SDK_DIR=$sdk node "$src/tests/openai_sdk.mjs" \
    "http://127.0.0.1:$port/v1" "$fx/tiny.peer.jsonl" text-embedding-3-small ||
    { cat "$log" >&2; echo "FAIL: the OpenAI SDK check failed"; exit 1; }
else
  echo "note: the OpenAI Node SDK is not in $sdk yet (test_openai_sdk installs it): not run here"
fi
kill -TERM "$pid"
wait "$pid" || { echo "FAIL: embp serve exited with $? after SIGTERM"; exit 1; }
trap - EXIT
rm -f "$log"
