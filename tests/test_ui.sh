#!/usr/bin/env bash
# The web pages in headless Chromium: tests/ui_browser.mjs drives Debian's chromium with npm's
# playwright-core against `embp serve` (/docs and its "try it", the playground's heatmaps
# against the peer's and the API's cosines, no request off the server's origin); screenshots in
# <build>/test-artifacts/. Skipped (77), naming what is missing, without chromium (apt:
# scripts/setup-test.sh), playwright-core or Swagger UI (scripts/web.sh --test), and in the
# sanitizer tree (test_static checks the file server there; a browser adds nothing to it).
set -euo pipefail
bin=${EMBP_BIN:?EMBP_BIN: the embp binary}
fx=${EMBP_FIXTURES:?EMBP_FIXTURES: the fixtures folder}
src=${EMBP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
build=$(cd "$(dirname "$bin")" && pwd)
modules=${EMBP_NPM:-$src/build/npm}/node_modules
skip() { echo "embp-skip: test_ui: $*"; exit 77; }
[ -n "${EMBP_TEST_SANITIZER:-}" ] && skip "the release tree runs the browser; test_static checks the file server under the sanitizers"
[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium: scripts/setup-test.sh does)"
command -v node >/dev/null || skip "no node (scripts/setup-test.sh installs it)"
[ -f "$modules/playwright-core/package.json" ] || skip "no playwright-core in $modules (scripts/web.sh --test)"
[ -f "$build/ui/swagger-ui/swagger-ui-bundle.js" ] ||
  skip "no Swagger UI in $build/ui/swagger-ui (scripts/web.sh, then rebuild: the build copies it)"
exec node "$src/tests/ui_browser.mjs" "$bin" "$fx/tiny" "$fx/tiny.peer.jsonl" "$modules" \
  "$build/test-artifacts"
