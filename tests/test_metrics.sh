#!/usr/bin/env bash
# GET /metrics of `embp serve`: parsed by prometheus_client's own parser (PyPI), its counters
# checked to move by exactly the requests, tokens and inputs served, behind the API key
# (tests/ops_reference.py).
exec bash "$(dirname "$0")/ops_check.sh" metrics "prometheus_client numpy"
