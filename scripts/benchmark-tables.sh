#!/usr/bin/env bash
# Regenerates the measured tables in benchmarks/results/, each with the machine, the date and
# the commit it was measured on written beside it (README.md, benchmarks/README.md and
# docs/distributed.md link to them instead of typing numbers).
#
#   bash scripts/benchmark-tables.sh [table...]
#
# With no table: every table except jacobian and torch (which install libtorch-dev and build a
# tree of their own), about 12 minutes on 2 cores. `all`: every table, jacobian and torch included.
#
# Tables:
#   jacobian   the contractive step with its Jacobian penalty three ways, and LibTorch 1.13's
#              loop over output units beside them (bench_jacobian_torch; installs libtorch-dev)
#   torch      tapegrad beside LibTorch 1.13's C++ API on the same models, initial values and
#              batches: the standard workload's steps, the Fashion-MNIST epoch (plain and
#              masking), the conv step and epoch (bench_torch; installs libtorch-dev)
#   contractive-epochs
#              the cost of each contractive penalty on the dense, stacked and conv encoders:
#              train's own step time on Fashion-MNIST (the README's build/, one thread)
#   distributed
#              docs/distributed.md: a data-parallel step (bench_data_parallel) as one process
#              with 1 and 2 threads and as `mpirun -np 2`; the main job's configuration for 3
#              epochs the same three ways (train); and the extrapolation to 8 and 64 machines
#              computed from the measured compute time and byte count
#   epoch      one Fashion-MNIST epoch per model kind at 1 and 2 threads, split into steps,
#              gathering, noise and evaluation (bench_epoch), and the cost of the training noise
#              and shuffle next to one training step (bench_noise)
#   standard   the standard workload in float32: framework against hand-coded backprop and the
#              GEMMs alone, 1 and 2 threads (bench_workload), with the speed goals checked
#   main-job   scripts/main-job.sh's run (30 epochs, --threads 2): total time, training and
#              evaluation time per epoch, test MSE
#
# Environment:
#   BUILD_DIR    jacobian's and torch's build tree (default build-bench: a Release tree of its
#                own, so that the README's build/ never links Torch); the other tables use build/
#   ROUNDS       jacobian's and torch's interleaved rounds (default 7)
#   SKIP_BUILD=1 run the binaries already built; configure and build nothing
#   QUICK=1      a smoke test of the script itself: a few steps, rounds and epochs per table,
#                written to a temporary directory (printed), never to benchmarks/results/.
#                Its numbers are not measurements.
set -euo pipefail
cd "$(dirname "$0")/.."
DEFAULT_TABLES="contractive-epochs distributed epoch standard main-job"
KNOWN_TABLES="jacobian torch $DEFAULT_TABLES"
TABLES=()
for t in "${@:-default}"; do
  case " default all $KNOWN_TABLES " in
    *" $t "*) ;;
    *) echo "unknown table: $t (known: all, $KNOWN_TABLES)" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2206  # the lists are words
  case "$t" in
    default) TABLES+=($DEFAULT_TABLES) ;;
    all) TABLES+=($KNOWN_TABLES) ;;
    *) TABLES+=("$t") ;;
  esac
done

BUILD_DIR="${BUILD_DIR:-build-bench}"
QUICK="${QUICK:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
if [ "$QUICK" = 1 ]; then
  ROUNDS="${ROUNDS:-1}"
  RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/benchmark-tables.XXXXXX")
  NOTE=" (QUICK=1 smoke run of the script: not a measurement)"
else
  ROUNDS="${ROUNDS:-7}"
  RESULTS=benchmarks/results
  NOTE=""
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# Open MPI refuses to start as root unless told (containers, CI)
MPI_ENV=()
if [ "$(id -u)" -eq 0 ]; then MPI_ENV=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1); fi

# shellcheck source=scripts/table-header.sh
source scripts/table-header.sh

# build TARGET...: builds these targets in build/ (nothing with SKIP_BUILD=1).
build() {
  if [ "$SKIP_BUILD" != 1 ]; then cmake --build build -j"$(nproc)" --target "$@" >/dev/null; fi
}

# run FILE COMMAND...: COMMAND's output to FILE; if it fails, its error output and a stop.
run() {
  local out=$1
  shift
  if ! "$@" >"$out" 2>"$out.err"; then
    cat "$out.err" >&2
    echo "failed: $*" >&2
    exit 1
  fi
}
# every table's scratch files, removed at the end however the script ends
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The main job's model and training options: scripts/main-job.sh's, checked against it below.
MAIN_JOB="--model denoising --tied --encoder sigmoid --decoder linear --code 100 --corruption gaussian --corruption-amount 0.3 --optimizer adam --lr 2e-3 --lr-schedule cosine --batch 64"
main_job_checked() {
  local flat
  flat=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' scripts/main-job.sh | tr -s ' ')
  case "$flat" in
    *"$MAIN_JOB --epochs 30 --seed 1 --threads 2 "*) ;;
    *) echo "scripts/main-job.sh's train options changed: update MAIN_JOB in $0" >&2; exit 1 ;;
  esac
}

# A LibTorch comparison's target, in BUILD_DIR (never build/): installs libtorch-dev if needed.
build_with_torch() {
  if ! dpkg -s libtorch-dev >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libtorch-dev >/dev/null
  fi
  if [ "$SKIP_BUILD" != 1 ]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BENCHMARK_TORCH=ON >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target "$1"
  fi
}

for TABLE in "${TABLES[@]}"; do
  case "$TABLE" in
    jacobian)
      build_with_torch bench_jacobian_torch
      # One thread everywhere: tapegrad's, LibTorch's intra-op pool, and any BLAS it loads.
      rows=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BUILD_DIR/benchmarks/bench_jacobian_torch" "$ROUNDS" 1)
      {
        echo "# The contractive step's Jacobian penalty three ways, and LibTorch's loop"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "LibTorch $(dpkg-query -W -f='${Version}' libtorch-dev), float, 1 thread, medians of $ROUNDS interleaved rounds$NOTE"
        echo
        echo "$rows"
      } | write_table "$RESULTS/jacobian.md"
      ;;
    torch)
      build_with_torch bench_torch
      # Steps: medians of $ROUNDS interleaved rounds; epochs: medians of 3 alternating epochs per
      # side (QUICK=1: one, and no conv epochs, which take 5-15 s each). One thread everywhere.
      args=("$ROUNDS" 3)
      if [ "$QUICK" = 1 ]; then args=("$ROUNDS" 1 --no-conv-epoch); fi
      work=$(mktemp -d "$WORK/$TABLE.XXXXXX")
      run "$work/torch" env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BUILD_DIR/benchmarks/bench_torch" "${args[@]}"
      slower=$(grep -c '\*\*no\*\*' "$work/torch" || true)
      {
        echo "# tapegrad beside LibTorch: the same models, initial values and batches"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "LibTorch $(dpkg-query -W -f='${Version}' libtorch-dev), float32, 1 thread on both sides, steps: medians of $ROUNDS interleaved rounds, epochs: medians of ${args[1]} per side, alternating$NOTE"
        echo
        echo "\`OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $BUILD_DIR/benchmarks/bench_torch ${args[*]}\`; \`benchmarks/bench_torch.cpp\`'s"
        echo "header says what each row runs. LibTorch (\`benchmarks/torch_epoch.cpp\`: \`torch::nn::functional\`"
        echo "ops, \`torch::optim\`) starts from the tapegrad model's initial values and trains on the same"
        echo "batches: the standard workload's step (plain SGD, the same batch every step), one Fashion-MNIST"
        echo "epoch of \`train\`'s default model through the Trainer against LibTorch's loop over the same 938"
        echo "batches in the same order (gathering included on both sides), the \`conv\` kind's step (SGD, batch 64)"
        echo "and epoch (Adam). On a busy machine the absolute times move: compare the ratios within one run."
        echo
        echo "Goal (issue 29): tapegrad faster in every row: $(if [ "$slower" = 0 ]; then echo met; else echo "**missed** in $slower row(s)"; fi)."
        echo
        cat "$work/torch"
        echo
        echo "## Both sides do the same arithmetic"
        echo
        echo "From the same initial values, the first step's loss (and for the standard workload the updated"
        echo "weights) of each side; bench_torch fails if a first loss differs by more than 1e-4 relative. The"
        echo "epochs' mean training loss (with masking each side draws its own masks):"
        echo
        sed -n 's/^check: /- /p' "$work/torch.err"
      } | write_table "$RESULTS/torch.md"
      ;;
    contractive-epochs)
      build train
      steps=50
      if [ "$QUICK" = 1 ]; then steps=5; fi
      work=$(mktemp -d "$WORK/$TABLE.XXXXXX")
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
          # two epochs of 50 steps of batch 64 (5 with QUICK=1): the step time is their mean
          # training time over 50 (evaluation excluded; the first epoch's warm-up is in it, as in
          # any run)
          # shellcheck disable=SC2086  # the options are words
          build/tools/train/train --progress none --threads 1 --limit $((64 * steps)) --test-limit 64 --epochs 2 --eval-every 2 \
            --batch 64 --seed 1 $options --out "$work/run" >/dev/null
          ms=$(/usr/bin/python3 -c "import json; m = json.load(open('$work/run/metrics.json')); print('%.2f' % (1000 * m['mean_epoch_seconds'] / $steps))")
          rows="$rows| $label | $penalty | $ms | $(/usr/bin/python3 -c "print('%.1f' % ($ms * 938 / 1000))") |"$'\n'
          rm -rf "$work/run"
        done
      done
      rm -rf "$work"
      {
        echo "# What a contractive penalty costs, per encoder"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "float32, 1 thread, train's mean training time per step over 2 epochs of $steps steps (batch 64), lambda 1e-4$NOTE"
        echo
        echo "A full Fashion-MNIST epoch is 938 such steps; \"s / epoch\" is that extrapolation (evaluation excluded)."
        echo "\"none\" is the same model without the penalty; the closed form exists for the dense encoder only."
        echo
        echo "| encoder | penalty | ms / step | s / epoch (938 steps) |"
        echo "|---|---|---|---|"
        printf '%s' "$rows"
      } | write_table "$RESULTS/contractive-epochs.md"
      ;;
    distributed)
      # (a) one data-parallel step of the tied sigmoid autoencoder 784x256, global batch 256,
      # float, Adam, split into compute, allreduce and update: one process with 1 and 2 BLAS
      # threads, and two processes with one each; (b) the main job's configuration for 3 epochs
      # the same three ways, its training and evaluation time per epoch from the run's own
      # records; (c) from (a)'s compute time and byte count, the model of docs/distributed.md
      # for 8 and 64 machines over 10 Gb/s.
      build bench_data_parallel train
      main_job_checked
      steps=300 warmup=30 epochs=3 data=""
      if [ "$QUICK" = 1 ]; then steps=5 warmup=1 epochs=2 data="--limit 2000 --test-limit 500"; fi
      work=$(mktemp -d "$WORK/$TABLE.XXXXXX")
      bench=build/benchmarks/bench_data_parallel
      # --oversubscribe: Open MPI counts cores as slots, and a machine whose 2 CPUs are one
      # core's two hardware threads would refuse -np 2 without it
      mpi=(mpirun --oversubscribe)
      step_commands=("$bench --threads 1" "$bench --threads 2" "mpirun --bind-to none -np 2 $bench")
      run "$work/step-1" $bench --threads 1 --steps $steps --warmup $warmup
      run "$work/step-2" $bench --threads 2 --steps $steps --warmup $warmup
      run "$work/step-np2" "${MPI_ENV[@]}" "${mpi[@]}" --bind-to none -np 2 $bench --steps $steps --warmup $warmup
      train=build/tools/train/train
      job_commands=("$train --threads 1" "$train --threads 2" "mpirun -np 2 $train --threads 1")
      # shellcheck disable=SC2086  # the options are words
      {
        run "$work/log" $train $MAIN_JOB --epochs $epochs --seed 1 $data --progress none --threads 1 --out "$work/job-1"
        run "$work/log" $train $MAIN_JOB --epochs $epochs --seed 1 $data --progress none --threads 2 --out "$work/job-2"
        run "$work/log" "${MPI_ENV[@]}" "${mpi[@]}" -np 2 $train $MAIN_JOB --epochs $epochs --seed 1 $data --progress none --threads 1 --out "$work/job-np2"
      }
      tables=$(/usr/bin/python3 - "$work" "$epochs" "${step_commands[@]}" "${job_commands[@]}" <<'EOF'
import json, re, sys
work, epochs, commands = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def step(name):
    text = open(f"{work}/{name}").read()
    parts = {m[1]: float(m[2]) for m in re.finditer(r"^(compute|reduce|update|step|bare)\b.*?([0-9.]+)$", text, re.M)}
    parts["values"], parts["bytes"] = map(int, re.search(r"(\d+) values = (\d+) bytes", text).groups())
    parts["slice"] = int(re.search(r"slice (\d+) rows", text)[1])
    return parts

one, two, np2 = step("step-1"), step("step-2"), step("step-np2")
print("## A data-parallel step (measured)\n")
print("Tied sigmoid autoencoder 784x256, global batch 256, float, Adam (`benchmarks/bench_data_parallel.cpp`):\n")
print("```sh")
for c in commands[:3]: print(c)
print("```\n")
print("| µs per step | compute (forward + backward) | allreduce (with waiting) | Adam | step | speed-up |")
print("|---|---|---|---|---|---|")
for label, p in (("1 process, 1 BLAS thread", one), ("1 process, 2 BLAS threads", two),
                 (f"`-np 2`, 1 BLAS thread each ({np2['slice']} rows each)", np2)):
    reduce = "—" if p is not np2 else "%.0f" % p["reduce"]
    print(f"| {label} | {p['compute']:.0f} | {reduce} | {p['update']:.0f} | {p['step']:.0f} | {one['step'] / p['step']:.2f} |")
bare = np2["bare"]
print(f"\nBytes reduced per step: {np2['bytes']:,} ({np2['values'] - 1:,} gradient entries and the loss, float32),")
print(f"one `MPI_Allreduce` over one flat buffer. The bare allreduce of that buffer, timed after the ranks")
print(f"have synchronised, takes {bare:.0f} µs ({np2['bytes'] / bare / 1e3:.1f} GB/s); the other "
      f"{max(np2['reduce'] - bare, 0):.0f} µs of the allreduce column are one rank waiting for the other.")

print(f"\n## The main job's configuration, {epochs} epochs (measured)\n")
print("`scripts/main-job.sh`'s model and options (tied denoising 784-100, Gaussian noise, batch 64, Adam),")
print(f"{epochs} epochs; per epoch the mean (in brackets the fastest and slowest epoch) of train's own records")
print("(`metrics.json`, and `checkpoint.json`'s history):\n")
print("```sh")
for c in commands[3:]: print(c + " ...")
print("```\n")
rows = None
out = []
for label, name in (("1 process, `--threads 1`", "job-1"), ("1 process, `--threads 2`", "job-2"),
                    ("`mpirun -np 2`, `--threads 1` each", "job-np2")):
    m = json.load(open(f"{work}/{name}/metrics.json"))
    h = json.load(open(f"{work}/{name}/checkpoint.json"))["history"]
    rows = (m["train_mse_rows"], m["test_mse_rows"])
    def cell(mean, key):
        v = [e[key] for e in h]
        return f"{mean:.2f} ({min(v):.2f}–{max(v):.2f})"
    out.append(f"| {label} | {cell(m['mean_epoch_seconds'], 'seconds')} | {cell(m['mean_eval_seconds'], 'eval_seconds')} "
               f"| {m['mean_epoch_seconds'] + m['mean_eval_seconds']:.2f} | {m['train_mse']:.6g} | {m['test_mse']:.6g} |")
print(f"| s per epoch | training | evaluation ({rows[0]:,} train + {rows[1]:,} test rows) | total | train MSE | test MSE |")
print("|---|---|---|---|---|---|")
print("\n".join(out))

# docs/distributed.md's model: T_ar(N) = 2(N-1)/N S/beta + 2(N-1) alpha; efficiency
# compute / (compute + T_ar); speed-up N E. Weak scaling: 256 rows per machine; strong: 256/N.
beta, alpha = 1.25e9, 25e-6
compute, S = one["compute"] * 1e-6, one["bytes"]
def ms(x):
    x *= 1e3
    return f"{x:.0f} ms" if x >= 100 else f"{x:.1f} ms" if x >= 10 else f"{x:.2f} ms"
def pct(e):
    return f"{100 * e:.0f} %" if e >= 0.1 else f"{100 * e:.1f} %"
def up(n, e):
    return f"{n * e:.1f}x" + (": slower than one machine" if n * e < 1 else "")
print("\n## Extrapolated: 8 and 64 machines over 10 Gb/s\n")
print(f"From the measured compute of one process with one thread ({compute * 1e3:.2f} ms for 256 rows) and")
print(f"the bytes per step (S = {S:,}), with `T_ar(N) = 2·(N−1)/N · S/β + 2·(N−1)·α`, β = 1.25 GB/s,")
print("α = 25 µs, efficiency `E = compute / (compute + T_ar)`, speed-up `N·E` (docs/distributed.md states")
print("the assumptions). The model \"100x larger\" has 100 times the bytes and the compute per row.\n")
print("| model | N | `T_ar` | of which bandwidth | of which latency | weak: E (speed-up) | strong: compute per rank, E (speed-up) |")
print("|---|---|---|---|---|---|---|")
for label, scale in ((f"784x256 ({S / 1e6:.2f} MB)", 1), (f"100x larger ({100 * S / 1e6:.1f} MB)", 100)):
    for n in (8, 64):
        band, lat = 2 * (n - 1) / n * scale * S / beta, 2 * (n - 1) * alpha
        t_ar, c = band + lat, scale * compute
        weak, strong = c / (c + t_ar), (c / n) / (c / n + t_ar)
        print(f"| {label} | {n} | {ms(t_ar)} | {ms(band)} | {ms(lat)} | {pct(weak)} ({up(n, weak)}) "
              f"| {ms(c / n)}, {pct(strong)} ({up(n, strong)}) |")
EOF
)
      {
        echo "# Data-parallel training: measured on one machine, extrapolated to 8 and 64"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "Open MPI $(dpkg-query -W -f='${Version}' openmpi-bin 2>/dev/null || echo '?') over shared memory, float32, medians of $steps steps after $warmup of warm-up$NOTE"
        echo
        echo "$tables"
      } | write_table "$RESULTS/distributed.md"
      ;;
    epoch)
      # One Fashion-MNIST epoch (60,000 rows, batch 64, Adam) through the Trainer per model kind
      # at 1 and 2 threads, split into steps, gathering, noise and evaluation (bench_epoch prints
      # the table itself); then the training noise and shuffle against one tied 784x64x64 float
      # step (bench_noise: medians over interleaved repetitions, one thread).
      build bench_epoch bench_noise
      epoch_args=() noise_args=(--benchmark_min_time=0.5 --benchmark_repetitions=7)
      if [ "$QUICK" = 1 ]; then
        epoch_args=(--benchmark_filter='autoencoder_tied_sigmoid_784x64/')
        noise_args=(--benchmark_min_time=0.01 --benchmark_repetitions=2)
      fi
      noise_args+=(--benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true)
      work=$(mktemp -d "$WORK/$TABLE.XXXXXX")
      run "$work/epoch" build/benchmarks/bench_epoch "${epoch_args[@]}"
      epoch_rows=$(sed -n '/^| model | threads |/,$p' "$work/epoch")
      [ -n "$epoch_rows" ] || { echo "bench_epoch printed no table" >&2; exit 1; }
      run "$work/noise" build/benchmarks/bench_noise "${noise_args[@]}"
      repetitions=${noise_args[1]#*=}
      # the noise parameters, from the benchmark's source
      read -r drop sigma < <(sed -n 's/.*drop_p = \([0-9.]*\), sigma = \([0-9.]*\);.*/\1 \2/p' benchmarks/bench_noise.cpp)
      noise_rows=$(/usr/bin/python3 - "$work/noise" "$repetitions" "${drop:-?}" "${sigma:-?}" <<'EOF'
import re, sys
path, reps, drop, sigma = sys.argv[1:]
labels = {
    "step/tied_784x64x64/float": ("tied 784x64x64 float training step", ""),
    "noise/masking_64x784/philox": (f"masking p = {drop}, Philox (`tg::random::mask_rows`)", "≤ 5 %"),
    "noise/masking_64x784/mt19937_64_before": ("masking, `std::mt19937_64` + `bernoulli_distribution` (before)", ""),
    "noise/gaussian_64x784/philox": (f"Gaussian σ = {sigma}, Philox + polynomial Box–Muller (`tg::random::add_gaussian_rows`)", "≤ 5 %"),
    "noise/gaussian_64x784/mt19937_64_before": ("Gaussian, `std::mt19937_64` + `normal_distribution` (before)", ""),
    "shuffle/permutation_60000/philox": ("permutation of 60,000, Philox (once per epoch)", ""),
    "shuffle/permutation_60000/mt19937_64_before": ("permutation of 60,000, `std::mt19937_64` (before)", ""),
}
text = open(path).read()
table = text[text.index("\nmedian (us)"):]
print(f"| median of {reps} | µs | / one tied step | goal |")
print("|---|---|---|---|")
for name, real, ratio in re.findall(r"^(\S+)\s+([0-9.]+)\s+([0-9.]+)%", table, re.M):
    label, goal = labels[name]
    ratio = float(ratio)
    if goal: goal += ": met" if ratio <= 5 else ": **missed**"
    print(f"| {label} | {float(real):.1f} | {ratio:.1f} % | {goal} |")
EOF
)
      {
        echo "# A Fashion-MNIST epoch, part by part, and what the training noise costs"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "float32$NOTE"
        echo
        echo "## One epoch per model kind (bench_epoch)"
        echo
        echo "One Fashion-MNIST epoch (60,000 rows, batch 64, Adam) through the library's Trainer at 1 and 2"
        echo "threads (\`tg::set_num_threads\`); means over 3 epochs (1 for the stacked and the untied conv kinds)."
        echo "epoch: the training loop as the Trainer times it; gather: the copy of each batch's shuffled"
        echo "rows (timed by the Trainer); noise: the model's corruption of every batch of the same epoch, timed"
        echo "in a pass of its own; steps = epoch − gather − noise (forward, backward, Adam); eval: the Trainer's"
        echo "evaluation with the default options (train MSE on 5,000 rows, test MSE on all 10,000), and beside"
        echo "it the same model on all 70,000 rows; optimizer: Adam's update alone per step. The floor, measured"
        echo "in the same run at the same thread count: for the one-layer kinds 938 steps of only their matrix"
        echo "products (\`benchmarks/gemm_only.hpp\`), the last column being the epoch over it (goal, one"
        echo "thread: at most 1.25); for the tied conv kind an epoch of hand-coded conv steps over the same 938"
        echo "batches (\`baseline/conv_handcoded.hpp\`), after each of its epochs, the last column being its steps"
        echo "over them (goal: at most 1.10). Everything in the mode the Trainer trains in (denormals flushed)."
        echo "\`benchmarks/bench_epoch.cpp\`'s header says exactly how each part is measured."
        echo
        echo "\`build/benchmarks/bench_epoch${epoch_args[*]:+ ${epoch_args[*]}}\`"
        echo
        echo "$epoch_rows"
        echo
        echo "## The noise and the shuffle next to one training step (bench_noise)"
        echo
        echo "The corruption of one 64 x 784 float batch, and the permutation of the 60,000 training rows,"
        echo "against one tied 784x64x64 float training step measured in the same run; one thread, one BLAS"
        echo "thread, real time. The goal: corrupting a batch costs at most 5 % of the step."
        echo
        echo "\`build/benchmarks/bench_noise ${noise_args[*]}\`"
        echo
        echo "$noise_rows"
      } | write_table "$RESULTS/epoch.md"
      ;;
    standard)
      # The standard workload (benchmarks/WORKLOAD.md) in float32: one training step of every
      # variant and size, hand-coded, on the framework, and the GEMMs alone, at 1 and 2 threads;
      # medians of interleaved repetitions, and the goals of issue "Speed where users feel it".
      build bench_workload
      args=(--benchmark_filter='/float/' --benchmark_min_time=0.2 --benchmark_repetitions=5)
      if [ "$QUICK" = 1 ]; then args=(--benchmark_filter='/float/' --benchmark_min_time=0.001 --benchmark_repetitions=2); fi
      args+=(--benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true)
      work=$(mktemp -d "$WORK/$TABLE.XXXXXX")
      run "$work/workload" build/benchmarks/bench_workload "${args[@]}"
      tables=$(/usr/bin/python3 - "$work/workload" <<'EOF'
import re, statistics, sys
text = open(sys.argv[1]).read()
table = text[text.index("\nconfiguration (time unit: us)"):]
rows = {}
for variant, size, threads, hc, fw, gemm in re.findall(
        r"^(\w+)/(\d+x\d+x\d+)/float/threads:(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s", table, re.M):
    rows[size, variant, int(threads)] = (float(hc), float(fw), float(gemm))
sizes = ["784x64x64", "784x256x256", "128x1x129", "32x16x32"]
variants = ["tied", "untied", "sparse", "contractive", "denoising"]
print("| size DxKxB | variant | threads | hand-coded µs | framework µs | GEMMs only µs | framework / hand-coded |")
print("|---|---|---|---|---|---|---|")
for s in sizes:
    for v in variants:
        for t in (1, 2):
            if (s, v, t) in rows:
                hc, fw, gemm = rows[s, v, t]
                print(f"| {s} | {v} | {t} | {hc:.2f} | {fw:.2f} | {gemm:.2f} | {fw / hc:.3f} |")

print("\nThe goals (issue \"Speed where users feel it\"), checked on the rows above:\n")
print("| goal | measured | |")
print("|---|---|---|")
def met(ok): return "met" if ok else "**missed**"
for s in ("32x16x32", "128x1x129"):
    cells, ok = [], True
    for t in (1, 2):
        r = {v: rows[s, v, t][1] / rows[s, v, t][0] for v in variants if (s, v, t) in rows}
        if not r: continue
        worst = max(r, key=r.get)
        median = statistics.median(r.values())
        ok = ok and median <= 1.15 and r[worst] <= 1.3
        cells.append(f"{t} thread{'s' if t > 1 else ''}: median {median:.3f}, worst {r[worst]:.3f} ({worst})")
    if cells: print(f"| {s}: framework / hand-coded median ≤ 1.15, every row ≤ 1.3 | {'; '.join(cells)} | {met(ok)} |")
small = [rows[k] for k in rows if k[0] == "128x1x129"]
if small:
    fw = [r[1] for r in small]; gemm = [r[2] for r in small]
    print(f"| 128x1x129: framework faster than GEMMs only | {min(fw):.2f}–{max(fw):.2f} µs against "
          f"{min(gemm):.2f}–{max(gemm):.2f} µs | {met(all(r[1] < r[2] for r in small))} |")
for s, goal in (("784x256x256", 1.8), ("784x64x64", 1.5)):
    if (s, "tied", 1) in rows and (s, "tied", 2) in rows:
        one, two = rows[s, "tied", 1], rows[s, "tied", 2]
        print(f"| {s} tied: 2 threads ≥ {goal}x faster | framework {one[1] / two[1]:.2f}x ({one[1]:.0f} → {two[1]:.0f} µs); "
              f"GEMMs only {one[2] / two[2]:.2f}x, hand-coded {one[0] / two[0]:.2f}x | {met(one[1] / two[1] >= goal)} |")
EOF
)
      {
        echo "# The standard workload: framework against hand-coded backprop"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "float32, medians of ${args[2]#*=} randomly interleaved repetitions of at least ${args[1]#*=} s$NOTE"
        echo
        echo "One training step (plain SGD, the same batch every step) of each variant and size of"
        echo "\`benchmarks/WORKLOAD.md\`: hand-coded backprop, the framework's models on the tape, and the"
        echo "step's GEMMs alone; \"threads\" is \`tg::set_num_threads\`. On a shared machine the absolute"
        echo "times move between runs: compare ratios within one run."
        echo
        echo "\`build/benchmarks/bench_workload ${args[*]}\`"
        echo
        echo "$tables"
      } | write_table "$RESULTS/standard.md"
      ;;
    main-job)
      # scripts/main-job.sh's training run (same model, options, 30 epochs, --threads 2), timed
      # whole, with its mean training and evaluation time per epoch from its metrics.json.
      build train
      main_job_checked
      epochs=30 data=""
      if [ "$QUICK" = 1 ]; then epochs=2 data="--limit 2000 --test-limit 500"; fi
      work=$(mktemp -d "$WORK/$TABLE.XXXXXX")
      start=$EPOCHREALTIME
      # shellcheck disable=SC2086  # the options are words
      run "$work/log" build/tools/train/train $MAIN_JOB --epochs $epochs --seed 1 --threads 2 --checkpoint-every 5 $data \
        --progress none --out "$work/main-job"
      stop=$EPOCHREALTIME
      row=$(/usr/bin/python3 - "$work/main-job/metrics.json" "$start" "$stop" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
total = float(sys.argv[3]) - float(sys.argv[2])
print(f"| epochs | total s | training s per epoch | evaluation s per epoch | train MSE ({m['train_mse_rows']:,} rows) "
      f"| test MSE ({m['test_mse_rows']:,} rows) |")
print("|---|---|---|---|---|---|")
print(f"| {m['epochs']} | {total:.1f} | {m['mean_epoch_seconds']:.2f} | {m['mean_eval_seconds']:.2f} "
      f"| {m['train_mse']:.5f} | {m['test_mse']:.5f} |")
EOF
)
      {
        echo "# The main job: time and test MSE"
        echo
        machine_header "bash scripts/benchmark-tables.sh $TABLE" "float32, --threads 2$NOTE"
        echo
        echo "\`scripts/main-job.sh\`'s training run (tied denoising autoencoder 784-100, Gaussian noise σ 0.3,"
        echo "Adam with cosine decay, batch 64, seed 1): \`build/tools/train/train $MAIN_JOB --epochs $epochs --seed 1 --threads 2 --checkpoint-every 5${data:+ $data}\`."
        echo "\"total\" is the whole command (loading the data, training, evaluating after every epoch,"
        echo "checkpoints, pictures); per epoch are train's own means (\`metrics.json\`); the MSEs are per pixel"
        echo "of the clean reconstruction after the last epoch (the train MSE over evenly spread training rows)."
        echo
        echo "$row"
      } | write_table "$RESULTS/main-job.md"
      ;;
  esac
done
if [ "$QUICK" = 1 ]; then echo "QUICK=1: the tables are in $RESULTS (not measurements; benchmarks/results/ untouched)"; fi
