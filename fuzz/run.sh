#!/usr/bin/env bash
# Builds the fuzz targets with clang (build-fuzz/) and runs each for SECONDS (default 30) from
# its seed corpus in fuzz/corpus/<target>. New inputs that find new paths go to a scratch
# folder, not into the repository; a crash leaves its input in build-fuzz/ and fails the run.
# With RUNS, each target runs exactly that many inputs from a fixed seed: the same inputs every
# time, which is what the test suite uses (a CI run must not pass or fail by chance).
# Usage: fuzz/run.sh [SECONDS] [RUNS]
set -euo pipefail
seconds="${1:-30}"
limits=(-max_total_time="$seconds")
[ -n "${2:-}" ] && limits+=(-runs="$2" -seed=1)
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed" >&2; exit 1; }
[ -f "$build/build.ninja" ] || CXX=clang++ CC=clang cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSAAS_FUZZ=ON >/dev/null
cmake --build "$build" -j2 --target pickle_fuzz audio_fuzz request_fuzz
for target in pickle_fuzz audio_fuzz request_fuzz; do
  scratch="$(mktemp -d)"
  echo "fuzz: $target for ${seconds} s"
  if ! (cd "$build" && ./$target "${limits[@]}" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 "$scratch" "$root/fuzz/corpus/${target%_fuzz}" \
      > "$build/$target.log" 2>&1); then
    # The report's first lines name the fault and its threads' stacks; the tail names the input.
    first="$(grep -n -m1 -E 'ERROR: |ALARM: |deadly signal' "$build/$target.log" | cut -d: -f1 || true)"
    [ -n "$first" ] && sed -n "${first},$((first + 40))p" "$build/$target.log" | cut -c1-300 >&2
    tail -8 "$build/$target.log" >&2
    echo "fuzz: $target found a failure (input saved in $build)" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^Done" "$build/$target.log" || true
  rm -rf "$scratch"
done
