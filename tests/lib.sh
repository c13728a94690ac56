# What the shell tests share; sourced (`. "$(dirname "$0")/lib.sh"`), never run (ctest runs
# tests/test_*.sh only). It sets -euo pipefail and
#   bin, src, py  the embp binary ($EMBP_BIN), the source tree ($EMBP_SOURCE, else this file's
#                 parent) and the reference venv's Python (scripts/venv.sh makes build/venv)
# and gives:
#   fail MSG...              FAIL: MSG on stderr, exit 1
#   need_venv CODE WHAT [HOW]
#                            exit 77 (skipped, never passed) saying "no WHAT in the venv (HOW)"
#                            unless the venv's Python runs CODE (e.g. 'import torch')
#   make_work                work=a fresh temporary folder, removed at exit
#   run_reference SCRIPT ARGS...
#                            tests/SCRIPT with the venv's Python, offline (HF_HUB_OFFLINE=1)
#   start_server ARGS...     `embp serve ARGS` on a free loopback port: sets pid, port and log
#                            (its stderr; a new file each call); a server that exits or does not
#                            listen in 30 s fails
#   stop_server              SIGTERM; fails unless the server drains and exits 0
#   fixed_port               prints a random loopback port in 20000-31999, for a server whose
#                            port must be known before it starts (HAProxy's backends, a URL
#                            given up front): below the kernel's ephemeral range (32768-60999),
#                            where another test's port-0 bind could take it first
# At exit a server still running is killed and log and work are removed.
set -euo pipefail
bin=${EMBP_BIN:?EMBP_BIN: the embp binary}
src=${EMBP_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
py=$src/build/venv/bin/python
work="" pid="" port="" log=""

fail() { echo "FAIL: $*" >&2; exit 1; }

need_venv() {
  "$py" -c "$1" 2>/dev/null && return 0
  echo "SKIP: no $2 in $src/build/venv (${3:-scripts/setup-test.sh makes it; PyPI unreachable?})"
  exit 77
}

lib_cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "$log" ]; then rm -f "$log"; fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap lib_cleanup EXIT

make_work() { work=$(mktemp -d); }

run_reference() {
  local script=$1
  shift
  HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$py" "$src/tests/$script" "$@"
}

start_server() {
  if [ -n "$log" ]; then rm -f "$log"; fi
  log=$(mktemp)
  "$bin" serve --host 127.0.0.1 --port 0 --log-level info "$@" 2>"$log" &
  pid=$!
  port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "embp serve exited before listening"; }
    sleep 0.1
  done
  cat "$log" >&2
  fail "embp serve did not listen within 30 s"
}

stop_server() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || fail "embp serve exited with $rc after SIGTERM"
}

fixed_port() { echo $((20000 + RANDOM % 12000)); }
