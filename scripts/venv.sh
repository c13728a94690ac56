#!/usr/bin/env bash
# Makes the Python venv build/venv (everything Python in embp's scripts and tests runs there, so
# a system pip that is absent or "externally managed", as on Debian 12/13, is never used), from
# apt's python3-venv when Python cannot make one yet. With --reference, also installs the test
# reference: torch==2.13.0+cpu first (a local wheel where pip finds one, else PyTorch's CPU
# index: never a plain `torch`, which would resolve to a multi-GB CUDA build), then
# sentence-transformers, transformers, tokenizers, huggingface_hub, sentencepiece and protobuf (the XLM-R tokenizer
# converter of tests/arch_reference.py), which find torch already there, and prometheus_client
# (its parser reads GET /metrics in tests/test_metrics.sh), openapi-spec-validator and schemathesis
# (tests/test_openapi.sh checks GET /openapi.json with them) and matplotlib (bench/chart.py's
# precision trade-off chart, checked by tests/test_chart.sh). With --clients, also
# installs the clients tests/test_clients.sh drives (huggingface_hub, langchain-openai,
# langchain-huggingface: no torch), holding torch/transformers/tokenizers at what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/venv/bin/pip ]; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq >&2 || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv python3-pip >&2
  fi
  mkdir -p build
  python3 -m venv build/venv >&2
fi
if [ "${1:-}" = --reference ] &&
   ! build/venv/bin/python -c 'import torch, sentence_transformers, tokenizers, sentencepiece
import google.protobuf, prometheus_client, openapi_spec_validator, schemathesis, matplotlib' 2>/dev/null; then
  pip=(build/venv/bin/pip install -q)
  # torch==2.13.0+cpu can only be a CPU build: the wheel on the machine's disk where pip's
  # find-links has it (its dependencies from the index), else PyTorch's CPU index.
  "${pip[@]}" "torch==2.13.0+cpu" >&2 ||
    "${pip[@]}" "torch==2.13.0+cpu" --index-url https://download.pytorch.org/whl/cpu \
      --extra-index-url https://pypi.org/simple >&2
  "${pip[@]}" sentence-transformers transformers tokenizers huggingface_hub sentencepiece \
    protobuf prometheus_client >&2
  "${pip[@]}" onnx >&2 # torch.onnx.export's TorchScript path (bench/families.sh)
  "${pip[@]}" openapi-spec-validator schemathesis >&2 # GET /openapi.json (tests/test_openapi.sh)
  "${pip[@]}" matplotlib >&2 # bench/chart.py
fi
if [ "${1:-}" = --clients ] &&
   ! build/venv/bin/python -c 'import huggingface_hub, langchain_openai, langchain_huggingface' \
     2>/dev/null; then
  held=$(mktemp)
  build/venv/bin/pip freeze | grep -iE '^(torch|transformers|tokenizers)==' > "$held" || true
  # langchain-huggingface 1.x refuses a URL as HuggingFaceEndpointEmbeddings' model (it only
  # reaches the Hub's providers), so the TEI class that takes a self-hosted server is 0.3's.
  build/venv/bin/pip install -q -c "$held" huggingface_hub "langchain-openai<1" \
    "langchain-huggingface<1" >&2
  rm -f "$held"
fi
echo build/venv
