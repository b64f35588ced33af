// Sequential reader of one member's uncompressed bytes (the whole .npy), STORED or DEFLATED,
// in bounded memory: fixed-size input/output chunks, never the whole member. Runs CRC-32 over
// everything it returns and, when the member has been read to its end, compares it with the
// central directory (ERR_NPZ_CRC_MISMATCH). Inflated output is capped at the declared
// uncompressed size and an early end of stream is an error (ERR_NPZ_SIZE_MISMATCH).
// Not thread-safe: one stream per thread. RAII over the inflater state.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "crc32.h"
#include "source.h"
#include "zip_index.h"

namespace npz {

class Inflater;  // inflate.h: npzguard's decoder by default

class MemberStream {
 public:
  // chunk: size of the compressed-input buffer (default 1 MiB).
  MemberStream(const Source& src, const ZipEntry& entry, size_t chunk = 1u << 20);
  ~MemberStream();
  MemberStream(const MemberStream&) = delete;
  MemberStream& operator=(const MemberStream&) = delete;

  // Reads up to n bytes of uncompressed member data into dst; returns 0 only at the end of the
  // member (after verifying sizes and, if verify_crc, the CRC). Throws coded errors.
  size_t read(uint8_t* dst, size_t n);
  // Reads exactly n bytes or throws ERR_NPY_TRUNCATED.
  void read_exact(uint8_t* dst, size_t n);
  // Skips n bytes (still CRC'd).
  void skip(uint64_t n);
  uint64_t position() const { return pos_; }
  uint64_t size() const { return entry_.usize; }
  uint32_t crc() const { return crc_; }
  bool finished() const { return done_; }
  void set_verify_crc(bool v) { verify_crc_ = v; }
  // Optional cancellation flag checked once per chunk (ERR_NPZ_ABORTED).
  void set_cancel(const std::atomic<bool>* flag) { cancel_ = flag; }
  // Differential tests: decode with this inflater (e.g. make_zlib_inflater()) instead of the
  // default; call before the first read.
  void use_inflater_for_tests(std::unique_ptr<Inflater> inf);

 private:
  void finish_checks();
  void refill(size_t cap);
  const Source& src_;
  ZipEntry entry_;
  size_t chunk_;
  std::unique_ptr<Inflater> inflater_;
  uint64_t pos_ = 0;     // uncompressed bytes delivered
  uint64_t in_pos_ = 0;  // compressed bytes consumed from the source
  uint32_t crc_ = 0;
  bool done_ = false;
  bool verify_crc_ = true;
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace npz
