# tests/deploy/lib.sh: the little the deployment tests share: counted checks, waiting, JSON
# fields, a summary line ("N passed, N failed") and the songs they upload. Sourced, not run.

passed=0
failed=0

# check "what" command...: runs the command; counts and prints the outcome.
check() {
  local what="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "  ok    $what"
  else
    failed=$((failed + 1))
    echo "  FAIL  $what" >&2
  fi
}

# wait_until SECONDS command...: true once the command succeeds, false after SECONDS. Polls
# every POLL_SECONDS (default 1).
wait_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep "${POLL_SECONDS:-1}"
  done
}

# non_root CONTAINER: it answers, and not as uid 0.
non_root() {
  local uid
  uid="$(podman exec "$1" id -u 2>/dev/null)" && [[ "$uid" =~ ^[0-9]+$ ]] && [ "$uid" != 0 ]
}

# json_field FIELD: reads JSON on stdin, prints one top-level field ("" when absent).
json_field() {
  python3 -c 'import json,sys
try: v = json.load(sys.stdin).get(sys.argv[1], "")
except Exception: v = ""
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_song OUT SECONDS BITRATE: an MP3 made from the demo song (looped), so that each test
# upload is a different file (a different job) of a known length.
make_song() {
  ffmpeg -v error -y -stream_loop -1 -i "$repo/data/demo/demo-song.mp3" -t "$2" -b:a "$3" "$1"
}

# duration_close FILE SECONDS: the decoded length is within half a second of SECONDS.
duration_close() {
  local d
  d="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$1" 2>/dev/null)"
  [ -n "$d" ] && python3 -c "import sys; sys.exit(abs($d - $2) > 0.5)"
}

# The real htdemucs where ../shared/models has it (as on the developers' machines and CI),
# else the small test model the suite ships. long_song: seconds of audio that keep a worker
# separating well past the 4 s grace period, so that it can be stopped or killed mid-job.
pick_models() {
  local shared
  shared="$(cd "$repo/.." && pwd)/shared/models"
  if compgen -G "$shared/955717e8-*.th" >/dev/null; then
    models_dir="$shared"
    model=htdemucs
    long_song=40
  else
    models_dir="$repo/tests/data/parity/models"
    model=tinyht1
    long_song=600
    echo "no real htdemucs in $shared: using the test model tinyht1" >&2
  fi
}

summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
