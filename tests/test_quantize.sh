#!/usr/bin/env bash
# embp quantize, checked by a reader that is not embp: tests/data/dequantize.py reads the
# written model.safetensors as docs/QUANTIZED_FORMAT.md describes it (numpy, no embp code) and
# writes a plain fp32 folder. embp's embeddings of each quantized folder (int4 groups 32 and 64,
# int8, bf16, fp16) must match tests/data/simulate_plan.py's simulation of the plan the folder
# loads as, from those weights, far more closely than the fp32 source (compare_plan.py derives
# the bounds); for int4, whose weights carry the error, they must also sit 100x closer to the
# numpy reference of the dequantized file than to the source (a layout error could not). And
# they equal what embp gives when it quantizes the source at load (same rtn code). Also: file
# size, memory, metadata, the recorded fidelity and the CLI's errors.
set -euo pipefail
bin=${EMBP_BIN:?}; shared=${EMBP_SHARED:?}; fixtures=${EMBP_FIXTURES:?}; src=${EMBP_SOURCE:?}
PY=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
m=$fixtures/minilm
head -20 "$fixtures/minilm.peer.jsonl" > "$work/peer.jsonl"
$PY -c "import json,sys; [print(json.loads(l)['text']) for l in open(sys.argv[1])]" "$work/peer.jsonl" > "$work/texts.txt"
$PY "$shared/tools/reference_embed.py" "$m" < "$work/peer.jsonl" > "$work/ref_fp32.jsonl"

check() { # name precision [flags...]
  local name=$1 prec=$2; shift 2
  local q=$work/$name
  "$bin" quantize "$m" "$q" --precision "$prec" "$@" > "$work/$name.log" || fail "quantize $name"
  cat "$work/$name.log"
  [ -f "$q/tokenizer.json" ] && [ -f "$q/1_Pooling/config.json" ] && [ -f "$q/modules.json" ] || fail "$name: folder files not copied"
  [ ! -e "$q/onnx" ] || fail "$name: the ONNX weights were copied"
  $PY "$src/tests/data/dequantize.py" "$q" "$work/$name-deq" > "$work/$name-deq.log" || fail "dequantize $name"
  cat "$work/$name-deq.log"
  $PY "$shared/tools/reference_embed.py" "$work/$name-deq" < "$work/peer.jsonl" > "$work/$name-ref.jsonl"
  "$bin" embed --model "$q" < "$work/texts.txt" > "$work/$name-embp.jsonl" 2> "$work/$name-embed.log"
  "$bin" info --model "$q" --json > "$work/$name-info.json"
}
wmax=63 # int8 weights as oneDNN multiplies them: 7-bit without VNNI (see test_plan_reference.sh)
"$bin" info --model "$m" | grep -Eq '^features .*(avx512_vnni|avx_vnni)' && wmax=127
abf=() # bf16 plans attend in bf16 where the CPU has AVX512_BF16 (simulate_plan.py)
"$bin" info --model "$m" | grep -Eq '^features .*avx512_bf16' && abf=(--attention-bf16)
compare() { # name [min_ratio]: embp's vectors of the folder against two independent references
  local name=$1 ratio=${2:-}
  # 1. The simulation of the plan the folder loads as (tests/data/simulate_plan.py), from the
  #    dequantized file's weights as they are: compare_plan.py's bounds (far tighter than fp32).
  read -r rs rc rg < <($PY -c "import json,sys; p=json.load(open(sys.argv[1]))['precision']; print(p['storage'], p['compute'], p.get('group_size') or 32)" "$work/$name-info.json")
  $PY "$src/tests/data/simulate_plan.py" "$work/$name-deq" "$rs" "$rc" --group "$rg" --weights-as-is \
    --int8-weight-max $wmax "${abf[@]}" < "$work/peer.jsonl" > "$work/$name-sim.jsonl"
  $PY "$src/tests/data/compare_plan.py" "$name folder" "$rs" "$rc" "$work/$name-embp.jsonl" \
    "$work/$name-sim.jsonl" "$work/ref_fp32.jsonl" || fail "$name: embp's vectors are not the plan's arithmetic"
  # 2. numpy of the dequantized file in float64 (weights as stored, activations unrounded):
  #    where the weights' rounding dominates the error (int4), embp must be `ratio` times closer
  #    to it than to the fp32 source (1 - cos; a layout or scale error could not be).
  $PY - "$work/$name-ref.jsonl" "$work/ref_fp32.jsonl" "$work/$name-embp.jsonl" "$name" "$ratio" <<'PY'
import json, sys
import numpy as np
deq, f32, got = ([np.array(json.loads(l)["embedding"]) for l in open(p)] for p in sys.argv[1:4])
deq, f32, got = list(deq), list(f32), list(got)
name, ratio = sys.argv[4], sys.argv[5]
assert len(deq) == len(f32) == len(got) == 20, (len(deq), len(f32), len(got))
d = lambda a, b: 1.0 - float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
to_deq = np.array([d(g, x) for g, x in zip(got, deq)])
to_f32 = np.array([d(g, x) for g, x in zip(got, f32)])
print("%s: 1 - cos to numpy of the dequantized file: mean %.3g; to the fp32 source %.3g (%.0fx)" % (
    name, to_deq.mean(), to_f32.mean(), to_f32.mean() / max(to_deq.mean(), 1e-300)))
if ratio:
    assert np.isfinite(to_deq).all() and (to_deq * float(ratio) <= to_f32).all(), \
        "%s: embp is not %sx closer to the dequantized file than to the fp32 source in every sentence" % (name, ratio)
PY
}

# int4 (group 32 and 64): weights in nibbles; compute bf16 (AVX2/AVX-512) rounds activations only.
# The int4 weights are ~99% of the error to fp32 (measured 1 - cos 3e-3 vs 1e-6 for bf16
# activations): embp must sit 100x closer to the dequantized file than to the source.
check int4 int4
compare int4 100
check int4g64 int4 --group-size 64 --no-fidelity
compare int4g64 100
# int8: per channel; compute int8 quantizes activations per token (and AVX2 keeps 7-bit weights);
# activations and weights share the error, so only the simulation judges it
check int8 int8
compare int8
check bf16 bf16
compare bf16
check fp16 fp16
compare fp16

$PY - "$work" "$m" <<'PY'
import json, os, struct, sys
work, src = sys.argv[1], sys.argv[2]
def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))
fp32_bytes = os.path.getsize(os.path.join(src, "model.safetensors"))
for name, storage, group in [("int4", "int4", "32"), ("int4g64", "int4", "64"), ("int8", "int8", None), ("bf16", "bf16", None),
                             ("fp16", "fp16", None)]:
    h = header(os.path.join(work, name, "model.safetensors"))
    meta = h["__metadata__"]
    assert meta["embp.storage"] == storage and meta["embp.method"] == "rtn", meta
    assert meta.get("embp.group_size") == group, (name, meta)
    info = json.load(open(os.path.join(work, name + "-info.json")))
    mi = info["models"][0] if "models" in info else info
    prec = mi["precision"]
    assert prec["storage"] == storage, (name, prec)
    rec = json.load(open(os.path.join(work, name, "embp_quantize.json")))
    assert rec["storage"] == storage and rec["method"] == "rtn", rec
    size = os.path.getsize(os.path.join(work, name, "model.safetensors"))
    wb = mi["weight_bytes"]
    print("%-8s file %.2fx fp32, memory %.1f MiB (%.2fx fp32 file)" % (name, size / fp32_bytes, wb / 2**20, wb / fp32_bytes))
    if storage == "int4":
        assert h["encoder.layer.0.intermediate.dense.weight"]["dtype"] == "U8"
        assert h["encoder.layer.0.intermediate.dense.weight_scale"]["shape"] == [1536, 384 // int(group)]
        assert size <= 0.25 * fp32_bytes and wb <= 0.3 * fp32_bytes, (size, wb)
    if storage == "int8":
        assert h["encoder.layer.0.attention.self.query.weight"]["dtype"] == "I8"
        assert size <= 0.3 * fp32_bytes and wb <= 0.3 * fp32_bytes, (size, wb)
    if storage in ("bf16", "fp16"):
        assert all(v["dtype"] == storage.upper().replace("FP", "F") for k, v in h.items() if k != "__metadata__")
        assert size <= 0.51 * fp32_bytes
    if name != "int4g64":   # measured when written, shown on load
        f = rec["fidelity"]
        assert 0.99 < f["min"] <= f["mean"] <= 1.0, f
        assert abs(prec["fidelity_mean"] - f["mean"]) < 1e-9, (prec, f)
    else:
        assert "fidelity" not in rec
print("metadata, sizes and recorded fidelity ok")
PY

# Loading a quantized folder equals quantizing the source at load (same rtn, same bytes).
"$bin" embed --model "$m" --precision int4 < "$work/texts.txt" > "$work/load-int4.jsonl" 2>/dev/null
cmp "$work/load-int4.jsonl" "$work/int4-embp.jsonl" || fail "int4 folder embeds differently from int4 at load"
"$bin" embed --model "$m" --precision int8 < "$work/texts.txt" > "$work/load-int8.jsonl" 2>/dev/null
cmp "$work/load-int8.jsonl" "$work/int8-embp.jsonl" || fail "int8 folder embeds differently from int8 at load"

# Errors: each names what is wrong, exits 1 or 2, writes nothing half-done.
expect_err() { # pattern cmd...
  local pat=$1; shift
  if "$@" > "$work/err.out" 2>&1; then fail "succeeded: $*"; fi
  grep -q -- "$pat" "$work/err.out" || { cat "$work/err.out"; fail "no '$pat' in the error of: $*"; }
}
expect_err "exists and is not empty" "$bin" quantize "$m" "$work/int8" --precision int8
expect_err "allowed values int8, int4, bf16, fp16" "$bin" quantize "$m" "$work/x1" --precision fp32
expect_err "embp supports rtn only" "$bin" quantize "$m" "$work/x2" --precision int4 --method gptq
expect_err "group size 48" "$bin" quantize "$m" "$work/x3" --precision int4 --group-size 48
expect_err "already written by embp quantize" "$bin" quantize "$work/int8" "$work/x4" --precision int4
expect_err "is the input folder" "$bin" quantize "$m" "$m" --precision int8 --force
expect_err "cannot open model folder" "$bin" quantize "$work/nope" "$work/x5" --precision int8
expect_err "precision is required" "$bin" quantize "$m" "$work/x6"
# A quantized folder runs at its own storage: asking another is an error naming the file.
expect_err "holds int4 weights written by embp quantize" "$bin" embed --model "$work/int4" --precision fp32 --text hi
expect_err "holds int8 weights" "$bin" embed --model "$work/int8" --storage-precision int4 --text hi
EMB_PROVIDER_ENABLE_QUANTIZATION=false expect_err "EMB_PROVIDER_ENABLE_QUANTIZATION=false" "$bin" embed --model "$work/int8" --text hi
# ... a bf16 file is an ordinary checkpoint: another storage may be asked of it.
"$bin" embed --model "$work/bf16" --precision int8 --text hi > /dev/null 2>&1 || fail "int8 from a bf16 folder"
# A corrupt quantized file: scales missing.
$PY - "$work/int8/model.safetensors" "$work/broken" <<'PY'
import json, os, shutil, struct, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(os.path.dirname(src), dst)
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
del h["encoder.layer.2.output.dense.weight_scale"]
hb = json.dumps(h).encode()
with open(os.path.join(dst, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hb))); f.write(hb); f.write(data)
PY
expect_err "encoder.layer.2.output.dense.weight_scale' are missing" "$bin" embed --model "$work/broken" --text hi
# A folder whose sequences are longer than the 4096-token budget quantize once fixed (as
# Qwen3-Embedding's 8192) quantizes.
$PY "$shared/tools/make_fixture_model.py" "$work/long" --max-pos 5000 --max-seq 5000 --seed 3 > /dev/null
"$bin" quantize "$work/long" "$work/long-int8" --precision int8 --no-fidelity > /dev/null || fail "quantize a 5000-token folder"
"$bin" embed --model "$work/long-int8" --text hi > /dev/null || fail "embed the 5000-token int8 folder"
echo "quantize: ok"
