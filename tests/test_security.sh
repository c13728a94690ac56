#!/usr/bin/env bash
# Security properties seen from outside: the API key never reaches the log (neither the right
# one nor a wrong one a client sent), every request line carries a request id, and a model name
# shaped like a path is just an unknown model (404), never a file lookup.
. "$(dirname "$0")/lib.sh"
model=${EMBP_FIXTURES:?}/tiny
work=$(mktemp -d); pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(fixed_port)
key=sk-embp-test-7f3a9c1e
EMB_PROVIDER_API_KEY=$key "$bin" serve --model "$model" --host 127.0.0.1 --port $port --log-level debug > "$work/log" 2>&1 & pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
post() { curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$port/v1/embeddings"; }
[ "$(post "$key" '{"input":"hello"}')" = 200 ] || { echo "FAIL: right key refused"; exit 1; }
[ "$(post wrong-key-0d5b2e '{"input":"hello"}')" = 401 ] || { echo "FAIL: wrong key accepted"; exit 1; }
code=$(post "$key" '{"input":"hello","model":"../../../../etc/passwd"}')
[ "$code" = 404 ] && grep -q model_not_found "$work/body" || { echo "FAIL: path-like model name got $code"; cat "$work/body"; exit 1; }
kill -TERM $pid; wait $pid || true; pid=""
if grep -q -e "$key" -e wrong-key-0d5b2e "$work/log"; then echo "FAIL: a key reached the log"; cat "$work/log"; exit 1; fi
n_req=$(grep -c 'POST /v1/embeddings' "$work/log" || true)
n_ids=$(grep 'POST /v1/embeddings' "$work/log" | grep -c 'request_id=[0-9a-f]' || true)
[ "$n_req" -ge 3 ] && [ "$n_req" = "$n_ids" ] || { echo "FAIL: request lines without ids ($n_ids of $n_req)"; cat "$work/log"; exit 1; }
echo "PASS: no key in $(wc -l < "$work/log") log lines; $n_req request lines, each with an id; path-like model 404"
