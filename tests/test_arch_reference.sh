#!/usr/bin/env bash
# The encoder families beside BERT (XLM-RoBERTa, RoBERTa, CamemBERT, DistilBERT, MPNet) against
# transformers: small
# randomly initialized models of each class, saved by save_pretrained with trained tokenizers
# into sentence-transformers folders, embedded by sentence-transformers and by embp (fp32 must
# match, bf16/int8/int4 must stay close): see tests/arch_reference.py. The reference is the venv
# that scripts/venv.sh --reference makes in build/venv; without it the test is skipped (77),
# never passed.
set -euo pipefail
bin=${EMBP_BIN:?}; src=${EMBP_SOURCE:?}
py=$src/build/venv/bin/python
if ! "$py" -c 'import torch, transformers, sentence_transformers, sentencepiece, google.protobuf' \
    2>/dev/null; then
  echo "SKIP: no transformers/sentence-transformers/sentencepiece in $src/build/venv (scripts/setup-test.sh makes it; PyPI unreachable?)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$py" "$src/tests/arch_reference.py" "$bin" "$work" \
  "$src"
