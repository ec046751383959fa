#!/usr/bin/env bash
# Benchmarks of the spine, printed with the reference figures of the same run:
#  1. compile latency: model source text to a callable JIT gradient, per example
#     (inside the process, as reported by `latent grad --time`), with an empty
#     compile cache and with the object cached, and the whole process wall time;
#  2. wall time of a whole ADVI fit (Stan's algorithm and defaults) per example;
#  3. the overhead of a log_prob_grad call through the public API;
#  4. time per value-and-gradient call for logistic regression, N = 10000,
#     D = 100, against a hand-written analytic C++ gradient (-O3 -march=native)
#     on the same data and point.
# Usage: bench/run_benchmarks.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
latent=$build/latent
[ -x "$latent" ] || { echo "build latent first (cmake --build $build)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== compile latency (source text -> callable gradient; target <= 0.050 s; Stan: 37-55 s)"
python3 - "$latent" "$root" <<'PY'
import json, subprocess, sys, time
latent, root = sys.argv[1], sys.argv[2]
import os, tempfile
cache = tempfile.mkdtemp(prefix="latent-bench-cache-")
env = dict(os.environ, LATENT_CACHE_DIR=cache)
print(f"{'model':20s} {'first [s]':>10s} {'cached [s]':>11s} {'process [s]':>12s}")
for m in ["eight_schools", "logistic", "kidiq", "linear_regression", "mixture", "ark", "garch"]:
    d = f"{root}/examples/{m}"
    cmd = [latent, "grad", f"{d}/model.lat", "--data", f"{d}/data.json", "--seed", "1"]
    first = subprocess.run(cmd + ["--time"], check=True, capture_output=True, text=True, env=env).stdout
    cached = subprocess.run(cmd + ["--time"], check=True, capture_output=True, text=True, env=env).stdout
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # whole process (cached), no timing loop
    wall = time.perf_counter() - start
    print(f"{m:20s} {json.loads(first)['compile_seconds']:10.4f} {json.loads(cached)['compile_seconds']:11.4f} {wall:12.3f}")
PY
echo
echo "== ADVI (mean-field, Stan's defaults): wall time of the whole fit, compilation included"
python3 - "$latent" "$root" "$work" <<'PY'
import json, subprocess, sys, time
latent, root, work = sys.argv[1:4]
print(f"{'model':20s} {'wall [s]':>9s} {'iterations':>11s} {'converged':>10s} {'ELBO':>12s}")
for m in ["eight_schools", "logistic", "kidiq", "linear_regression", "mixture", "ark", "garch"]:
    d = f"{root}/examples/{m}"
    out = f"{work}/{m}_advi.json"
    start = time.perf_counter()
    run = subprocess.run([latent, "fit", f"{d}/model.lat", "--data", f"{d}/data.json", "--method", "advi", "--seed", "1",
                          "-q", "-o", out], capture_output=True)
    if run.returncode not in (0, 3):  # 3: stopped at --iter without converging (the column says so)
        sys.exit(f"{m}: latent exited {run.returncode}: {run.stderr.decode()}")
    wall = time.perf_counter() - start
    fit = json.load(open(out))
    print(f"{m:20s} {wall:9.2f} {fit['iterations']:11d} {str(fit['converged']):>10s} {fit['elbo']:12.2f}")
PY

echo
echo "== one log_prob_grad call through the public C++ API against the internal call"
cmake --build "$build" --target bench_api_overhead -j2 > /dev/null
for m in eight_schools kidiq; do
  echo "-- $m"
  "$build/bench_api_overhead" "$root/examples/$m/model.lat" "$root/examples/$m/data.json"
done

echo
echo "== logistic regression, N = 10000, D = 100: one value-and-gradient call"
python3 "$root/bench/make_logistic_data.py" 10000 100 "$work/data.json"
python3 -c "import json; print(json.dumps([0.1] * 101))" > "$work/point.json"
g++ -O3 -march=native -std=c++17 -isystem /usr/include/eigen3 "$root/bench/logistic_reference.cpp" -o "$work/reference"
ref=$("$work/reference" "$work/data.json" "$work/point.json")
ours=$("$latent" grad "$root/examples/logistic/model.lat" --data "$work/data.json" \
       --unconstrained "$(cat "$work/point.json")" --time)
python3 - "$ref" "$ours" <<'PY'
import json, sys
ref, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
err = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(ours["gradient"], ref["gradient"]))
print(f"hand-written C++ (Eigen, -O3 -march=native): {ref['seconds_per_gradient'] * 1e6:8.1f} us")
print(f"latent (JIT, from the model as written):     {ours['seconds_per_gradient'] * 1e6:8.1f} us")
print(f"ratio latent / hand-written: {ours['seconds_per_gradient'] / ref['seconds_per_gradient']:.2f} (target <= 1.2)")
print(f"log density difference: {abs(ours['log_density'] - ref['log_density']):.3g}; max relative gradient difference: {err:.3g}")
print("published reference (shared/BENCHMARKS.md): Stan reverse mode ~1450 us, Stan bernoulli_logit_glm ~260-280 us")
PY
