#!/usr/bin/env bash
# tests/deploy/kube_test.sh: the Kubernetes manifests with the built images, as far as podman
# runs them. deploy/k8s/overlays/local is rendered with `kubectl kustomize`, adapted for podman
# 4.3 by kube_adapt.py (what it changes and why is said there), and played with `podman kube
# play`: the API, the worker, Redis and the S3 peer in MinIO's place, with the ConfigMap, the
# S3 credentials as podman secrets (the form podman reads secretKeyRef from), the API keys file
# and PVCs. Then every probe of the manifests is run until it passes, every container is
# checked to be non-root, and one song goes through with an API key.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
source tests/deploy/lib.sh

# kubectl renders the overlays; Debian 12's archive has none, so without it this part is skipped,
# and says so (the compose test still runs).
if ! command -v kubectl >/dev/null; then
  echo "kube: skipped: kubectl is not installed (not in Debian 12's archive)" >&2
  summary kube
  exit 0
fi

version="$(head -n1 VERSION)"
scratch="$(mktemp -d)"
pick_models
key="kubetest-$(openssl rand -hex 16)"

cleanup() {
  if [ "$failed" -gt 0 ]; then
    for c in msaas-api msaas-worker msaas-redis msaas-minio; do
      echo "--- log of $c" >&2
      podman logs --tail 30 "$c" >&2 2>&1
    done
  fi
  [ -f "$scratch/pod.yaml" ] && podman kube down "$scratch/pod.yaml" >/dev/null 2>&1
  podman volume rm -f msaas-redis-data msaas-minio-data >/dev/null 2>&1
  podman secret rm msaas-s3-credentials >/dev/null 2>&1
  rm -rf "$scratch"
}
trap cleanup EXIT

# The test plays the manifests under their own names (pod msaas, secret msaas-s3-credentials,
# volumes msaas-*-data): where any of these exists already, it is someone's, and left alone.
for taken in "pod exists msaas" "secret inspect msaas-s3-credentials" \
  "volume exists msaas-redis-data" "volume exists msaas-minio-data"; do
  if podman $taken >/dev/null 2>&1; then
    echo "kube: podman $taken: already there, not touching it" >&2
    trap - EXIT
    rm -rf "$scratch"
    failed=1
    summary kube
    exit 1
  fi
done

# Render, and say kind by kind what is run here and what is only rendered.
kubectl kustomize deploy/k8s/overlays/local >"$scratch/rendered.yaml"
check "the local overlay renders" test -s "$scratch/rendered.yaml"
echo "kube: rendered $(grep -c '^kind:' "$scratch/rendered.yaml") objects:" \
  "$(grep '^kind:' "$scratch/rendered.yaml" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}')"

# The secrets the operator creates (docs/deploy.md): S3 credentials and the API keys file.
access="kube/$(openssl rand -hex 4)+key"
secret="$(openssl rand -hex 12)/+$(openssl rand -hex 6)"
printf '{"access-key":"%s","secret-key":"%s"}' "$(printf %s "$access" | base64 -w0)" \
  "$(printf %s "$secret" | base64 -w0)" >"$scratch/s3.json"
podman secret rm msaas-s3-credentials >/dev/null 2>&1
podman secret create msaas-s3-credentials "$scratch/s3.json" >/dev/null
rm "$scratch/s3.json"
mkdir -p "$scratch/keys/msaas-api-keys"
echo "test:$key" >"$scratch/keys/msaas-api-keys/keys"
chmod -R a+rX "$scratch/keys"

# The manifests call the worker's model htdemucs; where only the test model is here, say so.
sed -i "s/MSAAS_DEFAULT_MODEL: htdemucs/MSAAS_DEFAULT_MODEL: $model/" "$scratch/rendered.yaml"
/usr/bin/python3 tests/deploy/kube_adapt.py "$scratch/rendered.yaml" "$scratch/pod.yaml" \
  "$scratch/probes.jsonl" "$version" "$models_dir" "$scratch/keys"
# podman without systemd cannot schedule health check timers and says so on every start; the
# probes are run below instead.
play() { podman kube play "$scratch/pod.yaml" >"$scratch/play.log" 2>&1 || { cat "$scratch/play.log" >&2; false; }; }
check "the adapted manifests play" play

api_get() { podman exec msaas-api curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:8080$1"; }
ready() { podman exec msaas-api curl -fsS http://127.0.0.1:8080/readyz; }
check "the API is ready (Redis and the S3 peer reached by their Service names)" wait_until 120 ready

# run_probe JSON: runs one probe of the manifests the way the kubelet would.
run_probe() {
  local line="$1" container kind
  container="msaas-$(echo "$line" | json_field container)"
  /usr/bin/python3 - "$line" >"$scratch/probe.sh" <<'EOF'
import json, shlex, sys
p = json.loads(sys.argv[1])["probe"]
if "exec" in p:
    print(" ".join(shlex.quote(a) for a in p["exec"]["command"]))
elif "httpGet" in p:
    print(f"curl -fsS -o /dev/null http://127.0.0.1:{p['httpGet']['port']}{p['httpGet']['path']}")
elif "tcpSocket" in p:
    print(f"bash -c 'echo > /dev/tcp/127.0.0.1/{p['tcpSocket']['port']}'")
EOF
  case "$(cat "$scratch/probe.sh")" in
    curl* | bash*) eval "podman exec msaas-api $(cat "$scratch/probe.sh")" ;;  # from the pod's network
    *) eval "podman exec $container $(cat "$scratch/probe.sh")" ;;
  esac
}
while read -r line; do
  what="$(echo "$line" | json_field container) $(echo "$line" | json_field kind)"
  check "probe passes: $what" wait_until 180 run_probe "$line"
done <"$scratch/probes.jsonl"
for c in msaas-api msaas-worker msaas-redis msaas-minio; do
  check "$c runs as a non-root user" non_root "$c"
done

# One song through, with the API key the Secret holds.
make_song "$scratch/song.mp3" 10 128k
id="$(podman exec -i msaas-api curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: audio/mpeg' \
  --data-binary @- http://127.0.0.1:8080/v1/jobs <"$scratch/song.mp3" | json_field id)"
check "upload accepted with the key" test -n "$id"
unkeyed() { [ "$(podman exec msaas-api curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:8080/v1/jobs/$id")" = 401 ]; }
check "without a key: 401" unkeyed
is_done() { [ "$(api_get "/v1/jobs/$id" | json_field status)" = done ]; }
check "the job finishes in the worker container" wait_until 600 is_done
for stem in vocals drums bass other; do
  api_get "/v1/jobs/$id/stems/$stem" >"$scratch/$stem.mp3"
  check "stem $stem: downloaded, 10 s of audio" duration_close "$scratch/$stem.mp3" 10
done

summary kube
