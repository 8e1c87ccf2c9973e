#!/usr/bin/env bash
# Data-parallel training on this machine: `train` under mpirun with N processes (each with
# train's default of one BLAS thread). Open MPI refuses to start as root unless told; this script tells it when run as root.
#   bash scripts/train-mpi.sh N [train options...]      e.g. bash scripts/train-mpi.sh 2 --model conv --out out/conv2
# Several machines: mpirun -np N --hostfile FILE build/tools/train/train ... (README).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/train-mpi.sh N [train options...]" >&2
  exit 2
fi
N=$1
shift
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# --oversubscribe: more processes than cores is allowed (slower, but the results are the same).
exec mpirun --oversubscribe --bind-to none -np "$N" "${BUILD_DIR:-build}"/tools/train/train "$@"
