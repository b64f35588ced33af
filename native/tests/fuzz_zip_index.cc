// libFuzzer target: the ZIP central-directory reader.
// The body lives in fuzz_bodies.h, shared with test_regressions.cc.
#include <cstddef>
#include <cstdint>

#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npzfuzz::zip_index(data, size, npzfuzz::trap_unless);
  return 0;
}
