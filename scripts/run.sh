#!/usr/bin/env bash
# `make run`: the whole service on this machine (`msaas up`): a private redis-server, the API and
# page at http://127.0.0.1:8080/ and one worker, with the best model this machine has. Ctrl-C
# stops it. Extra arguments go to `msaas up` (e.g. make run ARGS="--port 9000").
set -euo pipefail
build="${1:-build}"
shift || true
cd "$(dirname "$0")/.."

models="${MSAAS_MODELS:-$HOME/.cache/msaas/models}"
has_htdemucs() { [ -f "$1/htdemucs.yaml" ] || ls "$1"/955717e8-*.th >/dev/null 2>&1; }

args=()
if has_htdemucs "$models"; then
  export MSAAS_MODELS="$models"
elif has_htdemucs ../shared/models; then
  export MSAAS_MODELS="$(cd ../shared/models && pwd)"
else
  export MSAAS_MODELS="$PWD/tests/data/parity/models"
  args+=(--default-model tinyht1)
  echo "run: no htdemucs weights found in $models; using the small random-weight test model" >&2
  echo "run: its stems are not real; fetch the real model with: $build/msaas models pull htdemucs" >&2
fi

exec "$build/msaas" up "${args[@]}" "$@"
