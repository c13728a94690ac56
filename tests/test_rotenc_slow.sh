#!/usr/bin/env bash
# test_rotenc_reference at the published models' shapes: ModernBERT as Alibaba-NLP/gte-modernbert-base
# and nomic-ai/modernbert-embed-base (768 hidden, 22 layers, 12 heads, 1152 intermediate, vocab
# 50368), NomicBERT as nomic-ai/nomic-embed-text-v1.5 (768, 12 layers, 12 heads, 3072, vocab
# 30528). Minutes of CPU: only with EMBP_SLOW_TESTS=1, else skipped (77).
set -euo pipefail
if [ "${EMBP_SLOW_TESTS:-}" != 1 ]; then
  echo "SKIP: set EMBP_SLOW_TESTS=1 to run the real-shape ModernBERT / NomicBERT references"
  exit 77
fi
ROTENC_REAL=1 exec bash "$(dirname "$0")/test_rotenc_reference.sh"
