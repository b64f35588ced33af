// Stored-member I/O: how the Archive reads the bytes of STORED (uncompressed) members fast and
// safely. Scans read each window through a SIGBUS-guarded mapping or with pread into a small
// buffer that stays in cache for the CRC and the statistics, whichever measures cheaper
// (ScanCost; a file truncated during the pass gives ERR_NPZ_CORRUPT either way). Large copies run
// on several threads (OpenOptions::threads), filling the new buffer straight from the file with
// userfaultfd where the kernel allows it (fresh_fill.h), else with pread. Internal to the core
// (archive*.cc). Thread-safety: every function may run on several threads at once (a ScanCost is
// shared by the parts of one member's scan). Errors: npz::Error codes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "npy_header.h"
#include "scan.h"
#include "source.h"
#include "zip_index.h"

namespace npz {
namespace detail {

// Runs fn(i) for every part i in [0, parts): parts 1.. on threads of their own, part 0 on the
// calling thread (a thread that cannot be started runs its part there too); joins them all,
// then rethrows the first exception in part order.
void run_parts(unsigned parts, const std::function<void(unsigned)>& fn);

// How many parts a STORED scan or copy of `bytes` splits into with `threads` threads: 1 up to
// `min_bytes`, then one per thread as long as each part keeps at least min_bytes / 2.
unsigned split_parts(unsigned threads, uint64_t bytes, uint64_t min_bytes);

struct RangeResult {
  uint32_t crc = 0;
  std::optional<ScanStats> stats;
};

enum class ReadWay : unsigned { Map = 0, Pread = 1 };

// How the scans of one member read their windows (stored_io.cc): a way not measured yet first,
// then the one whose last windows cost the least thread CPU time per byte, the other every 32nd
// window. NPZGUARD_SCAN_READ=map|pread pins the way. Shared by the member's concurrent parts.
class ScanCost {
 public:
  // Whether a range may be read through a mapping at all: pinned so, or long enough to time.
  bool may_map(bool timed) const;
  // The way to read the next window: pinned, else pread for a range too short to time, else as
  // above.
  ReadWay choose(bool timed);
  // Records that reading a window of `bytes` one way took cpu_ns of the thread's CPU time.
  void record(ReadWay w, uint64_t bytes, uint64_t cpu_ns);
  // A way's cost: the least of its last kRecent windows, in picoseconds per byte (0 = not
  // measured yet). The least, not a mean: a window that waited for the disk (pages evicted
  // meanwhile) or was slowed otherwise costs far more than the way itself, once (seen: 27 ns/B
  // against 0.04-0.15), and a mean would keep that way out for dozens of windows.
  uint64_t estimate(ReadWay w) const;

 private:
  static constexpr unsigned kRecent = 4;
  std::atomic<uint64_t> recent_[2][kRecent] = {};
  std::atomic<uint64_t> next_[2] = {};
  std::atomic<uint64_t> windows_{0};
};

// Scans bytes [from, to) of a STORED member: CRC (when crc) and value stats (when dt) over the
// part that lies inside [arr_begin, arr_end) (member offsets; boundaries inside the array are
// element-aligned by the caller), 256 KiB at a time. A file (file != nullptr, the same object as
// src) is read window by window through a SIGBUS-guarded mapping of the range or with pread, as
// `cost` chooses (shared by the member's parts); in-memory sources (fuzzers, tests) are read
// directly. The way never changes the result.
// `parts`: how many ranges of the member are scanned at once; their mapped windows together stay
// within 16 MiB of RSS. ERR_NPZ_CORRUPT if the file is truncated meanwhile, ERR_NPZ_ABORTED on
// cancel. row_len > 0: the stats also tally rows of row_len elements (scan.h); a range inside the
// array then starts at a row boundary.
RangeResult scan_stored_range(const Source& src, const FileSource* file, const ZipEntry& e,
                              uint64_t from, uint64_t to, uint64_t arr_begin, uint64_t arr_end,
                              const DType* dt, uint64_t row_len, bool crc,
                              const std::atomic<bool>* cancel, const std::string& key,
                              unsigned parts, ScanCost& cost);

// Copies the n array bytes of a STORED member (array at member offset arr_begin) into dst in
// `parts` pieces at once (run_parts), byte-swapping units of `swap` bytes when swap != 0, and
// returns the CRC-32 of the whole member (header + array + trailing bytes). dst must be fresh
// memory of n bytes that no other thread touches meanwhile. New pages come as huge pages where
// free 2 MiB blocks are plentiful, else through userfaultfd where the kernel allows it, else by
// pread (NPZGUARD_NO_HUGEPAGES=1 / NPZGUARD_NO_USERFAULTFD=1 leave a strategy out).
uint32_t copy_stored_parallel(const Source& src, const FileSource* file, const ZipEntry& z,
                              uint64_t arr_begin, uint8_t* dst, size_t n, uint32_t swap,
                              unsigned parts);

}  // namespace detail
}  // namespace npz
