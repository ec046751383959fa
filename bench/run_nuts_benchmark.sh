#!/usr/bin/env bash
# NUTS: latent against Stan (rstan 2.21) on the posteriordb models, in one run:
# wall time to 4 chains x 1000 draws (with and without compilation) and minimum
# bulk ESS per second. Stan is skipped when R with rstan is not installed
# (apt-get install -y r-base-core r-cran-rstan). See bench/nuts_benchmark.py.
# Usage: bench/run_nuts_benchmark.sh [BUILD_DIR] [--reps N] [--models a,b] [--no-stan] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
[ -x "$build/latent" ] || { echo "build latent first (cmake --build $build --target latent)"; exit 1; }
exec python3 "$root/bench/nuts_benchmark.py" --build "$build" "$@"
