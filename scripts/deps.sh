#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the build and test dependencies on Debian 12 when any is missing.
set -euo pipefail

pkgs=(
  build-essential meson ninja-build pkg-config
  libopenblas-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libcairo2-dev zlib1g-dev libjson-glib-dev valgrind gstreamer1.0-libav indent
  clang libclang-rt-14-dev
  python3-gi gir1.2-gstreamer-1.0
  openmpi-bin libopenmpi-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "udml: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
