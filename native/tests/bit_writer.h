// Test helper: an LSB-first bit writer for hand-made DEFLATE streams (RFC 1951 packs fields from
// the least significant bit; Huffman codes go most significant bit first).
#pragma once
#include <cstdint>
#include <vector>

namespace ztest {

struct Bits {
  std::vector<uint8_t> b;
  unsigned acc = 0, n = 0;
  void put(unsigned v, unsigned k) {
    for (unsigned i = 0; i < k; ++i) {
      acc |= ((v >> i) & 1u) << n;
      if (++n == 8) {
        b.push_back(static_cast<uint8_t>(acc));
        acc = n = 0;
      }
    }
  }
  void put_rev(unsigned code, unsigned len) {  // a Huffman code, MSB first
    for (unsigned i = len; i-- > 0;) put((code >> i) & 1u, 1);
  }
  void align() {
    if (n) put(0, 8 - n);
  }
  // A literal/length symbol in the fixed Huffman code (RFC 1951 3.2.6).
  void fixed_sym(unsigned sym) {
    if (sym < 144) put_rev(0x30 + sym, 8);
    else if (sym < 256) put_rev(0x190 + sym - 144, 9);
    else if (sym < 280) put_rev(sym - 256, 7);
    else put_rev(0xC0 + sym - 280, 8);
  }
};

}  // namespace ztest
