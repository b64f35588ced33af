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
# Under emulation the whole suite takes long; the architecture-specific code is the CRC kernels
# and the decoder (unaligned loads, byte order), plus the member streams that use both. The
# parallel engine's tests are not in the default set: threads under qemu-user are too slow (its
# long-match test did not finish in 10 minutes); NPZ_ARM64_ALL=1 includes them.
# NPZ_ARM64_ALL=1 runs every test.
filter="crc32_,inflate_,member_stream_,archive_crc"
if [ "${NPZ_ARM64_ALL:-0}" = 1 ]; then filter=""; fi
NPZ_TEST_FILTER="$filter" QEMU_LD_PREFIX=/usr/aarch64-linux-gnu \
  qemu-aarch64 -cpu max build-arm64/npz_core_tests test/fixtures
