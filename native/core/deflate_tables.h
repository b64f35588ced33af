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
// The decoders' literal/length table (serial and parallel): 12 index bits, so that more literal
// pairs fit. (kLitBits: the 11-bit layout, kept for the table-builder tests.)
constexpr unsigned kSerialLitBits = 12;
constexpr size_t kSerialLitTable = (1u << kSerialLitBits) + 288 * (1u << (15 - kSerialLitBits));
constexpr size_t kDistTable = (1u << kDistBits) + 32 * (1u << (15 - kDistBits));
constexpr size_t kWindow = 32768;
constexpr size_t kNewData = 256u << 10;
constexpr size_t kMargin = 258 + 32;     // a whole match plus the 8-byte copy overrun
constexpr size_t kMaxHeaderBytes = 600;  // > 3 + 14 + 19*3 + 316*14 bits

// Table entry: bits 0-7 the code length at this level (<= 15: bits 4-7 clear, so `x >> (e & 63)`
// needs no masking on x86-64, where shifts take their count mod 64), bits 8-11 extra bits (or a
// subtable's index bits), bits 12-15 flags, bits 16-31 the value (literal, length/distance base,
// subtable offset).
//
// A literal entry has no flag and 12 in bits 8-11 (kLitWidth), so that its low 16 bits are a BMI1
// BEXTR control word: start = the code length, width = the primary table's index bits. One BEXTR
// then gives the next lookup's index, a cycle shorter than a shift and a mask on the chain of
// dependent lookups that bounds the decoder (a symbol costs a load and a BEXTR). Bits 16-23 hold
// the literal and bits 24-31 a second one (a pair entry, built by build_table with pairs = true,
// for the decoders' tables: bits 0-7 then hold the length of both codes) or kNoSecond.
constexpr uint32_t kLen = 1u << 12, kSub = 1u << 13, kEob = 1u << 14, kBad = 1u << 15;
constexpr uint32_t kFlags = 0xF000u;
constexpr unsigned kLitWidth = 12;
static_assert(kLitWidth == kSerialLitBits,
              "a literal entry is the BEXTR control of the next lookup");
// Bits 24-31 of a single-literal entry. A pair never has literal 255 second (that pair is left a
// single entry), so entries below kNoSecond << 24 with no flag are pairs.
constexpr uint32_t kNoSecond = 0xFF;
inline bool is_lit(uint32_t e) { return (e & kFlags) == 0; }
inline bool is_pair(uint32_t e) { return is_lit(e) && e < (kNoSecond << 24); }  // two literals
inline unsigned extra_of(uint32_t e) { return (e >> 8) & 15; }
// Bytes a literal entry emits (1 or 2).
inline unsigned lit_count(uint32_t e) { return 1 + (e < (kNoSecond << 24)); }

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

// Code-length code symbols (RFC 1951 3.2.7): extra bits and the count they add to, per symbol
// 0..18.
constexpr uint8_t kRepBits[19] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7};
constexpr uint8_t kRepBase[19] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 11};

enum class Kind { LitLen, Dist, Pre };

constexpr uint32_t symbol_entry(Kind k, unsigned sym) {
  switch (k) {
    case Kind::LitLen:
      if (sym < 256) return (kNoSecond << 24) | (sym << 16) | (kLitWidth << 8);
      if (sym == 256) return kEob;
      if (sym <= 285)
        return kLen | (uint32_t{kLenBase[sym - 257]} << 16) | (kLenExtra[sym - 257] << 8);
      return kBad;  // 286, 287: only reachable in fixed blocks
    case Kind::Dist:
      if (sym < 30) return kLen | (uint32_t{kDistBase[sym]} << 16) | (kDistExtra[sym] << 8);
      return kBad;  // 30, 31: only reachable in fixed blocks
    case Kind::Pre: return sym << 16;
  }
  return kBad;
}

// symbol_entry for every literal/length (288) and distance (32) symbol, at compile time.
struct SymbolEntries {
  uint32_t litlen[288];
  uint32_t dist[32];
  constexpr SymbolEntries() : litlen(), dist() {
    for (unsigned i = 0; i < 288; ++i) litlen[i] = symbol_entry(Kind::LitLen, i);
    for (unsigned i = 0; i < 32; ++i) dist[i] = symbol_entry(Kind::Dist, i);
  }
};
inline constexpr SymbolEntries kSymbolEntries{};

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}
inline uint64_t mask(unsigned n) { return (uint64_t{1} << n) - 1; }

// The primary-table index after a literal entry e: the kSerialLitBits bits past its code. With
// BEXTR the entry is the control word (see the entry layout above: start = code length, width =
// 12), one instruction on the lookup chain instead of a shift and a mask. Inline assembly, as
// the decoders' fast loops are compiled twice from one body: for BMI1+BMI2 (kBextr, chosen at run
// time) and generic (a shift and a mask).
template <bool kBextr>
inline uint64_t next_index(uint64_t b, uint32_t e) {
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (kBextr) {
    uint64_t idx;
    __asm__("bextr %2, %1, %0" : "=r"(idx) : "r"(b), "r"(uint64_t{e}) : "cc");
    return idx;
  }
#endif
  return (b >> (e & 63)) & mask(kSerialLitBits);
}

// Byte bit-reversal table, built at compile time.
struct Rev8 {
  uint8_t v[256];
  constexpr Rev8() : v() {
    for (unsigned i = 0; i < 256; ++i) {
      unsigned r = 0;
      for (unsigned b = 0; b < 8; ++b)
        if ((i >> b) & 1) r |= 0x80u >> b;
      v[i] = static_cast<uint8_t>(r);
    }
  }
};
inline constexpr Rev8 kRev8{};

// The low len bits of code (1 <= len <= 15) in reverse order.
inline unsigned reverse_bits(unsigned code, unsigned len) {
  const unsigned v = (unsigned{kRev8.v[code & 0xFFu]} << 8) | kRev8.v[(code >> 8) & 0xFFu];
  return v >> (16 - len);
}

// Builds a canonical Huffman decoding table from code lengths. Returns false where zlib's
// inflate_table refuses: over-subscribed, or incomplete unless it is a single one-bit code of a
// literal/length or distance alphabet (a code-length code must be complete). An empty code
// gives a table of invalid entries (decoding from it is an error).
//
// With pairs (literal/length codes, complete codes only), primary literal entries become pair
// entries where the code after the literal is another literal and both fit in the pbits index
// bits: one lookup then yields two literals. A literal with an l1-bit code (reversed: r1) owns
// slots r1 + (q << l1); where the low bits of q are another literal's code of l2 <= pbits - l1
// bits, the slot holds both.
inline bool build_table(uint32_t* table, unsigned pbits, const uint8_t* lens, unsigned n, Kind kind,
                        bool pairs = false) {
  // Counted in four quarters, so that the increments form four independent chains (most
  // literal/length codes share one or two lengths, and an increment waits on the previous one of
  // the same counter); the quarters also let the counting sort below run four chains. The last
  // n % 4 symbols count with the fourth quarter.
  unsigned cq[4][16] = {}, count[16];
  const unsigned q = n / 4;
  for (unsigned i = 0; i < q; ++i) {
    ++cq[0][lens[i]];
    ++cq[1][lens[q + i]];
    ++cq[2][lens[2 * q + i]];
    ++cq[3][lens[3 * q + i]];
  }
  for (unsigned i = 4 * q; i < n; ++i) ++cq[3][lens[i]];
  for (unsigned l = 0; l < 16; ++l) count[l] = cq[0][l] + cq[1][l] + cq[2][l] + cq[3][l];
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
  unsigned next[16];
  unsigned code = 0;
  next[0] = 0;
  for (unsigned l = 1; l <= 15; ++l) {
    code = (code + count[l - 1]) << 1;
    next[l] = code;
  }
  const unsigned short_max = maxlen < pbits ? maxlen : pbits;
  uint16_t sorted[288], rev[288];  // symbols by code length; their reversed codes (complete codes)
  if (complete) {
    // Codes of up to pbits bits, shortest first, with the table grown by doubling: after the
    // codes of length l, entries [0, 2^l) are final for every slot whose code is <= l bits, and
    // copying them up gives the table for l + 1 bits. Each short code is written once (libdeflate
    // builds its tables the same way); the other slots are written at their own length or get a
    // subtable below. Slots 0 and 1 start invalid so that only defined values are copied.
    // Counting sort by length (symbols ascending within a length), unused symbols last
    // (n <= 288); within a length, each quarter's symbols go after the previous quarter's.
    unsigned pos[4][16];
    pos[0][1] = 0;
    for (unsigned l = 1; l < 15; ++l) pos[0][l + 1] = pos[0][l] + count[l];
    pos[0][0] = pos[0][15] + count[15];
    for (unsigned l = 0; l < 16; ++l) {
      pos[1][l] = pos[0][l] + cq[0][l];
      pos[2][l] = pos[1][l] + cq[1][l];
      pos[3][l] = pos[2][l] + cq[2][l];
    }
    for (unsigned i = 0; i < q; ++i) {
      sorted[pos[0][lens[i]]++] = static_cast<uint16_t>(i);
      sorted[pos[1][lens[q + i]]++] = static_cast<uint16_t>(q + i);
      sorted[pos[2][lens[2 * q + i]]++] = static_cast<uint16_t>(2 * q + i);
      sorted[pos[3][lens[3 * q + i]]++] = static_cast<uint16_t>(3 * q + i);
    }
    for (unsigned i = 4 * q; i < n; ++i) sorted[pos[3][lens[i]]++] = static_cast<uint16_t>(i);
    const uint32_t* const entries = kind == Kind::LitLen ? kSymbolEntries.litlen
                                    : kind == Kind::Dist ? kSymbolEntries.dist
                                                         : nullptr;
    table[0] = table[1] = invalid;
    unsigned size = 2, k = 0;
    for (unsigned l = 1; l <= pbits; ++l) {
      if (l > 1) {
        std::memcpy(table + size, table, size * sizeof(uint32_t));
        size <<= 1;
      }
      if (l > short_max) continue;
      unsigned c = next[l];
      for (unsigned j = 0; j < count[l]; ++j, ++c, ++k) {
        const unsigned r = reverse_bits(c, l);
        rev[k] = static_cast<uint16_t>(r);  // kept for the pair entries
        table[r] = (entries ? entries[sorted[k]] : uint32_t{sorted[k]} << 16) | l;
      }
    }
  } else {
    for (unsigned i = 0; i < psize; ++i) table[i] = invalid;
  }
  uint64_t roots[(1u << 12) / 64] = {0};  // primary entries that head a subtable (pbits <= 12)
  const unsigned sbits = maxlen > pbits ? maxlen - pbits : 0;
  unsigned next_sub = psize;
  for (unsigned sym = 0; sym < n && (sbits || !complete); ++sym) {
    const unsigned len = lens[sym];
    if (!len) continue;
    if (len <= pbits) {
      if (complete) continue;  // written above
      const unsigned r = reverse_bits(next[len]++, len);
      for (unsigned i = r; i < psize; i += 1u << len) table[i] = symbol_entry(kind, sym) | len;
      continue;
    }
    const unsigned r = reverse_bits(next[len]++, len);
    const uint32_t e = symbol_entry(kind, sym);
    const unsigned p = r & (psize - 1);
    if (!((roots[p >> 6] >> (p & 63)) & 1)) {
      roots[p >> 6] |= uint64_t{1} << (p & 63);
      table[p] = kSub | pbits | (sbits << 8) | (next_sub << 16);
      if (!complete)
        for (unsigned i = 0; i < (1u << sbits); ++i) table[next_sub + i] = invalid;
      next_sub += 1u << sbits;
    }
    const unsigned off = table[p] >> 16, sublen = len - pbits;
    for (unsigned i = r >> pbits; i < (1u << sbits); i += 1u << sublen) table[off + i] = e | sublen;
  }
  if (!pairs || !complete || kind != Kind::LitLen) return true;
  // Literals with codes of up to pbits - 1 bits, shortest first: symbol and reversed code; as
  // second literals the same without literal kNoSecond (its pairs stay single entries).
  uint16_t lsym[256], lrev[256], ssym[256], srev[256];
  unsigned upto[16] = {0}, supto[16] = {0};  // how many of them have codes of <= l bits
  unsigned nl = 0, ns = 0, k = 0;
  for (unsigned l = 1; l <= short_max; ++l) {
    for (unsigned j = 0; j < count[l]; ++j, ++k) {
      const unsigned sym = sorted[k];
      if (sym >= 256 || l >= pbits) continue;
      lsym[nl] = static_cast<uint16_t>(sym);
      lrev[nl++] = rev[k];
      if (sym == kNoSecond) continue;
      ssym[ns] = static_cast<uint16_t>(sym);
      srev[ns++] = rev[k];
    }
    upto[l] = nl;
    supto[l] = ns;
  }
  for (unsigned l = short_max + 1; l < 16; ++l) {
    upto[l] = nl;
    supto[l] = ns;
  }
  // Only the pair slots are written: first literal a at r1 + (q << l1), for each q whose low l2
  // bits are the reversed code of a second literal b with l2 <= pbits - l1. The loops go by
  // (l1, l2): within one pair of lengths every (a, b) writes 2^(pbits - l1 - l2) slots at the same
  // stride, and the innermost loop runs over the larger of the two groups, so that it is long and
  // its branch predicts (float data: ~130 literals of 8 bits, one of 3; a loop per (a, b) with one
  // or two stores cost twice as much).
  for (unsigned l1 = 1; l1 < pbits; ++l1) {
    const unsigned a0 = upto[l1 - 1], a1 = upto[l1];
    if (a0 == a1) continue;
    const unsigned m = pbits - l1;
    for (unsigned l2 = 1; l2 <= m; ++l2) {
      const unsigned b0 = supto[l2 - 1], b1 = supto[l2];
      if (b0 == b1) continue;
      const unsigned reps = 1u << (m - l2), step = 1u << (l1 + l2);
      const uint32_t head = (kLitWidth << 8) | (l1 + l2);
      if (a1 - a0 >= b1 - b0) {
        for (unsigned b = b0; b < b1; ++b)
          for (unsigned j = 0; j < reps; ++j) {
            const unsigned off = (unsigned{srev[b]} << l1) + j * step;
            const uint32_t e = head | (uint32_t{ssym[b]} << 24);
            for (unsigned a = a0; a < a1; ++a) table[lrev[a] + off] = e | (uint32_t{lsym[a]} << 16);
          }
      } else {
        for (unsigned a = a0; a < a1; ++a)
          for (unsigned j = 0; j < reps; ++j) {
            const unsigned off = lrev[a] + j * step;
            const uint32_t e = head | (uint32_t{lsym[a]} << 16);
            for (unsigned b = b0; b < b1; ++b)
              table[off + (unsigned{srev[b]} << l1)] = e | (uint32_t{ssym[b]} << 24);
          }
      }
    }
  }
  return true;
}

// A dynamic block's code lengths, read when the whole header is known to be in the input (the
// caller checked that >= kMaxHeaderBytes + 8 bytes follow `in`): 8-byte refills (>= 56 bits
// after each: a code of <= 7 bits and its repeat count of <= 7), no truncation checks, and no
// branch on the symbol, as lengths and repeat codes alternate unpredictably: 0..15 is a length,
// once; 16 repeats the previous length 3..6 times (2 bits); 17 writes 3..10 zeros (3 bits), 18
// 11..138 zeros (7 bits). 16 bytes of the value are stored at once, so lens needs 16 bytes of
// room past total; only longer runs of zeros take the memset. Bits a refill loads past `bits`
// are the next input bytes' own (a later byte-wise refill ORs in the same values). Returns
// nullptr, or zlib's reason for refusing the header.
inline const char* read_code_lengths_fast(const uint32_t* pt, uint64_t& bb, unsigned& bits,
                                          const uint8_t*& in, uint8_t* lens, unsigned total) {
  unsigned have = 0;
  while (have < total) {
    bb |= load64(in) << bits;
    in += (63 - bits) >> 3;
    bits |= 56;
    const uint32_t e = pt[bb & mask(kPreBits)];
    if (e & kBad) return "invalid code lengths set";  // only from an empty code-length code
    bb >>= e & 63;
    bits -= e & 63;
    const unsigned sym = e >> 16;
    const unsigned nb = kRepBits[sym];
    const unsigned rep = kRepBase[sym] + static_cast<unsigned>(bb & mask(nb));
    bb >>= nb;
    bits -= nb;
    const unsigned prev = lens[have ? have - 1 : 0];
    const unsigned val = sym < 16 ? sym : sym == 16 ? prev : 0;
    if (sym == 16 && have == 0) return "invalid bit length repeat";
    if (have + rep > total) return "invalid bit length repeat";
    const uint64_t v8 = uint64_t{val} * 0x0101010101010101u;
    std::memcpy(lens + have, &v8, 8);
    std::memcpy(lens + have + 8, &v8, 8);
    if (rep > 16) std::memset(lens + have + 16, static_cast<int>(val), rep - 16);
    have += rep;
  }
  return nullptr;
}

}  // namespace deflate
}  // namespace npz
