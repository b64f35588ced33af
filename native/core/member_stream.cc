// Streaming reader of one member (STORED: pread straight into the caller's buffer; DEFLATED:
// bounded input staging + incremental inflate). Sizes and CRC are verified at the end.
#include "member_stream.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "errors.h"
#include "inflate.h"

namespace npz {

namespace {
constexpr size_t kFirstRefill = 16u << 10;  // header peeks touch only a few KiB of input
// The decoder may leave up to this many bytes unconsumed when it cannot be sure the next symbol
// or block header is complete; they are kept and more input is appended behind them.
constexpr size_t kKeepTail = 1024;
}  // namespace

MemberStream::MemberStream(const Source& src, const ZipEntry& entry, size_t chunk)
    : src_(src), entry_(entry), chunk_(chunk < 4096 ? 4096 : chunk) {
  if (entry_.method == 8) {
    inflater_ = make_inflater();
    inflater_->in_final = entry_.csize == 0;
  }
}

void MemberStream::use_inflater_for_tests(std::unique_ptr<Inflater> inf) {
  if (!inflater_) return;
  inf->in_final = inflater_->in_final;
  inflater_ = std::move(inf);
}

// Appends the next piece of compressed input behind the unconsumed tail (moved to the front).
void MemberStream::refill(size_t cap) {
  Inflater& inf = *inflater_;
  const size_t tail = inf.len - inf.off;
  const size_t k = static_cast<size_t>(std::min<uint64_t>(cap, entry_.csize - in_pos_));
  if (inf.buf.size() < tail + k) inf.buf.resize(tail + k);
  if (tail && inf.off) std::memmove(inf.buf.data(), inf.buf.data() + inf.off, tail);
  src_.read(entry_.data_offset + in_pos_, inf.buf.data() + tail, k);
  in_pos_ += k;
  inf.off = 0;
  inf.len = tail + k;
  inf.in_final = in_pos_ >= entry_.csize;
}

MemberStream::~MemberStream() = default;

size_t MemberStream::read(uint8_t* dst, size_t n) {
  if (done_) return 0;
  if (cancel_ && cancel_->load(std::memory_order_relaxed))
    throw Error(Code::NpzAborted, "operation aborted", member_key(entry_.name));
  const uint64_t remaining = entry_.usize - pos_;
  if (remaining == 0) {
    finish_checks();
    return 0;
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining));
  if (want == 0) return 0;
  size_t got = 0;
  if (!inflater_) {
    src_.read(entry_.data_offset + pos_, dst, want);
    got = want;
    in_pos_ += want;
  } else {
    Inflater& inf = *inflater_;
    for (;;) {
      if (inf.ended)
        throw Error(Code::NpzSizeMismatch,
                    "DEFLATE stream ends after " + std::to_string(pos_) + " bytes, member '" +
                        entry_.name + "' declares " + std::to_string(entry_.usize),
                    member_key(entry_.name));
      if (inf.len - inf.off < kKeepTail && in_pos_ < entry_.csize) {
        // Grow the read size geometrically: a header peek reads a few KiB, a scan 1 MiB.
        refill(std::min(chunk_, std::max(kFirstRefill, inf.buf.size() * 2)));
      }
      const Inflater::Step s = inf.step(inf.buf.data() + inf.off, inf.len - inf.off, dst, want);
      inf.off += s.consumed;
      if (s.end) inf.ended = true;
      if (s.produced) {
        got = s.produced;
        break;
      }
      if (s.end) continue;  // reported above as an early end
      if (inf.off == inf.len && in_pos_ >= entry_.csize)
        throw Error(Code::NpzSizeMismatch,
                    "compressed data of '" + entry_.name + "' ends after " + std::to_string(pos_) +
                        " of " + std::to_string(entry_.usize) + " bytes",
                    member_key(entry_.name));
      if (s.consumed == 0)
        throw Error(Code::NpzCorrupt, "DEFLATE decoder made no progress", member_key(entry_.name));
    }
  }
  crc_ = crc32_update(crc_, dst, got);
  pos_ += got;
  return got;
}

void MemberStream::finish_checks() {
  if (inflater_) {
    Inflater& inf = *inflater_;
    // All declared bytes delivered: the stream must end here, not produce more.
    uint8_t probe;
    while (!inf.ended) {
      if (inf.len - inf.off < kKeepTail && in_pos_ < entry_.csize)
        refill(std::min(chunk_, std::max<size_t>(inf.buf.size(), 4096)));
      const Inflater::Step s = inf.step(inf.buf.data() + inf.off, inf.len - inf.off, &probe, 1);
      inf.off += s.consumed;
      if (s.produced)
        throw Error(Code::NpzSizeMismatch,
                    "member '" + entry_.name + "' inflates to more than its declared " +
                        std::to_string(entry_.usize) + " bytes",
                    member_key(entry_.name));
      if (s.end) {
        inf.ended = true;
        break;
      }
      if (inf.off == inf.len && in_pos_ >= entry_.csize)
        throw Error(Code::NpzSizeMismatch,
                    "DEFLATE stream of '" + entry_.name + "' is not terminated within " +
                        std::to_string(entry_.csize) + " compressed bytes",
                    member_key(entry_.name));
      if (s.consumed == 0)
        throw Error(Code::NpzCorrupt, "DEFLATE decoder made no progress", member_key(entry_.name));
    }
  }
  if (verify_crc_ && crc_ != entry_.crc32) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "CRC-32 is %08x, central directory says %08x", crc_,
                  entry_.crc32);
    throw Error(Code::NpzCrcMismatch, "member '" + entry_.name + "': " + buf,
                member_key(entry_.name));
  }
  done_ = true;
}

void MemberStream::read_exact(uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t k = read(dst + done, n - done);
    if (k == 0)
      throw Error(Code::NpyTruncated,
                  "member '" + entry_.name + "' ends after " + std::to_string(pos_) + " bytes, " +
                      std::to_string(n - done) + " more were needed",
                  member_key(entry_.name));
    done += k;
  }
}

void MemberStream::skip(uint64_t n) {
  uint8_t scratch[16384];
  while (n > 0) {
    const size_t k = read(scratch, static_cast<size_t>(std::min<uint64_t>(n, sizeof scratch)));
    if (k == 0)
      throw Error(Code::NpyTruncated, "member '" + entry_.name + "' ends before the skipped range",
                  member_key(entry_.name));
    n -= k;
  }
}

}  // namespace npz
