#!/usr/bin/env bash
# Builds every fuzz/fuzz_*.c as a libFuzzer target with clang-14 + ASan/UBSan (build-fuzz/) and
# runs each for EMBP_FUZZ_SECONDS (default 60) seeded with fuzz/corpus/<name>/. A crash fails
# the run and leaves its input in build-fuzz/crashes/<name>/: add it to the corpus as a
# regression (fuzz/corpus/<name>/regress_<what>) once fixed. Prints a table of execs and corpus
# sizes for docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${EMBP_FUZZ_SECONDS:-60}
# fuzz_quantized quantizes the tiny fixture at start-up (tests/make_fixtures.sh makes it).
export EMBP_FIXTURES=${EMBP_FIXTURES:-$PWD/build/fixtures}
# clang's libomp keeps its thread team's bookkeeping to exit (fuzz_quantized runs the model).
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if ! command -v clang-14 >/dev/null || ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev libomp-14-dev >/dev/null
fi
CC=clang-14 cmake -S . -B build-fuzz -DEMBP_FUZZ=ON -DEMBP_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
cmake --build build-fuzz -j"$(nproc)" --target $targets
status=0
printf '%-22s %10s %8s %8s\n' target execs corpus result
for t in $targets; do
  name=${t#fuzz_}
  work=build-fuzz/corpus/$name; crashes=build-fuzz/crashes/$name
  rm -rf "$work" "$crashes"; mkdir -p "$work" "$crashes"
  cp fuzz/corpus/$name/* "$work/" 2>/dev/null || true
  log=build-fuzz/$t.log
  dict=""; [ -f fuzz/corpus/$name.dict ] && dict="-dict=fuzz/corpus/$name.dict"
  if ./build-fuzz/$t -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 $dict \
       -artifact_prefix="$crashes/" "$work" >"$log" 2>&1; then result=ok; else result=CRASH; status=1; fi
  # libFuzzer prints "Dictionary: N entries" when it parsed the file: a dictionary it did not
  # load (a wrong path, a bad line) fails the run instead of fuzzing without it.
  if [ -n "$dict" ] && ! grep -q '^Dictionary: [1-9][0-9]* entries' "$log"; then
    result="NO DICT"; status=1
  fi
  execs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
  printf '%-22s %10s %8s %8s\n' "$t" "$execs" "$(ls "$work" | wc -l)" "$result"
  [ "$result" = ok ] || tail -30 "$log"
done
exit $status
