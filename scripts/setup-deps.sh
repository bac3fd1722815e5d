#!/usr/bin/env bash
# Installs the Debian 12 packages MSaaS builds and tests with. Idempotent: does nothing when all
# are present; fails loudly (non-zero exit, the apt error shown) when an install fails.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev libopenblas-dev libopenblas0-openmp
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev ffmpeg
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libgtest-dev libssl-dev libcurl4-openssl-dev
  libhiredis-dev libcpp-httplib-dev zlib1g-dev redis-server chromium wrk
  clang clang-format libclang-rt-14-dev unzip curl
  python3 python3-numpy fluidsynth timgm6mb-soundfont espeak-ng
)
# Node.js runs the S3 test peer (s3rver); a machine may already have its own build of it.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
