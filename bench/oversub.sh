#!/usr/bin/env bash
# embp on cores other processes also want: idle against N busy-loop processes pinned to the same
# cores, for each OpenMP wait setting asked, interleaved (round by round, each load, plan and
# setting in turn) so a shared machine's own load falls on every side alike.
#   bench/oversub.sh [MODEL_DIR] [--busy N] [--rounds R] [--seconds S] [--plans "fp32 int8"]
#                    [--settings "default GOMP_SPINCOUNT=300000 OMP_WAIT_POLICY=passive"]
#                    [--no-serve] [--nice N] [--loads "idle busy"]
# Per run: bench_forward's tokens/s at 32 x 128 and p50 at 1 x 16 (S seconds each, --threads 2)
# and `embp serve`'s seconds from exec to a 200 on /health (its whole start-up: load, packing,
# warm-up). A setting is NAME=VALUE assignments joined by commas
# ("GOMP_SPINCOUNT=0,OMP_WAIT_POLICY=passive"), put in the environment of embp and bench_forward;
# "default" runs them with GOMP_SPINCOUNT and OMP_WAIT_POLICY unset (what a user gets). Prints each
# run as a table row, then the median over rounds of each (load, plan, setting).
# --nice N runs embp, bench_forward and the busy loops alike at niceness N (root for N < 0): on a
# machine others share, N -10 makes their load weigh ~1/10 of this run's threads, so "idle" is
# nearly idle and "busy" is the N busy loops against embp at equal weight.
# MODEL_DIR defaults to build/bench-fixtures/minilm (made as bench/run.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/bench-fixtures/minilm busy=8 rounds=3 secs=2 plans="fp32 bf16 int8 int4" serve=1 nice=0 loads="idle busy"
settings="default GOMP_SPINCOUNT=300000 GOMP_SPINCOUNT=10000 GOMP_SPINCOUNT=100 OMP_WAIT_POLICY=passive"
while [ $# -gt 0 ]; do case $1 in
  --busy) busy=$2; shift 2;; --rounds) rounds=$2; shift 2;; --seconds) secs=$2; shift 2;;
  --plans) plans=$2; shift 2;; --settings) settings=$2; shift 2;; --no-serve) serve=0; shift;; --nice) nice=$2; shift 2;;
  --loads) loads=$2; shift 2;;
  -*) echo "oversub: unknown $1" >&2; exit 2;; *) dir=$1; shift;; esac; done
for b in build/embp build/bench_forward; do
  [ -x "$b" ] || { echo "oversub: $b missing (cmake --build build)" >&2; exit 1; }
done
if [ ! -f "$dir/model.safetensors" ] && [ "$dir" = build/bench-fixtures/minilm ]; then
  python3 "${EMBP_SHARED:-../shared}/tools/make_fixture_model.py" "$dir" \
    --like "${EMBP_SHARED:-../shared}/models/all-MiniLM-L6-v2" --seed 11 >/dev/null
fi
cpus=$(taskset -pc $$ | sed 's/.*: //') # the cores this shell (and so embp) may run on
pin=(nice -n "$nice" taskset -c "$cpus")
work=$(mktemp -d) busy_pids="" srv=""
stop_busy() {
  [ -z "$busy_pids" ] || { kill $busy_pids 2>/dev/null || true; wait $busy_pids 2>/dev/null || true; }
  busy_pids=""
}
cleanup() {
  stop_busy
  [ -z "$srv" ] || { kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
start_busy() {
  for _ in $(seq "$1"); do "${pin[@]}" sh -c 'while :; do :; done' & busy_pids+=" $!"; done
  sleep 1 # let the scheduler spread them
}

# setting_env SETTING: the env(1) arguments for it.
setting_env() {
  local a=(-u GOMP_SPINCOUNT -u OMP_WAIT_POLICY)
  [ "$1" = default ] || a+=(${1//,/ })
  echo "${a[@]}"
}

# serve_start SETTING PLAN: seconds from exec to a 200 on /health, or "failed".
serve_start() {
  local log=$work/serve.log port="" t0 code
  rm -f "$log"; : > "$log"
  t0=$(date +%s%N)
  env $(setting_env "$1") "${pin[@]}" build/embp serve --model "$dir" --precision "$2" \
    --threads 2 --host 127.0.0.1 --port 0 --fidelity-cache off 2>"$log" & srv=$!
  while :; do
    [ -n "$port" ] || port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    if [ -n "$port" ]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
      [ "$code" = 200 ] && break
    fi
    if ! kill -0 "$srv" 2>/dev/null || [ $(( $(date +%s%N) - t0 )) -gt 180000000000 ]; then
      echo failed; kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; srv=""
      return
    fi
    sleep 0.005
  done
  awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN { printf "%.2f", t / 1e9 }'
  kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
}

echo "oversub: $dir, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cores $cpus," \
     "busy $busy, nice $nice, $rounds rounds of ${secs} s per figure, $(date -u '+%F %H:%M UTC')"
echo "| round | load | plan | setting | 32x128 tokens/s | 1x16 p50 ms | serve to /health s | loadavg |"
echo "|---|---|---|---|---:|---:|---:|---|"
: > "$work/rows"
for r in $(seq "$rounds"); do
  for load in $loads; do
    [ $load = busy ] && start_busy "$busy"
    for p in $plans; do
      for s in $settings; do
        out=$(env $(setting_env "$s") "${pin[@]}" build/bench_forward "$dir" --threads 2 \
              --precision "$p" --seconds "$secs" --no-peak 2>&1) || { echo "$out" >&2; exit 1; }
        tps=$(echo "$out" | sed -n 's/^batch 32 x 128: *\([0-9]*\) tokens.*/\1/p')
        p50=$(echo "$out" | sed -n 's/^batch  1 x  16: .* p50 *\([0-9.]*\) ms.*/\1/p')
        up=-; [ $serve = 1 ] && up=$(serve_start "$s" "$p")
        echo "| $r | $load | $p | $s | $tps | $p50 | $up | $(cut -d' ' -f1-3 /proc/loadavg) |"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$load" "$p" "$s" "$tps" "$p50" "$up" >> "$work/rows"
      done
    done
    stop_busy
  done
done
echo
echo "Medians over $rounds rounds:"
/usr/bin/python3 - "$work/rows" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    load, plan, setting, *vals = line.rstrip("\n").split("\t")
    rows.setdefault((load, plan, setting), []).append(vals)
def med(vs):
    xs = [float(v) for v in vs if v not in ("", "-", "failed")]
    fails = sum(v == "failed" for v in vs)
    return ("%.6g" % statistics.median(xs) if xs else "-") + (" (%d failed)" % fails if fails else "")
print("| load | plan | setting | 32x128 tokens/s | 1x16 p50 ms | serve to /health s |")
print("|---|---|---|---:|---:|---:|")
for (load, plan, setting), vs in rows.items():
    print("| %s | %s | %s | %s | %s | %s |" % (load, plan, setting, *(med(c) for c in zip(*vs))))
EOF
