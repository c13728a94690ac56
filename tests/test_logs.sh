#!/usr/bin/env bash
# EMB_PROVIDER_LOG_FORMAT=json and X-Request-Id: every line `embp serve` writes parses as one
# JSON object, and each request's record carries the id its answer echoed (the client's when
# valid, else a new one) (tests/ops_reference.py).
exec bash "$(dirname "$0")/ops_check.sh" logs "numpy"
