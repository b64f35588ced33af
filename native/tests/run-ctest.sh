#!/usr/bin/env bash
# Builds the core + C++ tests with AddressSanitizer/UndefinedBehaviorSanitizer and runs ctest.
# Usage: native/tests/run-ctest.sh   (from anywhere; builds into <repo>/build-asan)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

if command -v clang++-14 >/dev/null 2>&1 && command -v clang-14 >/dev/null 2>&1; then
  cxx=clang++-14 cc=clang-14
elif command -v clang++ >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
  cxx=clang++ cc=clang
else
  echo "run-ctest: clang not found, falling back to g++/gcc" >&2
  cxx=g++ cc=gcc
fi
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi

# A cache from another compiler cannot be reused.
if [ -f build-asan/CMakeCache.txt ] && ! grep -q "CMAKE_CXX_COMPILER:[A-Z]*=.*${cxx}\$" build-asan/CMakeCache.txt; then
  rm -rf build-asan
fi

cmake -S . -B build-asan "${gen[@]}" -DNPZ_STANDALONE=ON -DNPZ_SANITIZE=ON \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc"
cmake --build build-asan --parallel "${NPZ_JOBS:-2}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-asan --output-on-failure
