// libFuzzer target: Archive::open_source over arbitrary bytes (as .npz, and as .npy with the NPY
// magic); every member scanned, copied and string-decoded. The body lives in fuzz_bodies.h, shared
// with test_regressions.cc.
#include <cstddef>
#include <cstdint>

#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npzfuzz::archive_scan(data, size, npzfuzz::trap_unless);
  return 0;
}
