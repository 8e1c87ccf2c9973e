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
#   contractive-epochs
#              the cost of each contractive penalty on the dense, stacked and conv encoders:
#              train's own step time on Fashion-MNIST (the README's build/, one thread)
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
    contractive-epochs)
      cmake --build build -j"$(nproc)" --target train >/dev/null
      work=$(mktemp -d)
      rows=""
      # encoder label | the model without the penalty | the contractive model's encoder options
      for spec in "dense 784-64 sigmoid, tied|--model autoencoder --code 64 --encoder sigmoid|--contractive-encoder dense --code 64 --encoder sigmoid" \
                  "stacked 784-256-64 relu, tied|--model stacked --layers 256,64 --encoder relu|--contractive-encoder stacked --layers 256,64 --encoder relu" \
                  "conv 28²·1 → 14²·16 → 7²·32 → 64 relu, tied|--model conv|--contractive-encoder conv --code 64 --encoder relu"; do
        IFS='|' read -r label plain deep <<<"$spec"
        for penalty in none closed_form exact estimate; do
          case "$penalty" in
            none) options="$plain" ;;
            closed_form) [ "${deep#--contractive-encoder dense}" != "$deep" ] || continue
                         options="--model contractive $deep --contractive-lambda 1e-4 --contractive-penalty closed_form" ;;
            *) options="--model contractive $deep --contractive-lambda 1e-4 --contractive-penalty $penalty" ;;
          esac
          # two epochs of 50 steps of batch 64: the step time is their mean training time over
          # 50 (evaluation excluded; the first epoch's warm-up is in it, as in any run)
          # shellcheck disable=SC2086  # the options are words
          build/tools/train/train --progress none --threads 1 --limit 3200 --test-limit 64 --epochs 2 --eval-every 2 \
            --batch 64 --seed 1 $options --out "$work/run" >/dev/null
          ms=$(/usr/bin/python3 -c "import json; m = json.load(open('$work/run/metrics.json')); print('%.2f' % (1000 * m['mean_epoch_seconds'] / 50))")
          rows="$rows| $label | $penalty | $ms | $(/usr/bin/python3 -c "print('%.1f' % ($ms * 938 / 1000))") |"$'\n'
          rm -rf "$work/run"
        done
      done
      rm -rf "$work"
      {
        echo "# What a contractive penalty costs, per encoder"
        echo
        machine_header "float32, 1 thread, train's mean training time per step over 2 epochs of 50 steps (batch 64), lambda 1e-4"
        echo
        echo "A full Fashion-MNIST epoch is 938 such steps; \"s / epoch\" is that extrapolation (evaluation excluded)."
        echo "\"none\" is the same model without the penalty; the closed form exists for the dense encoder only."
        echo
        echo "| encoder | penalty | ms / step | s / epoch (938 steps) |"
        echo "|---|---|---|---|"
        printf '%s' "$rows"
      } | write_table benchmarks/results/contractive-epochs.md
      ;;
    *)
      echo "unknown table: $TABLE (known: jacobian, contractive-epochs)" >&2
      exit 2
      ;;
  esac
done
