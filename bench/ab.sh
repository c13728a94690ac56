#!/usr/bin/env bash
# embp at another commit against this tree's build/embp, on the same fixture and texts, runs
# interleaved so both sides see the same machine: wall and CPU seconds of `embp embed` over the
# bench corpus twice (4,096 lines) per plan, ROUNDS rounds, and whether the two sides' outputs
# are byte-identical (the vectors as printed: every float).
#   bench/ab.sh REV [--rounds N] [--plans "fp32 int8 int4"]
# The other commit is built (release, the embp target only) in a detached worktree under
# ${TMPDIR:-/tmp}/embp-ab-REV, kept for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=$1; shift; rounds=3; plans="fp32 int8 int4"
while [ $# -gt 0 ]; do case $1 in --rounds) rounds=$2; shift 2;; --plans) plans=$2; shift 2;;
  *) echo "unknown $1"; exit 2;; esac; done
short=$(git rev-parse --short "$rev")
other=${TMPDIR:-/tmp}/embp-ab-$short
if [ ! -x "$other/build/embp" ]; then
  [ -d "$other" ] || git worktree add -q --detach "$other" "$short"
  cmake -S "$other" -B "$other/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$other/build" -j"$(nproc)" --target embp >/dev/null
fi
[ -x build/embp ] || { echo "ab: build/embp missing (cmake --build build)"; exit 1; }
fx=build/bench-fixtures
[ -f "$fx/minilm/model.safetensors" ] || python3 "${EMBP_SHARED:-../shared}/tools/make_fixture_model.py" \
  "$fx/minilm" --like "${EMBP_SHARED:-../shared}/models/all-MiniLM-L6-v2" --seed 11 >/dev/null
[ -f "$fx/corpus.txt" ] || python3 bench/make_corpus.py "$fx/corpus.txt"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat "$fx/corpus.txt" "$fx/corpus.txt" > "$work/texts"
echo "$short vs this tree, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "| round | plan | $short wall s (CPU s) | this tree wall s (CPU s) | outputs | load |"
echo "|---|---|---:|---:|---|---|"
for r in $(seq "$rounds"); do
  for p in $plans; do
    for side in other this; do
      bin=build/embp; [ $side = other ] && bin=$other/build/embp
      /usr/bin/time -f "%e %U %S" -o "$work/t" "$bin" embed --model "$fx/minilm" --precision "$p" \
        --threads 2 --fidelity-cache off < "$work/texts" > "$work/$side.out" 2>/dev/null
      read -r wall user sys < "$work/t"
      printf -v "t_$side" "%s (%.1f)" "$wall" "$(echo "$user + $sys" | bc)"
    done
    cmp -s "$work/other.out" "$work/this.out" && same=identical || same=DIFFER
    echo "| $r | $p | $t_other | $t_this | $same | $(cut -d' ' -f1 /proc/loadavg) |"
  done
done
