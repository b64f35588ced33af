// The fast loop of a Huffman-coded DEFLATE block, shared by the serial decoder
// (deflate_decoder.cc, byte output) and the parallel engine (parallel_inflate.cc, byte output or
// 16-bit symbols with markers for a window not yet known). One definition, so both decoders get
// every change to it and the differential tests of either one exercise it.
//
// It is its own out-of-line function (one copy per output type and instruction set) so that the
// 64-bit bit buffer, the pointers and the next table entry stay in registers. It runs while the
// input pointer is <= in_end (16 bytes before the end of the input) and w < stop, and returns
// with io holding a state between two symbols: at the end-of-block code (Eob), at a limit
// (Limit), or at an invalid code or distance (BadLit, BadDist, Far: the caller refuses the
// stream with its own error). Nothing is resumed mid-symbol.
//
// Refilled branch-free 8 bytes at a time (>= 56 bits after a refill). A primary literal entry
// (one literal or a pair, deflate_tables.h) is at most kSerialLitBits = 12 bits, so three of them
// and the lookup of the entry after them fit in one refill, and that entry's low bits survive
// the refill (it only adds bits above): the refill is off the lookup -> shift -> lookup chain,
// which bounds the speed on literals (about 6 cycles per lookup on the 2-core EPYC). A
// length/distance pair needs at most 12 + 3 + 5 + 15 + 13 = 48 bits.
#ifndef NPZ_DEFLATE_FAST_H
#define NPZ_DEFLATE_FAST_H

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "deflate_tables.h"

namespace npz {
namespace deflate {

// Copies a match of len symbols from dist back; may write up to 8 bytes past w + len (the
// buffers have slack). With 16-bit output (markers), records in *lm the output index just past
// the last marker copied.
template <class T>
inline void copy_match(T* base, T* w, size_t dist, unsigned len, size_t* lm) {
  const T* src = w - dist;
  if constexpr (sizeof(T) == 1) {
    (void)base;
    (void)lm;
    uint8_t* const end = w + len;
    if (dist >= 8) {
      do {
        std::memcpy(w, src, 8);
        w += 8;
        src += 8;
      } while (w < end);
    } else if (dist == 1) {
      std::memset(w, *src, len);
    } else {
      while (w < end) *w++ = *src++;
    }
  } else {
    unsigned last = 0;
    for (unsigned k = 0; k < len; ++k) {
      const uint16_t v = src[k];
      w[k] = v;
      if (v > 255) last = k + 1;
    }
    if (last) *lm = static_cast<size_t>(w - base) + last;
  }
}

// Writes a literal entry's one or two literals (two are always stored: the buffers have slack
// past the output limit) and returns how many count.
template <class T>
inline unsigned put_literals(T* w, uint32_t e) {
  if constexpr (sizeof(T) == 1) {  // bytes: one 2-byte store, the first literal in the low byte
    uint16_t v = static_cast<uint16_t>(e >> 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = static_cast<uint16_t>((v >> 8) | (v << 8));
#endif
    std::memcpy(w, &v, 2);
  } else {
    w[0] = static_cast<T>((e >> 16) & 0xFFu);
    w[1] = static_cast<T>(e >> 24);
  }
  return lit_count(e);
}

template <class T>
struct FastIo {
  uint64_t bb;
  unsigned bits;
  const uint8_t* in;
  T* w;
  size_t lm;  // 16-bit output: output index just past the last marker (unused for bytes)
};
enum class FastEnd { Limit, Eob, BadLit, BadDist, Far };

#if defined(__GNUC__)
#define NPZ_FAST_ALWAYS_INLINE inline __attribute__((always_inline))
#define NPZ_FAST_HOT_ALIGN __attribute__((aligned(64)))
#else
#define NPZ_FAST_ALWAYS_INLINE inline
#define NPZ_FAST_HOT_ALIGN
#endif

template <class T, bool kBextr>
NPZ_FAST_ALWAYS_INLINE FastEnd fast_body(const uint32_t* lt, const uint32_t* dt, FastIo<T>& io,
                                         const uint8_t* in_end, T* stop, T* base) {
  static_assert(4 * kSerialLitBits <= 56, "three literal entries and a lookup per refill");
  uint64_t bb = io.bb;
  // Bits in the buffer: only the low 6 bits of `bits` count. A literal entry is subtracted whole
  // (its low 6 bits are the code length; the bits above only disturb bits 6 and up), which saves
  // masking the length out for every literal (libdeflate keeps its count the same way).
  uint64_t bits = io.bits;
  const uint8_t* ip = io.in;
  T* w = io.w;
  size_t lm = io.lm;
  FastEnd end = FastEnd::Limit;
  bb |= load64(ip) << (bits & 63);
  ip += 7 - ((bits >> 3) & 7);
  bits |= 56;
  uint32_t e = lt[bb & mask(kSerialLitBits)];
  for (;;) {
    if (is_lit(e)) {
      const uint64_t i6 = next_index<kBextr>(bb, e);
      bb >>= e & 63;
      bits -= e;
      w += put_literals<T>(w, e);
      e = lt[i6];
      if (is_lit(e)) {
        const uint64_t i8 = next_index<kBextr>(bb, e);
        bb >>= e & 63;
        bits -= e;
        w += put_literals<T>(w, e);
        e = lt[i8];
        if (is_lit(e)) {
          const uint64_t i10 = next_index<kBextr>(bb, e);
          bb >>= e & 63;
          bits -= e;
          w += put_literals<T>(w, e);
          e = lt[i10];
        }
      }
      if (ip > in_end || w >= stop) break;
      bb |= load64(ip) << (bits & 63);  // leaves the low bits, and so e, unchanged
      ip += 7 - ((bits >> 3) & 7);
      bits |= 56;
      continue;
    }
    if (e & kSub) {
      bb >>= kSerialLitBits;
      bits -= kSerialLitBits;
      e = lt[(e >> 16) + (bb & mask(extra_of(e)))];
      if (is_lit(e)) {  // subtable entries are never pairs
        bb >>= e & 63;
        bits -= e & 63;
        *w++ = static_cast<T>((e >> 16) & 0xFFu);  // bits 24-31 hold kNoSecond
        if (ip > in_end || w >= stop) break;
        bb |= load64(ip) << (bits & 63);
        ip += 7 - ((bits >> 3) & 7);
        bits |= 56;
        e = lt[bb & mask(kSerialLitBits)];
        continue;
      }
    }
    if (e & (kEob | kBad)) {
      if (e & kBad) {
        end = FastEnd::BadLit;
        break;
      }
      bb >>= e & 63;
      bits -= e & 63;
      end = FastEnd::Eob;
      break;
    }
    // Length: code and extra bits go in one shift; the extra value comes from the saved buffer,
    // off the path the distance lookup waits on.
    uint64_t saved = bb;
    unsigned extra = extra_of(e);
    unsigned tot = (e & 63) + extra;
    bb >>= tot;
    bits -= tot;
    const unsigned mlen = (e >> 16) + static_cast<unsigned>((saved >> (e & 63)) & mask(extra));
    uint32_t d = dt[bb & mask(kDistBits)];
    if (d & kSub) {
      bb >>= kDistBits;
      bits -= kDistBits;
      d = dt[(d >> 16) + (bb & mask(extra_of(d)))];
    }
    if (d & kBad) {
      end = FastEnd::BadDist;
      break;
    }
    saved = bb;
    extra = extra_of(d);
    tot = (d & 63) + extra;
    bb >>= tot;
    bits -= tot;
    const size_t dist = (d >> 16) + static_cast<size_t>((saved >> (d & 63)) & mask(extra));
    if (dist > static_cast<size_t>(w - base)) {
      end = FastEnd::Far;
      break;
    }
    copy_match<T>(base, w, dist, mlen, &lm);
    w += mlen;
    if (ip > in_end || w >= stop) break;
    bb |= load64(ip) << (bits & 63);
    ip += 7 - ((bits >> 3) & 7);
    bits |= 56;
    e = lt[bb & mask(kSerialLitBits)];
  }
  io.bb = bb;
  io.bits = static_cast<unsigned>(bits & 63);
  io.in = ip;
  io.w = w;
  io.lm = lm;
  return end;
}

template <class T>
using FastFn = FastEnd (*)(const uint32_t*, const uint32_t*, FastIo<T>&, const uint8_t*, T*, T*);

// One out-of-line copy per instruction set: the loop's code lengths are shift counts, and BMI2's
// SHRX shifts by a register without the move to CL (libdeflate dispatches the same way); BMI1's
// BEXTR gives the next index after a literal in one instruction (next_index). The copies start
// on a 64-byte boundary: the loop's speed depends on where it falls relative to the instruction
// fetch windows (measured here: up to 10% between two links of the same code).
template <class T>
NPZ_FAST_HOT_ALIGN FastEnd fast_generic(const uint32_t* lt, const uint32_t* dt, FastIo<T>& io,
                                        const uint8_t* in_end, T* stop, T* base) {
  return fast_body<T, false>(lt, dt, io, in_end, stop, base);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__BMI2__)
#define NPZ_FAST_BMI2 1
template <class T>
__attribute__((target("bmi,bmi2"))) NPZ_FAST_HOT_ALIGN FastEnd fast_bmi2(const uint32_t* lt,
                                                                         const uint32_t* dt,
                                                                         FastIo<T>& io,
                                                                         const uint8_t* in_end,
                                                                         T* stop, T* base) {
  return fast_body<T, true>(lt, dt, io, in_end, stop, base);
}
#endif

// The copy for this CPU, decided once at run time.
template <class T>
FastFn<T> fast_huffman() {
#ifdef NPZ_FAST_BMI2
  static const FastFn<T> f = __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")
                                 ? fast_bmi2<T>
                                 : fast_generic<T>;
  return f;
#else
  return fast_generic<T>;
#endif
}

// Error text for the ends that refuse the stream (nullptr for Limit and Eob); the same words as
// zlib's inflate() uses.
inline const char* fast_error(FastEnd end) {
  switch (end) {
    case FastEnd::BadLit: return "invalid literal/length code";
    case FastEnd::BadDist: return "invalid distance code";
    case FastEnd::Far: return "invalid distance too far back";
    default: return nullptr;
  }
}

}  // namespace deflate
}  // namespace npz

#endif  // NPZ_DEFLATE_FAST_H
