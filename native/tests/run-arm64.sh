#!/usr/bin/env bash
# Cross-builds the core + C++ tests for arm64 with Debian's aarch64 cross compiler and runs them
# under qemu-user, so the arm64 CRC-32 kernels (PMULL folding, ARMv8 CRC32 instructions) and the
# decoder are tested on an x86-64 machine. Needs g++-aarch64-linux-gnu, qemu-user and
# zlib1g-dev:arm64 (dpkg --add-architecture arm64; .ci/run installs them).
# Usage: native/tests/run-arm64.sh   (from anywhere; builds into <repo>/build-arm64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run-arm64: $tool not found" >&2; exit 2; }
done
[ -e /usr/lib/aarch64-linux-gnu/libz.so ] || { echo "run-arm64: zlib1g-dev:arm64 missing" >&2; exit 2; }
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
cmake -S . -B build-arm64 "${gen[@]}" -DNPZ_STANDALONE=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
  -DCMAKE_LIBRARY_ARCHITECTURE=aarch64-linux-gnu \
  -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER >/dev/null
cmake --build build-arm64 --parallel "${NPZ_JOBS:-2}" --target npz_core_tests
file build-arm64/npz_core_tests 2>/dev/null | grep -q aarch64 || {
  echo "run-arm64: build-arm64/npz_core_tests is not an arm64 binary" >&2; exit 1; }
# -cpu max: every optional arm64 feature (CRC32, PMULL) on, so all kernels run; the portable
# kernel runs in the same pass (crc32_kernels_agree_with_zlib checks every supported kernel).
#
# Every test runs, the parallel DEFLATE engine's included: on arm64 its decode loop is the generic
# one (the BMI1/BMI2 copy is x86-64 only), the scanner's loops are the scalar ones (no SSE2), and
# unaligned loads, byte order and threads are exercised as on a real arm64 machine. The run
# takes about 3.5 minutes under qemu on 2 cores; NPZ_TEST_FILTER=prefix1,prefix2 runs fewer.
#
# The guest's dynamic loader and libc must come from the same glibc build. QEMU_LD_PREFIX makes
# the guest use the cross toolchain's loader (libc6-arm64-cross), but its default search path
# then finds the multiarch /lib/aarch64-linux-gnu/libc.so.6 first (libc6:arm64, which
# zlib1g-dev:arm64 pulls in, at a newer Debian revision than the cross package): with that mix
# the first pthread_create spins forever, so every test that starts a thread hung (which is why
# the parallel engine's tests used to be left out as "too slow"). LD_LIBRARY_PATH in the guest
# (-E) puts the cross libc, libstdc++ and libm next to their loader first; only libz comes from
# the multiarch directory. The timeout turns any hang into a failure instead of a stalled CI.
sysroot=/usr/aarch64-linux-gnu
[ -e "$sysroot/lib/libc.so.6" ] && [ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || {
  echo "run-arm64: $sysroot/lib has no libc.so.6 / ld-linux-aarch64.so.1 (libc6-arm64-cross)" >&2
  exit 2
}
limit="${NPZ_ARM64_TIMEOUT:-900}"
rc=0
# NPZ_TEST_QEMU=1 tells the tests they run under qemu-user, where madvise is a no-op and
# /proc/self/smaps is synthetic (the copy test then does not check which pages it got).
NPZ_TEST_FILTER="${NPZ_TEST_FILTER:-}" QEMU_LD_PREFIX="$sysroot" \
  timeout "$limit" qemu-aarch64 -cpu max -E "LD_LIBRARY_PATH=$sysroot/lib" -E NPZ_TEST_QEMU=1 \
  build-arm64/npz_core_tests test/fixtures || rc=$?
if [ "$rc" = 124 ]; then
  echo "run-arm64: the tests did not finish within ${limit} s under qemu (a hang? see the" \
    "loader/libc note in this script)" >&2
fi
exit "$rc"
