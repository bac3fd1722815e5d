#!/usr/bin/env bash
# Renders every Kubernetes overlay with `kubectl kustomize` and validates the objects and
# deploy/compose.yaml (validate.mjs). Run by the test suite; needs kubectl and Node.js.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deploy="$(dirname "$here")"
command -v kubectl >/dev/null || { echo "validate: kubectl is not installed" >&2; exit 1; }
[ -d "$here/node_modules" ] || npm ci --prefix "$here" --no-audit --no-fund >&2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
args=()
for overlay in "$deploy"/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  args+=("$name=$out/$name.yaml")
done
node "$here/validate.mjs" "${args[@]}" --compose "$deploy/compose.yaml"
