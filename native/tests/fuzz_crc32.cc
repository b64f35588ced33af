// libFuzzer target: CRC-32 kernels and crc32_combine against zlib (body in fuzz_bodies_crc.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_bodies.h"
#include "fuzz_bodies_crc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npzfuzz::crc32_diff(data, size, npzfuzz::trap_unless);
  return 0;
}
