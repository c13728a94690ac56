#!/usr/bin/env bash
# The rotary encoders (ModernBERT, NomicBERT) at small shapes: ModernBERT against transformers'
# ModernBertModel through sentence-transformers (CLS and mean pooling, texts past the sliding
# window), NomicBERT against an independent numpy forward of nomic-ai's published modeling code
# (itself checked against transformers' NomicBertModel); fp32 must match, bf16/int8/int4 and
# embp quantize's int8 file must stay close: see tests/rotenc_reference.py. The published
# shapes are test_rotenc_slow. Without the reference venv (scripts/venv.sh --reference) the
# test is skipped (77), never passed.
set -euo pipefail
bin=${EMBP_BIN:?}; src=${EMBP_SOURCE:?}
py=$src/build/venv/bin/python
if ! "$py" -c 'import torch, transformers, sentence_transformers, safetensors' 2>/dev/null; then
  echo "SKIP: no transformers/sentence-transformers/safetensors in $src/build/venv (scripts/setup-test.sh makes it; PyPI unreachable?)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$py" "$src/tests/rotenc_reference.py" "$bin" \
  "$work" "$src" ${ROTENC_REAL:+--real}
