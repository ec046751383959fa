#!/usr/bin/env bash
# VAE on Fashion-MNIST (784-400-20, Bernoulli on intensities, Adam 1e-3, batch 128,
# 10 epochs, analytic KL): latent against the PyTorch reference (bench/vae_pytorch.py,
# PyTorch with OpenBLAS), both run in this one invocation on this machine.
# Prints: system, training images/s over epochs 2..last (data loading included),
# test negative ELBO per image, test IWAE (K = 100) log-likelihood per image; then the
# throughput ratio latent/PyTorch (target >= 1.5) and the neg ELBO difference
# latent - PyTorch (target |d| <= 1 nat).
#
# Usage: bench/run_vae_benchmark.sh [BUILD_DIR] [--quick] [--threads N]
#   BUILD_DIR   where the latent binary is (default: build)
#   --quick     smoke run: 5000 training images, 2 epochs, test on 500 images
#   --threads N threads for both systems (default 2)
#   --no-single-thread-reference
#               with N > 1 threads, PyTorch is also run with 1 thread (training only),
#               because two threads on two shared cores are often slower than one:
#               the last line then compares latent with the faster PyTorch; this skips it
# Needs: apt-get install python3-torch libopenblas0-pthread dataset-fashion-mnist
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
quick=0
threads=2
single_ref=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --threads=*) threads=${1#--threads=} ;;
    --no-single-thread-reference) single_ref=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
latent=$build/latent
model=$root/examples/vae/vae.lat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

if [ $quick = 1 ]; then
  mode="quick: 5000 training images, 2 epochs, 500 test images"
  py_opts=(--quick)
  fit_opts=(--epochs 2 --max-rows 5000)
  eval_opts=(--max-rows 500)
else
  mode="full: 60000 training images, 10 epochs, 10000 test images"
  py_opts=()
  fit_opts=(--epochs 10)
  eval_opts=()
fi

echo "== VAE on Fashion-MNIST ($mode; $threads threads)"
echo "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Each system leaves key=value lines in $work/<system>.res: rate, elbo, iwae, iwae_k.
parse_results() {  # $1 = training log (epoch lines, throughput line), $2 = eval output, $3 = result file
  awk '
    $1 == "throughput_epochs_2_to_last" { rate = $2 }
    $1 == "epoch" && $5 == "images_per_s" { n++; if ($2 > 1) { sum += $6; m++ } ; last = $6 }
    # the contract names (test_*), and the names latent eval printed in its first version
    $1 == "test_neg_elbo" || $1 == "neg_elbo_per_datum" { elbo = $2 }
    $1 == "test_iwae_ll" || $1 == "iwae_log_likelihood_per_datum" { iwae_k = $2; iwae = $3 }
    END {
      if (rate == "" && m > 0) rate = sum / m
      if (rate == "" && n > 0) rate = last
      print "rate=" rate; print "elbo=" elbo; print "iwae=" iwae; print "iwae_k=" iwae_k
    }' "$1" "$2" > "$3"
}

# ---- PyTorch
run_pytorch() {  # $1 = name, then options for vae_pytorch.py
  local name=$1; shift
  echo
  echo "-- PyTorch reference ($name): $py bench/vae_pytorch.py $*"
  if "$py" "$root/bench/vae_pytorch.py" "$@" > "$work/$name.out" 2> "$work/$name.err"; then
    grep -v '^# peak' "$work/$name.out"
    parse_results "$work/$name.out" /dev/null "$work/$name.res"
  else
    echo "PyTorch reference failed:"; tail -n 20 "$work/$name.err"
  fi
}
if "$py" -c 'import torch' 2> /dev/null; then
  run_pytorch pytorch --threads "$threads" "${py_opts[@]}"
  if [ "$threads" != 1 ] && [ $single_ref = 1 ]; then
    run_pytorch pytorch-1t --threads 1 --iwae 0 "${py_opts[@]}"
  fi
else
  echo
  echo "-- PyTorch reference skipped: $py cannot import torch;" \
       "install it with: apt-get install -y python3-torch libopenblas0-pthread dataset-fashion-mnist"
fi

# ---- latent
echo
fit_cmd=("$latent" fit "$model" --data fashion-mnist --method svi --batch 128 "${fit_opts[@]}"
         --optimizer adam --lr 1e-3 --kl analytic --threads "$threads" --output "$work/vae.fit")
eval_cmd=("$latent" eval "$model" --data fashion-mnist:test --fit "$work/vae.fit" --iwae 100 "${eval_opts[@]}")
echo "-- latent: ${fit_cmd[*]}"
if [ ! -x "$latent" ]; then
  echo "skipped: no latent binary at $latent (build it: cmake --build $build)"
else
  # fit reports its epochs on stderr: show them as they come and keep them for parsing.
  "${fit_cmd[@]}" 2>&1 > "$work/latent_fit.out" | tee "$work/latent_fit.err" >&2
  status=${PIPESTATUS[0]}
  if [ "$status" = 0 ]; then
    echo "-- latent: ${eval_cmd[*]}"
    if "${eval_cmd[@]}" > "$work/latent_eval.out" 2> "$work/latent_eval.err"; then
      cat "$work/latent_eval.out"
      parse_results "$work/latent_fit.err" "$work/latent_eval.out" "$work/latent.res"
    else
      echo "latent eval failed (exit $?):"; tail -n 20 "$work/latent_eval.err"
      parse_results "$work/latent_fit.err" /dev/null "$work/latent.res"
    fi
  else
    echo "latent fit failed (exit $status); its last output is above"
    tail -n 5 "$work/latent_fit.out"
  fi
fi

# ---- summary
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in pytorch pytorch-1t latent; do [ -f "$work/$s.res" ] || : > "$work/$s.res"; done
awk -v threads="$threads" '
  FNR == 1 { sys = FILENAME; sub(/.*\//, "", sys); sub(/\.res$/, "", sys) }
  { split($0, kv, "="); v[sys, kv[1]] = kv[2] }
  function show(x, fmt) { return x == "" ? "n/a" : sprintf(fmt, x) }
  END {
    k = v["pytorch", "iwae_k"] != "" ? v["pytorch", "iwae_k"] : v["latent", "iwae_k"]
    if (k == "") k = 100
    printf "%-10s %8s %22s %15s %16s\n", "system", "threads", "images/s (ep 2..last)", "test neg ELBO", "IWAE LL (K=" k ")"
    split("pytorch pytorch-1t latent", names, " ")
    for (i = 1; i <= 3; i++) {
      s = names[i]
      if (s == "pytorch-1t" && v[s, "rate"] == "") continue
      printf "%-10s %8s %22s %15s %16s\n", s, (s == "pytorch-1t" ? 1 : threads), show(v[s, "rate"], "%.1f"),
             show(v[s, "elbo"], "%.3f"), show(v[s, "iwae"], "%.3f")
    }
    pr = v["pytorch", "rate"]; lr = v["latent", "rate"]
    if (pr != "" && lr != "" && pr > 0) {
      r = lr / pr
      printf "ratio latent/pytorch throughput: %.2f (target >= 1.5: %s)\n", r, (r >= 1.5 ? "met" : "NOT met")
    } else print "ratio latent/pytorch throughput: n/a (target >= 1.5)"
    pe = v["pytorch", "elbo"]; le = v["latent", "elbo"]
    if (pe != "" && le != "") {
      d = le - pe; ad = d < 0 ? -d : d
      printf "neg ELBO difference: %+.3f nats (latent - pytorch; target |d| <= 1: %s)\n", d, (ad <= 1 ? "met" : "NOT met")
    } else print "neg ELBO difference: n/a (target |d| <= 1 nats)"
    pi = v["pytorch", "iwae"]; li = v["latent", "iwae"]
    if (pi != "" && li != "") {
      printf "IWAE LL difference: %+.3f nats (latent - pytorch)\n", li - pi
      if ((pi < 0) != (li < 0)) print "warning: the IWAE figures have opposite signs (a log-likelihood is negative)"
    }
    p1 = v["pytorch-1t", "rate"]
    if (p1 != "" && lr != "" && pr != "") {
      best = p1 > pr ? p1 : pr
      printf "ratio latent/fastest pytorch (%s threads) throughput: %.2f\n", (p1 > pr ? 1 : threads), lr / best
    }
  }' "$work/pytorch.res" "$work/pytorch-1t.res" "$work/latent.res"
[ $quick = 1 ] && echo "(quick: 2 epochs on 5000 images are a smoke test; the targets apply to the full run)"
echo "published (shared/BENCHMARKS.md): PyTorch+OpenBLAS 1 thread ~11700-12500 images/s;" \
     "10 epochs seed 0: test neg ELBO 244.3, IWAE(100) LL -241.8 nats/image"
