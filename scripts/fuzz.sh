#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, ASan + UBSan + libFuzzer; the root project with
# TAPEGRAD_FUZZ=ON) into build-fuzz/ and runs each one from its seed corpus.
#
#   scripts/fuzz.sh [seconds-per-target]      (default 30)
#
# Environment:
#   FUZZ_TARGETS="fuzz_idx fuzz_npy"  run only these (default: all three; every one must build)
#   FUZZ_RUNS=1000000                 stop each target after this many executions instead of
#                                     after a time
#   FUZZ_BUILD_DIR=build-fuzz         build directory (an existing tree must have TAPEGRAD_FUZZ=ON;
#                                     CI passes its sanitizer tree, build-asan)
#   FUZZ_KEEP_CORPUS=1                continue from the corpus a previous run left in
#                                     $FUZZ_BUILD_DIR/run/<target>/corpus instead of starting
#                                     again from the seeds
#   CXX_FUZZ=clang++-14               compiler
#   FUZZ_REPORT=docs/fuzz-campaign.md write the results as a table (machine, date, commit, the
#                                     command) to this file; the README's campaign is this file
#
# The seed corpus fuzz/corpus/<target>/ is copied to $FUZZ_BUILD_DIR/run/<target>/corpus, so
# the repository's corpus is never modified. Prints, per target, the number of executions and
# whether anything was found; exits 1 if any target found something (crash, sanitizer report,
# leak, unexpected exception, oracle failure, timeout, an allocation over the limits). The
# input that triggered it is left in $FUZZ_BUILD_DIR/run/<target>/artifacts/ with the log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=scripts/table-header.sh
source scripts/table-header.sh
MEASURED_COMMIT=$(current_commit)  # the targets are built from this tree, now

SECS="${1:-30}"
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
  exit 2
fi
BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
CXX_FUZZ="${CXX_FUZZ:-clang++-14}"

# libFuzzer runtime: clang-14 + libclang-rt-14-dev on Debian 12.
if ! command -v "$CXX_FUZZ" >/dev/null 2>&1 || ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "=== installing clang-14 and libclang-rt-14-dev ==="
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

# The fuzz targets live in a sanitizer tree of the root project (TAPEGRAD_FUZZ: clang, ASan +
# UBSan + coverage). A tree that already exists is reused as it is configured (CI builds one
# tree for the sanitizer tests and the fuzzer); it must have been configured with TAPEGRAD_FUZZ.
EXPECTED="fuzz_idx fuzz_npy fuzz_checkpoint"
if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
  if ! grep -q '^TAPEGRAD_FUZZ:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
    echo "error: $BUILD_DIR is a build tree without TAPEGRAD_FUZZ=ON; choose another FUZZ_BUILD_DIR" >&2
    exit 2
  fi
else
  echo "=== configuring $BUILD_DIR (clang, ASan + UBSan + libFuzzer) ==="
  cmake -S . -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DTAPEGRAD_FUZZ=ON \
    -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_BENCHMARKS=OFF -DTAPEGRAD_BUILD_TOOLS=OFF -DTAPEGRAD_MPI=OFF >/dev/null
fi
echo "=== building fuzz targets in $BUILD_DIR ==="
build_ok=1
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$(nproc)" --target $EXPECTED || build_ok=0

# Every target is expected: a failed build, or a target that was not built, is an error (not
# a shorter run, and not a run of a binary left over from an earlier build).
missing=""
for t in $EXPECTED; do
  if [ ! -x "$BUILD_DIR/fuzz/$t" ]; then missing="$missing $t"; fi
done
if [ "$build_ok" != 1 ] || [ -n "$missing" ]; then
  echo >&2
  if [ "$build_ok" != 1 ]; then echo "error: the fuzz build failed (see its output above)" >&2; fi
  if [ -n "$missing" ]; then echo "error: fuzz target(s) not built:$missing (expected: $EXPECTED)" >&2; fi
  exit 1
fi
TARGETS="${FUZZ_TARGETS:-$EXPECTED}"

# Sanitizer settings: abort on the first report of any kind, leaks included.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
summary=""
report_rows=""
for t in $TARGETS; do
  bin="$BUILD_DIR/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "$t: not built" >&2
    summary="$summary$t: not built
"
    failed=1
    continue
  fi
  work="$BUILD_DIR/run/$t"
  mkdir -p "$work"
  if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ] || [ ! -d "$work/corpus" ]; then
    rm -rf "$work/corpus"
    mkdir -p "$work/corpus"
    if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$work/corpus/"; fi
  fi
  if [ "$t" = fuzz_checkpoint ]; then
    # The library's checkpoint format may have moved on since the committed seeds were written:
    # add (same names: replace) the checkpoints the current save_checkpoint writes.
    if ! TG_FUZZ_WRITE_SEEDS="$work/corpus" "$bin" >"$work/seeds.log" 2>&1; then
      cat "$work/seeds.log"
      summary="$summary$t: FINDING: the harness could not write checkpoints with the current library (log: $work/seeds.log)
"
      failed=1
      continue
    fi
  fi
  rm -rf "$work/artifacts"
  mkdir -p "$work/artifacts"
  # Inputs up to 8 KiB: four times the largest seed (checkpoint.json seeds are 1-2 KiB; version 2
  # checkpoints hold no generator states).
  max_len=8192
  args=(-rss_limit_mb=512 -malloc_limit_mb=256 -max_len="$max_len" -timeout=10
        -print_final_stats=1 -artifact_prefix="$work/artifacts/")
  if [ -n "${FUZZ_RUNS:-}" ]; then
    args+=(-runs="$FUZZ_RUNS")
    what="$FUZZ_RUNS runs"
  else
    args+=(-max_total_time="$SECS")
    what="${SECS}s"
  fi
  if [ -f "fuzz/$t.dict" ]; then args+=(-dict="fuzz/$t.dict"); fi
  echo "=== $t ($what) ==="
  start=$(date +%s)
  set +e
  "$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$work/log" | tail -1 || true)
  artifacts=$(find "$work/artifacts" -type f | head -5)
  if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
    line="$t: ${execs:-?} executions in ${elapsed}s (${rate:-?} exec/s; ${cov:-no coverage line}): nothing found"
  else
    failed=1
    line="$t: FINDING after ${execs:-?} executions (exit code $rc); log: $work/log"
    echo "--- $t: end of log ---"
    grep -E '==FUZZ FINDING==|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$work/log" | head -10 || true
    tail -n 30 "$work/log"
    for a in $artifacts; do
      size=$(stat -c %s "$a")
      hex=$(head -c 64 "$a" | od -An -tx1 -v | tr -d ' \n')
      if [ "$size" -gt 64 ]; then hex="$hex..."; fi
      line="$line
    input: $a ($size bytes: $hex)
    reproduce: $bin $a"
    done
  fi
  echo "$line"
  summary="$summary$line
"
  # The harnesses' own counts (fuzz_common.hpp, fuzz_checkpoint.cpp): what the inputs reached.
  stats=$(sed -n 's/^fuzz: \(loader calls .*\)/\1/p; s/^fuzz_checkpoint: \(resumed .*\)/\1/p' "$work/log" | paste -sd ';' - | sed 's/;/; /g')
  if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then result="nothing found"; else result="**FINDING** (exit code $rc)"; fi
  report_rows="$report_rows| \`$t\` | ${execs:-?} | ${elapsed} s | ${rate:-?} | ${cov:-?} | $result | ${stats:-} |
"
  # A finding aborts the fuzzer, which skips its exit handlers: remove the scratch directories
  # (<tmp>/tg-fuzz-<kind>-<pid>-XXXXXX) of processes that are gone.
  for d in /dev/shm/tg-fuzz-* "${TMPDIR:-/tmp}"/tg-fuzz-*; do
    [ -e "$d" ] || continue
    pid=$(basename "$d" | cut -d- -f4)
    if [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then rm -rf "$d"; fi
  done
done

echo
echo "=== fuzzing summary ==="
printf '%s' "$summary"
if [ -n "${FUZZ_REPORT:-}" ]; then
  {
    echo "# The fuzz campaign"
    echo
    machine_header "FUZZ_RUNS=${FUZZ_RUNS:-} FUZZ_REPORT=$FUZZ_REPORT bash scripts/fuzz.sh" \
      "clang 14, ASan + UBSan + libFuzzer, one target after another, $what each"
    echo
    echo "Each target starts from its seed corpus (fuzz/corpus/). \"harness counts\" are what the inputs"
    echo "reached: loader calls and how they ended, and for checkpoints the runs that resumed and the"
    echo "configurations refused. A finding is any crash, sanitizer report, leak, undocumented exception,"
    echo "allocation over the limits, timeout, or disagreement with the harness's oracle."
    echo
    echo "| target | executions | time | exec/s | coverage at the end | result | harness counts |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s' "$report_rows"
  } | write_table "$FUZZ_REPORT"
fi
exit "$failed"
