// High-level view of one .npz or .npy file: the member list with parsed NPY headers (header-only
// cost: deflated members inflate just their header bytes), whole-array reads (zero-copy mapping
// or one copy, byte-swapped to native order, CRC-verified), object-string extraction (pickle
// walker / 0-d U,S) and streaming value scans (bounded memory, CRC in the same pass; STORED
// members through SIGBUS-guarded read-only mapping windows, DEFLATED ones through pread + inflate).
// Implemented in archive.cc (open, members, budget, array and string reads), archive_rows.cc
// (row reads, row profile), archive_scan.cc (scan) and stored_io.cc (STORED-member I/O).
//
// Ownership: an Archive owns its FileSource (one fd held open for its lifetime, fstat at open).
// Thread-safety: after open(), members() is immutable; read_array/read_strings/scan are const
// and may run concurrently from several threads (each call uses its own buffers and inflater).
// Errors: every method throws npz::Error with a code from errors.h; member-level header
// problems found at open time are recorded in Member::error instead (so listing still works).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_buffer.h"
#include "errors.h"
#include "npy_header.h"
#include "pickle_walker.h"
#include "scan.h"
#include "source.h"
#include "zip_index.h"

namespace npz {

struct OpenOptions {
  NpyLimits npy;
  ZipLimits zip;
  PickleLimits pickle;
  uint64_t max_object_member = 64u << 20;  // cap for inflating/reading a pickled member
  // Global inflate budget of one open archive: the total DEFLATE output that full reads (scan,
  // copy, strings) may produce, charged by each member's declared (ratio-checked) size when its
  // read starts. Members are bounded by the 1032:1 ratio and cannot overlap, but a small archive
  // of many maximal members could still ask for ~1000x its size in inflate work.
  uint64_t max_inflate_total = uint64_t{1} << 40;  // 1 TiB
};

struct Member {
  ZipEntry entry;          // for .npy files: synthetic (method 0, data_offset 0, usize = file size)
  std::string key;         // name minus one ".npy"; file stem for .npy files
  bool npy_magic = false;  // member starts with \x93NUMPY
  std::optional<NpyHeader> header;
  std::optional<Error> error;  // member-level problem found at open (bad header, truncated, ...)
  uint64_t array_offset = 0;   // absolute file offset of the array data (STORED only)
  int64_t trailing_bytes = 0;  // usize - data_offset - byte_length (object arrays: 0)
};

enum class CopyMode { Auto, ForceCopy, RequireZeroCopy };

struct ArrayBytes {
  // Exactly one of mapping / owned is set.
  std::shared_ptr<Mapping> mapping;  // zero-copy: data() .. data()+byte_length
  ByteBuffer owned;                  // copy: native byte order (no zero fill, huge pages)
  const uint8_t* data = nullptr;
  uint64_t byte_length = 0;
  bool zero_copy = false;
  bool crc_verified = false;
};

// Per-row (first-axis) totals of a real numeric array, from one streaming pass (issue 13: the
// report's per-frame intensity plot and findings that name frames).
struct RowProfile {
  std::vector<double> sum;          // sum of the finite values of each row
  std::vector<uint64_t> nonfinite;  // NaN/Inf values per row (floats only)
  std::vector<uint64_t> nonzero;    // values != 0 per row (a row with 0 is a zero-energy frame)
  std::vector<uint64_t> negative;   // values < 0 per row
  std::vector<double> col_sum;      // per position within a row: sum of finite values over all
                                    // rows (the mean pattern); empty when a row has > 16 Mi values
};

struct ScanOptions {
  bool verify_crc = true;
  bool stats = true;  // false: CRC/integrity pass only
  const std::atomic<bool>* cancel = nullptr;
};

struct ScanResult {
  bool crc_checked = false;
  bool crc_ok = false;
  uint64_t bytes_read = 0;         // uncompressed bytes processed
  std::optional<ScanStats> stats;  // absent for unsupported/object dtypes or stats=false
};

class Archive {
 public:
  enum class Kind { Npz, Npy };
  static std::unique_ptr<Archive> open(const std::string& path, const OpenOptions& opts);
  // For fuzzers/tests: same logic over an in-memory source (no zero-copy mapping).
  static std::unique_ptr<Archive> open_source(std::unique_ptr<Source> src, const std::string& name,
                                              const OpenOptions& opts);

  Kind kind() const { return kind_; }
  const std::vector<Member>& members() const { return members_; }
  uint64_t file_size() const { return src_->size(); }
  const Source& source() const { return *src_; }

  // Whole array data. ForceCopy always copies; RequireZeroCopy throws ERR_NPZ_COMPRESSED_MEMBER,
  // ERR_NPY_NON_NATIVE_ENDIAN, ERR_NPY_MISALIGNED or ERR_NPZ_LIMIT (> 4 GiB) instead of copying.
  // Unsupported/object dtypes: ERR_NPY_UNSUPPORTED_DTYPE. Copies verify the CRC (full read).
  ArrayBytes read_array(size_t index, CopyMode mode) const;
  // The whole array decoded (DEFLATED) or copied (STORED) straight into dst, which the caller
  // owns and sized to the header's byte_length (n; else ERR_NPZ_LIMIT): in native byte order,
  // CRC verified for .npz members, charged to the inflate budget. One pass, no second buffer:
  // the binding uses it for copies larger than one external buffer (4 GiB), streaming into
  // memory the JavaScript engine allocated. Same dtype refusals as read_array.
  void read_array_into(size_t index, uint8_t* dst, size_t n) const;
  // Rows [start, end) along the first axis of a C-order array (a 1-d array in either order):
  // a zero-copy mapping of just those rows when the whole-array rules allow it (STORED, file
  // source, native endian, aligned, <= 4 GiB), else a copy in native byte order. A DEFLATED
  // member is inflated in bounded memory (the stream's fixed buffers) from its start up to the
  // last byte of row end-1 and no further; only those bytes are charged to the inflate budget.
  // Row reads do not verify the CRC (crc_verified false): it covers the whole member.
  // A Fortran-order array of 2+ dimensions has no contiguous rows: they are gathered into a
  // C-order copy (fortran_rows.h; RequireZeroCopy: ERR_NPY_FORTRAN_ORDER).
  // ERR_NPY_ROW_RANGE: start > end, end > rows, or a 0-d array; plus read_array's codes.
  ArrayBytes read_rows(size_t index, uint64_t start, uint64_t end, CopyMode mode) const;
  // One pass over a C-order (or 1-d) real numeric array (b, i, u, f) giving RowProfile; STORED
  // members are read by pread, DEFLATED ones inflated in bounded memory (fixed chunks), both
  // in 1 MiB pieces. Refuses complex/other dtypes (ERR_NPY_UNSUPPORTED_DTYPE), 0-d arrays
  // (ERR_NPY_ROW_RANGE), Fortran order with 2+ dims (ERR_NPY_FORTRAN_ORDER), and more than
  // max_rows rows (ERR_NPZ_LIMIT: the result holds 32 bytes per row). No CRC check.
  RowProfile row_profile(size_t index, uint64_t max_rows, const std::atomic<bool>* cancel) const;
  // The rows listed (ascending, unique, each < shape[0]; else ERR_NPY_ROW_RANGE), concatenated
  // in native byte order (C order, Fortran-order members included), in one pass: a DEFLATED
  // member is inflated once up to the last one.
  ByteBuffer read_row_set(size_t index, const std::vector<uint64_t>& rows) const;
  // Object ('|O', via the pickle walker) or 0-d/any U/S member decoded to strings.
  ObjectStrings read_strings(size_t index) const;
  // A one-item object ('|O') member whose item is a plain value (e.g. a pickled `_metadata`
  // dict), decoded by the walker without executing it; ERR_NPY_PICKLE_REFUSED otherwise,
  // ERR_NPY_UNSUPPORTED_DTYPE for a member that is not '|O'.
  PlainValue read_plain_value(size_t index) const;
  // Streaming pass over the member: CRC + stats in bounded memory. A file truncated during the
  // pass gives ERR_NPZ_CORRUPT (never SIGBUS).
  ScanResult scan(size_t index, const ScanOptions& opts) const;
  // Charges a full inflation of member m (no-op for STORED members) against the inflate budget;
  // ERR_NPZ_LIMIT when it would go over. Thread-safe. Called by every full read of a member.
  void charge_inflate(const Member& m) const;
  // Same budget, charged by n bytes (partial inflation: row reads).
  void charge_inflate_bytes(const Member& m, uint64_t n) const;
  uint64_t inflated_total() const { return inflated_.load(); }

 private:
  // The bytes after the NPY header of an object member (inflated, CRC-verified, size-capped).
  std::vector<uint8_t> object_payload(const Member& m) const;
  Archive() = default;
  void load_members();
  const Member& member_at(size_t index) const;   // ERR_NPZ_MEMBER_NOT_FOUND when out of range
  const Member& npy_member(size_t index) const;  // also rethrows its open error; needs a header
  // The zero-copy rules of read_array (rows false) and read_rows (rows true): maps array bytes
  // [from, from + len) into *out and returns true when they allow it (STORED, file source, native
  // endian, aligned, <= 4 GiB); otherwise throws the reason under RequireZeroCopy, else false.
  bool map_array_bytes(const Member& m, uint64_t from, uint64_t len, CopyMode mode, bool rows,
                       ArrayBytes* out) const;
  Kind kind_ = Kind::Npz;
  std::unique_ptr<Source> src_;
  const FileSource* file_ = nullptr;  // non-null when opened from a path
  std::string name_;
  OpenOptions opts_;
  std::vector<Member> members_;
  mutable std::atomic<uint64_t> inflated_{0};
};

}  // namespace npz
