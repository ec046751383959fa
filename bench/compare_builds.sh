#!/usr/bin/env bash
# Before and after a change, in one invocation: two builds of latent measured in
# turn (A B A B ...), so that the machine's drift hits both alike. Prints, per
# figure, the median of each build and the ratio after/before (1.00 = unchanged).
#
#   compile   source text -> callable gradient, in the process (`grad --time`),
#             with an empty object cache and with a warm one, per example
#   gradient  one value-and-gradient call: the logistic regression (N = 10000,
#             D = 100) and the examples
#   vae       SVI training throughput of examples/vae on Fashion-MNIST (images/s,
#             epochs 2..3 of 3 on the first 20000 images, 2 threads), when the data is installed
#
# Usage: bench/compare_builds.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS]   (default 5 rounds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { sed -n 2,14p "$0"; exit 2; }
before=$1/latent
after=$2/latent
rounds=${3:-5}
for b in "$before" "$after"; do [ -x "$b" ] || { echo "no latent binary at $b"; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/make_logistic_data.py" 10000 100 "$work/logistic.json"

python3 - "$before" "$after" "$root" "$work" "$rounds" <<'PY'
import json, os, statistics, subprocess, sys, tempfile
before, after, root, work, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
builds = {"before": before, "after": after}
examples = ["eight_schools", "kidiq", "linear_regression", "mixture", "ark", "garch", "logistic"]
figures = {}  # (figure, build) -> values

def record(figure, build, value):
    figures.setdefault((figure, build), []).append(value)

def grad(latent, model, data, cache):
    env = dict(os.environ, LATENT_CACHE_DIR=cache)
    out = subprocess.run([latent, "grad", model, "--data", data, "--seed", "1", "--time"], check=True,
                         capture_output=True, text=True, env=env).stdout
    return json.loads(out)

def vae(latent):
    out = subprocess.run([latent, "fit", f"{root}/examples/vae/vae.lat", "--data", "fashion-mnist", "--method", "svi",
                          "--kl", "analytic", "--batch", "128", "--epochs", "3", "--max-rows", "20000",
                          "--threads", "2", "--seed", "0"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    for line in out.stderr.splitlines():
        if line.startswith("throughput_epochs_2_to_last"):
            return float(line.split()[1])
    return None

have_vae = True
for r in range(rounds):
    for name, latent in (builds.items() if r % 2 == 0 else reversed(builds.items())):
        for m in examples:
            d = f"{root}/examples/{m}"
            data = f"{work}/logistic.json" if m == "logistic" else f"{d}/data.json"
            cache = tempfile.mkdtemp(prefix="latent-bench-", dir=work)
            cold = grad(latent, f"{d}/model.lat", data, cache)
            warm = grad(latent, f"{d}/model.lat", data, cache)
            record(f"compile empty cache [ms] {m}", name, cold["compile_seconds"] * 1e3)
            record(f"compile warm cache [ms] {m}", name, warm["compile_seconds"] * 1e3)
            record(f"gradient [us] {m}", name, warm["seconds_per_gradient"] * 1e6)
        if have_vae:
            v = vae(latent)
            if v is None:
                have_vae = False
            else:
                record("vae training [images/s]", name, v)

print(f"{'figure':45s} {'before':>10s} {'after':>10s} {'after/before':>13s}   (medians of {rounds} rounds)")
for figure in dict.fromkeys(f for f, _ in figures):
    a = statistics.median(figures[(figure, "before")])
    b = statistics.median(figures[(figure, "after")])
    print(f"{figure:45s} {a:10.2f} {b:10.2f} {b / a:13.2f}")
if not have_vae:
    print("vae: skipped (fashion-mnist not installed, or the fit failed)")
PY
