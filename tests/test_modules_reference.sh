#!/usr/bin/env bash
# The sentence-transformers modules after the encoder (Pooling in every mode with include_prompt,
# Dense, Normalize), sentence_bert_config.json's do_lower_case and the prompts
# (config_sentence_transformers.json, per request, the server default) against
# sentence-transformers itself, over the CLI and HTTP: see tests/modules_reference.py. The
# reference is the venv that scripts/venv.sh --reference makes in build/venv; without it the
# test is skipped (77), never passed.
set -euo pipefail
bin=${EMBP_BIN:?}; src=${EMBP_SOURCE:?}
py=$src/build/venv/bin/python
if ! "$py" -c 'import torch, transformers, sentence_transformers, sentencepiece, safetensors' \
    2>/dev/null; then
  echo "SKIP: no torch/transformers/sentence-transformers/sentencepiece in $src/build/venv (scripts/setup-test.sh makes it; PyPI unreachable?)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$py" "$src/tests/modules_reference.py" "$bin" \
  "$work" "$src"
