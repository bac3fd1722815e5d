#!/usr/bin/env bash
# Load test of the API with wrk (Debian's `wrk`), not a unit test: starts `msaas up` (private
# Redis, API, one worker, the small test model), finishes one job to have stems to download,
# keeps the worker busy with a long song, then hammers the status route and a stem download
# (with Range) and prints requests/s, latency percentiles and errors for each.
# Usage: bench/load_test.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -euo pipefail
build="${1:-build}"
seconds="${2:-15}"
connections="${3:-32}"
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "load test: install wrk (apt-get install wrk)" >&2; exit 1; }

work="$(mktemp -d)"
up_pid=""
cleanup() {
  [ -n "$up_pid" ] && kill -INT "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

MSAAS_MODELS="$PWD/tests/data/parity/models" "$build/msaas" up --port 0 --data "$work/var" \
  --default-model tinyht1 > "$work/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 100); do grep -q "MSaaS is up" "$work/up.log" && break; sleep 0.1; done
url="$(grep -o 'http://[0-9.:]*/' "$work/up.log")"
[ -n "$url" ] || { cat "$work/up.log" >&2; exit 1; }

tone() { ffmpeg -loglevel error -y -f lavfi -i "sine=f=$2:d=$3" -ac 2 -c:a libmp3lame "$1"; }
tone "$work/short.mp3" 330 20
tone "$work/long.mp3" 220 1200
job="$(curl -sf --data-binary @"$work/short.mp3" "${url}v1/jobs" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')"
for _ in $(seq 300); do
  curl -sf "${url}v1/jobs/$job" | grep -q '"status":"done"' && break
  sleep 0.2
done
curl -sf --data-binary @"$work/long.mp3" "${url}v1/jobs" > /dev/null  # keeps the worker busy

cat > "$work/range.lua" <<'LUA'
wrk.headers["Range"] = "bytes=0-65535"
LUA

run() {  # name, path, extra wrk args
  local out
  out="$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "${@:3}" "${url}${2#/}")"
  local rps p50 p90 p99 errors
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p90="$(awk '$1 == "90%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p90" "$p99" "$errors"
}

echo "wrk: ${seconds} s per route, 2 threads, ${connections} connections, while a worker separates"
echo "| route | requests/s | p50 | p90 | p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
run "GET /v1/jobs/{id}" "/v1/jobs/$job"
run "GET /v1/jobs/{id}/stems/vocals (64 KiB range)" "/v1/jobs/$job/stems/vocals" -s "$work/range.lua"
run "GET /v1/queue" "/v1/queue"
running="$(curl -sf "${url}v1/queue" | grep -o '"running":[0-9]*')"
echo "during the run: $running"
