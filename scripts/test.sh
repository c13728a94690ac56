#!/usr/bin/env bash
# Sets up and runs the whole test suite: release build, then the same tests under ASan+UBSan.
# The fixtures (seeded random models + the peer's and numpy's answers) are made once into
# build/fixtures and shared by both trees.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-test.sh
export EMBP_SHARED=${EMBP_SHARED:-$(cd .. && pwd)/shared}
./tests/make_fixtures.sh "$PWD/build/fixtures"
# ctest lists Skipped tests (exit 77: a path this CPU lacks) by name; each prints why on a line
# starting "embp-skip:", shown here after the summary.
run_ctest() { # build dir, then env assignments
  local dir=$1; shift
  (cd "$dir" && env "$@" ctest --output-on-failure -j2) || return 1
  grep -h '^embp-skip:' "$dir/Testing/Temporary/LastTest.log" | sort -u || echo "no test skipped in $dir"
}
run_ctest build
run_ctest build-san EMBP_TEST_SANITIZER=1
# Every fuzz target under libFuzzer for a bounded time (longer runs: EMBP_FUZZ_SECONDS=600).
EMBP_FUZZ_SECONDS=${EMBP_FUZZ_SECONDS:-20} ./scripts/fuzz.sh
