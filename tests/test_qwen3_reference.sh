#!/usr/bin/env bash
# Qwen3 against transformers: a small randomly initialized Qwen3Model (and, with
# EMBP_SLOW_TESTS=1, one at Qwen3-Embedding-0.6B's shapes: 2.4 GB under $TMPDIR) saved by
# save_pretrained into a sentence-transformers folder, embedded by sentence-transformers and by
# embp (CLI and /v1/embeddings): tests/qwen3_reference.py. Without the reference venv
# (scripts/venv.sh --reference) it is skipped (77), never passed.
. "$(dirname "$0")/lib.sh"
need_venv 'import torch, transformers, sentence_transformers, tokenizers; transformers.Qwen3Model' \
  "transformers (with Qwen3Model)/sentence-transformers"
make_work
run_reference qwen3_reference.py "$bin" "$work" "$src"
if [ "${EMBP_SLOW_TESTS:-0}" = 1 ]; then
  run_reference qwen3_reference.py "$bin" "$work/real" "$src" --real
else
  echo "the Qwen3-Embedding-0.6B-shaped run (2.4 GB, minutes) needs EMBP_SLOW_TESTS=1"
fi
