#!/usr/bin/env bash
# Rerankers (cross-encoders) against transformers: random AutoModelForSequenceClassification
# models at the shapes of cross-encoder/ms-marco-MiniLM-L-6-v2 (BERT) and BAAI/bge-reranker-base
# (XLM-RoBERTa; 2 of its 12 layers unless EMBP_SLOW_TESTS=1) and a small DistilBERT, scored by
# transformers and by embp's POST /rerank and /v1/rerank under fp32, bf16, int8 and int4: see
# tests/rerank_reference.py. The reference is the venv that scripts/venv.sh --reference makes
# in build/venv; without it the test is skipped (77), never passed.
. "$(dirname "$0")/lib.sh"
fixtures=${EMBP_FIXTURES:?}
need_venv 'import torch, transformers, sentencepiece, google.protobuf' transformers/sentencepiece
make_work
# OMP_WAIT_POLICY=PASSIVE: OpenMP threads sleep instead of spinning between parallel regions;
# beside other tests (ctest -j) a spinning team burned 10x the CPU of the work (measured: an
# embp serve load took 12.9 s of CPU under load 30, 1.2 s passive). Only speed depends on it.
OMP_WAIT_POLICY=PASSIVE run_reference rerank_reference.py "$bin" "$work" "$src" "$fixtures"
