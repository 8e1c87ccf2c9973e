#!/usr/bin/env bash
# Installs every build and run dependency from Debian 12's packages (run as root, or with sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  g++ cmake make pkg-config \
  libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev liblapack-dev \
  libboost-test-dev libbenchmark-dev libcli11-dev libfmt-dev nlohmann-json3-dev \
  zlib1g-dev libpng-dev gnuplot-nox dataset-fashion-mnist librandom123-dev doxygen python3-numpy \
  libopenmpi-dev openmpi-bin >/dev/null
