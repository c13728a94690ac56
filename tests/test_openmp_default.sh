#!/usr/bin/env bash
# embp's OpenMP wait default (settings/openmp.h), checked against what libgomp itself says it
# runs on (OMP_DISPLAY_ENV=verbose: libgomp prints its settings to stderr as it starts, so a
# re-executed process prints them twice, the last being the one in effect):
# - a command that computes, with GOMP_SPINCOUNT and OMP_WAIT_POLICY unset, runs on embp's
#   spin count, `embp info` and its --json say it is embp's default;
# - the user's GOMP_SPINCOUNT or OMP_WAIT_POLICY wins, untouched, and is reported as theirs;
# - a command that computes nothing (tokenize) is not re-executed;
# - /info reports the same as `embp info`, and the server's pid (exec keeps it) is the one that
#   answers and drains on SIGTERM (lib.sh's start_server/stop_server).
. "$(dirname "$0")/lib.sh"
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
make_work
default=$(sed -n 's/^#define EMBP_OPENMP_SPINCOUNT "\([0-9]*\)"/\1/p' "$src/src/settings/openmp.h")
[ -n "$default" ] || fail "EMBP_OPENMP_SPINCOUNT not found in src/settings/openmp.h"

# the GOMP_SPINCOUNT values libgomp printed, one a line, in order
spins() { sed -n "s/^ *GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p" "$1"; }

# unset: re-executed once, libgomp's second start on embp's value
env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u EMBP_OPENMP_DEFAULT OMP_DISPLAY_ENV=verbose \
  "$bin" info --model "$fx/tiny" > "$work/info" 2> "$work/err" || { cat "$work/err"; fail "embp info failed"; }
got=$(spins "$work/err" | tr '\n' ' ')
[ "$got" = "300000 $default " ] || fail "libgomp's spin counts were '$got', expected its default 300000 then embp's $default"
grep -q "^openmp  *GOMP_SPINCOUNT=$default (embp's default" "$work/info" \
  || fail "embp info does not report embp's default: $(grep openmp "$work/info")"
env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u EMBP_OPENMP_DEFAULT "$bin" info --json \
  --model "$fx/tiny" > "$work/json" || fail "embp info --json failed"
grep -q "\"openmp\": \"GOMP_SPINCOUNT=$default (embp's default" "$work/json" \
  || fail "embp info --json does not report embp's default"

# the user's settings win and are named as theirs
GOMP_SPINCOUNT=1234 OMP_DISPLAY_ENV=verbose "$bin" info --model "$fx/tiny" > "$work/info" \
  2> "$work/err" || fail "embp info with GOMP_SPINCOUNT=1234 failed"
[ "$(spins "$work/err" | tr '\n' ' ')" = "1234 " ] || fail "GOMP_SPINCOUNT=1234: libgomp printed '$(spins "$work/err")'"
grep -q "^openmp  *GOMP_SPINCOUNT=1234 (environment)" "$work/info" || fail "not reported as the user's"
env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive OMP_DISPLAY_ENV=verbose "$bin" info \
  --model "$fx/tiny" > "$work/info" 2> "$work/err" || fail "embp info with OMP_WAIT_POLICY failed"
[ "$(spins "$work/err" | tr '\n' ' ')" = "0 " ] || fail "OMP_WAIT_POLICY=passive: libgomp printed '$(spins "$work/err")'"
grep -q "^openmp  *OMP_WAIT_POLICY=passive (environment)" "$work/info" || fail "policy not reported"

# tokenize computes nothing: one libgomp start
echo hello | env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u EMBP_OPENMP_DEFAULT OMP_DISPLAY_ENV=verbose \
  "$bin" tokenize --model "$fx/tiny" > /dev/null 2> "$work/err" || fail "embp tokenize failed"
[ "$(spins "$work/err" | tr '\n' ' ')" = "300000 " ] || fail "tokenize was re-executed: '$(spins "$work/err")'"

# /info says the same
unset GOMP_SPINCOUNT OMP_WAIT_POLICY EMBP_OPENMP_DEFAULT
start_server --model "$fx/tiny"
curl -s "http://127.0.0.1:$port/info" > "$work/info.json"
grep -q "\"openmp\": *\"GOMP_SPINCOUNT=$default (embp's default" "$work/info.json" \
  || fail "/info does not report embp's default: $(cat "$work/info.json")"
stop_server
echo PASS
