// libFuzzer target: the parallel DEFLATE engine (parallel_inflate.cc) against zlib, with tiny
// chunks (body in fuzz_bodies_parallel.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_bodies.h"
#include "fuzz_bodies_parallel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npzfuzz::parallel_diff(data, size, npzfuzz::trap_unless);
  return 0;
}
