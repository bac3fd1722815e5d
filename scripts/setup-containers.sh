#!/usr/bin/env bash
# Sets up what building and running MSaaS's container images needs on a Debian 12 machine, and
# does nothing that is already done (safe to run before every `make images`):
#  1. podman, runc, buildah, podman-compose, debootstrap, the CNI dnsname plugin (and what the
#     deployment tests use: python3-yaml, openssl) from apt;
#  2. the base images the Dockerfiles are built FROM, made locally when they cannot be pulled:
#     Debian 12 by `debootstrap --variant=minbase bookworm` from this machine's apt mirror, and a
#     Node.js image (Debian's nodejs + npm) for the page's assets and the test S3 peer. They get
#     names of their own (localhost/msaas-base/...), never an upstream image's name;
#  3. on machines where podman's defaults cannot start a container (crun refusing a mixed cgroup
#     layout, no systemd or journald, root not allowed to raise its limits), the settings that
#     work, in /etc/containers/containers.conf.
# Prints the two base image names as shell assignments (DEBIAN=... NODE=...) on stdout.
# Needs root (or sudo): it installs packages, runs debootstrap and writes /etc/containers; the
# images it makes live in root's podman storage (rootless podman is not set up here).
set -euo pipefail

debian_image="${MSAAS_BASE_DEBIAN:-localhost/msaas-base/debian:bookworm}"
node_image="${MSAAS_BASE_NODE:-localhost/msaas-base/node:bookworm}"
say() { echo "setup-containers: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=() p
  # dnsname: containers on a podman network (CNI) find each other by service name. python3-yaml
  # and openssl: the deployment tests (tests/deploy) adapt manifests and make credentials.
  for p in podman runc buildah podman-compose debootstrap \
    golang-github-containernetworking-plugin-dnsname catatonit python3-yaml openssl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
}

# The first Debian archive this machine's apt uses (deb822 or one-line format).
apt_mirror() {
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
    grep -v security | head -n1 || true)"
  [ -n "$uri" ] || uri="$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{print $2}' | grep -v security | head -n1 || true)"
  [ -n "$uri" ] || { say "no Debian archive found in /etc/apt"; exit 1; }
  echo "$uri"
}

have_image() { podman image exists "$1" 2>/dev/null; }

make_debian_image() {
  have_image "$debian_image" && return
  timeout 120 podman pull -q docker.io/library/debian:12 >/dev/null 2>&1 &&
    { podman tag docker.io/library/debian:12 "$debian_image"; return; }
  local mirror
  mirror="$(apt_mirror)"
  # Global, not local: the EXIT trap must still see it when `set -e` ends the script.
  root="$(mktemp -d /var/tmp/msaas-rootfs.XXXXXX)"
  trap 'as_root rm -rf "$root"' EXIT
  say "making $debian_image with debootstrap from $mirror (a few minutes)"
  as_root debootstrap --variant=minbase bookworm "$root" "$mirror" >&2 ||
    { say "debootstrap failed"; exit 1; }
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # Imported images have no environment, and `podman kube play` adds none: give them PATH.
  as_root tar -C "$root" -c . | podman import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$debian_image" >/dev/null
  as_root rm -rf "$root"
  trap - EXIT
}

make_node_image() {
  have_image "$node_image" && return
  say "making $node_image (Debian's nodejs and npm on $debian_image)"
  local context cafile
  context="$(mktemp -d)"
  printf '%s\n' "FROM $debian_image" \
    "RUN apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm ca-certificates && rm -rf /var/lib/apt/lists/*" \
    >"$context/Dockerfile"
  # Where this machine's npm trusts a certificate file of its own (a TLS-inspecting proxy in
  # front of the registry), the local Node image trusts the same, or `npm ci` cannot reach it.
  cafile="$(npm config get cafile 2>/dev/null || true)"
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -r "$cafile" ]; then
    cp "$cafile" "$context/npm-ca.crt"
    printf '%s\n' "COPY npm-ca.crt /etc/ssl/certs/npm-ca.crt" \
      "RUN echo cafile=/etc/ssl/certs/npm-ca.crt >> /etc/npmrc" >>"$context/Dockerfile"
  fi
  podman build -q --format docker -t "$node_image" "$context" >/dev/null
  rm -rf "$context"
}

# Settings that let containers start where podman's defaults do not (see the top comment).
write_runtime_settings() {
  local conf=/etc/containers/containers.conf marker="# written by msaas scripts/setup-containers.sh"
  if [ -s "$conf" ] && ! grep -qF "$marker" "$conf"; then
    say "containers cannot start and $conf is someone else's: add runtime = \"runc\","
    say "cgroup_manager = \"cgroupfs\", events_logger = \"file\" and default_ulimits to it"
    exit 1
  fi
  say "podman's defaults cannot start a container here: writing $conf"
  as_root mkdir -p /etc/containers
  as_root tee "$conf" >/dev/null <<CONF
$marker
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
}

containers_start() { podman run --rm --network none "$debian_image" true >/dev/null 2>&1; }

install_packages
make_debian_image
if ! containers_start; then
  write_runtime_settings
  containers_start || { podman run --rm --network none "$debian_image" true; exit 1; }
fi
make_node_image
echo "DEBIAN=$debian_image"
echo "NODE=$node_image"
