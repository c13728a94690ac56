#!/usr/bin/env bash
# Every precision plan against an independent simulation of its documented arithmetic
# (tests/data/simulate_plan.py: numpy, no embp code) on the MiniLM-shaped fixture: embp's
# vectors must match the simulation far more closely than they match the fp32 reference
# (tests/data/compare_plan.py derives each bound). A plan this CPU runs differently (e.g. bf16
# compute without a BF16 unit falls back to fp32) is simulated as it resolved, which embp info
# reports; int8 weights are 7-bit where embp's CPU lacks VNNI (matmul.c), so the simulation is too.
# A plan ending in "+dq" embeds 60 sentences (896 tokens, one forward: every GEMM at 896 rows),
# where int4/bf16 runs oneDNN on weights dequantized to bf16 from 512 rows (kernels/matmul.h);
# the others embed 20 (234 tokens: the int4 kernel).
set -euo pipefail
bin=${EMBP_BIN:?}; fixtures=${EMBP_FIXTURES:?}; src=${EMBP_SOURCE:?}
export EMBP_SHARED=${EMBP_SHARED:?}
PY=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
m=$fixtures/minilm
for n in 20 60; do
  head -$n "$fixtures/minilm.peer.jsonl" > "$work/ids$n.jsonl"
  head -$n "$fixtures/minilm.ref.jsonl" > "$work/fp32$n.jsonl"
  $PY -c "import json,sys; [print(json.loads(l)['text']) for l in open(sys.argv[1])]" "$work/ids$n.jsonl" > "$work/texts$n.txt"
done
wmax=63
"$bin" info --model "$m" | grep -Eq '^features .*(avx512_vnni|avx_vnni)' && wmax=127
abf=() # bf16 plans attend in bf16 where the CPU has AVX512_BF16 (simulate_plan.py)
"$bin" info --model "$m" | grep -Eq '^features .*avx512_bf16' && abf=(--attention-bf16)
plans="fp16/fp32 bf16/fp32 fp16/bf16 bf16/bf16 int8/int8 int4/bf16/32 int4/bf16/64 int4/bf16/128 int4/bf16/32+dq int4/int8/32"
if [ -n "${EMBP_TEST_SANITIZER:-}" ]; then
  # The numerics are the release tree's; under ASan+UBSan one plan per compute path is enough
  # to check memory safety, and all nine take ~7 minutes there.
  plans="fp16/fp32 bf16/bf16 int8/int8 int4/bf16/64 int4/bf16/32+dq int4/int8/32"
  echo "sanitizer tree: $plans (the release tree runs all ten)"
fi
status=0
for plan in $plans; do
  n=20 dq=()
  case $plan in *+dq) n=60 dq=(--int4-dequantized) ;; esac
  IFS=/ read -r storage compute group <<< "${plan%+dq}"
  flags=(--model "$m" --storage-precision "$storage" --computation-precision "$compute")
  [ -n "$group" ] && flags+=(--quant-group-size "$group")
  if ! "$bin" info "${flags[@]}" --json > "$work/info.json" 2> "$work/info.err"; then
    # int4/int8 needs AVX512_VNNI: elsewhere the load refuses it (test_fallback_scalar checks why)
    echo "$plan: not run here: $(tail -1 "$work/info.err")"; continue
  fi
  read -r rs rc rg < <($PY -c "import json,sys; p=json.load(open(sys.argv[1]))['precision']; print(p['storage'], p['compute'], p.get('group_size') or 32)" "$work/info.json")
  [ "$rs/$rc" = "$storage/$compute" ] || echo "$plan runs here as $rs/$rc"
  if [ ${#dq[@]} -gt 0 ] && ! grep -q "oneDNN bf16 on dequantized" "$work/info.json"; then
    echo "$plan: not run here: int4/bf16 runs the int4 kernel at every M on this CPU"; continue
  fi
  "$bin" embed "${flags[@]}" < "$work/texts$n.txt" > "$work/embp.jsonl" 2> "$work/embed.err" || { cat "$work/embed.err"; exit 1; }
  $PY "$src/tests/data/simulate_plan.py" "$m" "$rs" "$rc" --group "$rg" --int8-weight-max $wmax "${abf[@]}" \
    "${dq[@]}" < "$work/ids$n.jsonl" > "$work/sim.jsonl"
  $PY "$src/tests/data/compare_plan.py" "minilm${group:+ g$rg}${dq:+ dq}" "$rs" "$rc" "$work/embp.jsonl" "$work/sim.jsonl" \
    "$work/fp32$n.jsonl" || status=1
done
exit $status
