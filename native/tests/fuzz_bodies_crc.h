// Body of the fuzz_crc32 target (also run by test_crc32.cc): every supported CRC-32 kernel,
// with a seed and a split point taken from the input, must equal zlib's crc32, chained or
// combined.
#pragma once
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crc32.h"

namespace npzfuzz {

template <class Check>
void crc32_diff(const uint8_t* data, size_t size, Check&& check) {
  uint32_t seed = 0;
  size_t split = 0;
  if (size >= 6) {
    std::memcpy(&seed, data, 4);
    split = (static_cast<size_t>(data[4]) << 8 | data[5]) % (size - 5);
    data += 6;
    size -= 6;
  }
  const uint32_t want = static_cast<uint32_t>(::crc32(seed, data, static_cast<uInt>(size)));
  const npz::Crc32Kernel* ks = nullptr;
  const size_t nk = npz::crc32_kernels(&ks);
  for (size_t i = 0; i < nk; ++i) {
    if (!ks[i].supported) continue;
    check(ks[i].fn(seed, data, size) == want, "kernel equals zlib");
    check(ks[i].fn(ks[i].fn(seed, data, split), data + split, size - split) == want,
          "chained kernel equals zlib");
  }
  const uint32_t a = npz::crc32_update(seed, data, split);
  const uint32_t b = npz::crc32_update(0, data + split, size - split);
  check(npz::crc32_combine(a, b, size - split) == want, "combine equals zlib");
}

}  // namespace npzfuzz
