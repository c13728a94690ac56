#!/usr/bin/env bash
# Overload: `embp serve` with the minilm fixture and a small queue (EMB_PROVIDER_MAX_QUEUE_TOKENS
# 2048), driven by 64 concurrent clients of tests/load_client.mjs, which checks every answer
# against its text's own vector. Asserts: the client exits 0 (no mismatches, no lost requests,
# no 5xx but 503 + Retry-After), 503s were produced (it really was over capacity), the server's
# peak RSS stays under its idle RSS + 128 MB, and /health is 200 after. Then 8 clients on the
# default queue: no shedding at all, requests/s and p50/p99 reported.
. "$(dirname "$0")/lib.sh"
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
secs=${EMBP_OVERLOAD_SECONDS:-8}
command -v node >/dev/null || fail "node is not installed (scripts/setup-test.sh installs it)"
# Under ASan, freed memory sits in a 256 MB quarantine by default, which the RSS bound would
# count as growth; a small quarantine keeps the bound meaningful there (no effect otherwise).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$log" ] && rm -f "$log.rss"
  lib_cleanup
}
trap cleanup EXIT

# Samples VmRSS (kB) of $pid every 100 ms into $log.rss, one number a line.
start_sampler() {
  (while [ -r "/proc/$pid/status" ]; do
     awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true; sleep 0.1
   done) > "$log.rss" &
  sampler=$!
}

health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health"; }

# ---------------------------------------------------------------- 64 clients, small queue
start_server --model "$fx/minilm" --max-queue-tokens 2048
# Idle RSS once the model is loaded and oneDNN's primitives for a few batch sizes exist.
node "$src/tests/load_client.mjs" "http://127.0.0.1:$port" --clients 2 --seconds 1 \
  --inputs 8 >/dev/null || fail "warm-up run failed"
idle=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
start_sampler
out=$(node "$src/tests/load_client.mjs" "http://127.0.0.1:$port" --clients 64 --seconds "$secs" \
      --inputs 8) || { echo "$out"; cat "$log" >&2; fail "load client failed under overload"; }
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=""
peak=$(sort -n "$log.rss" | tail -1)
echo "overload (64 clients, queue 2048 tokens): $out"
echo "server RSS: idle ${idle} kB, peak ${peak} kB under load"
n503=$(echo "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);console.log(o.statuses["503"]||0)})')
[ "$n503" -gt 0 ] || fail "no 503s: the server was not driven beyond its queue"
# Bound: with the queue capped at 2048 tokens, what grows under load is per connection (64
# bodies of ~2 kB, replies of 8 x 384 floats ~ 40 kB, 1 MB thread stacks mostly untouched) and
# glibc's per-thread malloc arenas: 128 MB over idle is generous and still catches a queue or a
# leak that grows with requests (~40k requests of ~40 kB would be GBs).
[ "$peak" -lt $((idle + 131072)) ] || fail "peak RSS ${peak} kB exceeds idle ${idle} kB + 128 MB"
[ "$(health)" = 200 ] || fail "/health is not 200 after the overload"
stop_server

# ---------------------------------------------------------------- 8 clients, default queue
rm -f "$log.rss"
start_server --model "$fx/minilm"
out=$(node "$src/tests/load_client.mjs" "http://127.0.0.1:$port" --clients 8 --seconds 5 \
      --inputs 8) || { echo "$out"; cat "$log" >&2; fail "load client failed at 8 clients"; }
echo "steady (8 clients, default queue): $out"
echo "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);
  const other=Object.keys(o.statuses).filter(k=>k!=="200");
  if(other.length){console.error("shed or failed at 8 clients: "+JSON.stringify(o.statuses));process.exit(1)}})' \
  || fail "8 clients on the default queue should never be shed"
[ "$(health)" = 200 ] || fail "/health is not 200 after the steady run"
stop_server
echo PASS
