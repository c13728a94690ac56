#!/usr/bin/env bash
# `cmake --install` of this build tree into a temporary prefix: the installed binary, with no
# ui/ beside it and no EMB_PROVIDER_UI_DIR, serves the web pages from <prefix>/share/embp/ui
# (/docs, its script, the playground), each byte for byte the source's ui/ file, and Swagger
# UI's files as the build copied them; with that folder removed the same binary answers /docs
# with the 404 that says the pages are not installed (so they came from there). Without Swagger
# UI in the build (scripts/web.sh, then rebuild) the rest is checked and the test exits 77.
. "$(dirname "$0")/lib.sh"
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
build=$(cd "$(dirname "$bin")" && pwd)
command -v curl >/dev/null || fail "no curl (scripts/setup-test.sh installs it)"
make_work
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install $build --prefix $prefix failed"; }
bin=$prefix/bin/embp
[ -x "$bin" ] || fail "cmake --install put no embp in $prefix/bin"
[ ! -e "$prefix/bin/ui" ] || fail "$prefix/bin/ui exists: the installed binary would not look in share/"
unset EMB_PROVIDER_UI_DIR

# get URL FILE: GET URL must answer 200 with FILE's bytes.
get() {
  local code
  code=$(curl -s -o "$work/got" -w '%{http_code}' "http://127.0.0.1:$port$1")
  [ "$code" = 200 ] || fail "GET $1 from the installed server: $code $(head -c 300 "$work/got")"
  cmp -s "$work/got" "$2" || fail "GET $1: not the bytes of $2"
}

start_server --model "$fx/tiny"
get /docs "$src/ui/docs.html"
get /ui/docs.js "$src/ui/docs.js"
get / "$src/ui/index.html"
get /ui/playground.js "$src/ui/playground.js"
curl -sf -o /dev/null "http://127.0.0.1:$port/openapi.json" || fail "GET /openapi.json"
swagger=0
if [ -f "$build/ui/swagger-ui/swagger-ui-bundle.js" ]; then
  swagger=1
  # every Swagger UI file docs.html loads
  for f in $(grep -oE '/ui/swagger-ui/[A-Za-z0-9._-]+' "$src/ui/docs.html" | sort -u); do
    get "$f" "$build/ui/${f#/ui/}"
  done
fi
stop_server

rm -rf "$prefix/share/embp/ui"
start_server --model "$fx/tiny"
code=$(curl -s -o "$work/got" -w '%{http_code}' "http://127.0.0.1:$port/docs")
[ "$code" = 404 ] && grep -q 'not installed' "$work/got" ||
  fail "with share/embp/ui removed, GET /docs answered $code: $(head -c 300 "$work/got")"
stop_server
if [ "$swagger" = 0 ]; then
  echo "SKIP: no Swagger UI in $build/ui/swagger-ui (scripts/web.sh, then rebuild): the pages' own files were checked"
  exit 77
fi
echo "PASS: the installed embp serves /docs, its Swagger UI files and the playground from $prefix/share/embp/ui"
