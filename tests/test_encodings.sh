#!/usr/bin/env bash
# The compact output encodings (encoding_format int8/uint8/binary/ubinary, Cohere's
# embedding_types) of `embp serve` against sentence-transformers' quantize_embeddings itself,
# over HTTP, with the default ranges and a calibrated ranges file: tests/ops_reference.py
# encodings. Needs the venv scripts/venv.sh --reference makes (exit 77 without it).
set -euo pipefail
bin=${EMBP_BIN:?}; src=${EMBP_SOURCE:?}; fx=${EMBP_FIXTURES:?}
py=$src/build/venv/bin/python
if ! "$py" -c 'import sentence_transformers, numpy' 2>/dev/null; then
  echo "SKIP: no sentence-transformers in $src/build/venv (scripts/venv.sh --reference makes it)"
  exit 77
fi
exec "$py" -W ignore "$src/tests/ops_reference.py" encodings "$bin" "$fx/tiny" "$fx/sentences.txt"
