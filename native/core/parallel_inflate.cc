// Parallel decoding of one raw-DEFLATE stream: see parallel_inflate.h for the method and the
// guarantees. Ideas from pugz and rapidgzip (speculative block-boundary search, 16-bit output
// with markers for the unknown window, marker resolution in order); the code is written here.
// Over 400 lines on purpose: the decoder that starts at any bit with marker output, the block
// finder that feeds it candidates and the in-order consumer that confirms and resolves chunks are
// one protocol (stop rule, bit positions, marker encoding); split, each file would have to
// restate the others' invariants.
//
// Huffman decoding as in deflate_decoder.cc: a 12-bit literal/length table whose primary entries
// may hold two literals (deflate_tables.h, build_table with pairs), and the same fast loop
// (deflate_fast.h), compiled with and without BMI2 (picked at run time), for both output
// types (bytes, and 16-bit symbols with markers). A pair's literals are always < 256, so they
// never look like markers. The careful loop (near the end of the input given so far) takes a
// pair entry as its first literal alone, because the second code's bits may not have arrived.
// The block finder checks literal/length and distance codes by their Kraft sums (code_ok)
// without building tables; pair tables are built only for blocks a decoder enters.
// Measured (2026-12-06, 667 MB ground-truth member of the study file, literal-heavy float32
// noise, 2 shared cores, medians of four alternated runs): the engine went from 0.27 to 0.29 GB/s
// with one decoding thread and from 0.51 to 0.54 GB/s with two, about 5% less CPU. Less than the
// lookups saved (about 18%): table builds cost twice as much with pairs (3% -> 8% of the CPU), and
// the block search, CRC and reads (about 20%) are unchanged.
#include "parallel_inflate.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "byte_buffer.h"
#include "crc32.h"
#include "deflate_fast.h"
#include "deflate_tables.h"
#include "errors.h"

namespace npz {

namespace {

using namespace deflate;

constexpr size_t kPiece8 = 1u << 20;    // byte-mode output between deliveries
constexpr size_t kPiece16 = 64u << 10;  // marker-mode symbols between narrowing checks
constexpr uint64_t kNoTarget = ~uint64_t{0};
// Memory of the chunks in flight (inputs, outputs, decoders), shared by every call in the
// process: see MemoryPool.
constexpr size_t kPool = 96u << 20;
constexpr size_t kCapFloor = 4u << 20;  // least output a chunk may hold before it pauses
constexpr size_t kDecoderBytes =
    (kWindow + kPiece8) + 2 * (kWindow + kPiece16) + 4 * (kSerialLitTable + kDistTable) + 4096;

// One DEFLATE decoder over an in-memory input buffer, starting at any bit, with output either
// as bytes (window known: given at start) or as 16-bit symbols (window unknown: markers).
// Stops at a block boundary at or after a target bit when the next block is dynamic or stored,
// at the end of the final block, when its output buffer is full, or on an error (Fail: invalid
// data, or the input buffer ran out). Never reads outside in[0, n).
class Decoder {
 public:
  enum class Stop { Boundary, End, Full, Fail };

  Decoder() : lit_(kSerialLitTable), dist_(kDistTable) {}

  void reset(const uint8_t* in, size_t n, uint64_t start_bit) {
    in_ = in;
    iend_ = in + n;
    ip_ = in + std::min<uint64_t>(start_bit / 8, n);
    bb_ = 0;
    bits_ = pad_ = 0;
    state_ = State::Header;
    last_ = false;
    stored_left_ = 0;
    error_ = nullptr;
    starved_ = false;
    base_ = 0;
    const unsigned drop = static_cast<unsigned>(start_bit % 8);
    if (drop) {
      refill();
      if (!take(drop)) state_ = State::Broken;
    }
  }
  // 16-bit output; the 32 KiB before the start are markers 256 + i (i: index in that window).
  void start_markers() {
    wide_ = true;
    b16_.resize(kWindow + kPiece16 + kMargin + 64);
    for (size_t i = 0; i < kWindow; ++i) b16_[i] = static_cast<uint16_t>(256 + i);
    w_ = r_ = kWindow;
    lm_ = kWindow;
  }
  // Byte output after the given window (wlen <= 32 KiB: distances beyond it are errors).
  void start_bytes(const uint8_t* win, size_t wlen) {
    wide_ = false;
    b8_.resize(kWindow + kPiece8 + kMargin + 64);
    if (wlen) std::memcpy(b8_.data(), win, wlen);
    w_ = r_ = wlen;
  }

  Stop run(uint64_t target) {
    for (;;) {
      if (state_ == State::Broken) return fail("input ends");
      if (state_ == State::Done) return Stop::End;
      if (state_ == State::Header) {
        if (last_) {
          state_ = State::Done;
          return Stop::End;
        }
        if (bit_pos() >= target) {
          refill();
          if (bits_ - pad_ >= 3) {
            const unsigned t = static_cast<unsigned>(bb_ >> 1) & 3;
            if (t == 0 || t == 2) return Stop::Boundary;
          }
        }
        if (!header()) return Stop::Fail;
        continue;
      }
      if (w_ >= limit()) return Stop::Full;
      if (state_ == State::Stored) {
        if (!stored()) return Stop::Fail;
        continue;
      }
      if (!(wide_ ? huff<uint16_t>() : huff<uint8_t>())) return Stop::Fail;
    }
  }

  bool wide() const { return wide_; }
  // Output not yet taken: [r_, w_).
  const uint16_t* pending16(size_t* n) const {
    *n = w_ - r_;
    return b16_.data() + r_;
  }
  const uint8_t* pending8(size_t* n) const {
    *n = w_ - r_;
    return b8_.data() + r_;
  }
  // Marks the pending output taken and keeps the last 32 KiB as the window.
  void slide() {
    const size_t keep = std::min(w_, kWindow), shift = w_ - keep;
    if (wide_) {
      std::memmove(b16_.data(), b16_.data() + shift, keep * 2);
      lm_ = lm_ > shift ? lm_ - shift : 0;
    } else {
      std::memmove(b8_.data(), b8_.data() + shift, keep);
    }
    w_ = r_ = keep;
  }
  void taken() { r_ = w_; }
  // Marker mode whose last 32 KiB hold no marker: continue with bytes (all output taken).
  bool narrow() {
    if (!wide_ || r_ != w_ || w_ < kWindow || w_ - lm_ < kWindow) return false;
    b8_.resize(kWindow + kPiece8 + kMargin + 64);
    for (size_t i = 0; i < kWindow; ++i) b8_[i] = static_cast<uint8_t>(b16_[w_ - kWindow + i]);
    wide_ = false;
    w_ = r_ = kWindow;
    return true;
  }
  uint64_t bit_pos() const { return base_ + static_cast<uint64_t>(ip_ - in_) * 8 - (bits_ - pad_); }
  const char* error() const { return error_ ? error_ : "unknown"; }
  // The last Fail was the input buffer running out (not invalid data): after rebase() with
  // more input, run() continues where it stopped.
  bool starved() const { return starved_; }
  size_t consumed_bytes() const { return static_cast<size_t>(ip_ - in_); }
  const uint8_t* input() const { return in_; }
  size_t input_size() const { return static_cast<size_t>(iend_ - in_); }
  // new_in[0, n) continues the stream at the first byte not yet consumed (old ip_).
  void rebase(const uint8_t* new_in, size_t n) {
    base_ += static_cast<uint64_t>(ip_ - in_) * 8;
    in_ = ip_ = new_in;
    iend_ = new_in + n;
    bits_ -= pad_;
    pad_ = 0;
    bb_ &= mask(bits_);
    starved_ = false;
    error_ = nullptr;
  }

 private:
  enum class State { Header, Stored, Huffman, Done, Broken };

  size_t limit() const { return kWindow + (wide_ ? kPiece16 : kPiece8); }

  Stop fail(const char* why) {
    error_ = why;
    return Stop::Fail;
  }
  bool failb(const char* why) {
    error_ = why;
    return false;
  }
  // Byte-wise refill to >= 56 bits; past the input's end zero bits are added, counted in pad_.
  void refill() {
    while (bits_ < 56) {
      if (ip_ < iend_) {
        bb_ |= uint64_t{*ip_++} << bits_;
      } else {
        pad_ += 8;
      }
      bits_ += 8;
    }
  }
  bool take(unsigned n) {
    if (n > bits_ - pad_) return false;
    bb_ >>= n;
    bits_ -= n;
    return true;
  }
  bool getbits(unsigned n, unsigned* v) {
    refill();
    *v = static_cast<unsigned>(bb_ & mask(n));
    return take(n);
  }

  // A header cut off by the end of the input: back to its first bit, to be parsed again.
  bool short_header() {
    ip_ = h_ip_;
    bb_ = h_bb_;
    bits_ = h_bits_;
    pad_ = h_pad_;
    last_ = h_last_;
    starved_ = true;
    return failb("input ends in a block header");
  }

  bool header() {
    h_ip_ = ip_;
    h_bb_ = bb_;
    h_bits_ = bits_;
    h_pad_ = pad_;
    h_last_ = last_;
    unsigned v;
    if (!getbits(3, &v)) return short_header();
    last_ = v & 1;
    const unsigned type = v >> 1;
    if (type == 0) {
      unsigned slen, snlen;
      if (!take((bits_ - pad_) & 7) || !getbits(16, &slen) || !getbits(16, &snlen))
        return short_header();
      if (slen != (~snlen & 0xFFFFu)) return failb("invalid stored block lengths");
      stored_left_ = slen;
      state_ = State::Stored;
      return true;
    }
    if (type == 3) return failb("invalid block type");
    uint8_t lens[288 + 32 + 16];  // + 16: the fast reader's 16-byte stores past the end
    lens[0] = 0;
    if (type == 1) {
      for (unsigned i = 0; i < 144; ++i) lens[i] = 8;
      for (unsigned i = 144; i < 256; ++i) lens[i] = 9;
      for (unsigned i = 256; i < 280; ++i) lens[i] = 7;
      for (unsigned i = 280; i < 288; ++i) lens[i] = 8;
      for (unsigned i = 0; i < 32; ++i) lens[288 + i] = 5;
      build_table(lit_.data(), kSerialLitBits, lens, 288, Kind::LitLen, true);
      std::memcpy(litlen_, lens, 256);
      build_table(dist_.data(), kDistBits, lens + 288, 32, Kind::Dist);
      state_ = State::Huffman;
      return true;
    }
    unsigned hdr;
    if (!getbits(14, &hdr)) return short_header();
    const unsigned nlit = (hdr & 31) + 257, ndist = ((hdr >> 5) & 31) + 1, ncode = (hdr >> 10) + 4;
    if (nlit > 286 || ndist > 30) return failb("too many length or distance symbols");
    uint8_t pre[19] = {0};
    for (unsigned i = 0; i < ncode; ++i) {
      if (!getbits(3, &v)) return short_header();
      pre[kPreOrder[i]] = static_cast<uint8_t>(v);
    }
    uint32_t pt[1u << kPreBits];
    if (!build_table(pt, kPreBits, pre, 19, Kind::Pre)) return failb("invalid code lengths set");
    const unsigned total = nlit + ndist;
    unsigned have = 0;
    // All of the header certainly in the input (no padding yet, more bytes left than the largest
    // header plus an 8-byte load): the code lengths are read with 8-byte refills and no
    // truncation checks (deflate_tables.h, read_code_lengths_fast). The look-ahead bits a refill
    // leaves above bits_ are the next input bytes' own, then dropped.
    if (pad_ == 0 && static_cast<size_t>(iend_ - ip_) >= kMaxHeaderBytes + 8) {
      uint64_t bb = bb_;
      unsigned bits = bits_;
      const uint8_t* ip = ip_;
      if (const char* why = read_code_lengths_fast(pt, bb, bits, ip, lens, total))
        return failb(why);
      have = total;
      bb_ = bb & mask(bits);
      bits_ = bits;
      ip_ = ip;
    }
    while (have < total) {
      refill();
      const uint32_t e = pt[bb_ & mask(kPreBits)];
      if (!take(e & 63)) return short_header();
      if (e & kBad) return failb("invalid code lengths set");
      const unsigned sym = e >> 16;
      if (sym < 16) {
        lens[have++] = static_cast<uint8_t>(sym);
        continue;
      }
      unsigned rep, val = 0;
      if (sym == 16) {
        if (!getbits(2, &rep)) return short_header();
        if (have == 0) return failb("invalid bit length repeat");
        val = lens[have - 1];
        rep += 3;
      } else if (sym == 17) {
        if (!getbits(3, &rep)) return short_header();
        rep += 3;
      } else {
        if (!getbits(7, &rep)) return short_header();
        rep += 11;
      }
      if (have + rep > total) return failb("invalid bit length repeat");
      std::memset(lens + have, static_cast<int>(val), rep);
      have += rep;
    }
    if (lens[256] == 0) return failb("missing end-of-block code");
    std::memcpy(litlen_, lens, 256);
    if (!build_table(lit_.data(), kSerialLitBits, lens, nlit, Kind::LitLen, true))
      return failb("invalid literal/lengths set");
    if (!build_table(dist_.data(), kDistBits, lens + nlit, ndist, Kind::Dist))
      return failb("invalid distances set");
    state_ = State::Huffman;
    return true;
  }

  bool stored() {
    const size_t lim = limit();
    while (stored_left_ && w_ < lim) {
      if (bits_ - pad_ >= 8) {  // whole bytes still in the bit buffer (it is byte-aligned here)
        put(static_cast<uint8_t>(bb_));
        bb_ >>= 8;
        bits_ -= 8;
        --stored_left_;
        continue;
      }
      if (bits_ > pad_ || ip_ >= iend_) {
        starved_ = true;
        return failb("input ends in a stored block");
      }
      const size_t k =
          std::min<size_t>({size_t{stored_left_}, lim - w_, static_cast<size_t>(iend_ - ip_)});
      if (wide_) {
        for (size_t i = 0; i < k; ++i) b16_[w_ + i] = ip_[i];
      } else {
        std::memcpy(b8_.data() + w_, ip_, k);
      }
      w_ += k;
      ip_ += k;
      stored_left_ -= static_cast<uint32_t>(k);
    }
    if (stored_left_ == 0) state_ = State::Header;
    return true;
  }
  void put(uint8_t b) {
    if (wide_) {
      b16_[w_++] = b;
    } else {
      b8_[w_++] = b;
    }
  }

  template <class T>
  T* buf() {
    if constexpr (sizeof(T) == 1) {
      return b8_.data();
    } else {
      return b16_.data();
    }
  }

  // Decodes Huffman symbols until the end of the block, a full buffer, or an error.
  template <class T>
  bool huff() {
    T* const base = buf<T>();
    T* w = base + w_;
    T* const stop = base + limit();
    uint64_t bb = bb_;
    unsigned bits = bits_, pad = pad_;
    const uint8_t* ip = ip_;
    const uint8_t* const iend = iend_;
    const uint32_t* const lt = lit_.data();
    const uint32_t* const dt = dist_.data();
    size_t lm = lm_;
    const char* err = nullptr;
    bool eob = false;
    while (w < stop && !eob && !err) {
      if (pad == 0 && iend - ip >= 16) {
        FastIo<T> io{bb, bits, ip, w, lm};
        const FastEnd end = fast_huffman<T>()(lt, dt, io, iend - 16, stop, base);
        bb = io.bb & mask(io.bits);  // drop look-ahead bits (the careful loop ORs bytes in)
        bits = io.bits;
        ip = io.in;
        w = io.w;
        lm = io.lm;
        if (end == FastEnd::Eob) eob = true;
        err = fast_error(end);
        continue;
      }
      // Careful loop: one symbol, only with bits that exist.
      while (bits < 56) {
        if (ip < iend) {
          bb |= uint64_t{*ip++} << bits;
        } else {
          pad += 8;
        }
        bits += 8;
      }
      const unsigned real = bits - pad;
      unsigned used = 0;
      uint64_t x = bb;
      uint32_t e = lt[x & mask(kSerialLitBits)];
      if (e & kSub) {
        used += kSerialLitBits;
        x >>= kSerialLitBits;
        e = lt[(e >> 16) + (x & mask(extra_of(e)))];
      }
      // A pair entry counts as its first literal alone (its code length from litlen_): the
      // second code's bits may not exist.
      const unsigned clen = is_pair(e) ? litlen_[(e >> 16) & 0xFF] : e & 63;
      used += clen;
      x >>= clen;
      if (used > real) {
        err = "input ends in a block";
        starved_ = true;
        break;
      }
      if (is_lit(e)) {
        *w++ = static_cast<T>((e >> 16) & 0xFFu);
      } else if (e & kBad) {
        err = "invalid literal/length code";
        break;
      } else if (e & kEob) {
        eob = true;
      } else {
        unsigned extra = extra_of(e);
        const unsigned mlen = (e >> 16) + static_cast<unsigned>(x & mask(extra));
        used += extra;
        x >>= extra;
        uint32_t d = dt[x & mask(kDistBits)];
        if (d & kSub) {
          used += kDistBits;
          x >>= kDistBits;
          d = dt[(d >> 16) + (x & mask(extra_of(d)))];
        }
        used += d & 63;
        x >>= d & 63;
        extra = extra_of(d);
        const size_t dist = (d >> 16) + static_cast<size_t>(x & mask(extra));
        used += extra;
        if (used > real) {
          err = "input ends in a block";
          starved_ = true;
          break;
        }
        if (d & kBad) {
          err = "invalid distance code";
          break;
        }
        if (dist > static_cast<size_t>(w - base)) {
          err = "invalid distance too far back";
          break;
        }
        copy_match<T>(base, w, dist, mlen, &lm);
        w += mlen;
      }
      bb >>= used;
      bits -= used;
    }
    bb_ = bb & mask(bits);
    bits_ = bits;
    pad_ = pad;
    ip_ = ip;
    w_ = static_cast<size_t>(w - base);
    lm_ = lm;
    if (eob) state_ = State::Header;
    if (err) return failb(err);
    return true;
  }

  const uint8_t* in_ = nullptr;
  const uint8_t* iend_ = nullptr;
  const uint8_t* ip_ = nullptr;
  uint64_t bb_ = 0;
  unsigned bits_ = 0, pad_ = 0;
  State state_ = State::Header;
  bool last_ = false;
  uint32_t stored_left_ = 0;
  const char* error_ = nullptr;
  bool starved_ = false;
  uint64_t base_ = 0;              // bits of the stream before in_ since reset()
  const uint8_t* h_ip_ = nullptr;  // bit state at the start of the header being parsed
  uint64_t h_bb_ = 0;
  unsigned h_bits_ = 0, h_pad_ = 0;
  bool h_last_ = false;
  bool wide_ = false;
  std::vector<uint8_t> b8_;
  std::vector<uint16_t> b16_;
  size_t w_ = 0, r_ = 0, lm_ = 0;
  std::vector<uint32_t> lit_, dist_;
  uint8_t litlen_[256] = {0};  // the literals' code lengths (a pair entry's first code length)
};

// ---- block-start candidates ----

// Up to 32 bits at bit position pos of in[0, n); false if they are not all inside.
inline bool peek(const uint8_t* in, size_t n, uint64_t pos, unsigned k, uint32_t* v) {
  if (pos + k > uint64_t{n} * 8) return false;
  const size_t byte = static_cast<size_t>(pos / 8);
  uint64_t x = 0;
  if (byte + 8 <= n) {
    x = load64(in + byte);
  } else {
    for (size_t i = 0; byte + i < n && i < 8; ++i) x |= uint64_t{in[byte + i]} << (8 * i);
  }
  *v = static_cast<uint32_t>((x >> (pos % 8)) & mask(k));
  return true;
}

// Kraft check with build_table's rules (complete, or a single one-bit code where allowed).
bool code_ok(const uint8_t* lens, unsigned n, Kind kind) {
  unsigned count[16] = {0};
  for (unsigned i = 0; i < n; ++i) ++count[lens[i]];
  count[0] = 0;
  unsigned maxlen = 0;
  for (unsigned l = 1; l <= 15; ++l)
    if (count[l]) maxlen = l;
  if (maxlen == 0) return kind != Kind::Pre;
  int left = 1;
  for (unsigned l = 1; l <= 15; ++l) {
    left = (left << 1) - static_cast<int>(count[l]);
    if (left < 0) return false;
  }
  return left == 0 || (kind != Kind::Pre && maxlen == 1);
}

// Whether a dynamic-Huffman or stored block header that a decoder would accept starts at pos.
bool block_candidate(const uint8_t* in, size_t n, uint64_t pos) {
  uint32_t h;
  if (!peek(in, n, pos, 17, &h)) return false;
  const unsigned type = (h >> 1) & 3;
  if (type == 0) {
    const uint64_t aligned = (pos + 3 + 7) / 8 * 8;
    uint32_t padbits, len;
    if (!peek(in, n, pos + 3, static_cast<unsigned>(aligned - pos - 3), &padbits) || padbits)
      return false;
    if (!peek(in, n, aligned, 32, &len)) return false;
    return (len & 0xFFFFu) == (~(len >> 16) & 0xFFFFu);
  }
  if (type != 2) return false;
  const unsigned nlit = ((h >> 3) & 31) + 257, ndist = ((h >> 8) & 31) + 1, ncode = (h >> 13) + 4;
  if (nlit > 286 || ndist > 30) return false;
  uint8_t pre[19] = {0};
  uint64_t p = pos + 17;
  for (unsigned i = 0; i < ncode; ++i, p += 3) {
    uint32_t v;
    if (!peek(in, n, p, 3, &v)) return false;
    pre[kPreOrder[i]] = static_cast<uint8_t>(v);
  }
  if (!code_ok(pre, 19, Kind::Pre)) return false;
  uint32_t pt[1u << kPreBits];
  if (!build_table(pt, kPreBits, pre, 19, Kind::Pre)) return false;
  uint8_t lens[288 + 32];
  const unsigned total = nlit + ndist;
  unsigned have = 0;
  while (have < total) {
    uint32_t x;
    if (!peek(in, n, p, 7, &x)) {
      // Near the end of the buffer: fewer than 7 bits may still hold a short code.
      const uint64_t left = uint64_t{n} * 8 - p;
      if (left == 0 || !peek(in, n, p, static_cast<unsigned>(left), &x)) return false;
      if ((pt[x] & 63) > left) return false;
    }
    const uint32_t e = pt[x & mask(kPreBits)];
    p += e & 63;
    const unsigned sym = e >> 16;
    if (sym < 16) {
      lens[have++] = static_cast<uint8_t>(sym);
      continue;
    }
    uint32_t rep;
    unsigned val = 0;
    const unsigned eb = sym == 16 ? 2 : sym == 17 ? 3 : 7;
    if (!peek(in, n, p, eb, &rep)) return false;
    p += eb;
    if (sym == 16) {
      if (have == 0) return false;
      val = lens[have - 1];
      rep += 3;
    } else {
      rep += sym == 17 ? 3 : 11;
    }
    if (have + rep > total) return false;
    std::memset(lens + have, static_cast<int>(val), rep);
    have += rep;
  }
  return lens[256] != 0 && code_ok(lens, nlit, Kind::LitLen) &&
         code_ok(lens + nlit, ndist, Kind::Dist);
}

// ---- chunks ----

enum class Status { Failed, Boundary, End, Paused };

struct Chunk {
  bool done = false;
  bool found = false;
  uint64_t start_bit = 0;  // member-relative
  uint64_t end_bit = 0;    // member-relative, where decoding stopped (Boundary / End)
  Status status = Status::Failed;
  std::vector<uint16_t> head16;  // marker-mode output
  ByteBuffer tail8;              // byte-mode output
  uint32_t tail_crc = 0;
  ByteBuffer input;  // compressed bytes from in_off (kept while the decoder is)
  uint64_t in_off = 0;
  uint64_t in_end = 0;           // end of the compressed bytes loaded so far (member offset)
  ByteBuffer spill;              // input slid forward past `input` (see slide_input)
  std::unique_ptr<Decoder> dec;  // kept when Paused
  std::string error;
};

struct Plan {
  uint64_t csize = 0;
  size_t chunk = 0, overhang = 0, cap = 0;
  size_t expect = 0;  // output expected from one chunk (declared ratio)
  size_t count = 0;
  uint64_t nominal(size_t i) const { return std::min<uint64_t>(csize, uint64_t{chunk} * i); }
  uint64_t target_bit(size_t i) const {  // where chunk i's decoding may stop
    return i + 1 < count ? nominal(i + 1) * 8 : kNoTarget;
  }
  uint64_t input_end(size_t i) const {
    return i + 1 < count ? std::min<uint64_t>(csize, nominal(i + 1) + overhang) : csize;
  }
};

// The engine's memory, process-wide. A check scans several members at once (one engine each),
// and a caller may ask for any thread count; so every call reserves what its plan may use before
// it starts its threads and gives it back at the end, and a call that cannot get room for two
// chunks in flight declines (ok = false: the caller decodes that member serially, in the fixed
// buffers of a MemberStream). The engines of one process together then stay under kPool
// whatever the thread count and however many members are decoded at once.
class MemoryPool {
 public:
  // Reserves up to `want` bytes, at least `least`; returns the amount reserved (0: none).
  size_t take(size_t least, size_t want) {
    std::lock_guard<std::mutex> lk(mu_);
    const size_t avail = kPool - used_;
    if (avail < least) return 0;
    const size_t got = std::min(want, avail);
    used_ += got;
    peak_ = std::max(peak_, used_);
    return got;
  }
  void give(size_t n) {
    std::lock_guard<std::mutex> lk(mu_);
    used_ -= n;
  }
  size_t peak() {
    std::lock_guard<std::mutex> lk(mu_);
    return peak_;
  }

 private:
  std::mutex mu_;
  size_t used_ = 0, peak_ = 0;
};
MemoryPool& memory_pool() {
  static MemoryPool pool;
  return pool;
}
struct Reservation {
  size_t bytes = 0;
  ~Reservation() {
    if (bytes) memory_pool().give(bytes);
  }
};

// Reused input/output buffers: no page faults or zero fill per chunk once warm. Holds at most
// the buffers of the chunks in flight.
class BufferPool {
 public:
  ByteBuffer get() {
    std::lock_guard<std::mutex> lk(mu_);
    if (free_.empty()) return ByteBuffer();
    ByteBuffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void put(ByteBuffer&& b) {
    if (b.capacity() == 0) return;
    b.clear();
    std::lock_guard<std::mutex> lk(mu_);
    free_.push_back(std::move(b));
  }

 private:
  std::mutex mu_;
  std::vector<ByteBuffer> free_;
};

bool cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }

// When d stopped because its input ran out before the member's end (a block longer than the
// chunk's overhang), slides its input forward: the bytes not yet consumed plus up to `more`
// new ones go to `spill`, and d continues there. Memory stays that of one window.
struct Member {
  const Source& src;
  uint64_t offset, csize;
};
bool slide_input(const Member& m, ByteBuffer& spill, uint64_t& in_end, Decoder& d, size_t more) {
  if (!d.starved() || in_end >= m.csize) return false;
  const uint8_t* cur = d.input();
  const size_t used = d.consumed_bytes(), keep = d.input_size() - used;
  const size_t add = static_cast<size_t>(std::min<uint64_t>(more, m.csize - in_end));
  ByteBuffer next;
  next.resize(keep + add);
  if (keep) std::memcpy(next.data(), cur + used, keep);
  m.src.read(m.offset + in_end, next.data() + keep, add);
  in_end += add;
  spill = std::move(next);
  d.rebase(spill.data(), spill.size());
  return true;
}

// Decodes one speculative attempt from start_bit (relative to the chunk's input) into c.
Status attempt(const Member& m, Decoder& d, Chunk& c, uint64_t start_bit, bool wide,
               uint64_t target, size_t cap, size_t more, const std::atomic<bool>* cancel) {
  c.head16.clear();
  c.tail8.clear();
  c.tail_crc = 0;
  c.in_end = c.in_off + c.input.size();
  d.reset(c.input.data(), c.input.size(), start_bit);
  if (wide) {
    d.start_markers();
  } else {
    d.start_bytes(nullptr, 0);
  }
  for (;;) {
    const Decoder::Stop st = d.run(target);
    if (st == Decoder::Stop::Fail) {
      if (slide_input(m, c.spill, c.in_end, d, more)) continue;
      c.error = d.error();
      return Status::Failed;
    }
    size_t n;
    if (d.wide()) {
      const uint16_t* p = d.pending16(&n);
      c.head16.insert(c.head16.end(), p, p + n);
    } else {
      const uint8_t* p = d.pending8(&n);
      c.tail8.insert(c.tail8.end(), p, p + n);
      c.tail_crc = crc32_update(c.tail_crc, p, n);
    }
    d.taken();
    if (st != Decoder::Stop::Full) {
      c.end_bit = c.in_off * 8 + d.bit_pos();
      return st == Decoder::Stop::End ? Status::End : Status::Boundary;
    }
    d.slide();
    d.narrow();
    if (c.head16.size() * 2 + c.tail8.size() > cap) return Status::Paused;
    if (cancelled(cancel)) {
      c.error = "cancelled";
      return Status::Failed;
    }
  }
}

void decode_chunk(const Source& src, uint64_t offset, const Plan& plan, size_t i, Chunk& c,
                  std::unique_ptr<Decoder>& dec, BufferPool& pool,
                  const std::atomic<bool>* cancel) {
  const Member mem{src, offset, plan.csize};
  c.in_off = plan.nominal(i);
  const uint64_t end = plan.input_end(i);
  c.input = pool.get();
  c.tail8 = pool.get();
  c.input.resize(static_cast<size_t>(end - c.in_off));
  c.tail8.reserve(std::min(plan.cap, plan.expect) + kPiece8);
  src.read(offset + c.in_off, c.input.data(), c.input.size());
  const uint64_t target = plan.target_bit(i) - (plan.target_bit(i) == kNoTarget ? 0 : c.in_off * 8);
  if (i == 0) {
    c.found = true;
    c.start_bit = 0;
    c.status = attempt(mem, *dec, c, 0, false, target, plan.cap, plan.overhang, cancel);
  } else {
    // Candidates inside the chunk's own range; failed attempts may cost a bounded amount.
    const uint64_t range = (plan.nominal(i + 1) - c.in_off) * 8;
    uint64_t wasted = 0;
    const uint64_t budget = 64 * range + (uint64_t{8} << 20);
    const uint8_t* in = c.input.data();
    const size_t n = c.input.size();
    for (uint64_t b = 0; b < range && wasted <= budget; ++b) {
      // Cheap filter first: block type dynamic with <= 286/30 symbols, or stored.
      if (b / 8 + 8 <= n) {
        const uint64_t x = load64(in + b / 8) >> (b % 8);
        const unsigned type = static_cast<unsigned>(x >> 1) & 3;
        if (type == 2) {
          if (((x >> 3) & 31) > 29 || ((x >> 8) & 31) > 29) continue;
        } else if (type != 0) {
          continue;
        } else {
          // Stored: LEN == ~NLEN at the next byte boundary after the 3 header bits.
          const size_t a = static_cast<size_t>((b + 3 + 7) / 8);
          if (a + 4 <= n) {
            const unsigned len = in[a] | (unsigned{in[a + 1]} << 8);
            const unsigned nlen = in[a + 2] | (unsigned{in[a + 3]} << 8);
            if ((len ^ nlen) != 0xFFFFu) continue;
          }
        }
      }
      if (!block_candidate(in, n, b)) continue;
      if (cancelled(cancel)) break;
      c.status = attempt(mem, *dec, c, b, true, target, plan.cap, plan.overhang, cancel);
      if (c.status != Status::Failed) {
        c.found = true;
        c.start_bit = c.in_off * 8 + b;
        break;
      }
      wasted += dec->bit_pos() - b + 1024;
    }
    if (!c.found) {
      c.status = Status::Failed;
      c.head16 = {};
      c.tail8.clear();
    }
  }
  if (c.status == Status::Paused) {
    c.dec = std::move(dec);
    dec = std::make_unique<Decoder>();
  } else {
    pool.put(std::move(c.input));
    c.spill = ByteBuffer();
  }
  if (c.head16.capacity() > 2 * c.head16.size() + 4096) c.head16.shrink_to_fit();
}

// The consumer: in-order delivery, marker resolution, the last 32 KiB of real output.
class Consumer {
 public:
  Consumer(InflateSink& sink, uint64_t usize, const std::atomic<bool>* cancel)
      : sink_(sink), usize_(usize), cancel_(cancel), hist_(kWindow) {}

  bool deliver(const uint8_t* p, size_t n, bool crc) {
    if (n > usize_ - total_) return false;  // more output than the member declares
    if (n == 0) return true;
    if (cancelled(cancel_)) throw Error(Code::NpzAborted, "operation aborted");
    sink_.write(p, n);
    if (crc) crc_ = crc32_update(crc_, p, n);
    if (n >= kWindow) {
      std::memcpy(hist_.data(), p + n - kWindow, kWindow);
    } else {
      std::memmove(hist_.data(), hist_.data() + n, kWindow - n);
      std::memcpy(hist_.data() + kWindow - n, p, n);
    }
    total_ += n;
    return true;
  }
  void add_crc(uint32_t c, uint64_t len) { crc_ = crc32_combine(crc_, c, len); }
  // Marker-mode symbols to bytes with `win` (the 32 KiB before the chunk), delivered.
  bool resolve(const uint16_t* s, size_t n, const std::vector<uint8_t>& win, uint64_t win_valid,
               uint64_t* markers) {
    const size_t first_valid =
        static_cast<size_t>(kWindow - std::min<uint64_t>(win_valid, kWindow));
    uint8_t tmp[16384];
    while (n) {
      const size_t k = std::min(n, sizeof tmp);
      for (size_t j = 0; j < k; ++j) {
        const uint16_t v = s[j];
        if (v < 256) {
          tmp[j] = static_cast<uint8_t>(v);
          continue;
        }
        const size_t idx = v - 256u;
        if (idx < first_valid) return false;  // before the start of the stream: corrupt
        tmp[j] = win[idx];
        ++*markers;
      }
      if (!deliver(tmp, k, true)) return false;
      s += k;
      n -= k;
    }
    return true;
  }
  // Runs d to its stop, delivering everything (markers resolved with win).
  template <class Refill>
  Decoder::Stop drain(Decoder& d, uint64_t target, const std::vector<uint8_t>& win,
                      uint64_t win_valid, uint64_t* markers, bool* bad, Refill&& refill) {
    for (;;) {
      const Decoder::Stop st = d.run(target);
      if (st == Decoder::Stop::Fail) {
        if (refill()) continue;
        return st;
      }
      size_t n;
      bool ok;
      if (d.wide()) {
        const uint16_t* p = d.pending16(&n);
        ok = resolve(p, n, win, win_valid, markers);
      } else {
        const uint8_t* p = d.pending8(&n);
        ok = deliver(p, n, true);
      }
      d.taken();
      if (!ok) {
        *bad = true;
        return Decoder::Stop::Fail;
      }
      if (st != Decoder::Stop::Full) return st;
      d.slide();
      d.narrow();
    }
  }
  const std::vector<uint8_t>& hist() const { return hist_; }
  uint64_t total() const { return total_; }
  uint32_t crc() const { return crc_; }

 private:
  InflateSink& sink_;
  uint64_t usize_;
  const std::atomic<bool>* cancel_;
  std::vector<uint8_t> hist_;  // the last min(total, 32 KiB) bytes delivered, at the end
  uint64_t total_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace

ParallelInflateResult parallel_inflate(const Source& src, uint64_t offset, uint64_t csize,
                                       uint64_t usize, InflateSink& sink,
                                       const ParallelInflateOptions& opts) {
  ParallelInflateResult res;
  if (csize == 0 || usize == 0) {
    res.reason = "empty member";
    return res;
  }
  // Chunks are at least 256 KiB (and as much overhang), and each in flight holds a decoder, a
  // piece and an output cap of at least kCapFloor: so the pool holds at most ~14 of them, and
  // more threads than that would only wait (and cut the member into smaller chunks for nothing).
  constexpr size_t kLeastPerChunk = 2 * (256u << 10) + kDecoderBytes + kPiece8 + kCapFloor;
  constexpr unsigned kMaxThreads = static_cast<unsigned>(kPool / kLeastPerChunk) - 1;
  static_assert(kMaxThreads >= 8, "the pool holds chunks for at least 8 threads");
  const unsigned threads = std::clamp(opts.threads, 1u, kMaxThreads);
  Plan plan;
  plan.csize = csize;
  plan.chunk = opts.chunk_size ? opts.chunk_size
                               : static_cast<size_t>(std::clamp<uint64_t>(
                                     csize / (4 * uint64_t{threads}), 256u << 10, 4u << 20));
  // Past its range a chunk reads 256 KiB at a time (zlib's blocks are far shorter; a longer
  // one slides the input forward, see slide_input).
  plan.overhang = opts.overhang ? opts.overhang : (256u << 10);
  plan.cap =
      opts.max_chunk_output ? opts.max_chunk_output : std::max<size_t>(8 * plan.chunk, 4u << 20);
  // A highly compressible member gets smaller chunks, so that one chunk's output stays under
  // half the cap (otherwise most of it would be decoded by the consumer, serially).
  const double ratio = static_cast<double>(usize) / static_cast<double>(csize);
  if (!opts.chunk_size &&
      ratio * static_cast<double>(plan.chunk) > static_cast<double>(plan.cap / 2))
    plan.chunk =
        std::max<size_t>(64u << 10, static_cast<size_t>(static_cast<double>(plan.cap / 2) / ratio));
  plan.expect = static_cast<size_t>(
      std::min(static_cast<double>(plan.cap), ratio * static_cast<double>(plan.chunk) * 1.1));
  plan.count = static_cast<size_t>((csize + plan.chunk - 1) / plan.chunk);
  size_t in_flight = opts.max_in_flight;
  Reservation held;
  if (in_flight == 0) {
    // Memory: a chunk in flight holds its input, a decoder and its output (up to the cap, plus
    // one piece). Reserved from the process-wide pool: room for one chunk per thread and one
    // waiting, and at least half the pool so that the cap has headroom over the expected output
    // (the ratio of one chunk can differ from the member's); at least two chunks, or decline.
    const size_t fixed = plan.chunk + plan.overhang + kDecoderBytes + kPiece8;
    const size_t per = fixed + std::max(plan.expect, opts.max_chunk_output ? plan.cap : kCapFloor);
    const size_t want = std::min(kPool, std::max(kPool / 2, per * (size_t{threads} + 1)));
    held.bytes = memory_pool().take(2 * per, want);
    if (held.bytes == 0) {
      res.reason = "the parallel decoder's memory is in use by other members' decodes";
      return res;
    }
    in_flight = std::clamp<size_t>(held.bytes / per, 2, size_t{threads} + 1);
    // The cap grows into what was reserved: in_flight chunks at the cap still fit.
    if (!opts.max_chunk_output) {
      plan.cap = std::max(held.bytes / in_flight - fixed, kCapFloor);
      plan.expect = std::min(plan.expect, plan.cap);
    }
    res.reserved = held.bytes;
  }
  res.chunks = plan.count;

  BufferPool pool;
  std::vector<std::unique_ptr<Chunk>> chunks(plan.count);
  for (auto& c : chunks) c = std::make_unique<Chunk>();
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, consumed = 0;
  bool abort = false;

  auto worker = [&] {
    std::unique_ptr<Decoder> dec = std::make_unique<Decoder>();
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return abort || next >= plan.count || next < consumed + in_flight; });
        if (abort || next >= plan.count) return;
        i = next++;
      }
      Chunk& c = *chunks[i];
      try {
        decode_chunk(src, offset, plan, i, c, dec, pool, opts.cancel);
      } catch (const std::exception& e) {  // a failed read, out of memory: serial decides
        c.status = Status::Failed;
        c.found = false;
        c.error = e.what();
        if (!dec) dec = std::make_unique<Decoder>();
      }
      {
        std::lock_guard<std::mutex> lk(mu);
        c.done = true;
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> workers;
  struct Joiner {
    std::vector<std::thread>& pool;
    std::mutex& mu;
    std::condition_variable& cv;
    bool& abort;
    ~Joiner() {
      {
        std::lock_guard<std::mutex> lk(mu);
        abort = true;
      }
      cv.notify_all();
      for (auto& t : pool) t.join();
    }
  } joiner{workers, mu, cv, abort};
  // More workers than chunks in flight would only wait (and each holds a decoder).
  const unsigned nworkers =
      static_cast<unsigned>(std::min<size_t>({threads, plan.count, in_flight}));
  res.workers = nworkers;
  res.in_flight = in_flight;
  for (unsigned t = 0; t < nworkers; ++t) workers.emplace_back(worker);

  Consumer out(sink, usize, opts.cancel);
  const Member mem{src, offset, csize};
  std::vector<uint8_t> win(kWindow);
  std::unique_ptr<Decoder> redec;  // the consumer's, for re-decoding at confirmed positions
  uint64_t pos = 0;  // confirmed bit position: where the output so far ends in the stream
  bool ended = false;
  auto fallback = [&](std::string why) {
    res.ok = false;
    res.reason = std::move(why);
    res.total = out.total();
    return res;
  };
  for (size_t i = 0; i < plan.count; ++i) {
    {
      std::unique_lock<std::mutex> lk(mu);
      cv.wait(lk, [&] { return chunks[i]->done; });
    }
    if (cancelled(opts.cancel)) throw Error(Code::NpzAborted, "operation aborted");
    std::unique_ptr<Chunk> c = std::move(chunks[i]);
    if (!ended) {
      win = out.hist();
      const uint64_t win_valid = out.total();
      const bool confirmed = c->found && c->start_bit == pos && c->status != Status::Failed;
      if (confirmed) {
        if (i > 0) ++res.confirmed;
        if (!out.resolve(c->head16.data(), c->head16.size(), win, win_valid, &res.markers))
          return fallback("a back-reference before the start of the stream, or too much output");
        if (!c->tail8.empty()) {
          if (!out.deliver(c->tail8.data(), c->tail8.size(), false))
            return fallback("more output than declared");
          out.add_crc(c->tail_crc, c->tail8.size());
        }
        if (c->status == Status::Paused) {
          ++res.paused;
          bool bad = false;
          const uint64_t tb = plan.target_bit(i);
          const Decoder::Stop st = out.drain(
              *c->dec, tb == kNoTarget ? tb : tb - c->in_off * 8, win, win_valid, &res.markers,
              &bad, [&] { return slide_input(mem, c->spill, c->in_end, *c->dec, plan.overhang); });
          if (st == Decoder::Stop::Fail)
            return fallback(bad ? "inconsistent output"
                                : std::string("chunk ") + std::to_string(i) + ": " +
                                      c->dec->error());
          c->status = st == Decoder::Stop::End ? Status::End : Status::Boundary;
          c->end_bit = c->in_off * 8 + c->dec->bit_pos();
        }
        pos = c->end_bit;
        ended = c->status == Status::End;
      } else {
        // Re-decode from the confirmed position with the real window.
        ++res.redecoded;
        const uint64_t from = pos / 8;
        const uint64_t to =
            std::max<uint64_t>(plan.input_end(i), std::min<uint64_t>(csize, from + plan.overhang));
        if (from >= csize) return fallback("compressed data ends before the stream does");
        std::vector<uint8_t> input(static_cast<size_t>(to - from));
        try {
          src.read(offset + from, input.data(), input.size());
        } catch (const Error& e) { return fallback(e.what()); }
        if (!redec) redec = std::make_unique<Decoder>();
        Decoder& d = *redec;
        d.reset(input.data(), input.size(), pos % 8);
        const std::vector<uint8_t>& h = out.hist();
        const size_t valid = static_cast<size_t>(std::min<uint64_t>(out.total(), kWindow));
        d.start_bytes(h.data() + kWindow - valid, valid);
        const uint64_t tb = plan.target_bit(i);
        const uint64_t target = tb == kNoTarget ? kNoTarget : (tb > from * 8 ? tb - from * 8 : 0);
        bool bad = false;
        ByteBuffer spill;
        uint64_t in_end = to;
        const Decoder::Stop st = out.drain(d, target, win, win_valid, &res.markers, &bad, [&] {
          return slide_input(mem, spill, in_end, d, plan.overhang);
        });
        if (st == Decoder::Stop::Fail)
          return fallback(bad ? "more output than declared"
                              : std::string("at a confirmed position: ") + d.error());
        pos = from * 8 + d.bit_pos();
        ended = st == Decoder::Stop::End;
      }
    }
    pool.put(std::move(c->tail8));
    pool.put(std::move(c->input));
    {
      std::lock_guard<std::mutex> lk(mu);
      consumed = i + 1;
    }
    cv.notify_all();
  }
  if (!ended) return fallback("the stream does not end within the member");
  if (out.total() != usize) return fallback("output size differs from the declared size");
  res.ok = true;
  res.crc = out.crc();
  res.total = out.total();
  return res;
}

size_t parallel_inflate_memory_pool() { return kPool; }
size_t parallel_inflate_memory_peak() { return memory_pool().peak(); }

}  // namespace npz
