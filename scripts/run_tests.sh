#!/usr/bin/env bash
# The test command (README.md, .ci/run): installs what is missing, builds from
# scratch in build-test/ with -j2 and MPI (so the tests of runs on several
# processes run, with mpirun), and runs the whole suite with CTest; then the
# sanitizer build (without MPI: the default configuration) of the fast suites and
# each fuzz target briefly (scripts/run_checks.sh; LATENT_CHECKS=off skips them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install_dependencies.sh"
rm -rf "$root/build-test"
cmake -S "$root" -B "$root/build-test" -DCMAKE_BUILD_TYPE=Release -DLATENT_MPI=ON
cmake --build "$root/build-test" -j2
(cd "$root/build-test" && ctest --output-on-failure -j2)
"$root/scripts/run_checks.sh"
