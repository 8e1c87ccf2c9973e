#!/usr/bin/env bash
# Regenerates the measured tables in benchmarks/results/, each with the machine, the date and
# the commit it was measured on written beside it (README.md and benchmarks/README.md link to
# them instead of typing numbers).
#
#   bash scripts/benchmark-tables.sh [table...]     (default: every table)
#
# Tables:
#   jacobian   the contractive step with its Jacobian penalty three ways, and LibTorch 1.13's
#              loop over output units beside them (bench_jacobian_torch; installs libtorch-dev)
#
# Environment: BUILD_DIR (default build-bench: a Release tree of its own, so that the README's
# build/ never links Torch), ROUNDS (default 7).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build-bench}"
ROUNDS="${ROUNDS:-7}"
TABLES="${*:-jacobian}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The header every table carries: what it ran on, when, and from which commit.
machine_header() {
  local cpu simd commit
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  if grep -qw avx512f /proc/cpuinfo; then simd="AVX-512"; elif grep -qw avx2 /proc/cpuinfo; then simd="AVX2 (no AVX-512)"; else simd="no AVX2"; fi
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit with uncommitted changes"; fi
  echo "Measured $(date -u +%Y-%m-%d) at commit $commit on: $cpu, $(nproc) cores, $simd;"
  echo "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?'), $*."
  echo "Regenerate with \`bash scripts/benchmark-tables.sh $TABLE\`."
}

write_table() {  # write_table FILE: stdin to FILE, atomically
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  mv "$tmp" "$1"
  echo "wrote $1"
}

for TABLE in $TABLES; do
  case "$TABLE" in
    jacobian)
      if ! dpkg -s libtorch-dev >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libtorch-dev >/dev/null
      fi
      cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BENCHMARK_TORCH=ON >/dev/null
      cmake --build "$BUILD_DIR" -j"$(nproc)" --target bench_jacobian_torch
      # One thread everywhere: tapegrad's, LibTorch's intra-op pool, and any BLAS it loads.
      rows=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BUILD_DIR/benchmarks/bench_jacobian_torch" "$ROUNDS" 1)
      {
        echo "# The contractive step's Jacobian penalty three ways, and LibTorch's loop"
        echo
        machine_header "LibTorch $(dpkg-query -W -f='${Version}' libtorch-dev), float, 1 thread, medians of $ROUNDS interleaved rounds"
        echo
        echo "$rows"
      } | write_table benchmarks/results/jacobian.md
      ;;
    *)
      echo "unknown table: $TABLE (known: jacobian)" >&2
      exit 2
      ;;
  esac
done
