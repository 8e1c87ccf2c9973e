#!/usr/bin/env bash
# Regenerates the field study of docs/studies.md ("Is the reconstruction a gradient field?"):
# trains the models it measures with the model zoo's budget ($COMMON, read from
# docs/model-zoo.md; a run whose checkpoint is already in $OUT/<name> is reused), then runs
# field_study on the first 100 test images. Prints the table; writes $OUT/field.json and
# $OUT/field-eigenvalues.png (copied to docs/images/ with --publish).
# About 10 minutes on a 2-core machine (most of it training the two conv models).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
OUT="${OUT:-out/field}"
cmake --build "$BUILD_DIR" --target train field_study -j"$(nproc)" >/dev/null
COMMON=$(sed -n 's/^ *COMMON="\(.*\)"$/\1/p' docs/model-zoo.md | head -1)
[ -n "$COMMON" ] || { echo "field-study.sh: no COMMON=\"...\" line in docs/model-zoo.md" >&2; exit 2; }
WITHOUT_CODE=$(echo "$COMMON" | sed 's/--code [0-9]*//')

# label | train options (after $COMMON; rows with --layers take $COMMON without --code, as in the zoo)
RUNS=(
  "one-layer sigmoid, tied|--model autoencoder --encoder sigmoid --tied"
  "one-layer sigmoid, untied|--model autoencoder --encoder sigmoid --untied"
  "stacked relu 256-64, tied|--model stacked --layers 256,64 --encoder relu --tied"
  "stacked relu 256-64, untied|--model stacked --layers 256,64 --encoder relu --untied"
  "conv relu, tied|--model conv --tied"
  "conv relu, untied|--model conv --untied"
  "energy softplus (Vincent), 64|--model energy --energy softplus --layers 64 --sigma 0.3"
  "energy quadratic, 64|--model energy --energy quadratic --layers 64 --sigma 0.3"
  "energy softplus, 256-64|--model energy --energy softplus --layers 256,64 --sigma 0.3"
)
mkdir -p "$OUT"
args=()
for run in "${RUNS[@]}"; do
  label=${run%%|*}
  options=${run#*|}
  name=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-' | tr -s '-')
  dir="$OUT/$name"
  if [ ! -f "$dir/checkpoint.json" ]; then
    common=$COMMON
    case "$options" in *--layers*) common=$WITHOUT_CODE ;; esac
    echo "training $label" >&2
    # shellcheck disable=SC2086  # the options are words
    "$BUILD_DIR/tools/train/train" --progress none $common $options --out "$dir" >"$dir.log" 2>&1 ||
      { echo "field-study.sh: training '$label' failed; see $dir.log" >&2; exit 1; }
  fi
  args+=(--run "$label=$dir")
done
"$BUILD_DIR/tools/studies/field_study" "${args[@]}" --images 100 --out "$OUT"
if [ "${1:-}" = "--publish" ]; then
  mkdir -p docs/images
  cp "$OUT/field-eigenvalues.png" docs/images/field-eigenvalues.png
fi
