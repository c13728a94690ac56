#!/usr/bin/env bash
# Installs the test dependencies (the reference tools' numpy/onnx, Node for the ONNX Runtime peer,
# clang for the fuzzers, chromium and npm's playwright-core for the web pages' browser test),
# then builds a release tree (build/) and a sanitizer tree (build-san/), then the Python venv
# build/venv with sentence-transformers and the real all-MiniLM-L6-v2 that
# tests/test_st_reference.sh compares embp against (without PyPI that test is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
pkgs="build-essential cmake pkg-config libdnnl-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev
      libcurl4-openssl-dev libssl-dev python3-venv libpcre2-dev
      libcmocka-dev python3-numpy python3-onnx nodejs npm curl ca-certificates haproxy
      clang-14 libclang-rt-14-dev libomp-14-dev chromium"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
command -v node >/dev/null && command -v npm >/dev/null && missing=${missing//nodejs/} && missing=${missing//npm/}
missing=$(echo $missing)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
./scripts/web.sh --test >/dev/null || # before the build, which copies Swagger UI's files
  echo "setup-test: no swagger-ui-dist/playwright-core (npm unreachable?): test_ui will be skipped" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBP_SANITIZE=address,undefined \
  -DEMBP_FIXTURES_DIR="$PWD/build/fixtures" >/dev/null
cmake --build build-san -j"$(nproc)"
./scripts/venv.sh --reference >/dev/null ||
  echo "setup-test: no sentence-transformers venv (PyPI unreachable?): test_st_reference will be skipped" >&2
./scripts/venv.sh --clients >/dev/null ||
  echo "setup-test: no TEI/LangChain clients in build/venv (PyPI unreachable?): test_clients will be skipped" >&2
./scripts/get-model.sh >/dev/null ||
  echo "setup-test: the real all-MiniLM-L6-v2 is not here: test_st_reference will be skipped" >&2
