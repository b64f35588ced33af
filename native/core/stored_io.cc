// Stored-member I/O (stored_io.h): the SIGBUS guard, the mapping windows, the guarded scan of a
// STORED range and the two-thread copy of a large STORED array (userfaultfd or pread).
#include "stored_io.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "archive_internal.h"
#include "byteswap.h"
#include "crc32.h"
#include "errors.h"
#include "fresh_fill.h"

namespace npz {
namespace detail {

namespace {

constexpr size_t kCopyChunk = 256u << 10;  // per pread of a parallel copy
constexpr size_t kStoredChunk = 1u << 20;  // pread target stays in L2 for the CRC + scan passes

// ---- Scans of STORED members read the page cache through short-lived mappings ----------------
// Why mappings: a pread() scan copies every byte once more (kernel -> buffer) before the CRC and
// the statistics read it; reading the mapping directly measured ~1.5x faster per thread here.
// Why that is safe: a file truncated while we read it makes the access raise SIGBUS. Each scan
// thread arms a thread-local recovery point around the code that touches the mapping (CRC-32 and
// Scanner::feed, which own nothing that needs unwinding); the process-wide handler jumps back to
// it and the scan fails with ERR_NPZ_CORRUPT. A SIGBUS on any other thread (e.g. JS touching a
// zero-copy view of a truncated file) is passed on to the previous handler / default action.
thread_local sigjmp_buf* t_bus_jump = nullptr;
struct sigaction g_prev_bus;

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  if (t_bus_jump != nullptr) siglongjmp(*t_bus_jump, 1);
  if ((g_prev_bus.sa_flags & SA_SIGINFO) != 0 && g_prev_bus.sa_sigaction != nullptr) {
    g_prev_bus.sa_sigaction(sig, info, uctx);
    return;
  }
  if ((g_prev_bus.sa_flags & SA_SIGINFO) == 0 && g_prev_bus.sa_handler != SIG_DFL &&
      g_prev_bus.sa_handler != SIG_IGN) {
    g_prev_bus.sa_handler(sig);
    return;
  }
  std::signal(SIGBUS, SIG_DFL);  // the faulting access runs again and takes the default action
}

void install_sigbus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGBUS, &sa, &g_prev_bus);
  });
}

// Runs fn(); returns false instead if it raised SIGBUS. fn must not create objects that need
// destructors (the recovery jumps over its frames): here it only reads mapped bytes.
template <class F>
bool bus_guarded(F&& fn) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_bus_jump = nullptr;
    return false;
  }
  t_bus_jump = &jump;
  fn();
  t_bus_jump = nullptr;
  return true;
}

// Read-only private mapping of one scan range (a block of a member, kScanBlock = 32 MiB), read one
// window at a time: each window's pages are mapped in with one call (MADV_POPULATE_READ) before
// it is read and dropped (MADV_DONTNEED) once it has been, so the resident pages stay bounded by
// the window. Why not a new mapping per window (as until 2026-12-06): munmap takes the address
// space's lock for writing, so in a scan split over threads each unmap waited for the other
// threads' populates and held up their page faults; madvise takes it for reading only. Measured
// on the 2-core VM, 2 threads: a bare read of the 1 GB study file took 57-63 ms through 8 MiB
// mmap/munmap windows and 46-48 ms through one mapping per thread advised window by window; the
// scan itself (Archive::scan of every member, CRC + statistics) 61-68 ms against 64-75 ms.
// Both advices are best effort (a kernel without MADV_POPULATE_READ faults the pages in on first
// touch). A range that cannot be mapped (RLIMIT_AS, say) is read with pread.
// The userfaultfd copy (copy_stored_parallel) maps its source the same way and advises nothing:
// only the kernel reads it.
class RangeMap {
 public:
  RangeMap(int fd, uint64_t offset, uint64_t length) {
    const uint64_t page = FreshFill::page_size();
    const uint64_t start = offset - offset % page;
    const uint64_t len = offset - start + length;
    if (length == 0 || static_cast<uint64_t>(static_cast<size_t>(len)) != len) return;
    len_ = static_cast<size_t>(len);
    base_ = ::mmap(nullptr, len_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(start));
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return;
    }
    data_ = static_cast<const uint8_t*>(base_) + (offset - start);
    released_ = reinterpret_cast<uintptr_t>(base_);
  }
  ~RangeMap() {
    if (base_) ::munmap(base_, len_);
  }
  RangeMap(const RangeMap&) = delete;
  RangeMap& operator=(const RangeMap&) = delete;
  const uint8_t* data() const { return data_; }

  // Maps in the pages of data()[pos, pos + n).
  void populate(uint64_t pos, size_t n) const {
#ifdef MADV_POPULATE_READ
    const uintptr_t a = page_down(pos), b = page_up(pos + n);
    if (b > a) ::madvise(reinterpret_cast<void*>(a), b - a, MADV_POPULATE_READ);
#else
    (void)pos;
    (void)n;
#endif
  }
  // Drops the pages that lie wholly before data()[pos] (the ones read so far) and were not
  // dropped yet.
  void release_before(uint64_t pos) {
    const uintptr_t b = page_down(pos);
    if (b > released_) {
      ::madvise(reinterpret_cast<void*>(released_), b - released_, MADV_DONTNEED);
      released_ = b;
    }
  }

 private:
  uintptr_t page_down(uint64_t pos) const {
    const uintptr_t page = FreshFill::page_size();
    return (reinterpret_cast<uintptr_t>(data_) + static_cast<uintptr_t>(pos)) & ~(page - 1);
  }
  uintptr_t page_up(uint64_t pos) const {
    const uintptr_t page = FreshFill::page_size();
    const uintptr_t end = reinterpret_cast<uintptr_t>(base_) + len_;
    const uintptr_t p =
        (reinterpret_cast<uintptr_t>(data_) + static_cast<uintptr_t>(pos) + page - 1) & ~(page - 1);
    return std::min(p, end);
  }
  void* base_ = nullptr;
  size_t len_ = 0;
  const uint8_t* data_ = nullptr;
  uintptr_t released_ = 0;  // pages below this address were dropped
};

constexpr size_t kScanWindow = 8u << 20;
constexpr size_t kScanWindows = 16u << 20;  // all windows of one member's concurrent scans
constexpr size_t kScanSlice = 256u << 10;

// Mapping window of one of `parts` concurrent scans of a member (see scan_stored_range).
size_t stored_scan_window(unsigned parts) {
  const size_t w = kScanWindows / std::max(1u, parts);
  return std::clamp<size_t>(w - w % (1u << 20), 1u << 20, kScanWindow);
}

}  // namespace

// Scans bytes [from, to) of a STORED member: CRC (optional) and value stats over the part that
// lies inside [arr_begin, arr_end). File-backed sources are read through a guarded mapping of the
// range (RangeMap), in-memory ones (fuzzers, tests) directly; a failed mapping falls back to pread.
RangeResult scan_stored_range(const Source& src, const FileSource* file, const ZipEntry& e,
                              uint64_t from, uint64_t to, uint64_t arr_begin, uint64_t arr_end,
                              const DType* dt, uint64_t row_len, bool crc,
                              const std::atomic<bool>* cancel, const std::string& key,
                              unsigned parts) {
  RangeResult r;
  const size_t window = stored_scan_window(parts);
  std::optional<Scanner> sc;
  const uint64_t first_row =
      (dt && row_len) ? (std::max(from, arr_begin) - arr_begin) / dt->itemsize / row_len : 0;
  if (dt) sc.emplace(*dt, row_len, first_row);
  std::vector<uint8_t> buf;
  if (file) install_sigbus_handler();
  std::optional<RangeMap> range;
  if (file) {
    range.emplace(file->fd(), e.data_offset + from, to - from);
    if (!range->data()) range.reset();
  }
  uint64_t pos = from;
  while (pos < to) {
    check_cancel(cancel, key);
    const size_t k =
        static_cast<size_t>(std::min<uint64_t>(range ? window : kStoredChunk, to - pos));
    const uint8_t* p = nullptr;
    if (range) {
      range->release_before(pos - from);
      range->populate(pos - from, k);
      p = range->data() + (pos - from);
    } else {
      buf.resize(k);
      src.read(e.data_offset + pos, buf.data(), k);
      p = buf.data();
    }
    const bool ok = bus_guarded([&] {
      // With statistics, CRC and stats go per 256 KiB slice so the second pass reads from L2,
      // not memory; a CRC-only pass takes the whole window in one call (fewer fold setups).
      const size_t slice = sc ? kScanSlice : k;
      for (size_t off = 0; off < k; off += slice) {
        const size_t len = std::min(slice, k - off);
        if (crc) r.crc = crc32_update(r.crc, p + off, len);
        const uint64_t a = std::max(pos + off, arr_begin), b = std::min(pos + off + len, arr_end);
        if (sc && a < b) sc->feed(p + (a - pos), static_cast<size_t>(b - a));
      }
    });
    if (!ok)
      throw Error(Code::NpzCorrupt,
                  "file truncated while scanning member '" + key + "' (at byte " +
                      std::to_string(pos) + " of the member)",
                  key);
    pos += k;
  }
  if (sc) r.stats = sc->finish();
  return r;
}

void run_parts(unsigned parts, const std::function<void(unsigned)>& fn) {
  std::vector<std::exception_ptr> errs(parts);
  auto guarded = [&](unsigned i) {
    try {
      fn(i);
    } catch (...) { errs[i] = std::current_exception(); }
  };
  std::vector<std::thread> workers;
  std::vector<unsigned> inline_parts{0};
  workers.reserve(parts);
  for (unsigned i = 1; i < parts; ++i) {
    try {
      workers.emplace_back(guarded, i);
    } catch (const std::system_error&) { inline_parts.push_back(i); }  // out of threads
  }
  for (const unsigned i : inline_parts) guarded(i);
  for (std::thread& t : workers) t.join();
  for (const std::exception_ptr& e : errs) {
    if (e) std::rethrow_exception(e);
  }
}

unsigned split_parts(unsigned threads, uint64_t bytes, uint64_t min_bytes) {
  if (threads < 2 || bytes < min_bytes || min_bytes < 2) return 1;
  return static_cast<unsigned>(
      std::max<uint64_t>(1, std::min<uint64_t>(threads, bytes / (min_bytes / 2))));
}

namespace {

uint8_t* page_floor(uint8_t* p) {
  const uintptr_t page = FreshFill::page_size();
  return reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) & ~(page - 1));
}

// CRC-32 of member bytes [from, to), read through a small buffer (NPY header, trailing bytes).
uint32_t crc_of_range(const Source& src, const ZipEntry& z, uint64_t from, uint64_t to) {
  uint8_t buf[16384];
  uint32_t crc = 0;
  for (uint64_t pos = from; pos < to;) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(sizeof buf, to - pos));
    src.read(z.data_offset + pos, buf, k);
    crc = crc32_update(crc, buf, k);
    pos += k;
  }
  return crc;
}

// Copies array bytes [from, to) (relative to dst) of a STORED member whose array starts at member
// offset arr_begin: pread straight into dst in kCopyChunk pieces, each CRC'd (and byte-swapped
// when swap is the unit size) while still in cache. Returns the CRC-32 of those bytes, continuing
// from crc (the CRC of the bytes before `from`, when a part is finished by this path).
uint32_t copy_stored_part(const Source& src, const ZipEntry& z, uint64_t arr_begin, uint8_t* dst,
                          size_t from, size_t to, uint32_t swap, uint32_t crc = 0) {
  for (size_t pos = from; pos < to;) {
    const size_t k = std::min(kCopyChunk, to - pos);
#ifdef MADV_POPULATE_WRITE
    // Fault the chunk's fresh pages in with one call instead of one trap per 4 KiB page
    // (measured ~1.3x faster here); best effort: a kernel without it just faults on write.
    ::madvise(page_floor(dst + pos), static_cast<size_t>(dst + pos + k - page_floor(dst + pos)),
              MADV_POPULATE_WRITE);
#endif
    src.read(z.data_offset + arr_begin + pos, dst + pos, k);
    crc = crc32_update(crc, dst + pos, k);
    if (swap) swap_units(dst + pos, k, swap);
    pos += k;
  }
  return crc;
}

}  // namespace

// One copy of a large STORED array in `parts` pieces at once. Fresh pages are what a copy into new
// memory costs on this kind of machine (the kernel zeroes each page before the copy overwrites it),
// so:
//  - where userfaultfd allows it, each thread fills its part of the new buffer straight from a
//    read-only mapping of the file (UFFDIO_COPY: one pass per page, no zeroing; fresh_fill.h),
//    then CRCs each piece while it is in cache. A piece the kernel refuses (a file truncated
//    since it was opened, say) and everything after it in that part, plus the last partial
//    page, are finished with pread once the range is back to ordinary memory;
//  - otherwise each thread faults in and fills its own part with pread (MADV_POPULATE_WRITE
//    per piece instead of one fault per page).
// The member's CRC-32 is assembled from the header bytes, the parts and any trailing bytes with
// crc32_combine. n and arr_begin were checked against the member (and the member against the
// file) when the archive was opened; src.read throws on a short read.
// NPZGUARD_NO_USERFAULTFD=1 in the environment forces the pread path (tests cover both).
uint32_t copy_stored_parallel(const Source& src, const FileSource* file, const ZipEntry& z,
                              uint64_t arr_begin, uint8_t* dst, size_t n, uint32_t swap,
                              unsigned parts) {
  const size_t page = FreshFill::page_size();
  const size_t full = n / page * page;  // UFFDIO_COPY works in whole pages
  std::optional<FreshFill> fresh;
  std::optional<RangeMap> from_file;
  const char* no_uffd = std::getenv("NPZGUARD_NO_USERFAULTFD");
  if (file && full > 0 && !(no_uffd && *no_uffd && std::strcmp(no_uffd, "0") != 0)) {
    fresh.emplace(dst, full);
    if (fresh->ok()) from_file.emplace(file->fd(), z.data_offset + arr_begin, full);
    if (!fresh->ok() || !from_file->data()) {
      fresh.reset();
      from_file.reset();
    }
  }
  const size_t unit = swap ? swap : 1;
  // Split points: page-aligned for the fill path (page sizes are multiples of every swap unit),
  // element-aligned otherwise, so a swap never straddles one.
  const size_t end1 = fresh ? full : n;
  const size_t grain = fresh ? page : unit;
  const size_t units = end1 / grain;
  if (parts < 1) parts = 1;
  if (units < parts) parts = static_cast<unsigned>(std::max<size_t>(1, units));
  std::vector<size_t> bound(parts + 1);
  for (unsigned i = 0; i < parts; ++i) {
    bound[i] = (units / parts * i + std::min<size_t>(i, units % parts)) * grain;
  }
  bound[parts] = end1;

  struct Part {
    uint32_t crc = 0;
    size_t done = 0;  // filled up to here
  };
  auto fill_part = [&](size_t from, size_t to) {
    Part r{0, from};
    while (r.done < to) {
      const size_t k = std::min(kCopyChunk, to - r.done);
      if (!fresh->fill(dst + r.done, from_file->data() + r.done, k)) break;
      r.crc = crc32_update(r.crc, dst + r.done, k);
      if (swap) swap_units(dst + r.done, k, swap);
      r.done += k;
    }
    return r;
  };

  std::vector<Part> part(parts);
  uint32_t head = 0;
  run_parts(parts, [&](unsigned i) {
    if (i == 0) head = crc_of_range(src, z, 0, arr_begin);
    if (fresh) part[i] = fill_part(bound[i], bound[i + 1]);
    else
      part[i] = Part{copy_stored_part(src, z, arr_begin, dst, bound[i], bound[i + 1], swap),
                     bound[i + 1]};
  });
  uint32_t rest = 0;
  if (fresh) {
    fresh->release();  // ordinary memory again: the pread path may touch any page now
    for (unsigned i = 0; i < parts; ++i) {
      if (part[i].done < bound[i + 1])
        part[i].crc =
            copy_stored_part(src, z, arr_begin, dst, part[i].done, bound[i + 1], swap, part[i].crc);
    }
    rest = copy_stored_part(src, z, arr_begin, dst, full, n, swap);
  }
  const uint32_t tail = crc_of_range(src, z, arr_begin + n, z.usize);
  uint32_t crc = head;
  for (unsigned i = 0; i < parts; ++i)
    crc = crc32_combine(crc, part[i].crc, bound[i + 1] - bound[i]);
  crc = crc32_combine(crc, rest, n - end1);
  return crc32_combine(crc, tail, z.usize - arr_begin - n);
}

}  // namespace detail
}  // namespace npz
