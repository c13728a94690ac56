#!/usr/bin/env bash
# The sentence-transformers modules after the encoder (Pooling in every mode with include_prompt,
# Dense, Normalize), sentence_bert_config.json's do_lower_case and the prompts
# (config_sentence_transformers.json, per request, the server default) against
# sentence-transformers itself, over the CLI and HTTP: see tests/modules_reference.py. The
# reference is the venv that scripts/venv.sh --reference makes in build/venv; without it the
# test is skipped (77), never passed.
. "$(dirname "$0")/lib.sh"
need_venv 'import torch, transformers, sentence_transformers, sentencepiece, safetensors' \
  torch/transformers/sentence-transformers/sentencepiece
make_work
run_reference modules_reference.py "$bin" "$work" "$src"
