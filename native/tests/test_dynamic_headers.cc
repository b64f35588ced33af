// A dynamic block's code lengths (RFC 1951 3.2.7) are read on two paths in each decoder: byte-wise
// with truncation checks while the header may end past the input given so far, and with 8-byte
// refills and no checks once the whole header is known to be in the input (>= 608 bytes left).
// Hand-made headers using the repeat codes 16, 17 and 18 go through both: one decoding to known
// text, and the two repeat errors zlib refuses, each built so that the rest of the header would be
// valid had the error been let through. Each stream is followed by 700 bytes that must not matter.
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "bit_writer.h"
#include "deflate_tables.h"
#include "fuzz_bodies_parallel.h"
#include "harness.h"
#include "inflate.h"
#include "inflate_diff.h"
#include "parallel_inflate.h"
#include "source.h"

using Bytes = std::vector<uint8_t>;

namespace {

using ztest::Bits;

enum class Case { Valid, RepeatFirst, RepeatPastEnd };

// One final dynamic block: 257 literal/length and 2 distance code lengths, written with the
// code-length code below; literals 'a'..'f' get 3-bit codes and end of block a 2-bit one.
Bytes dynamic_block(Case c) {
  // Code-length code: symbols 10..15 have 5-bit codes, the other 13 have 4-bit codes (complete).
  uint8_t pre_len[19];
  for (unsigned s = 0; s < 19; ++s) pre_len[s] = s >= 10 && s <= 15 ? 5 : 4;
  unsigned pre_code[19] = {0}, next = 0;
  for (unsigned len : {4u, 5u}) {
    if (len == 5) next <<= 1;
    for (unsigned s = 0; s < 19; ++s)
      if (pre_len[s] == len) pre_code[s] = next++;
  }
  Bits w;
  w.put(1, 1);   // final
  w.put(2, 2);   // dynamic
  w.put(0, 5);   // 257 literal/length codes
  w.put(1, 5);   // 2 distance codes
  w.put(15, 4);  // 19 code-length codes
  for (unsigned i = 0; i < 19; ++i) w.put(pre_len[npz::deflate::kPreOrder[i]], 3);
  auto sym = [&](unsigned s) { w.put_rev(pre_code[s], pre_len[s]); };
  if (c == Case::RepeatFirst) {
    sym(16);  // "repeat the previous length" 3 times, with no previous length
    w.put(0, 2);
  }
  sym(18);  // symbols 0..96: 97 zeros (94 after the 3 above)
  w.put((c == Case::RepeatFirst ? 94 : 97) - 11, 7);
  sym(3);   // 'a' (97): 3 bits
  sym(16);  // 'b'..'f' (98..102): the previous length 5 more times
  w.put(5 - 3, 2);
  sym(18);  // 103..240: 138 zeros
  w.put(138 - 11, 7);
  sym(17);  // 241..250: 10 zeros
  w.put(10 - 3, 3);
  sym(17);  // 251..255: 5 zeros
  w.put(5 - 3, 3);
  sym(2);  // end of block (256): 2 bits
  sym(1);  // distance code 0: 1 bit
  if (c == Case::RepeatPastEnd) {
    sym(16);      // distance code 1 and two more: past the 259 lengths of this header (cut to
    w.put(0, 2);  // the one that fits, the header would be valid)
  } else {
    sym(1);  // distance code 1: 1 bit
  }
  // Canonical codes: 256 -> 00; 'a'..'f' -> 010..111 (no distance code is used).
  for (char ch : std::string("badcafe")) w.put_rev(0x2 + static_cast<unsigned>(ch - 'a'), 3);
  w.put_rev(0, 2);
  w.align();
  for (int i = 0; i < 700; ++i) w.b.push_back(static_cast<uint8_t>(i * 37 + 11));
  return w.b;
}

const Bytes kWant = {'b', 'a', 'd', 'c', 'a', 'f', 'e'};

npztest::InflateOutcome with(npz::Inflater& inf, const Bytes& z, size_t piece) {
  return npztest::inflate_with(inf, z.data(), z.size(), piece, 64, 1u << 20);
}

}  // namespace

// The serial decoder: input in 1-byte pieces (the header is parsed as soon as 600 bytes are there:
// the byte-wise reader) and in one piece (the fast reader), against zlib.
NPZ_TEST(inflate_dynamic_code_lengths_on_both_paths) {
  for (size_t piece : {size_t{1}, size_t{100000}}) {
    const Bytes v = dynamic_block(Case::Valid);
    auto zl = npz::make_zlib_inflater();
    auto ours = npz::make_npz_inflater();
    const auto z = with(*zl, v, piece), a = with(*ours, v, piece);
    NPZ_EXPECT(z.ended && z.out == kWant);
    NPZ_EXPECT(a.ended && !a.threw && a.out == kWant);
    for (Case c : {Case::RepeatFirst, Case::RepeatPastEnd}) {
      const Bytes bad = dynamic_block(c);
      auto zl2 = npz::make_zlib_inflater();
      auto ours2 = npz::make_npz_inflater();
      NPZ_EXPECT(with(*zl2, bad, piece).threw);
      NPZ_EXPECT(with(*ours2, bad, piece).threw);
    }
  }
}

// The parallel engine's chunk decoder reads the first chunk's header with the whole stream in
// its input (the fast reader): the valid block decodes, both repeat errors are refused.
NPZ_TEST(parallel_inflate_dynamic_code_lengths) {
  for (unsigned threads : {1u, 2u}) {
    for (Case c : {Case::Valid, Case::RepeatFirst, Case::RepeatPastEnd}) {
      const Bytes z = dynamic_block(c);
      npz::MemorySource src(z.data(), z.size());
      npzfuzz::VecSink sink;
      npz::ParallelInflateOptions o;
      o.threads = threads;
      o.chunk_size = 1u << 20;
      const npz::ParallelInflateResult r =
          npz::parallel_inflate(src, 0, z.size(), kWant.size(), sink, o);
      if (c == Case::Valid) {
        NPZ_EXPECT(r.ok && sink.out == kWant);
      } else {
        NPZ_EXPECT(!r.ok);
      }
    }
  }
}
