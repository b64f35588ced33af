// npzguard's own raw-DEFLATE (RFC 1951) decoder behind the Inflater interface (inflate.h).
//
// Design (ideas from libdeflate and zlib-ng; the code is written here):
//  - Huffman codes decode through one table lookup: a 12-bit primary table for literal/length
//    codes and an 8-bit one for distances, with second-level tables for longer codes. An entry
//    carries the code length, the kind (literal, literal pair, length/distance base, end of
//    block, subtable, invalid) and the extra-bit count, so a symbol costs a lookup and a shift.
//    A literal entry's low 16 bits are also the BEXTR control word that extracts the next
//    index (deflate_tables.h), so on the chain of dependent lookups a literal costs a load and
//    one instruction, not a load, a shift and a mask: ~5% on the float members (2026-12-06).
//  - Literal pairs: where a literal's code and the next literal's code fit in the 12 index bits
//    together, the primary entry holds both (deflate_tables.h, build_table with pairs), so one
//    lookup emits two bytes (literal 255 is never second: bits 24-31 = 255 mark a single). On
//    float32 noise (np.savez_compressed ground truth: 97% literals, codes of 8-9 bits for
//    mantissa bytes and 2-5 bits for exponent bytes) this cuts lookups from 0.98 to about 0.80
//    per output byte. Only the pair slots are written when a table is built,
//    so a block of ~16 KiB pays for them several times over.
//  - Tables are built shortest code first, doubling the filled part of the primary table as the
//    length grows (each short code written once, libdeflate's method). zlib's deflate starts a
//    new dynamic block every ~16K symbols, so the build cost counts: on literal-heavy data it
//    was 17% of the time with per-symbol replication.
//  - The fast loop (fast_huffman, deflate_fast.h: one definition shared with the parallel engine)
//    is its own function so that the 64-bit bit buffer, the pointers and the next entry stay in
//    registers; it is compiled twice (BMI2 and generic, the BMI2 copy picked at run time) and
//    starts 64-byte aligned. Refilled branch-free 8 bytes at a
//    time (>= 56 bits after a refill): up to three literal entries (<= 12 bits each) per refill,
//    and the entry after them is looked up before the refill, so the refill is not on the
//    lookup -> shift -> lookup chain, which is what bounds the speed on literals (about 6 cycles
//    per lookup here). Tried and dropped (2026-12-06): loading the next entry speculatively at
//    the likeliest code lengths (8 and 9 bits: 69% of entries; or 8, 9, 11, 12: 91%) beside the
//    current one and selecting with conditional moves. It was slower in every variant (0.73-1.18x
//    zlib against 1.50-1.57x): the fallback branch for other lengths mispredicts, and the extra
//    loads, shifts and selects cost more than the load latency they hide.
//  - Output goes to an internal buffer holding the 32 KiB window followed by up to 256 KiB of new
//    data; matches copy 8 bytes at a time (the buffer has slack for the overrun, and for the
//    second byte a single-literal entry stores), then the caller gets a memcpy. The buffer
//    slides (last 32 KiB moved to the front) once everything decoded has been delivered.
//  - Direct output: once a step's output holds 32 KiB (a whole window: no match can reach back
//    past it) and at least kDirectMin more bytes are wanted, the decoder writes straight into the
//    caller's buffer up to kDirectSlack bytes before its end, then copies the last 32 KiB back as
//    its window (zlib's inflate() keeps its window the same way). A step that starts without
//    that window decodes just enough into the internal buffer to have one. On a 256 KiB step
//    that copies 64 KiB instead of all 256: the copy was ~4% of a literal-heavy inflate.
//  - Streaming in bounded memory: the fast loop runs while >= 16 input bytes and room for a
//    whole match remain; near the end of the given input a careful loop decodes one symbol at a
//    time and stops, without changing state, when the next symbol might need bits that have not
//    arrived (the caller keeps the unconsumed tail and appends more, see MemberStream); there a
//    pair entry counts as its first literal only, as its second code may not have arrived. A block
//    header is parsed only when 600 bytes (more than the largest header) are available or the
//    input is final. Nothing is ever resumed mid-symbol, so no partial-symbol state exists.
//  - Refusals mirror zlib's inflate(): the same streams are refused (invalid block type, stored
//    length mismatch, over-subscribed or incomplete codes with zlib's exceptions, missing end of
//    block code, repeat without a previous length or past the end, invalid codes, distances
//    beyond the output so far) and a stream that stops early is "truncated", never "corrupt".
//    fuzz_inflate checks this against zlib.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "deflate_fast.h"
#include "deflate_tables.h"
#include "errors.h"
#include "inflate.h"

namespace npz {

namespace {

using namespace deflate;

[[noreturn]] void corrupt(const char* what) {
  throw Error(Code::NpzCorrupt, std::string("invalid DEFLATE data (") + what + ")");
}

// Direct output: decode straight into the caller's buffer once it holds a whole window.
constexpr size_t kDirectSlack = kMargin + 64;  // room a decode may write past its stop
constexpr size_t kDirectMin = 16u << 10;       // output left for which going direct is worth it

class NpzInflater final : public Inflater {
 public:
  NpzInflater()
      : out_(kWindow + kNewData + kMargin + 64), lit_(kSerialLitTable), dist_(kDistTable) {}

  Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
    const uint8_t* ip = in;
    const uint8_t* const iend = in + in_len;
    size_t produced = 0;
    bool stalled = false;
    for (;;) {
      const size_t k = std::min(w_ - r_, out_len - produced);
      if (k) {
        std::memcpy(out + produced, out_.data() + r_, k);
        r_ += k;
        produced += k;
      }
      if (produced == out_len || state_ == State::Done || truncated_ || stalled) break;
      // Everything decoded has been delivered. Once this call's output holds a whole window,
      // decode straight into it (see "Direct output" above).
      if (produced >= kWindow && out_len - produced >= kDirectMin) {
        uint8_t* w = out + produced;
        stalled = !run_into(ip, iend, out, w, out + out_len - kDirectSlack);
        // Cannot happen (the stop leaves room for a match and its overrun); were it ever to, the
        // caller's memory past out_len was written: stop rather than go on.
        if (w > out + out_len) throw std::logic_error("DEFLATE decoder wrote past its output");
        produced = static_cast<size_t>(w - out);
        std::memcpy(out_.data(), out + produced - kWindow, kWindow);  // the window, for later
        w_ = r_ = kWindow;
        continue;
      }
      // Slide the window when the room runs short.
      if (w_ + 2 * kMargin > out_.size() - 64 - kMargin) {
        const size_t keep = std::min(w_, kWindow);
        std::memmove(out_.data(), out_.data() + w_ - keep, keep);
        w_ = r_ = keep;
      }
      // Without a window in `out` yet, decode only up to one (then go direct) when the rest of
      // the call's output is large enough for that.
      const size_t left = out_len - produced;
      const size_t want =
          produced < kWindow && left >= kWindow - produced + kDirectMin ? kWindow - produced : left;
      stalled = !run(ip, iend, want);
    }
    Step s;
    if (truncated_) ip = iend;  // the caller sees the input used up, then reports the short stream
    s.consumed = static_cast<size_t>(ip - in);
    s.produced = produced;
    s.end = state_ == State::Done && r_ == w_;
    return s;
  }

 private:
  enum class State { Header, Stored, Huffman, Done };

  // Decodes until about `want` new bytes are pending, the buffer is full, the stream ends, or the
  // input runs short. Returns false when it stopped for input (or truncation).
  bool run(const uint8_t*& ip, const uint8_t* iend, size_t want) {
    uint8_t* const base = out_.data();
    uint8_t* w = base + w_;
    const bool more =
        run_into(ip, iend, base, w, base + std::min(out_.size() - 64 - kMargin, r_ + want));
    w_ = static_cast<size_t>(w - base);
    return more;
  }

  // Decodes into [w, ...) until w reaches stop (it may pass it by up to one match: the buffer
  // needs kMargin + 64 bytes of room past stop), the stream ends, or the input runs short.
  // Matches may reach back to base and no further. Returns false when it stopped for input (or
  // truncation).
  bool run_into(const uint8_t*& ip, const uint8_t* iend, uint8_t* const base, uint8_t*& wio,
                uint8_t* const stop) {
    uint8_t* w = wio;  // a local: stores through w could alias a reference
    uint64_t bb = bb_;
    unsigned bits = bits_, pad = pad_;
    const bool fin = in_final;
    bool more = true;

    // Careful reader: byte-wise refill; past the end of final input, zero bits are added and
    // counted in `pad`, so a symbol that needs them is recognised as truncated.
    auto refill_slow = [&] {
      while (bits < 56) {  // ends with 56..63 bits (never 64: shifts stay defined)
        if (ip < iend) {
          bb |= uint64_t{*ip++} << bits;
          bits += 8;
        } else if (fin) {
          pad += 8;
          bits += 8;
        } else {
          break;
        }
      }
    };
    // Consumes n bits if they are real; otherwise marks the stream truncated.
    auto take = [&](unsigned n) {
      if (n > bits - pad) {
        truncated_ = true;
        return false;
      }
      bb >>= n;
      bits -= n;
      return true;
    };
    auto getbits = [&](unsigned n, unsigned* v) {
      refill_slow();
      *v = static_cast<unsigned>(bb & mask(n));
      return take(n);
    };

    while (more) {
      if (state_ == State::Done) break;
      if (state_ == State::Header) {
        if (last_) {
          state_ = State::Done;
          break;
        }
        if (!fin && static_cast<size_t>(iend - ip) + bits / 8 < kMaxHeaderBytes) {
          more = false;
          break;
        }
        // The rest of the header certainly in the input (no final padding, and more bytes left
        // than the largest header plus an 8-byte load): parse_header reads the code lengths
        // with branch-free 8-byte refills and no truncation checks.
        const bool whole = pad == 0 && static_cast<size_t>(iend - ip) >= kMaxHeaderBytes + 8;
        if (!parse_header(refill_slow, take, getbits, bb, bits, whole ? &ip : nullptr))
          break;  // truncated
        continue;
      }
      if (state_ == State::Stored) {
        if (w >= stop) break;
        // Whole bytes still in the bit buffer first (it is byte-aligned here), then memcpy.
        while (stored_left_ && bits >= 8 && w < stop) {
          if (bits - pad < 8) {
            truncated_ = true;
            break;
          }
          *w++ = static_cast<uint8_t>(bb);
          bb >>= 8;
          bits -= 8;
          --stored_left_;
        }
        if (truncated_) break;
        size_t k = std::min<size_t>(
            {size_t{stored_left_}, static_cast<size_t>(stop - w), static_cast<size_t>(iend - ip)});
        if (k) std::memcpy(w, ip, k);  // ip may be null when no input was given
        w += k;
        ip += k;
        stored_left_ -= static_cast<uint32_t>(k);
        if (stored_left_ == 0) {
          state_ = State::Header;
          continue;
        }
        if (w >= stop) break;
        if (fin) truncated_ = true;  // input used up inside a stored block
        more = false;
        break;
      }

      // ---- Huffman-coded block ----
      const uint32_t* const lt = lit_.data();
      const uint32_t* const dt = dist_.data();
      // Fast loop (fast_huffman): >= 16 input bytes left, room for a whole match.
      if (pad == 0 && iend - ip >= 16 && w < stop) {
        // Register copies: the careful reader's lambdas hold references to bb/bits, and ip is a
        // reference that stores through w could alias.
        FastIo<uint8_t> io{bb, bits, ip, w, 0};
        const FastEnd end = fast_huffman<uint8_t>()(lt, dt, io, iend - 16, stop, base);
        if (const char* why = fast_error(end)) corrupt(why);
        ip = io.in;
        bb = io.bb & mask(io.bits);  // drop look-ahead bits (the careful reader ORs bytes in)
        bits = io.bits;
        w = io.w;
        if (end == FastEnd::Eob) {
          state_ = State::Header;
          continue;
        }
      }
      // Careful loop: one symbol at a time, only when all of it is known to have arrived.
      while (w < stop && (iend - ip < 16 || pad)) {
        refill_slow();
        if (!fin && bits < 48) {
          more = false;
          break;
        }
        uint32_t e = lt[bb & mask(kSerialLitBits)];
        if (e & kSub) {
          if (!take(kSerialLitBits)) break;
          e = lt[(e >> 16) + (bb & mask(extra_of(e)))];
        }
        if (is_lit(e)) {
          // A pair entry's first literal alone (its code length from litlen_): the second code
          // may not have arrived yet.
          if (!take(is_pair(e) ? litlen_[(e >> 16) & 0xFF] : e & 63)) break;
          *w++ = static_cast<uint8_t>(e >> 16);
          continue;
        }
        if (!take(e & 63)) break;
        if (e & kBad) corrupt("invalid literal/length code");
        if (e & kEob) {
          state_ = State::Header;
          break;
        }
        unsigned extra = extra_of(e);
        const unsigned mlen = (e >> 16) + static_cast<unsigned>(bb & mask(extra));
        if (!take(extra)) break;
        uint32_t d = dt[bb & mask(kDistBits)];
        if (d & kSub) {
          if (!take(kDistBits)) break;
          d = dt[(d >> 16) + (bb & mask(extra_of(d)))];
        }
        if (!take(d & 63)) break;
        if (d & kBad) corrupt("invalid distance code");
        extra = extra_of(d);
        const size_t dist = (d >> 16) + static_cast<size_t>(bb & mask(extra));
        if (!take(extra)) break;
        if (dist > static_cast<size_t>(w - base)) corrupt("invalid distance too far back");
        copy_match<uint8_t>(base, w, dist, mlen, nullptr);
        w += mlen;
      }
      if (truncated_ || !more || w >= stop) break;
      // Otherwise: end of block (loop to the header) or enough input again for the fast loop.
    }
    bb_ = bb & mask(bits);
    bits_ = bits;
    pad_ = pad;
    wio = w;
    return more && !truncated_;
  }

  // Parses a block header (and a dynamic block's code tables). Returns false if truncated.
  template <class Refill, class Take, class Get>
  //
  // With `whole` (a pointer to the input position), all of the header is known to be in the input
  // after it: the code lengths are then read with 8-byte refills straight from the input, without
  // truncation checks. The bits past `bits` that a refill loads are the next input bytes', so a
  // later byte-wise refill ORs in the same values.
  bool parse_header(Refill& refill_slow, Take& take, Get& getbits, uint64_t& bb, unsigned& bits,
                    const uint8_t** whole) {
    unsigned v;
    if (!getbits(3, &v)) return false;
    last_ = v & 1;
    const unsigned type = v >> 1;
    if (type == 0) {
      if (!take(bits & 7)) return false;
      unsigned slen, snlen;
      if (!getbits(16, &slen) || !getbits(16, &snlen)) return false;
      if (slen != (~snlen & 0xFFFFu)) corrupt("invalid stored block lengths");
      stored_left_ = slen;
      state_ = State::Stored;
      return true;
    }
    if (type == 3) corrupt("invalid block type");
    uint8_t lens[288 + 32 + 16];  // + 16: the fast reader's 16-byte stores past the last length
    lens[0] = 0;
    unsigned nlit, ndist;
    if (type == 1) {
      nlit = 288;
      ndist = 32;
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
    if (!getbits(14, &hdr)) return false;
    nlit = (hdr & 31) + 257;
    ndist = ((hdr >> 5) & 31) + 1;
    const unsigned ncode = (hdr >> 10) + 4;
    if (nlit > 286 || ndist > 30) corrupt("too many length or distance symbols");
    uint8_t pre[19] = {0};
    for (unsigned i = 0; i < ncode; ++i) {
      if (!getbits(3, &v)) return false;
      pre[kPreOrder[i]] = static_cast<uint8_t>(v);
    }
    uint32_t pt[1u << kPreBits];
    if (!build_table(pt, kPreBits, pre, 19, Kind::Pre)) corrupt("invalid code lengths set");
    const unsigned total = nlit + ndist;
    unsigned have = 0;
    if (whole) {
      if (const char* why = read_code_lengths_fast(pt, bb, bits, *whole, lens, total)) corrupt(why);
      have = total;
    }
    while (have < total) {
      refill_slow();
      const uint32_t e = pt[bb & mask(kPreBits)];
      if (!take(e & 63)) return false;
      if (e & kBad) corrupt("invalid code lengths set");  // only from an empty code-length code
      const unsigned sym = e >> 16;
      if (sym < 16) {
        lens[have++] = static_cast<uint8_t>(sym);
        continue;
      }
      unsigned rep, val = 0;
      if (sym == 16) {
        if (!getbits(2, &rep)) return false;
        if (have == 0) corrupt("invalid bit length repeat");
        val = lens[have - 1];
        rep += 3;
      } else if (sym == 17) {
        if (!getbits(3, &rep)) return false;
        rep += 3;
      } else {
        if (!getbits(7, &rep)) return false;
        rep += 11;
      }
      if (have + rep > total) corrupt("invalid bit length repeat");
      std::memset(lens + have, static_cast<int>(val), rep);
      have += rep;
    }
    if (lens[256] == 0) corrupt("invalid code -- missing end-of-block");
    if (!build_table(lit_.data(), kSerialLitBits, lens, nlit, Kind::LitLen, true))
      corrupt("invalid literal/lengths set");
    std::memcpy(litlen_, lens, 256);
    if (!build_table(dist_.data(), kDistBits, lens + nlit, ndist, Kind::Dist))
      corrupt("invalid distances set");
    state_ = State::Huffman;
    return true;
  }

  std::vector<uint8_t> out_;  // [0, w_): window + decoded; [r_, w_) not yet delivered
  std::vector<uint32_t> lit_, dist_;
  uint8_t litlen_[256] = {0};  // the literals' code lengths (a pair entry's first code length)
  size_t w_ = 0, r_ = 0;
  uint64_t bb_ = 0;
  unsigned bits_ = 0, pad_ = 0;
  uint32_t stored_left_ = 0;
  State state_ = State::Header;
  bool last_ = false;
  bool truncated_ = false;
};

}  // namespace

std::unique_ptr<Inflater> make_npz_inflater() { return std::make_unique<NpzInflater>(); }

}  // namespace npz
