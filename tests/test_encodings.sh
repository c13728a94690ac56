#!/usr/bin/env bash
# The compact output encodings (encoding_format int8/uint8/binary/ubinary, Cohere's
# embedding_types) of `embp serve` against sentence-transformers' quantize_embeddings itself,
# over HTTP, with the default ranges and a calibrated ranges file (tests/ops_reference.py).
exec bash "$(dirname "$0")/ops_check.sh" encodings "sentence_transformers numpy"
