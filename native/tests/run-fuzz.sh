#!/usr/bin/env bash
# Builds the libFuzzer targets (NPZ_FUZZ=ON standalone configuration, clang++-14, ASan+UBSan)
# into <repo>/build-fuzz and runs EVERY native/tests/fuzz_*.cc target in turn.
#
# Usage: native/tests/run-fuzz.sh [target ...]     (from anywhere; default: all targets)
# Environment:
#   FUZZ_SECONDS   seconds per target (-max_total_time), default 60
#   FUZZ_JOBS      parallel build jobs, default 2
#   FUZZ_EXTRA     extra libFuzzer flags, appended verbatim (e.g. "-seed=1")
#
# Each target starts from its seed corpus native/tests/corpus/<target>/ plus its regression
# inputs native/tests/fuzz-regressions/<target>/ and the hand-broken files of
# test/fixtures/corrupt/, copied into a scratch directory under
# build-fuzz/fuzz-work/<target>/ so the repository is never modified. A dictionary
# native/tests/dict/<target>.dict is passed with -dict when present. Crash, leak, timeout and
# OOM inputs land in build-fuzz/fuzz-work/<target>/artifacts/.
# Prints one summary line per target ("fuzz <target>: status=ok execs=N ...") and exits
# non-zero when any target failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

seconds="${FUZZ_SECONDS:-60}"
case "$seconds" in
  ''|*[!0-9]*) echo "run-fuzz: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

if command -v clang++-14 >/dev/null 2>&1 && command -v clang-14 >/dev/null 2>&1; then
  cxx=clang++-14 cc=clang-14
elif command -v clang++ >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
  cxx=clang++ cc=clang
else
  echo "run-fuzz: clang++-14 (or clang++) is required for libFuzzer" >&2
  exit 2
fi
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi

# A cache made by another compiler cannot be reused.
if [ -f build-fuzz/CMakeCache.txt ] && ! grep -q "CMAKE_CXX_COMPILER:[A-Z]*=.*${cxx}\$" build-fuzz/CMakeCache.txt; then
  rm -rf build-fuzz
fi
cmake -S . -B build-fuzz "${gen[@]}" -DNPZ_STANDALONE=ON -DNPZ_FUZZ=ON \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build build-fuzz --parallel "${FUZZ_JOBS:-2}"

targets=()
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  for src in native/tests/fuzz_*.cc; do
    t="$(basename "$src" .cc)"
    targets+=("$t")
  done
fi
if [ "${#targets[@]}" -eq 0 ]; then
  echo "run-fuzz: no fuzz targets found" >&2
  exit 2
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

work="$root/build-fuzz/fuzz-work"
summary=()
failed=0
for t in "${targets[@]}"; do
  bin="build-fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "run-fuzz: $bin was not built" >&2
    summary+=("fuzz $t: status=missing execs=0")
    failed=1
    continue
  fi
  dir="$work/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  for seeds in "native/tests/corpus/$t" "native/tests/fuzz-regressions/$t" test/fixtures/corrupt; do
    if [ -d "$seeds" ]; then
      find "$seeds" -maxdepth 1 -type f \( -name '*.np[yz]' -o ! -name '*.*' \) -exec cp {} "$dir/corpus/" \;
    fi
  done
  args=("$dir/corpus" "-max_total_time=$seconds" -rss_limit_mb=2048 -timeout=10
        -print_final_stats=1 "-artifact_prefix=$dir/artifacts/")
  if [ -f "native/tests/dict/$t.dict" ]; then args+=("-dict=native/tests/dict/$t.dict"); fi
  if [ -n "${FUZZ_EXTRA:-}" ]; then
    # shellcheck disable=SC2206  # word splitting intended
    args+=($FUZZ_EXTRA)
  fi
  echo "run-fuzz: $t for ${seconds}s (log: $dir/fuzz.log)"
  set +e
  "$bin" "${args[@]}" >"$dir/fuzz.log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*\([0-9]*\).*/\1/p' "$dir/fuzz.log" | tail -n 1)"
  cov="$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$dir/fuzz.log" | tail -n 1)"
  nart="$(find "$dir/artifacts" -type f | wc -l)"
  if [ "$rc" -eq 0 ] && [ "$nart" -eq 0 ]; then
    status=ok
  else
    status=FAIL
    failed=1
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' \
      "$dir/fuzz.log" | head -n 5 >&2 || true
  fi
  summary+=("fuzz $t: status=$status execs=${execs:-0} cov=${cov:-?} rc=$rc artifacts=$nart seconds=$seconds")
done

echo "run-fuzz summary:"
for line in "${summary[@]}"; do echo "  $line"; done
if [ "$failed" -ne 0 ]; then
  echo "run-fuzz: FAILED (reproduce with build-fuzz/<target> <artifact>; keep each crash input in native/tests/fuzz-regressions/<target>/)" >&2
  exit 1
fi
