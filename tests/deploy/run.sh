#!/usr/bin/env bash
# tests/deploy/run.sh (`make deploy-test`): the deployment for real. Builds the test stand-in
# images (Redis from Debian, the signature-checking S3 peer), then runs, against the images
# `make images` built: compose_test.sh (deploy/compose.yaml under podman-compose) and
# kube_test.sh (the rendered Kubernetes manifests under podman kube play). Ends with one line
# "deploy-test: N passed, N failed"; exits non-zero when anything failed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
settings="$(bash scripts/setup-containers.sh)" || exit 1
eval "$settings"  # DEBIAN and NODE base images
version="$(head -n1 VERSION)"

build() {
  local started=$(date +%s)
  podman build -q --format docker "$@" >/dev/null || { echo "deploy-test: cannot build $*" >&2; exit 1; }
  echo "deploy-test: built ${*: -2:1} in $(($(date +%s) - started))s"
}
build -f tests/deploy/redis.Dockerfile --build-arg DEBIAN="$DEBIAN" \
  -t "localhost/msaas-test/redis:$version" .
build -f tests/deploy/s3peer.Dockerfile --build-arg NODE="$NODE" \
  -t "localhost/msaas-test/s3peer:$version" .

passed=0
failed=0
for test in compose_test.sh kube_test.sh; do
  started=$(date +%s)
  log="$(mktemp)"
  bash "tests/deploy/$test" | tee "$log"
  line="$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)"
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "deploy-test: $test ended without its summary" >&2
    failed=$((failed + 1))
    continue
  fi
  read -r p f <<<"$(echo "$line" | sed -E 's/^[a-z-]+: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')"
  passed=$((passed + p))
  failed=$((failed + f))
  echo "deploy-test: $test took $(($(date +%s) - started))s"
done
echo "deploy-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
