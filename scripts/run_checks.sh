#!/usr/bin/env bash
# The checking builds (README.md, "Fuzzing and sanitizers"), run by .ci/run after
# the test suite: one clang build in build-check/ with AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage (-DLATENT_FUZZ=ON), then
#   1. the fast unit suites and the golden tests under the sanitizers (any report fails them);
#   2. each fuzz target for LATENT_FUZZ_SECONDS (default 60) seconds, after its saved findings.
# From scratch, with -j2. LATENT_CHECKS=off skips it all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${LATENT_CHECKS:-on}" = off ]; then
  echo "run_checks.sh: skipped (LATENT_CHECKS=off)"
  exit 0
fi
build="$root/build-check"
seconds=${LATENT_FUZZ_SECONDS:-60}
rm -rf "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DLATENT_FUZZ=ON >/dev/null

# The suites that take seconds (the slow ones train models for minutes, several
# times slower under ASan; they run in the ordinary build). Only what they and the
# fuzz targets need is built.
suites=(${LATENT_SANITIZED_SUITES:-test_parser test_checker test_data test_output test_lowering test_loop_plan test_lbfgs test_cache test_image_data test_models test_stdlib test_hardening test_reverse test_activations test_scan test_cdfs test_vector_types test_distributed_svi})
fuzz_targets=(fuzz_parse fuzz_json_data fuzz_fit_files fuzz_pipeline)
cmake --build "$build" -j2 --target latent "${suites[@]}" "${fuzz_targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
regex="^($(IFS='|'; echo "${suites[*]}")|golden)\$"
(cd "$build" && ctest --output-on-failure -j2 -R "$regex")

passed=0
failed=0
for target in "${fuzz_targets[@]}"; do
  if LATENT_FUZZ_BUILD="$build" "$root/fuzz/run.sh" "$target" "$seconds"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
