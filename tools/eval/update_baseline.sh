#!/usr/bin/env bash
# Remakes tests/data/quality/baseline-quick.json, the quality gate's reference: the real
# htdemucs on the quick subset, shifts 0 (what tests/quality_gate_test.cpp runs). Run it when
# the evaluation set's script changes, or when a deliberate change moves the figures (say why in
# the commit).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BUILD:-build}"
models="${1:-../shared/models}"
/usr/bin/python3 tools/eval/make_eval_set.py --out "$build/eval-quick" --subset quick
"$build/msaas" eval "$build/eval-quick" --repo "$models" -n htdemucs --shifts 0 -j 2 \
  --json tests/data/quality/baseline-quick.json
