#!/usr/bin/env bash
# Real TEI and OpenAI clients from PyPI against one `embp serve` (tiny fixture, an API key, a
# model alias): huggingface_hub's InferenceClient.feature_extraction, LangChain's
# OpenAIEmbeddings and HuggingFaceEndpointEmbeddings, and the OpenAI Node SDK when
# test_openai_sdk.sh has installed it; tests/clients.py checks every vector against the ONNX
# Runtime peer's. The packages come from scripts/venv.sh --clients (build/venv);
# without them the test is skipped (77), never passed.
. "$(dirname "$0")/lib.sh"
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
need_venv 'import huggingface_hub, langchain_openai, langchain_huggingface' \
  "huggingface_hub, langchain-openai or langchain-huggingface" \
  "scripts/venv.sh --clients installs them; PyPI unreachable?"
EMB_PROVIDER_API_KEY=client-key EMB_PROVIDER_MODEL_ALIASES='{"text-embedding-3-small": "tiny"}' \
  start_server --model "$fx/tiny"
# no proxy for the loopback server; no Hub lookups either
NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 HF_HUB_DISABLE_TELEMETRY=1 \
  "$py" "$src/tests/clients.py" "http://127.0.0.1:$port" client-key text-embedding-3-small \
  "$fx/tiny.peer.jsonl" || { cat "$log" >&2; fail "a client check failed"; }
# The OpenAI Node SDK against the same server, under the alias, once test_openai_sdk.sh has
# installed it into build/node (that test checks the SDK on its own server either way).
sdk=$(cd "$(dirname "$bin")" && pwd)/node
if [ -f "$sdk/node_modules/openai/package.json" ] && command -v node >/dev/null; then
  EMBP_TEST_API_KEY=client-key OPENAI_SDK_DIR=$sdk node "$src/tests/openai_sdk.mjs" \
    "http://127.0.0.1:$port/v1" "$fx/tiny.peer.jsonl" text-embedding-3-small ||
    { cat "$log" >&2; fail "the OpenAI SDK check failed"; }
else
  echo "note: the OpenAI Node SDK is not in $sdk yet (test_openai_sdk installs it): not run here"
fi
stop_server
