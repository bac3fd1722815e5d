#!/usr/bin/env bash
# Listening while it separates, measured (not a test): starts `msaas up` (private Redis, API, one
# worker) with the real htdemucs, and prints
#  1. for songs of 30 s, 5 min and 20 min: seconds from the end of the upload to the first
#     samples of every stem arriving on its stream (GET /v1/jobs/{id}/stems/{stem}), each job
#     deleted once heard;
#  2. what publishing the parts costs: the worker's separation time of one song with parts
#     (MSAAS_LIVE_PART_SECONDS=5) and without (0), runs interleaved A B A B ..., and the
#     difference of the medians.
# Usage: bench/first_audio.sh [BUILD_DIR] [MODELS_DIR] [COST_SONG_SECONDS] [RUNS]
set -euo pipefail
build="${1:-build}"
models="${2:-../shared/models}"
cost_seconds="${3:-60}"
runs="${4:-3}"
cd "$(dirname "$0")/.."
models="$(cd "$models" && pwd)"
ls "$models"/955717e8-*.th >/dev/null 2>&1 || { echo "first_audio: no htdemucs in $models" >&2; exit 1; }

work="$(mktemp -d)"
up_pid=""
stop_service() {
  if [ -n "$up_pid" ]; then kill -INT "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true; fi
  up_pid=""
}
trap 'stop_service; rm -rf "$work"' EXIT

start_service() {  # MSAAS_LIVE_PART_SECONDS
  rm -rf "$work/var"
  MSAAS_MODELS="$models" MSAAS_LIVE_PART_SECONDS="$1" "$build/msaas" up --port 0 \
    --data "$work/var" --default-model 955717e8 > "$work/up.log" 2>&1 &
  up_pid=$!
  # Up, and its worker has loaded the model (first audio is measured from a ready worker).
  for _ in $(seq 1200); do
    grep -q "ready: models" "$work/var/logs/worker-1.log" 2>/dev/null && break
    sleep 0.1
  done
  url="$(grep -o 'http://[0-9.:]*/' "$work/up.log" | head -1)"
  [ -n "$url" ] || { cat "$work/up.log" >&2; exit 1; }
}

now() { date +%s.%N; }
# A song with some of everything: a beat, a bass line, a chord and a voice-like tone.
song() {  # path, seconds
  ffmpeg -loglevel error -y -f lavfi -i \
    "aevalsrc='0.3*sin(2*PI*55*t)*(1+sin(2*PI*0.5*t))/2+0.2*sin(2*PI*(440+20*sin(2*PI*5*t))*t)+0.15*sin(2*PI*330*t)+0.3*exp(-20*mod(t,0.5))*sin(2*PI*80*t)|0.3*sin(2*PI*55*t)+0.2*sin(2*PI*(440+20*sin(2*PI*5*t))*t)+0.15*sin(2*PI*262*t)+0.3*exp(-20*mod(t,0.5))*sin(2*PI*80*t)':s=44100:d=$2" \
    -c:a libmp3lame -b:a 192k "$1"
}
job_field() { sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" <<<"$1" | tr -d '"'; }
fail() { echo "first_audio: $*" >&2; exit 1; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

first_audio() {  # seconds of song
  local file="$work/song-$1.mp3" id job started t stems
  song "$file" "$1"
  # The worker is free again (the last job was deleted mid-separation).
  for _ in $(seq 600); do curl -sf "${url}v1/queue" | grep -q '"running":0' && break; sleep 0.1; done
  id="$(curl -sf --data-binary @"$file" "${url}v1/jobs?format=wav" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')"
  started="$(now)"
  for _ in $(seq 1200); do
    job="$(curl -sf "${url}v1/jobs/$id")"
    grep -q '"live"' <<<"$job" && break
    sleep 0.05
  done
  grep -q '"live"' <<<"$job" || fail "no live stems within a minute: $job"
  stems="$(grep -o '"name":"[a-z_]*"' <<<"${job#*\"live\"}" | cut -d'"' -f4)"
  local listeners=()
  for stem in $stems; do
    # The header and 1024 frames: the stem is playable.
    # (curl ends at its next write, when the next part comes.)
    curl -sfN --max-time 600 "${url}v1/jobs/$id/stems/$stem" |
      { [ "$(head -c 4140 | wc -c)" = 4140 ] && now > "$work/t-$stem"; } &
    listeners+=($!)
  done
  wait "${listeners[@]}" || true  # curl ends with "write error" once head has had enough
  t=0
  for stem in $stems; do
    [ -s "$work/t-$stem" ] || fail "the $stem stream of a $1 s song broke off"
    t="$(awk -v a="$t" -v b="$(cat "$work/t-$stem")" -v s="$started" 'BEGIN {d = b - s; print (d > a ? d : a)}')"
    rm -f "$work/t-$stem"
  done
  curl -sf -X DELETE "${url}v1/jobs/$id" > /dev/null
  printf '| %s | %.1f |\n' "$(awk -v s="$1" 'BEGIN {printf (s >= 60 ? "%d min" : "%d s"), (s >= 60 ? s / 60 : s)}')" "$t"
}

separation_seconds() {  # part seconds: the worker's separation time of the cost song
  start_service "$1"
  local id job
  id="$(curl -sf --data-binary @"$work/cost.mp3" "${url}v1/jobs?format=wav" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')"
  for _ in $(seq 3000); do
    job="$(curl -sf "${url}v1/jobs/$id")"
    grep -q '"status":"done"' <<<"$job" && break
    sleep 0.2
  done
  stop_service
  grep -q '"status":"done"' <<<"$job" || fail "the cost song did not separate: $job"
  awk -v r="$(job_field "$job" real_time_factor)" -v s="$(job_field "$job" audio_seconds)" 'BEGIN {printf "%.2f", r * s}'
}

echo "first audio of every stem after the upload, one worker, $(nproc) cores, exact mode"
echo "| song | seconds |"
echo "| --- | ---: |"
start_service 5
for seconds in 30 300 1200; do first_audio "$seconds"; done
stop_service

song "$work/cost.mp3" "$cost_seconds"
echo
echo "publishing cost: separation time of a ${cost_seconds} s song, runs interleaved"
echo "| run | with parts (s) | without (s) |"
echo "| --- | ---: | ---: |"
with_runs=() without_runs=()
for run in $(seq "$runs"); do
  with="$(separation_seconds 5)"
  without="$(separation_seconds 0)"
  printf '| %s | %s | %s |\n' "$run" "$with" "$without"
  with_runs+=("$with")
  without_runs+=("$without")
done
a="$(printf '%s\n' "${with_runs[@]}" | median)"
b="$(printf '%s\n' "${without_runs[@]}" | median)"
awk -v a="$a" -v b="$b" 'BEGIN {printf "publishing cost (medians %.2f s and %.2f s): %+.1f %%\n", a, b, 100 * (a - b) / b}'
