#!/usr/bin/env bash
# Installs the Debian 12 packages latent needs to build and test. Idempotent:
# packages that dpkg reports as installed are skipped (no apt-get run at all
# when everything is there). Needs root (or sudo) only when something is missing.
set -euo pipefail
# Why each one: see README.md, "Dependencies".
packages=(
  build-essential cmake
  llvm-19-dev
  antlr4 libantlr4-runtime-dev
  libeigen3-dev
  libboost-test-dev
  nlohmann-json3-dev libsimdjson-dev
  libcli11-dev
  liblbfgspp-dev
  libpng-dev zlib1g-dev
  dataset-fashion-mnist
  python3
  clang libclang-rt-14-dev libomp-14-dev
  libopenmpi-dev openmpi-bin
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
