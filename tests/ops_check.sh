#!/usr/bin/env bash
# Runs `tests/ops_reference.py CHECK` on the tiny fixture with the venv scripts/venv.sh
# --reference makes; exits 77 (skipped, never passed) when the venv lacks MODULES.
# Usage: ops_check.sh CHECK "MODULES" (e.g. ops_check.sh metrics "prometheus_client numpy").
set -euo pipefail
bin=${EMBP_BIN:?}; src=${EMBP_SOURCE:?}; fx=${EMBP_FIXTURES:?}
check=$1; modules=$2
py=$src/build/venv/bin/python
if ! "$py" -c "import ${modules// /, }" 2>/dev/null; then
  echo "SKIP: $src/build/venv lacks one of: $modules (scripts/venv.sh --reference installs them)"
  exit 77
fi
exec "$py" -W ignore "$src/tests/ops_reference.py" "$check" "$bin" "$fx/tiny" "$fx/sentences.txt"
