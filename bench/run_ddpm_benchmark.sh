#!/usr/bin/env bash
# DDPM on two moons (T = 40 steps, 3-128-128-2 ReLU noise network, trained on the
# exact ELBO with one draw of the chain per point; Adam 1e-3, batch 256, 10 epochs
# of 20 000 points): latent (examples/ddpm/ddpm.lat) against the same model in
# PyTorch (bench/ddpm_pytorch.py, PyTorch with OpenBLAS), both trained on the same
# points (examples/realnvp/make_data.py) in this one invocation on this machine.
# Prints each system's training points/s over epochs 2..last, its test ELBO and
# IWAE bound (K = 10) per point (5000 points), then the throughput ratio
# latent/PyTorch (target >= 1.5) and the differences of the bounds (target
# |d| <= 1 nat, or 1 %).
#
# Usage: bench/run_ddpm_benchmark.sh [BUILD_DIR] [--quick] [--threads N] [--epochs E]
#   --quick   smoke run: 4000 training points, 1000 test points, 2 epochs
# Needs: apt-get install python3-torch libopenblas0-pthread
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
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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
k=10

if [ $quick = 1 ]; then
  epochs=${epochs:-2} n_train=4000 n_test=1000
else
  epochs=${epochs:-10} n_train=20000 n_test=5000
fi
echo "== DDPM on two moons ($epochs epochs; $threads threads; $n_train training / $n_test test points$([ $quick = 1 ] && echo '; quick'))"
echo "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# The points both systems read: train.json and test.json (fixed seeds).
if ! "$py" "$root/examples/realnvp/make_data.py" --train "$n_train" --test "$n_test" --out "$work" 2> "$work/data.err"; then
  echo "make_data.py failed:"; tail -n 5 "$work/data.err"; exit 1
fi

# rate = mean points/s over epochs 2..last; elbo = test ELBO per point; iwae = IWAE bound per point.
# latent eval prints the negative ELBO (neg_elbo_per_datum X) and `iwae_log_likelihood_per_datum K Y`.
results() {  # $1 = training log, $2 = evaluation output
  awk '$1 == "throughput_epochs_2_to_last" { print "rate=" $2 }
       $1 == "test_elbo" { print "elbo=" $2 }
       $1 == "neg_elbo_per_datum" { print "elbo=" (-$2) }
       $1 ~ /^test_iwae/ { print "iwae=" $2 }
       $1 == "iwae_log_likelihood_per_datum" { print "iwae=" $3 }' "$1" "$2"
}

py_cmd=("$py" "$root/bench/ddpm_pytorch.py" --threads "$threads" --epochs "$epochs" --iwae "$k"
        --train "$work/train.json" --test "$work/test.json")
echo; echo "-- PyTorch: ${py_cmd[*]}"
if ! "$py" -c 'import torch' 2> /dev/null; then
  echo "skipped: $py cannot import torch (apt-get install -y python3-torch libopenblas0-pthread)"
  : > "$work/pytorch.res"
elif "${py_cmd[@]}" > "$work/py.out" 2> "$work/py.err"; then
  grep -v '^# peak' "$work/py.out"
  results "$work/py.out" /dev/null > "$work/pytorch.res"
else
  echo "PyTorch reference failed:"; tail -n 20 "$work/py.err"; : > "$work/pytorch.res"
fi

model=$root/examples/ddpm/ddpm.lat
fit_cmd=("$latent" fit "$model" --data "$work/train.json" --method svi --batch 256 --epochs "$epochs"
         --optimizer adam --lr 1e-3 --threads "$threads" --output "$work/ddpm.fit")
eval_cmd=("$latent" eval "$model" --data "$work/test.json" --fit "$work/ddpm.fit" --iwae "$k" --threads "$threads")
echo; echo "-- latent: ${fit_cmd[*]}"
: > "$work/latent.res"
if "${fit_cmd[@]}" 2> "$work/fit.err" > /dev/null; then
  cat "$work/fit.err"   # the epochs and throughput_epochs_2_to_last are on stderr
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
awk -v k=$k '
  FNR == 1 { sys = FILENAME; sub(/.*\//, "", sys); sub(/\.res$/, "", sys) }
  { split($0, kv, "="); v[sys, kv[1]] = kv[2] }
  function show(x, fmt) { return x == "" ? "n/a" : sprintf(fmt, x) }
  function abs(x) { return x < 0 ? -x : x }
  function compare(what, key,   p, l, d) {
    p = v["pytorch", key]; l = v["latent", key]
    if (p != "" && l != "") {
      d = l - p
      printf "%s difference: %+.4f nats (latent - pytorch; target |d| <= 1 nat or 1 %%: %s)\n", what, d,
             (abs(d) <= 1 || abs(d) <= 0.01 * abs(p) ? "met" : "NOT met")
    } else printf "%s difference: n/a (target |d| <= 1 nat or 1 %%)\n", what
  }
  END {
    printf "%-8s %22s %18s %18s\n", "system", "points/s (ep 2..last)", "test ELBO (nats)", "test IWAE K=" k
    split("pytorch latent", names, " ")
    for (i = 1; i <= 2; i++)
      printf "%-8s %22s %18s %18s\n", names[i], show(v[names[i], "rate"], "%.1f"), show(v[names[i], "elbo"], "%.4f"),
             show(v[names[i], "iwae"], "%.4f")
    pr = v["pytorch", "rate"]; lr = v["latent", "rate"]
    if (pr > 0 && lr != "") printf "ratio latent/pytorch throughput: %.2f (target >= 1.5: %s)\n", lr / pr, (lr / pr >= 1.5 ? "met" : "NOT met")
    else print "ratio latent/pytorch throughput: n/a (target >= 1.5)"
    compare("ELBO", "elbo")
    compare("IWAE", "iwae")
  }' "$work/pytorch.res" "$work/latent.res"
