// Body of the fuzz_inflate target (also run by test_inflate.cc): npzguard's DEFLATE decoder
// against zlib on arbitrary bytes. The first two input bytes pick the input/output piece sizes
// of our decoder; the rest is the raw-DEFLATE stream. Invariants: both finish with the same
// bytes, or neither finishes; and whatever each produced before refusing agrees on the common
// prefix.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "inflate.h"
#include "inflate_diff.h"

namespace npzfuzz {

template <class Check>
void inflate_diff(const uint8_t* data, size_t size, Check&& check) {
  if (size < 2) return;
  const size_t in_piece = 1 + (data[0] & 0x3F) * (data[0] & 0x40 ? 97 : 1);
  // 1..33406 bytes, or (second byte 0xF0..0xFF) 4..512 KiB: pieces of 48 KiB and more let the
  // decoder write straight into the caller's buffer once it holds a window (deflate_decoder.cc,
  // "Direct output").
  const size_t out_piece = data[1] < 0xF0 ? 1 + static_cast<size_t>(data[1]) * 131
                                          : size_t{4096} << ((data[1] - 0xF0) & 7);
  data += 2;
  size -= 2;
  constexpr size_t kMaxOut = size_t{1} << 26;
  auto a_inf = npz::make_npz_inflater();
  auto b_inf = npz::make_zlib_inflater();
  const npztest::InflateOutcome a =
      npztest::inflate_with(*a_inf, data, size, in_piece, out_piece, kMaxOut);
  const npztest::InflateOutcome b = npztest::inflate_with(*b_inf, data, size, 4096, 65536, kMaxOut);
  check(a.ended == b.ended, "npzguard and zlib agree on whether the stream is valid");
  if (a.ended && b.ended) check(a.out == b.out, "same output as zlib");
  const size_t common = a.out.size() < b.out.size() ? a.out.size() : b.out.size();
  check(common == 0 || std::memcmp(a.out.data(), b.out.data(), common) == 0,
        "output before a refusal agrees with zlib");
  check(!(a.ended && a.threw), "a finished stream did not also throw");
}

}  // namespace npzfuzz
