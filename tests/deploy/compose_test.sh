#!/usr/bin/env bash
# tests/deploy/compose_test.sh: deploy/compose.yaml for real, with the built images (make images)
# and the test-only override tests/deploy/compose.test.yaml (S3 peer checking signatures in place
# of MinIO, Debian's Redis). Through the published API port: a song separated by the worker
# container, its stems downloaded, the log read from the Redis container; a worker stopped
# (SIGTERM) mid-job hands its job back within the grace period and the second worker finishes
# it; a worker killed (SIGKILL) mid-job loses it to the reaper and the job still finishes. Every
# container non-root and healthy. Faults: a worker without its models stays up, not ready, and
# says which file it needs; an API with the wrong S3 secret, started before its Redis, stays up
# with /readyz 503 and the reason in its log.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
source tests/deploy/lib.sh

version="$(head -n1 VERSION)"
project=msaasdeploytest
scratch="$(mktemp -d)"
pick_models
export MSAAS_VERSION="$version" MSAAS_TEST_MODELS="$models_dir" MSAAS_TEST_MODEL="$model"
# Awkward credentials on purpose: '/' and '+' in both, a region other than us-east-1.
export MSAAS_S3_ACCESS_KEY="msaas/$(openssl rand -hex 4)+key"
export MSAAS_S3_SECRET_KEY="$(openssl rand -hex 12)/se+cret/$(openssl rand -hex 6)"
export MSAAS_S3_REGION=eu-west-3
export MSAAS_PUBLISH_PORT="$(free_port)"
api="http://127.0.0.1:$MSAAS_PUBLISH_PORT"
compose=(podman-compose -p "$project" -f deploy/compose.yaml -f tests/deploy/compose.test.yaml)
container() { echo "${project}_$1_1"; }
workers=("$(container worker)" "$(container worker-2)")

cleanup() {
  if [ "$failed" -gt 0 ]; then
    for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
      echo "--- log of $c" >&2
      podman logs --tail 30 "$c" >&2 2>&1
    done
  fi
  podman rm -f msaas-deploytest-nomodels msaas-deploytest-api msaas-deploytest-redis >/dev/null 2>&1
  "${compose[@]}" down -v >/dev/null 2>&1
  rm -rf "$scratch"
}
trap cleanup EXIT

echo "compose: models $model from $models_dir, API on $api"
"${compose[@]}" down -v >/dev/null 2>&1
if ! "${compose[@]}" up -d redis minio buckets api worker worker-2 >"$scratch/up.log" 2>&1; then
  cat "$scratch/up.log" >&2
  failed=1
  summary compose
  exit 1
fi

ready() { curl -fsS "$api/readyz" >/dev/null; }
check "the API answers /readyz on the published port" wait_until 120 ready
healthy() { podman healthcheck run "$1" && [ "$(podman inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
for name in redis minio api worker worker-2; do
  check "$name: health check turns healthy" wait_until 180 healthy "$(container "$name")"
done
for name in redis minio api worker worker-2; do
  check "$name: runs as a non-root user" non_root "$(container "$name")"
done
buckets_done() { [ "$(podman inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(container buckets)")" = "exited 0" ]; }
check "buckets: made with signed requests, exited 0" wait_until 60 buckets_done

# submit FILE: posts a song, prints the job id; without one, the checks that follow cannot run.
submit() { curl -fsS -F "file=@$1" "$api/v1/jobs" | json_field id; }
need_id() {
  [ -n "$1" ] && return
  echo "  FAIL  upload refused: $(curl -sS -F "file=@$2" "$api/v1/jobs")" >&2
  failed=$((failed + 1))
  summary compose
  exit 1
}
status_of() { curl -fsS "$api/v1/jobs/$1" | json_field status; }
is_done() { [ "$(status_of "$1")" = done ]; }
separating() { [ "$(curl -fsS "$api/v1/jobs/$1" | json_field stage)" = separating ]; }
logging() { podman exec "$(container redis)" redis-cli LRANGE logging 0 -1; }
in_logging() { logging | grep -F "$1" >/dev/null; }
# The worker container whose log mentions job $1.
holder_of() {
  local w
  for w in "${workers[@]}"; do podman logs "$w" 2>&1 | grep -F "job $1:" >/dev/null && echo "$w"; done | head -n1
}

# One song through the whole stack.
make_song "$scratch/short.mp3" 12 128k
id="$(submit "$scratch/short.mp3")"
need_id "$id" "$scratch/short.mp3"
check "the job finishes in a worker container" wait_until 600 is_done "$id"
for stem in vocals drums bass other; do
  curl -fsS -o "$scratch/$stem.mp3" "$api/v1/jobs/$id/stems/$stem"
  check "stem $stem: downloaded, 12 s of audio" duration_close "$scratch/$stem.mp3" 12
done
check "the logging list in the Redis container has the job's lines" in_logging "job $id done"

# start_long_job NAME BITRATE: submits a long song (a new job: each bitrate is another file) and
# waits until a worker separates it; sets id and holder (that worker's container).
start_long_job() {
  make_song "$scratch/$1.mp3" "$long_song" "$2"
  id="$(submit "$scratch/$1.mp3")"
  need_id "$id" "$scratch/$1.mp3"
  POLL_SECONDS=0.2 check "$1: separating" wait_until 300 separating "$id"
  holder="$(holder_of "$id")"
  check "$1: a worker container holds it" test -n "$holder"
}

# SIGTERM mid-job: the job is handed back within the grace period, then done by the other worker.
start_long_job second-job 128k
stopped="$holder"
started=$(date +%s)
podman stop -t 30 "$stopped" >/dev/null 2>&1
took=$(($(date +%s) - started))
check "stopped worker exits within its grace period (${took}s)" test "$took" -le 15
check "it handed the job back" in_logging "job $id: grace period over, handed back"
check "the job is finished after the hand-back" wait_until 600 is_done "$id"
other="$(for w in "${workers[@]}"; do [ "$w" != "$stopped" ] && echo "$w"; done)"
finished_by_other() { podman logs "$other" 2>&1 | grep -F "job $id done" >/dev/null; }
check "the other worker finished it" finished_by_other
podman start "$stopped" >/dev/null 2>&1
check "the stopped worker comes back healthy" wait_until 180 healthy "$stopped"

# SIGKILL mid-job: the lease runs out, the reaper puts the job back, another run finishes it.
start_long_job third-job 96k
killed="$holder"
reaped() { logging | grep -c "job(s) of stopped workers"; }
reaped_before="$(reaped)"
podman kill -s KILL "$killed" >/dev/null 2>&1
reaped_more() { [ "$(reaped)" -gt "$reaped_before" ]; }
check "the reaper returns the killed worker's job" wait_until 60 reaped_more
check "the job is finished after the kill" wait_until 600 is_done "$id"

# The image's `msaas` (init containers run `msaas models pull` with it) is the launcher: it must
# find the msaas-cli it starts beside it.
cli_runs() {
  podman run --rm --entrypoint /usr/local/bin/msaas "msaas-worker:$version" \
    models list --repo /var/lib/msaas/models 2>&1 | grep "^Models in /var/lib/msaas/models" >/dev/null
}
check "the worker image's msaas command runs msaas-cli" cli_runs

# A worker without its models: alive, not ready, and says which file it needs and where.
podman inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(container worker)" |
  grep '^MSAAS_' | grep -v '^MSAAS_MODELS=' >"$scratch/worker.env"
podman run -d --name msaas-deploytest-nomodels --network "${project}_default" \
  --env-file "$scratch/worker.env" -e MSAAS_MODELS=/var/lib/msaas/models \
  -e MSAAS_DEFAULT_MODEL=htdemucs "msaas-worker:$version" >/dev/null 2>&1
says_missing() { podman logs msaas-deploytest-nomodels 2>&1 | grep "it needs 955717e8" >/dev/null; }
check "worker without models names the file it needs" wait_until 60 says_missing
alive_unready() {
  [ "$(podman inspect -f '{{.State.Status}}' msaas-deploytest-nomodels)" = running ] &&
    ! podman healthcheck run msaas-deploytest-nomodels >/dev/null 2>&1
}
sleep 12  # past the worker's next look for its model
check "it stays up and not ready (no crash loop)" alive_unready

# An API with the wrong S3 secret, started before its Redis exists: up, /readyz 503 with
# the reason in its log; ready on Redis's side once Redis is there.
podman inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(container api)" |
  grep '^MSAAS_' | grep -v '^MSAAS_S3_SECRET_KEY=\|^MSAAS_REDIS_URL=' >"$scratch/api.env"
podman run -d --name msaas-deploytest-api --network "${project}_default" --env-file "$scratch/api.env" \
  -e MSAAS_S3_SECRET_KEY=wrong/secret+1 -e MSAAS_REDIS_URL=redis://msaas-deploytest-redis:6379 \
  "msaas-api:$version" >/dev/null 2>&1
readyz() { podman exec msaas-deploytest-api curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/readyz; }
refused() { [ "$(readyz)" = 503 ]; }
check "API with wrong credentials answers /readyz 503" wait_until 30 refused
says_why() { podman logs msaas-deploytest-api 2>&1 | grep SignatureDoesNotMatch >/dev/null; }
check "its log says why (SignatureDoesNotMatch)" wait_until 30 says_why
podman run -d --name msaas-deploytest-redis --network "${project}_default" \
  "localhost/msaas-test/redis:$version" >/dev/null 2>&1
redis_ok() { podman exec msaas-deploytest-api curl -s http://127.0.0.1:8080/readyz | grep '"redis":"ok"' >/dev/null; }
check "it finds Redis once Redis is up" wait_until 30 redis_ok
storage_refused() {
  podman exec msaas-deploytest-api curl -s http://127.0.0.1:8080/readyz | grep SignatureDoesNotMatch >/dev/null &&
    refused
}
check "and still answers 503 for the storage, with S3's reason" storage_refused
running() { [ "$(podman inspect -f '{{.State.Status}}' msaas-deploytest-api)" = running ]; }
check "the API container is still running" running

summary compose
