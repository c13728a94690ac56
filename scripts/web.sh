#!/usr/bin/env bash
# Installs the web pages' npm packages (pinned) into build/npm: swagger-ui-dist, whose files the
# build copies into <build>/ui/swagger-ui/ for GET /docs; with --test also playwright-core, which
# tests/test_ui.sh drives Debian's chromium with. Installs Node and npm from apt when absent.
# --ignore-scripts: swagger-ui-dist's dependency @scarf/scarf reports installs over the network
# from its install script; nothing here needs a package's scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs="swagger-ui-dist@5.35.0"
[ "${1:-}" = --test ] && pkgs="$pkgs playwright-core@1.65.1"
if ! command -v npm >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq >&2 || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    nodejs npm >/dev/null
fi
missing=""
for p in $pkgs; do
  name=${p%@*} version=${p##*@}
  have=$(node -p "try { require('$PWD/build/npm/node_modules/$name/package.json').version }
                  catch (e) { '' }" 2>/dev/null || true)
  [ "$have" = "$version" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  mkdir -p build/npm
  SCARF_ANALYTICS=false npm install --prefix build/npm --ignore-scripts --no-audit --no-fund \
    --loglevel=error $missing >&2
fi
echo build/npm
