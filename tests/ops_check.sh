#!/usr/bin/env bash
# Runs `tests/ops_reference.py CHECK` on the tiny fixture with the venv scripts/venv.sh
# --reference makes; exits 77 (skipped, never passed) when the venv lacks MODULES.
# Usage: ops_check.sh CHECK "MODULES" (e.g. ops_check.sh metrics "prometheus_client numpy").
. "$(dirname "$0")/lib.sh"
fx=${EMBP_FIXTURES:?}
check=$1; modules=$2
need_venv "import ${modules// /, }" "one of: $modules" "scripts/venv.sh --reference installs them"
exec "$py" -W ignore "$src/tests/ops_reference.py" "$check" "$bin" "$fx/tiny" "$fx/sentences.txt"
