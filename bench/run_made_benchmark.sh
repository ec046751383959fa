#!/usr/bin/env bash
# MADE on binarised Fashion-MNIST (784-500-784 masked, ReLU, Bernoulli, Adam 1e-3,
# batch 100, 10 epochs): latent (examples/made/made.lat) against the same network
# in PyTorch (bench/made_pytorch.py, PyTorch with OpenBLAS), both run in this one
# invocation on this machine. Prints each system's training images/s over epochs
# 2..last and its exact test log-likelihood per image, then the throughput ratio
# latent/PyTorch (target >= 1.5) and the log-likelihood difference (target
# |d| <= 1 nat).
#
# Usage: bench/run_made_benchmark.sh [BUILD_DIR] [--quick] [--threads N] [--epochs E]
#   --quick   smoke run: 5000 training images, 2 epochs, test on 500 images
# Needs: apt-get install python3-torch libopenblas0-pthread dataset-fashion-mnist
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
quick=0
threads=2
epochs=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --epochs) epochs=${2:?--epochs needs a number}; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
latent=$build/latent
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

if [ $quick = 1 ]; then
  epochs=${epochs:-2}
  py_opts=(--train-rows 5000 --test-rows 500)
  fit_rows=(--max-rows 5000)
  eval_rows=(--max-rows 500)
else
  epochs=${epochs:-10}
  py_opts=() fit_rows=() eval_rows=()
fi
echo "== MADE on binarised Fashion-MNIST ($epochs epochs; $threads threads$([ $quick = 1 ] && echo '; quick: 5000/500 images'))"
echo "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# rate = mean images/s over epochs 2..last; ll = test log-likelihood per image.
results() {  # $1 = training log, $2 = evaluation output
  awk '$1 == "throughput_epochs_2_to_last" { print "rate=" $2 }
       $1 == "test_log_likelihood" || $1 == "log_likelihood_per_datum" { print "ll=" $2 }' "$1" "$2"
}

echo; echo "-- PyTorch: $py bench/made_pytorch.py --threads $threads --epochs $epochs ${py_opts[*]}"
if ! "$py" -c 'import torch' 2> /dev/null; then
  echo "skipped: $py cannot import torch (apt-get install -y python3-torch libopenblas0-pthread)"
  : > "$work/pytorch.res"
elif "$py" "$root/bench/made_pytorch.py" --threads "$threads" --epochs "$epochs" "${py_opts[@]}" > "$work/py.out" 2> "$work/py.err"; then
  grep -v '^# peak' "$work/py.out"
  results "$work/py.out" /dev/null > "$work/pytorch.res"
else
  echo "PyTorch reference failed:"; tail -n 20 "$work/py.err"; : > "$work/pytorch.res"
fi

model=$root/examples/made/made.lat
fit_cmd=("$latent" fit "$model" --data fashion-mnist --method svi --batch 100 --epochs "$epochs" "${fit_rows[@]}"
         --optimizer adam --lr 1e-3 --threads "$threads" --output "$work/made.fit")
eval_cmd=("$latent" eval "$model" --data fashion-mnist:test --fit "$work/made.fit" "${eval_rows[@]}")
echo; echo "-- latent: ${fit_cmd[*]}"
: > "$work/latent.res"
if "${fit_cmd[@]}" 2> "$work/fit.err" > /dev/null; then
  cat "$work/fit.err"
  echo "-- latent: ${eval_cmd[*]}"
  if "${eval_cmd[@]}" > "$work/eval.out" 2> "$work/eval.err"; then
    cat "$work/eval.out"
    results "$work/fit.err" "$work/eval.out" > "$work/latent.res"
  else
    echo "latent eval failed:"; tail -n 5 "$work/eval.err"
  fi
else
  echo "latent fit failed:"; tail -n 5 "$work/fit.err"
fi

echo; echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
  FNR == 1 { sys = FILENAME; sub(/.*\//, "", sys); sub(/\.res$/, "", sys) }
  { split($0, kv, "="); v[sys, kv[1]] = kv[2] }
  function show(x, fmt) { return x == "" ? "n/a" : sprintf(fmt, x) }
  END {
    printf "%-8s %22s %22s\n", "system", "images/s (ep 2..last)", "test log-lik (nats)"
    split("pytorch latent", names, " ")
    for (i = 1; i <= 2; i++) printf "%-8s %22s %22s\n", names[i], show(v[names[i], "rate"], "%.1f"), show(v[names[i], "ll"], "%.3f")
    pr = v["pytorch", "rate"]; lr = v["latent", "rate"]
    if (pr > 0 && lr != "") printf "ratio latent/pytorch throughput: %.2f (target >= 1.5: %s)\n", lr / pr, (lr / pr >= 1.5 ? "met" : "NOT met")
    else print "ratio latent/pytorch throughput: n/a (target >= 1.5)"
    pl = v["pytorch", "ll"]; ll = v["latent", "ll"]
    if (pl != "" && ll != "") { d = ll - pl; printf "log-likelihood difference: %+.3f nats (latent - pytorch; target |d| <= 1: %s)\n", d, (d <= 1 && d >= -1 ? "met" : "NOT met") }
    else print "log-likelihood difference: n/a (target |d| <= 1 nat)"
  }' "$work/pytorch.res" "$work/latent.res"
