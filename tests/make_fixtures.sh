#!/usr/bin/env bash
# Generates the fixture models and the independent references' answers the tests compare to:
#   OUT/<model>/                      a complete HF model folder with seeded random weights
#   OUT/<model>.peer.jsonl            HF tokenizers + ONNX Runtime: text, input_ids, embedding
#   OUT/<model>.ref.jsonl             numpy float64 forward from the peer's ids
#   OUT/minilm.tokens.jsonl           HF tokenizers' ids for tests/data/tokenizer_corpus.txt
# Needs python3-numpy python3-onnx, node + npm (scripts/setup-test.sh installs them).
# Reuses OUT when its stamp matches this script and the shared tools; else rebuilds.
set -euo pipefail
out=${1:?usage: make_fixtures.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
shared=$(cd "${EMBP_SHARED:-$here/../../shared}" && pwd)
tools=$shared/tools
PY=/usr/bin/python3
stamp=$(cat "$0" "$tools/make_fixture_model.py" "$tools/reference_embed.py" "$tools/peer/peer.mjs" \
        "$here/data/"*.txt "$tools/testdata/sentences.txt" | sha256sum | cut -c1-16)
# The peer (HF tokenizers + ONNX Runtime) is needed by the tests too, not only here.
mkdir -p "$out/.."
peer=${EMBP_PEER_DIR:-$out/../peer}
if [ ! -d "$peer/node_modules/tokenizers" ] || [ ! -d "$peer/node_modules/onnxruntime-node" ]; then
  mkdir -p "$peer"; cp "$tools/peer/"* "$peer/"
  (cd "$peer" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  echo "fixtures up to date in $out"; exit 0
fi
rm -rf "$out"; mkdir -p "$out"
minilm_cfg=$shared/models/all-MiniLM-L6-v2
corpus=$out/sentences.txt
cat "$tools/testdata/sentences.txt" "$here/data/sentences_extra.txt" > "$corpus"

mk() { local name=$1; shift; $PY "$tools/make_fixture_model.py" "$out/$name" "$@" >/dev/null; }
mk tiny --seed 1 --onnx
mk tiny_cls --seed 2 --onnx --pooling cls
mk tiny_max --seed 3 --onnx --pooling max --no-normalize
mk tiny_last --seed 4 --onnx --pooling lasttoken
mk tiny_sqrt --seed 5 --onnx --pooling mean_sqrt_len --no-normalize
mk tiny_f16 --seed 6 --onnx --dtype float16
mk tiny_bf16 --seed 7 --onnx --dtype bfloat16
mk minilm --like "$minilm_cfg" --seed 11 --onnx
mk minilm_outliers --like "$minilm_cfg" --seed 12 --outliers 4

for m in tiny tiny_cls tiny_max tiny_last tiny_sqrt tiny_f16 tiny_bf16 minilm; do
  node "$peer/peer.mjs" embed "$out/$m" < "$corpus" > "$out/$m.peer.jsonl"
  $PY "$tools/reference_embed.py" "$out/$m" < "$out/$m.peer.jsonl" > "$out/$m.ref.jsonl"
done
if [ -f "$here/data/tokenizer_corpus.txt" ]; then
  for m in minilm tiny; do
    node "$peer/peer.mjs" tokenize "$out/$m" < "$here/data/tokenizer_corpus.txt" > "$out/$m.tokens.jsonl"
  done
fi
echo "$stamp" > "$out/.stamp"
echo "fixtures written to $out"
