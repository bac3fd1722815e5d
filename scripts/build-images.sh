#!/usr/bin/env bash
# Builds the service's images with podman from this checkout, tagged with the version in VERSION
# and with version + commit, so an operator can always go back to the previous tag:
#   msaas-api:<version>     msaas-api:<version>-<commit>
#   msaas-worker:<version>  msaas-worker:<version>-<commit>
#   msaas-worker-cuda:...   only with --cuda (downloads the official CUDA libtorch: needs internet)
# Base images come from scripts/setup-containers.sh (made locally where they cannot be pulled).
# Prints each image's build time and size. Usage: scripts/build-images.sh [--cuda] [api|worker ...]
set -euo pipefail
cd "$(dirname "$0")/.."

images=()
for arg in "$@"; do
  case "$arg" in
    --cuda) images+=(worker-cuda) ;;
    api | worker | worker-cuda) images+=("$arg") ;;
    *) echo "build-images: unknown argument $arg (use --cuda, api, worker)" >&2; exit 2 ;;
  esac
done
[ ${#images[@]} -gt 0 ] && [ "${images[*]}" != worker-cuda ] || images=(api worker "${images[@]}")

settings="$(bash scripts/setup-containers.sh)" || exit 1
eval "$settings"  # DEBIAN and NODE
version="$(head -n1 VERSION)"
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
# A build from uncommitted changes must not carry the commit's name.
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain -- . ':!VERSION' 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi

for image in "${images[@]}"; do
  started=$(date +%s)
  echo "build-images: msaas-$image:$version ($revision)" >&2
  podman build --format docker -f "deploy/docker/$image.Dockerfile" \
    --build-arg DEBIAN="$DEBIAN" --build-arg DEBIAN_SLIM="$DEBIAN" --build-arg NODE="$NODE" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -t "msaas-$image:$version" -t "msaas-$image:$version-$revision" . >&2
  size=$(podman image inspect --format '{{.Size}}' "msaas-$image:$version")
  printf 'msaas-%s:%s  built in %ss  %s MB\n' "$image" "$version" "$(($(date +%s) - started))" \
    "$((size / 1000000))"
done
