#!/usr/bin/env bash
# Scale-out on loopback: two embp replicas behind HAProxy (deploy/haproxy.cfg). Checks that both
# replicas serve, that answers through the balancer equal a replica's own, and that when one
# replica stops (SIGTERM) every request still succeeds on the other.
. "$(dirname "$0")/lib.sh"
model=${EMBP_FIXTURES:?}/tiny
command -v haproxy >/dev/null || { echo "FAIL: haproxy not installed (apt-get install haproxy)"; exit 1; }
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
base=$(fixed_port); lb=$base; p1=$((base + 1)); p2=$((base + 2))
"$bin" serve --model "$model" --host 127.0.0.1 --port $p1 > "$work/r1.log" 2>&1 & pids+=($!); r1=$!
"$bin" serve --model "$model" --host 127.0.0.1 --port $p2 > "$work/r2.log" 2>&1 & pids+=($!)
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done
            echo "FAIL: nothing answers /health on port $1"; cat "$work"/*.log; exit 1; }
wait_up $p1; wait_up $p2
EMBP_LB_ADDR=127.0.0.1:$lb EMBP_R1_ADDR=127.0.0.1:$p1 EMBP_R2_ADDR=127.0.0.1:$p2 \
  haproxy -f "$src/deploy/haproxy.cfg" -db > "$work/lb.log" 2>&1 & pids+=($!)
wait_up $lb
body='{"input":["scale out","two replicas"],"model":"tiny"}'
direct=$(curl -sf -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$p1/v1/embeddings" | sed 's/"model":"[^"]*"//')
for i in $(seq 20); do
  got=$(curl -sf -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$lb/v1/embeddings" | sed 's/"model":"[^"]*"//') \
    || { echo "FAIL: request $i through the balancer failed"; exit 1; }
  [ "$got" = "$direct" ] || { echo "FAIL: answer $i through the balancer differs from the replica's"; exit 1; }
done
n1=$(grep -c 'POST /v1/embeddings' "$work/r1.log" || true); n2=$(grep -c 'POST /v1/embeddings' "$work/r2.log" || true)
echo "requests served: replica 1 $n1, replica 2 $n2"
[ "$n1" -ge 2 ] && [ "$n2" -ge 1 ] || { echo "FAIL: both replicas should serve (r1 $n1, r2 $n2)"; exit 1; }
kill -TERM $r1; wait $r1 || { echo "FAIL: replica 1 did not exit 0 on SIGTERM"; exit 1; }
for i in $(seq 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$lb/v1/embeddings")
  [ "$code" = 200 ] || { echo "FAIL: request $i after replica 1 stopped got $code"; cat "$work/lb.log"; exit 1; }
done
echo "PASS: balanced over two replicas; one stopped, 20/20 requests still answered"
