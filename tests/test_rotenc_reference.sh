#!/usr/bin/env bash
# The rotary encoders (ModernBERT, NomicBERT) at small shapes: ModernBERT against transformers'
# ModernBertModel through sentence-transformers (CLS and mean pooling, texts past the sliding
# window), NomicBERT against an independent numpy forward of nomic-ai's published modeling code
# (itself checked against transformers' NomicBertModel); fp32 must match, bf16/int8/int4 and
# embp quantize's int8 file must stay close: see tests/rotenc_reference.py. The published
# shapes are test_rotenc_slow. Without the reference venv (scripts/venv.sh --reference) the
# test is skipped (77), never passed.
. "$(dirname "$0")/lib.sh"
need_venv 'import torch, transformers, sentence_transformers, safetensors' \
  transformers/sentence-transformers/safetensors
make_work
run_reference rotenc_reference.py "$bin" "$work" "$src" ${ROTENC_REAL:+--real}
