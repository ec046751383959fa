#!/usr/bin/env bash
# MADE on binarised Fashion-MNIST (784-500-784 masked, ReLU, Bernoulli, Adam 1e-3,
# batch 100, 10 epochs): latent (examples/made/made.lat) against the same network
# in PyTorch (bench/made_pytorch.py, PyTorch with OpenBLAS), both run in this one
# invocation on this machine. Prints each system's training images/s over epochs
# 2..last and its exact test log-likelihood per image, then the throughput ratio
# latent/PyTorch (target >= 1.5) and the log-likelihood difference (target
# |d| <= 1 nat).
#
# Usage: bench/run_made_benchmark.sh [BUILD_DIR] [--quick] [--threads N] [--epochs E] [--repeat R]
#   --quick   smoke run: 5000 training images, 2 epochs, test on 500 images
#   --repeat  R rounds, each training PyTorch then latent (interleaved, so both
#             see the same machine load); prints each round's ratio and the median
# Needs: apt-get install python3-torch libopenblas0-pthread dataset-fashion-mnist
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
quick=0
threads=2
epochs=
repeat=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --epochs) epochs=${2:?--epochs needs a number}; shift ;;
    --repeat) repeat=${2:?--repeat needs a number}; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
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

have_torch=1
if ! "$py" -c 'import torch' 2> /dev/null; then
  echo "PyTorch skipped: $py cannot import torch (apt-get install -y python3-torch libopenblas0-pthread)"
  have_torch=0
fi
model=$root/examples/made/made.lat
fit_cmd=("$latent" fit "$model" --data fashion-mnist --method svi --batch 100 --epochs "$epochs" "${fit_rows[@]}"
         --optimizer adam --lr 1e-3 --threads "$threads" --output "$work/made.fit")
eval_cmd=("$latent" eval "$model" --data fashion-mnist:test --fit "$work/made.fit" "${eval_rows[@]}")
: > "$work/pytorch.res"
: > "$work/latent.res"
: > "$work/rounds"
for round in $(seq 1 "$repeat"); do
  py_rate= latent_rate=
  if [ $have_torch = 1 ]; then
    echo; echo "-- round $round, PyTorch: $py bench/made_pytorch.py --threads $threads --epochs $epochs ${py_opts[*]}"
    if "$py" "$root/bench/made_pytorch.py" --threads "$threads" --epochs "$epochs" "${py_opts[@]}" > "$work/py.out" 2> "$work/py.err"; then
      grep -v '^# peak' "$work/py.out"
      results "$work/py.out" /dev/null > "$work/pytorch.res"
      py_rate=$(sed -n 's/^rate=//p' "$work/pytorch.res")
    else
      echo "PyTorch reference failed:"; tail -n 20 "$work/py.err"
    fi
  fi
  echo; echo "-- round $round, latent: ${fit_cmd[*]}"
  if "${fit_cmd[@]}" 2> "$work/fit.err" > /dev/null; then
    cat "$work/fit.err"
    latent_rate=$(awk '$1 == "throughput_epochs_2_to_last" { print $2 }' "$work/fit.err")
  else
    echo "latent fit failed:"; tail -n 5 "$work/fit.err"
  fi
  echo "$round ${py_rate:-n/a} ${latent_rate:-n/a}" >> "$work/rounds"
done

# The last round's fit is evaluated (the fits of every round are the same: same seed).
if [ -s "$work/made.fit" ]; then
  echo "-- latent: ${eval_cmd[*]}"
  if "${eval_cmd[@]}" > "$work/eval.out" 2> "$work/eval.err"; then
    cat "$work/eval.out"
    results "$work/fit.err" "$work/eval.out" > "$work/latent.res"
  else
    echo "latent eval failed:"; tail -n 5 "$work/eval.err"
  fi
fi

echo; echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$repeat" -gt 1 ]; then
  echo "round  PyTorch images/s  latent images/s  ratio"
  awk '{ r = ($2 + 0 > 0 && $3 != "n/a") ? sprintf("%.2f", $3 / $2) : "n/a"; printf "%5d %17s %16s %6s\n", $1, $2, $3, r }' "$work/rounds"
fi
# Medians over the rounds of each rate and of the per-round ratios.
awk -v rounds="$work/rounds" '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FNR == 1 { sys = FILENAME; sub(/.*\//, "", sys); sub(/\.res$/, "", sys) }
  FILENAME != rounds { split($0, kv, "="); v[sys, kv[1]] = kv[2]; next }
  $2 != "n/a" { np++; pr[np] = $2 }
  $3 != "n/a" { nl++; lr[nl] = $3 }
  $2 != "n/a" && $3 != "n/a" && $2 > 0 { nr++; ratio[nr] = $3 / $2 }
  function show(x, fmt) { return x == "" ? "n/a" : sprintf(fmt, x) }
  END {
    p = np ? median(pr, np) : ""; l = nl ? median(lr, nl) : ""
    printf "%-8s %22s %22s\n", "system", "images/s (ep 2..last)", "test log-lik (nats)"
    printf "%-8s %22s %22s\n", "pytorch", show(p, "%.1f"), show(v["pytorch", "ll"], "%.3f")
    printf "%-8s %22s %22s\n", "latent", show(l, "%.1f"), show(v["latent", "ll"], "%.3f")
    if (nr) printf "ratio latent/pytorch throughput: %.2f%s (target >= 1.5: %s)\n", median(ratio, nr),
                   (nr > 1 ? " (median of " nr " interleaved rounds)" : ""), (median(ratio, nr) >= 1.5 ? "met" : "NOT met")
    else print "ratio latent/pytorch throughput: n/a (target >= 1.5)"
    pl = v["pytorch", "ll"]; ll = v["latent", "ll"]
    if (pl != "" && ll != "") { d = ll - pl; printf "log-likelihood difference: %+.3f nats (latent - pytorch; target |d| <= 1: %s)\n", d, (d <= 1 && d >= -1 ? "met" : "NOT met") }
    else print "log-likelihood difference: n/a (target |d| <= 1 nat)"
  }' "$work/pytorch.res" "$work/latent.res" "$work/rounds"
