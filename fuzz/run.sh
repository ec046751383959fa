#!/usr/bin/env bash
# Builds one libFuzzer target and runs it for a fixed time:
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer options]
#
# TARGET is fuzz_parse, fuzz_json_data, fuzz_fit_files or fuzz_pipeline (or "all",
# each for SECONDS in turn). The build directory is $LATENT_FUZZ_BUILD (default
# build-fuzz/), configured with clang, -DLATENT_FUZZ=ON (ASan + UBSan + libFuzzer)
# if it is not yet. First every saved finding in fuzz/regressions/TARGET/ is run
# once (each must pass), then the fuzzer starts from a seed corpus made from
# examples/, tests/golden/ and fuzz/seeds/ (kept in the build directory, so later
# runs go on from what earlier ones found). Exit status 0: no finding. A finding
# is written to BUILD/fuzz-artifacts/ (crash-*, timeout-*, oom-*, leak-*): turn it
# into a regression input (fuzz/regressions/TARGET/) and, for a program, a golden case.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets=(fuzz_parse fuzz_json_data fuzz_fit_files fuzz_pipeline)
if [ $# -lt 2 ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS [libFuzzer options]   (TARGET: ${targets[*]} or all)" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do "$0" "$t" "$seconds" "$@"; done
  exit 0
fi
case " ${targets[*]} " in *" $target "*) ;; *) echo "fuzz/run.sh: unknown target '$target' (${targets[*]})" >&2; exit 2 ;; esac

build=${LATENT_FUZZ_BUILD:-$root/build-fuzz}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DLATENT_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j2 --target "$target" >/dev/null
binary="$build/fuzz/$target"

# The seed corpus: files of the repository that are inputs of this target.
corpus="$build/fuzz-corpus/$target"
mkdir -p "$corpus" "$build/fuzz-artifacts"
add_seed() {  # add_seed FILE...: copied under the hash of their contents (no duplicates)
  [ $# -gt 0 ] || return 0
  sha1sum "$@" | while read -r hash file; do cp "$file" "$corpus/seed-${hash:0:16}"; done
}
shopt -s nullglob globstar
case "$target" in
  fuzz_parse) add_seed "$root"/examples/*/*.lat "$root"/tests/golden/**/*.lat ;;
  fuzz_json_data) add_seed "$root"/examples/*/*.json "$root"/tests/golden/**/*.json ;;
  fuzz_fit_files) add_seed "$root"/fuzz/seeds/fit_files/* "$root"/tests/golden/**/*.fit.json "$root"/tests/golden/**/*.fit ;;
  fuzz_pipeline)
    # model + "//@data" + data, for every example and golden case with data
    tmp=$(mktemp -d)
    for model in "$root"/examples/*/*.lat "$root"/tests/golden/**/*.lat; do
      data="${model%.lat}.json"
      [ -f "$data" ] || data="${model%/*}/data.json"
      case_dir=${model%/*}
      out="$tmp/${case_dir##*/}-${model##*/}"
      if [ -f "$data" ]; then
        { cat "$model"; printf '\n//@data\n'; cat "$data"; } >"$out"
      else
        cp "$model" "$out"
      fi
    done
    add_seed "$tmp"/*
    rm -rf "$tmp"
    ;;
esac

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LATENT_CACHE=off

regressions=()
for f in "$root"/fuzz/regressions/"$target"/*; do [ "$(basename "$f")" = README ] || regressions+=("$f"); done
if [ ${#regressions[@]} -gt 0 ]; then
  echo "fuzz/run.sh: $target: ${#regressions[@]} saved finding(s) of earlier runs"
  "$binary" "${regressions[@]}" >"$build/fuzz-artifacts/$target-regressions.log" 2>&1 || {
    cat "$build/fuzz-artifacts/$target-regressions.log"
    echo "fuzz/run.sh: $target: a saved finding fails again" >&2
    exit 1
  }
fi

echo "fuzz/run.sh: $target for $seconds s"
log="$build/fuzz-artifacts/$target.log"
status=0
"$binary" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$build/fuzz-artifacts/$target-" "$@" "$corpus" >"$log" 2>&1 || status=$?
# The figures: executions, coverage (edges), corpus size.
grep -E '^#[0-9]+ +DONE|^stat::number_of_executed_units|^stat::peak_rss_mb|^Done [0-9]+ runs' "$log" || true
if [ $status -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzz/run.sh: $target: FINDING (exit $status); see $log and $build/fuzz-artifacts/" >&2
  exit 1
fi
echo "fuzz/run.sh: $target: no finding"
