#!/usr/bin/env bash
# Installs what embp needs on Debian bookworm, builds it into build/, and makes sure there is a
# model to serve: $EMB_PROVIDER_MODEL_PATH, the Hugging Face cache's all-MiniLM-L6-v2, or else a
# demo model (MiniLM's real shapes and tokenizer, seeded random weights: vectors carry no meaning).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
if ! dpkg -s libdnnl-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev libcurl4-openssl-dev \
     libssl-dev cmake gcc >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config libdnnl-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev \
    libcurl4-openssl-dev libssl-dev libcmocka-dev curl ca-certificates >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
if [ -z "${EMB_PROVIDER_MODEL_PATH:-}" ] && ! ./build/embp info >/dev/null 2>&1; then
  ./build/embp demo-model models/demo-all-MiniLM-L6-v2
fi
