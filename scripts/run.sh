#!/usr/bin/env bash
# `make run`: separates the bundled demo song with the best model this machine has. (When the
# service lands, this starts `msaas up` instead.)
set -euo pipefail
build="${1:-build}"
cd "$(dirname "$0")/.."

models="${MSAAS_MODELS:-$HOME/.cache/msaas/models}"
has_htdemucs() { [ -f "$1/htdemucs.yaml" ] || ls "$1"/955717e8-*.th >/dev/null 2>&1; }

if has_htdemucs "$models"; then
  repo="$models" name=htdemucs
elif has_htdemucs ../shared/models; then
  repo=../shared/models name=htdemucs
else
  repo=tests/data/parity/models name=tinyht1
  echo "run: no htdemucs weights found in $models; using the small random-weight test model" >&2
  echo "run: its stems are not real; fetch the real model with: $build/msaas models pull htdemucs" >&2
fi

echo "run: separating data/demo/demo-song.mp3 with $name from $repo" >&2
"$build/msaas" separate --repo "$repo" -n "$name" -o separated --mp3 data/demo/demo-song.mp3
echo "run: stems are in separated/$name/demo-song/" >&2
