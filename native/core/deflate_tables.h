// Internal to the core: the DEFLATE (RFC 1951) constants and the canonical-Huffman table
// builder shared by the serial decoder (deflate_decoder.cc) and the parallel one
// (parallel_inflate.cc). Table entry layout and build rules are described at build_table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace npz {
namespace deflate {

constexpr unsigned kLitBits = 11;  // primary literal/length table index bits
constexpr unsigned kDistBits = 8;  // primary distance table index bits
constexpr unsigned kPreBits = 7;   // code-length code: at most 7 bits, one level
constexpr size_t kLitTable = (1u << kLitBits) + 288 * (1u << (15 - kLitBits));
constexpr size_t kDistTable = (1u << kDistBits) + 32 * (1u << (15 - kDistBits));
constexpr size_t kWindow = 32768;
constexpr size_t kNewData = 256u << 10;
constexpr size_t kMargin = 258 + 32;     // a whole match plus the 8-byte copy overrun
constexpr size_t kMaxHeaderBytes = 600;  // > 3 + 14 + 19*3 + 316*14 bits

// Table entry: bits 0-4 code length at this level (bit 5 always 0, so `x >> (e & 63)` needs no
// masking on x86-64, where shifts take their count mod 64), bits 6-10 extra bits (or subtable
// index bits), flags below, bits 16-31 the value (literal, length/distance base, subtable offset).
constexpr uint32_t kLit = 1u << 11, kSub = 1u << 12, kEob = 1u << 13, kBad = 1u << 14;

constexpr uint16_t kLenBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t kDistBase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
constexpr uint8_t kPreOrder[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                   11, 4,  12, 3, 13, 2, 14, 1, 15};

enum class Kind { LitLen, Dist, Pre };

inline uint32_t symbol_entry(Kind k, unsigned sym) {
  switch (k) {
    case Kind::LitLen:
      if (sym < 256) return kLit | (sym << 16);
      if (sym == 256) return kEob;
      if (sym <= 285) return (uint32_t{kLenBase[sym - 257]} << 16) | (kLenExtra[sym - 257] << 6);
      return kBad;  // 286, 287: only reachable in fixed blocks
    case Kind::Dist:
      if (sym < 30) return (uint32_t{kDistBase[sym]} << 16) | (kDistExtra[sym] << 6);
      return kBad;  // 30, 31: only reachable in fixed blocks
    case Kind::Pre: return sym << 16;
  }
  return kBad;
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}
inline uint64_t mask(unsigned n) { return (uint64_t{1} << n) - 1; }

// The low len bits of code (len <= 15) in reverse order.
inline unsigned reverse_bits(unsigned code, unsigned len) {
  unsigned v = code & 0xFFFFu;
  v = ((v >> 1) & 0x5555u) | ((v & 0x5555u) << 1);
  v = ((v >> 2) & 0x3333u) | ((v & 0x3333u) << 2);
  v = ((v >> 4) & 0x0F0Fu) | ((v & 0x0F0Fu) << 4);
  v = ((v >> 8) & 0x00FFu) | ((v & 0x00FFu) << 8);
  return v >> (16 - len);
}

// Builds a canonical Huffman decoding table from code lengths. Returns false where zlib's
// inflate_table refuses: over-subscribed, or incomplete unless it is a single one-bit code of a
// literal/length or distance alphabet (a code-length code must be complete). An empty code
// gives a table of invalid entries (decoding from it is an error).
inline bool build_table(uint32_t* table, unsigned pbits, const uint8_t* lens, unsigned n,
                        Kind kind) {
  unsigned count[16] = {0};
  for (unsigned i = 0; i < n; ++i) ++count[lens[i]];
  count[0] = 0;
  unsigned maxlen = 0;
  for (unsigned l = 15; l >= 1; --l)
    if (count[l]) {
      maxlen = l;
      break;
    }
  const uint32_t invalid = kBad | 1;  // one bit, as zlib's "invalid code" entries
  const unsigned psize = 1u << pbits;
  if (maxlen == 0) {
    for (unsigned i = 0; i < psize; ++i) table[i] = invalid;
    return kind != Kind::Pre;
  }
  int left = 1;
  for (unsigned l = 1; l <= 15; ++l) {
    left = (left << 1) - static_cast<int>(count[l]);
    if (left < 0) return false;
  }
  if (left > 0 && (kind == Kind::Pre || maxlen != 1)) return false;
  // A complete code writes every entry of the primary table and of each subtable; only an
  // incomplete one (a single one-bit code) leaves entries that must read as invalid.
  const bool complete = left == 0;
  if (!complete)
    for (unsigned i = 0; i < psize; ++i) table[i] = invalid;
  uint64_t roots[(1u << 11) / 64] = {0};  // primary entries that head a subtable (pbits <= 11)
  unsigned next[16];
  unsigned code = 0;
  next[0] = 0;
  for (unsigned l = 1; l <= 15; ++l) {
    code = (code + count[l - 1]) << 1;
    next[l] = code;
  }
  const unsigned sbits = maxlen > pbits ? maxlen - pbits : 0;
  unsigned next_sub = psize;
  for (unsigned sym = 0; sym < n; ++sym) {
    const unsigned len = lens[sym];
    if (!len) continue;
    const unsigned r = reverse_bits(next[len]++, len);
    const uint32_t e = symbol_entry(kind, sym);
    if (len <= pbits) {
      for (unsigned i = r; i < psize; i += 1u << len) table[i] = e | len;
      continue;
    }
    const unsigned p = r & (psize - 1);
    if (!((roots[p >> 6] >> (p & 63)) & 1)) {
      roots[p >> 6] |= uint64_t{1} << (p & 63);
      table[p] = kSub | pbits | (sbits << 6) | (next_sub << 16);
      if (!complete)
        for (unsigned i = 0; i < (1u << sbits); ++i) table[next_sub + i] = invalid;
      next_sub += 1u << sbits;
    }
    const unsigned off = table[p] >> 16, sublen = len - pbits;
    for (unsigned i = r >> pbits; i < (1u << sbits); i += 1u << sublen) table[off + i] = e | sublen;
  }
  return true;
}

}  // namespace deflate
}  // namespace npz
