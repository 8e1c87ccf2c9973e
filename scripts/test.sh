#!/usr/bin/env bash
# Builds in Release and runs the whole test suite (unit tests + gradcheck) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
if ! dpkg -s libxtensor-dev libboost-test-dev libcli11-dev dataset-fashion-mnist librandom123-dev doxygen python3-numpy \
     libopenmpi-dev openmpi-bin >/dev/null 2>&1; then
  bash scripts/install-deps.sh
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error
