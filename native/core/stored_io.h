// Stored-member I/O: how the Archive reads the bytes of STORED (uncompressed) members fast and
// safely. Scans read the page cache through short-lived read-only mapping windows under a SIGBUS
// guard (a file truncated during the pass gives ERR_NPZ_CORRUPT, never a crash); large copies
// run on two threads, filling the new buffer straight from the file with userfaultfd where the
// kernel allows it (fresh_fill.h), else with pread. Internal to the core (archive*.cc).
// Thread-safety: every function may run on several threads at once (the SIGBUS recovery point
// is thread-local; the handler is installed once per process). Errors: npz::Error codes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "npy_header.h"
#include "scan.h"
#include "source.h"
#include "zip_index.h"

namespace npz {
namespace detail {

// Threads a stored scan or copy splits into: 2, or 1 on a one-CPU machine.
unsigned io_threads();

struct RangeResult {
  uint32_t crc = 0;
  std::optional<ScanStats> stats;
};

// Scans bytes [from, to) of a STORED member: CRC (when crc) and value stats (when dt) over the
// part that lies inside [arr_begin, arr_end) (member offsets; boundaries inside the array are
// element-aligned by the caller). File-backed sources (file != nullptr) are read through
// guarded mappings, in-memory ones (fuzzers, tests) directly; a failed mapping falls back to
// pread. ERR_NPZ_CORRUPT if the file is truncated meanwhile, ERR_NPZ_ABORTED on cancel.
// row_len > 0: the stats also tally rows of row_len elements (scan.h); a range inside the
// array then starts at a row boundary.
RangeResult scan_stored_range(const Source& src, const FileSource* file, const ZipEntry& e,
                              uint64_t from, uint64_t to, uint64_t arr_begin, uint64_t arr_end,
                              const DType* dt, uint64_t row_len, bool crc,
                              const std::atomic<bool>* cancel, const std::string& key);

// Copies the n array bytes of a STORED member (array at member offset arr_begin) into dst on two
// threads, byte-swapping units of `swap` bytes when swap != 0, and returns the CRC-32 of the
// whole member (header + array + trailing bytes). dst must be fresh memory of n bytes that no
// other thread touches meanwhile. NPZGUARD_NO_USERFAULTFD=1 forces the pread path.
uint32_t copy_stored_parallel(const Source& src, const FileSource* file, const ZipEntry& z,
                              uint64_t arr_begin, uint8_t* dst, size_t n, uint32_t swap);

}  // namespace detail
}  // namespace npz
