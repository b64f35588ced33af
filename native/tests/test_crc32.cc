// CRC-32 (crc32.h): every kernel this CPU can run, differentially against zlib's crc32 on random
// lengths (0..1 MiB), alignments, seeds and chunkings, and crc32_combine against zlib's.
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crc32.h"
#include "fuzz_bodies_crc.h"
#include "harness.h"

namespace {

uint32_t zcrc(uint32_t seed, const uint8_t* p, size_t n) {
  uLong c = seed;
  while (n > 0) {
    const uInt k = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
    c = ::crc32(c, p, k);
    p += k;
    n -= k;
  }
  return static_cast<uint32_t>(c);
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> b(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(b.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return b;
}

}  // namespace

NPZ_TEST(crc32_kernels_agree_with_zlib) {
  const npz::Crc32Kernel* ks = nullptr;
  const size_t nk = npz::crc32_kernels(&ks);
  NPZ_EXPECT(nk >= 1);
  std::vector<uint8_t> buf = random_bytes((1u << 20) + 64 + 8, 42);
  std::mt19937 rng(7);
  size_t ran = 0;
  for (size_t i = 0; i < nk; ++i) {
    if (!ks[i].supported) {
      std::printf("     crc32 kernel %s: not supported on this CPU\n", ks[i].name);
      continue;
    }
    ++ran;
    const auto* check = reinterpret_cast<const uint8_t*>("123456789");
    NPZ_EXPECT(ks[i].fn(0, check, 9) == 0xCBF43926u);
    // Every length 0..1200 at every alignment 0..15 (all head/tail/fold-boundary cases: the
    // 512-bit kernel takes inputs of >= 512 bytes, 256 at a time, and hands shorter ones to the
    // 256-bit kernel, which hands those below 256 to the 128-bit one), then random lengths up to
    // 1 MiB at random alignments with random seeds.
    for (size_t align = 0; align < 16; ++align)
      for (size_t n = 0; n <= 1200; ++n) {
        const uint32_t seed = static_cast<uint32_t>(n * 2654435761u);
        if (ks[i].fn(seed, buf.data() + align, n) != zcrc(seed, buf.data() + align, n)) {
          std::fprintf(stderr, "  FAIL %s: n=%zu align=%zu\n", ks[i].name, n, align);
          ++npztest::failures;
          return;
        }
      }
    for (int t = 0; t < 200; ++t) {
      const size_t n = rng() % ((1u << 20) + 1);
      const size_t align = rng() % 64;
      const uint32_t seed = rng();
      NPZ_EXPECT(ks[i].fn(seed, buf.data() + align, n) == zcrc(seed, buf.data() + align, n));
    }
    NPZ_EXPECT(ks[i].fn(0, buf.data(), 1u << 20) == zcrc(0, buf.data(), 1u << 20));
  }
  std::printf("     crc32: %zu kernel(s) checked, selected: %s\n", ran, npz::crc32_impl_name());
  NPZ_EXPECT(ran >= 1);
}

NPZ_TEST(crc32_chunked_update_and_combine_agree_with_zlib) {
  std::vector<uint8_t> buf = random_bytes(1u << 20, 9);
  std::mt19937 rng(11);
  const uint32_t whole = zcrc(0, buf.data(), buf.size());
  for (int t = 0; t < 50; ++t) {
    uint32_t c = 0, combined = 0;
    size_t pos = 0;
    while (pos < buf.size()) {
      const size_t k = std::min<size_t>(buf.size() - pos, rng() % (t < 25 ? 70000 : 300));
      c = npz::crc32_update(c, buf.data() + pos, k);
      combined = npz::crc32_combine(combined, npz::crc32_update(0, buf.data() + pos, k), k);
      pos += k;
    }
    NPZ_EXPECT(c == whole);
    NPZ_EXPECT(combined == whole);
  }
  for (int t = 0; t < 2000; ++t) {
    const uint32_t a = rng(), b = rng();
    uint64_t len = rng();
    if (t % 3 == 0) len = rng() % 100;
    if (t % 7 == 0) len = (uint64_t{rng()} << 20) | rng();  // lengths beyond 4 GiB
    const z_off_t zl = static_cast<z_off_t>(len);
    NPZ_EXPECT(npz::crc32_combine(a, b, len) == static_cast<uint32_t>(::crc32_combine(a, b, zl)));
  }
  NPZ_EXPECT(npz::crc32_combine(0x12345678u, 0x9abcdef0u, 0) == (0x12345678u ^ 0x9abcdef0u));
}

NPZ_TEST(crc32_fuzz_body_accepts_random_inputs) {
  for (uint32_t s = 0; s < 50; ++s) {
    std::vector<uint8_t> in = random_bytes(s * 37, s);
    npzfuzz::crc32_diff(in.data(), in.size(), [](bool ok, const char* what) {
      if (!ok) {
        std::fprintf(stderr, "  FAIL crc32 fuzz invariant: %s\n", what);
        ++npztest::failures;
      }
    });
  }
}
