#!/usr/bin/env bash
# Sets up and runs the whole test suite: release build, then the same tests under ASan+UBSan.
# The fixtures (seeded random models + the peer's and numpy's answers) are made once into
# build/fixtures and shared by both trees.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-test.sh
export EMBP_SHARED=${EMBP_SHARED:-$(cd .. && pwd)/shared}
./tests/make_fixtures.sh "$PWD/build/fixtures"
(cd build && ctest --output-on-failure -j2)
(cd build-san && EMBP_TEST_SANITIZER=1 ctest --output-on-failure -j2)
# Every fuzz target under libFuzzer for a bounded time (longer runs: EMBP_FUZZ_SECONDS=600).
EMBP_FUZZ_SECONDS=${EMBP_FUZZ_SECONDS:-20} ./scripts/fuzz.sh
