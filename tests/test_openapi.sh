#!/usr/bin/env bash
# GET /openapi.json of a live `embp serve`, validated by openapi-spec-validator and checked by
# schemathesis (both PyPI): tests/openapi_check.py, which exits 77 (skipped, never passed)
# without them. OMP_WAIT_POLICY=PASSIVE: the server's OpenMP threads sleep between requests
# instead of spinning beside the other tests (ctest -j2).
set -euo pipefail
py=${EMBP_SOURCE:?}/build/venv/bin/python
[ -x "$py" ] || { echo "SKIP: no $py (scripts/venv.sh --reference makes it)"; exit 77; }
OMP_WAIT_POLICY=PASSIVE exec "$py" -W ignore "$EMBP_SOURCE/tests/openapi_check.py"
