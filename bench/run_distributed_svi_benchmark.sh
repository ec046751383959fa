#!/usr/bin/env bash
# Data-parallel SVI on MPI (issue 17): the VAE on Fashion-MNIST on 1 process and on
# 2 ranks (mpirun) of this machine, in one invocation, then a model of the scaling
# to 8-64 machines from the bytes sent per step and a stated network.
# Prints, per configuration: training images/s over epochs 2..last and the seconds
# spent in the all-reduce; then the 2-rank/1-rank throughput ratio, and the model.
#
# Usage: bench/run_distributed_svi_benchmark.sh [BUILD_DIR] [--quick] [--batch B]
#   BUILD_DIR   a build configured with -DLATENT_MPI=ON (default: build)
#   --quick     5000 training images, 3 epochs (default: 60 000 images, 3 epochs)
#   --batch B   global batch (default 128)
# Needs: apt-get install libopenmpi-dev openmpi-bin dataset-fashion-mnist
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
rows=()
batch=128
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) rows=(--max-rows 5000) ;;
    --batch) batch=${2:?--batch needs a number}; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
latent=$build/latent
model=$root/examples/vae/vae.lat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpirun_=(mpirun --allow-run-as-root --oversubscribe)
fit=(fit "$model" --data fashion-mnist --method svi --kl analytic --batch "$batch" --epochs 3 --optimizer adam
     --lr 1e-3 --seed 1 "${rows[@]}")

echo "== data-parallel SVI: the VAE on Fashion-MNIST, batch $batch, 3 epochs"
echo "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run() {  # $1 = name, rest = command; leaves the log in $work/$1.log
  local name=$1; shift
  "$@" > "$work/$name.log" 2>&1 || { echo "$name failed:"; tail -5 "$work/$name.log"; exit 1; }
  local rate allreduce
  rate=$(awk '/^throughput_epochs_2_to_last/ {print $2}' "$work/$name.log")
  allreduce=$(awk '/^seconds_in_allreduce/ {print $2}' "$work/$name.log")
  printf '%-28s images/s %8s   seconds in all-reduce (waits for the slower rank included) %s\n' "$name" "$rate" "${allreduce:-0 (one process)}"
  echo "$rate" > "$work/$name.rate"
}
run "1 process, 1 thread" "$latent" "${fit[@]}" --threads 1
run "1 process, 2 threads" "$latent" "${fit[@]}" --threads 2
run "2 ranks, 1 thread each" "${mpirun_[@]}" -np 2 "$latent" "${fit[@]}" --threads 1
phi=$(awk '/learnable values/ {for (i = 1; i <= NF; i++) if ($i == "learnable") print $(i - 1)}' "$work/1 process, 1 thread.log")
python3 - "$work" "$phi" "$batch" <<'PY'
import sys, pathlib
work, phi, batch = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rate = {n: float((work / f"{n}.rate").read_text()) for n in ["1 process, 1 thread", "1 process, 2 threads", "2 ranks, 1 thread each"]}
print(f"ratio 2 ranks / 1 process 1 thread: {rate['2 ranks, 1 thread each'] / rate['1 process, 1 thread']:.2f}; "
      f"2 ranks / 1 process 2 threads: {rate['2 ranks, 1 thread each'] / rate['1 process, 2 threads']:.2f}")
# The model: each step all-reduces (1 + phi) floats. A ring all-reduce sends and
# receives 2 (K - 1) / K of them per rank, in 2 (K - 1) messages of latency alpha.
per_image = 1 / rate["1 process, 1 thread"]  # seconds of computation per image on one core
nbytes = 4 * (1 + phi)
print(f"model: {phi} learnable values, {nbytes / 1e6:.2f} MB all-reduced per step (float); "
      f"computation {per_image * 1e6:.0f} us per image per core (measured above)")
for name, bandwidth, alpha in [("10 Gb/s Ethernet", 1.25e9, 30e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]:
    print(f"  {name} (latency {alpha * 1e6:.0f} us):")
    for k in [8, 16, 32, 64]:
        comm = 2 * (k - 1) * alpha + 2 * (k - 1) / k * nbytes / bandwidth
        compute = batch / k * per_image  # one core per machine
        crossover = k * comm / per_image
        print(f"    K={k:3d}: all-reduce {comm * 1e3:6.2f} ms, computation of a batch of {batch} {compute * 1e3:6.2f} ms; "
              f"communication costs more than computation below a global batch of {crossover:,.0f} images "
              f"(one core per machine; c cores: c times that)")
PY
