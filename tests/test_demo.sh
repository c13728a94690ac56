#!/usr/bin/env bash
# The demo model the first README command serves: `embp demo-model` must write a folder that an
# independent reader (the numpy reference, from HF tokenizers' ids) turns into the same vectors
# embp gives, and that every surface marks as a demo.
set -euo pipefail
bin=${EMBP_BIN:?}; shared=${EMBP_SHARED:?}; fixtures=${EMBP_FIXTURES:?}
peer=${EMBP_PEER_DIR:-$fixtures/../peer}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$bin" demo-model "$work/demo" 2> "$work/demo.log"
grep -q '"embp_demo": true' "$work/demo/config.json" || { echo "FAIL: config.json lacks embp_demo"; exit 1; }
head -20 "$shared/tools/testdata/sentences.txt" > "$work/texts.txt"
node "$peer/peer.mjs" tokenize "$work/demo" < "$work/texts.txt" > "$work/ids.jsonl"
/usr/bin/python3 "$shared/tools/reference_embed.py" "$work/demo" < "$work/ids.jsonl" > "$work/ref.jsonl"
"$bin" embed --model "$work/demo" < "$work/texts.txt" > "$work/embp.jsonl" 2> "$work/embed.log"
grep -q "DEMO" "$work/embed.log" || { echo "FAIL: embp embed did not warn that the model is a demo"; exit 1; }
"$bin" info --model "$work/demo" > "$work/info.txt" 2>&1
grep -q "DEMO" "$work/info.txt" || { echo "FAIL: embp info does not say demo"; exit 1; }
/usr/bin/python3 - "$work/ref.jsonl" "$work/embp.jsonl" <<'PY'
import json, sys
import numpy as np
ref = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(ref) == len(got) == 20, (len(ref), len(got))
worst_cos, worst_diff = 1.0, 0.0
for r, g in zip(ref, got):
    a, b = np.array(r["embedding"]), np.array(g["embedding"])
    worst_cos = min(worst_cos, float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    worst_diff = max(worst_diff, float(np.abs(a - b).max()))
    assert g["tokens"] == len(r["input_ids"]), (g["tokens"], len(r["input_ids"]), r["text"])
print("demo model vs numpy: worst cosine %.8f, max |diff| %.2e" % (worst_cos, worst_diff))
sys.exit(0 if worst_cos >= 0.99999 and worst_diff <= 1e-4 else 1)
PY
echo "PASS"
