// Member-level uses of the parallel DEFLATE engine: see parallel_member.h.
#include "parallel_member.h"

#include "cpu_count.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "parallel_inflate.h"

namespace npz {

namespace {

// Feeds the Scanner the same pieces as the serial scan, [k * piece, (k + 1) * piece) of the
// member clipped to the array bytes: the statistics' floating-point sums are merged per piece,
// so equal pieces give bit-identical results.
class ScanSink final : public InflateSink {
 public:
  ScanSink(Scanner* sc, uint64_t a, uint64_t b, size_t piece) : sc_(sc), a_(a), b_(b) {
    if (sc_) buf_.resize(piece);
  }
  void write(const uint8_t* p, size_t n) override {
    if (!sc_) return;
    while (n) {
      const size_t k = std::min(n, buf_.size() - fill_);
      std::memcpy(buf_.data() + fill_, p, k);
      fill_ += k;
      p += k;
      n -= k;
      if (fill_ == buf_.size()) flush();
    }
  }
  void flush() {
    if (!sc_ || fill_ == 0) return;
    const uint64_t a = std::max(pos_, a_), b = std::min<uint64_t>(pos_ + fill_, b_);
    if (a < b) sc_->feed(buf_.data() + (a - pos_), static_cast<size_t>(b - a));
    pos_ += fill_;
    fill_ = 0;
  }

 private:
  Scanner* sc_;
  uint64_t a_, b_, pos_ = 0;
  std::vector<uint8_t> buf_;
  size_t fill_ = 0;
};

// Member bytes [skip, skip + n) into dst.
class RawSink final : public InflateSink {
 public:
  RawSink(uint64_t skip, size_t n, uint8_t* dst) : skip_(skip), n_(n), dst_(dst) {}
  void write(const uint8_t* p, size_t n) override {
    const uint64_t a = std::max(pos_, skip_), b = std::min<uint64_t>(pos_ + n, skip_ + n_);
    if (a < b) {
      std::memcpy(dst_ + (a - skip_), p + (a - pos_), static_cast<size_t>(b - a));
      got_ += static_cast<size_t>(b - a);
    }
    pos_ += n;
  }
  size_t got() const { return got_; }

 private:
  uint64_t skip_;
  size_t n_;
  uint8_t* dst_;
  uint64_t pos_ = 0;
  size_t got_ = 0;
};

class CopySink final : public InflateSink {
 public:
  CopySink(uint64_t skip, size_t n, ByteBuffer* out) : skip_(skip), n_(n), out_(out) {}
  void write(const uint8_t* p, size_t n) override {
    const uint64_t a = std::max(pos_, skip_), b = std::min<uint64_t>(pos_ + n, skip_ + n_);
    if (a < b) {
      const size_t at = static_cast<size_t>(a - skip_), k = static_cast<size_t>(b - a);
      // Pages become resident as bytes arrive (reserve() took address space only).
      out_->resize(at + k);
      std::memcpy(out_->data() + at, p + (a - pos_), k);
    }
    pos_ += n;
  }

 private:
  uint64_t skip_;
  size_t n_;
  ByteBuffer* out_;
  uint64_t pos_ = 0;
};

std::atomic<uint64_t> g_decoded{0};

}  // namespace

uint64_t parallel_members_decoded() { return g_decoded.load(std::memory_order_relaxed); }

bool worth_parallel(const ZipEntry& z) {
  // Highly compressible members (long runs: several GB/s serially) decode faster alone.
  return z.method == 8 && z.csize >= kParallelInflateMin && z.usize / kParallelMaxRatio <= z.csize;
}

unsigned inflate_threads(unsigned requested) { return requested ? requested : available_cpus(); }

bool scan_deflated_parallel(const Source& src, const ZipEntry& z, unsigned threads, const DType* dt,
                            uint64_t row_len, uint64_t arr_begin, uint64_t arr_end, size_t piece,
                            const std::atomic<bool>* cancel, std::optional<ScanStats>* stats,
                            uint32_t* crc) {
  std::optional<Scanner> sc;
  if (dt) sc.emplace(*dt, row_len);  // per-row tallies as the serial scan keeps them
  ScanSink sink(sc ? &*sc : nullptr, arr_begin, arr_end,
                static_cast<size_t>(std::min<uint64_t>(piece, z.usize)));
  ParallelInflateOptions o;
  o.threads = threads;
  o.cancel = cancel;
  const ParallelInflateResult r = parallel_inflate(src, z.data_offset, z.csize, z.usize, sink, o);
  if (!r.ok || r.crc != z.crc32) return false;
  sink.flush();
  *crc = r.crc;
  if (sc) *stats = sc->finish();
  g_decoded.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool copy_deflated_parallel(const Source& src, const ZipEntry& z, unsigned threads, uint64_t skip,
                            size_t n, ByteBuffer* out, uint32_t* crc) {
  out->clear();
  out->reserve(n);
  CopySink sink(skip, n, out);
  ParallelInflateOptions o;
  o.threads = threads;
  const ParallelInflateResult r = parallel_inflate(src, z.data_offset, z.csize, z.usize, sink, o);
  if (!r.ok || r.crc != z.crc32 || out->size() != n) return false;
  *crc = r.crc;
  g_decoded.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool decode_deflated_parallel(const Source& src, const ZipEntry& z, unsigned threads, uint64_t skip,
                              uint8_t* dst, size_t n, uint32_t* crc) {
  RawSink sink(skip, n, dst);
  ParallelInflateOptions o;
  o.threads = threads;
  const ParallelInflateResult r = parallel_inflate(src, z.data_offset, z.csize, z.usize, sink, o);
  if (!r.ok || r.crc != z.crc32 || sink.got() != n) return false;
  *crc = r.crc;
  g_decoded.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace npz
