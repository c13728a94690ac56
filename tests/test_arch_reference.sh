#!/usr/bin/env bash
# The encoder families beside BERT (XLM-RoBERTa, RoBERTa, CamemBERT, DistilBERT, MPNet) against
# transformers: small
# randomly initialized models of each class, saved by save_pretrained with trained tokenizers
# into sentence-transformers folders, embedded by sentence-transformers and by embp (fp32 must
# match, bf16/int8/int4 must stay close): see tests/arch_reference.py. The reference is the venv
# that scripts/venv.sh --reference makes in build/venv; without it the test is skipped (77),
# never passed.
. "$(dirname "$0")/lib.sh"
need_venv 'import torch, transformers, sentence_transformers, sentencepiece, google.protobuf' \
  transformers/sentence-transformers/sentencepiece
make_work
run_reference arch_reference.py "$bin" "$work" "$src"
