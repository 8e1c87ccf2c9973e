#!/usr/bin/env bash
# The main job: trains a tied denoising autoencoder on Fashion-MNIST and draws what it learned.
# Installs the dependencies if any is missing, builds only the `train` tool (Release), trains
# for about a minute on two cores, and prints the test MSE and where the pictures are.
# Output: out/main-job/ (filters.png, reconstructions.png, loss.png, metrics.json, checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
OUT=out/main-job

if ! dpkg -s g++ cmake libxtensor-dev libxtensor-blas-dev libopenblas-dev libcli11-dev libfmt-dev \
     nlohmann-json3-dev libpng-dev libboost-test-dev gnuplot-nox dataset-fashion-mnist librandom123-dev >/dev/null 2>&1; then
  bash scripts/install-deps.sh
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --target train -j"$(nproc)"

# 100 code units trained to undo Gaussian pixel noise (sigma 0.3), Adam with a cosine-decayed
# rate. Gaussian noise keeps the mean input unchanged, so the clean reconstruction stays sharp
# (masking noise makes clean inputs look brighter than anything seen in training, and the
# reconstructions overshoot). reconstructions.png shows originals, noisy inputs, their
# reconstructions, and reconstructions of the clean originals.
SECONDS=0
"$BUILD_DIR"/tools/train/train \
  --model denoising --tied --encoder sigmoid --decoder linear --code 100 \
  --corruption gaussian --corruption-amount 0.3 \
  --optimizer adam --lr 2e-3 --lr-schedule cosine --batch 64 --epochs 30 \
  --seed 1 --threads 2 --checkpoint-every 5 --out "$OUT"
echo
echo "main job done in ${SECONDS}s"
echo "test MSE (per pixel, clean reconstruction): $(sed -n 's/.*"test_mse": \([0-9.e+-]*\).*/\1/p' "$OUT/metrics.json")"
echo "pictures: $OUT/filters.png $OUT/reconstructions.png $OUT/loss.png"
