// libFuzzer target: npzguard's DEFLATE decoder against zlib (body in fuzz_bodies_inflate.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_bodies.h"
#include "fuzz_bodies_inflate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npzfuzz::inflate_diff(data, size, npzfuzz::trap_unless);
  return 0;
}
