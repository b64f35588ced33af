// Stored-member I/O (stored_io.h): the scan of a STORED range (a guarded mapping or pread,
// whichever measures cheaper) and the parallel copy of a large STORED array (into huge pages,
// through userfaultfd, or by pread).
#include "stored_io.h"

#include <sys/mman.h>
#include <time.h>
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

// ---- How a scan reads a STORED block: a mapping or pread, whichever costs less here ----------
// A scan reads the file's bytes once (CRC-32 + statistics), 32 MiB block by block
// (kScanBlock), each block in windows of 1-8 MiB (scan_window), 256 KiB (kScanRead) at a time so
// the statistics pass finds them in L2. A window is read one of two ways:
//   - pread into a buffer: the kernel copies every byte once more, under no mapping;
//   - from a mapping of the block: no copy, but the kernel maps and unmaps every page, and what
//     that costs depends on how the page cache holds the file: cheap for large folios (a file
//     read back by readahead, or written in large writes on a kernel with large folios), dearer
//     than the copy for 4 KiB pages.
// Measured with one way pinned, whole `check --profile study` of the 1 GB study file, 2 threads,
// min of 10 x3, alternating:
//   - 2-core EPYC VM, Zen 4 (2026-12-07): page cache in large folios, mapping 76-85 ms against
//     pread 96-112; the same bytes written with 4 KiB writes (order-0 folios), mapping 115-130
//     against pread 105-113;
//   - 2-core EPYC VM, Zen 5 (2026-12-06, mapping then with MADV_POPULATE_READ per window): 2 MiB
//     folios 72-81 against 75-83, 64 KiB writes 103-111 against 75-80.
// No user-space call tells the folio size, so the scan measures instead: the thread CPU time of
// each window per byte, per way, shared by the scans of one member (ScanCost, stored_io.h:
// members differ in what their statistics cost per byte). A way not yet measured is tried first
// (mapping, then pread); after that the one whose last four windows cost the least reads, and
// every 32nd window goes to the other so a change in the page cache is noticed. Ranges under
// kTimedRange (small members, a member's short last block) are read with pread (unless pinned)
// and not timed: their costs are mostly set-up (a mapping's first faults, a scanner's start) and
// would mislead. The way changes speed only: every block's CRC and statistics come from the same
// bytes in the same order either way, so results are bit-identical. NPZGUARD_SCAN_READ=map|pread
// pins the way (tests; a machine where the guess is wrong).
constexpr size_t kScanRead = 256u << 10;
constexpr uint64_t kTimedRange = uint64_t{4} << 20;

uint64_t thread_cpu_ns() {
  timespec t{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return 0;
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

// ---- The SIGBUS guard of mapped reads ---------------------------------------------------------
// A file truncated while a scan reads its mapping makes the access raise SIGBUS. The scan thread
// arms a thread-local recovery point around the code that reads the mapping (CRC-32 and
// Scanner::feed, which own nothing that needs unwinding); the process-wide handler jumps back to
// it and the scan fails with ERR_NPZ_CORRUPT. A SIGBUS on any other thread (JS touching a
// zero-copy view of a truncated file, say) goes on to the previous handler / the default action.
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

// Read-only private mapping of a range of the file: the source of a mapped scan block (read under
// the SIGBUS guard), and the source the kernel reads for the userfaultfd copy
// (copy_stored_parallel). data() is null when the range cannot be mapped (RLIMIT_AS, say); the
// scan and the copy then use pread.
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

  // Drops the pages that lie wholly before data()[pos] (read already) and were not dropped yet,
  // so a mapped scan keeps at most a window of the file's pages in this process's RSS.
  void release_before(uint64_t pos) {
    const uintptr_t page = FreshFill::page_size();
    const uintptr_t b =
        (reinterpret_cast<uintptr_t>(data_) + static_cast<uintptr_t>(pos)) & ~(page - 1);
    if (b > released_) {
      ::madvise(reinterpret_cast<void*>(released_), b - released_, MADV_DONTNEED);
      released_ = b;
    }
  }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
  const uint8_t* data_ = nullptr;
  uintptr_t released_ = 0;  // pages below this address were dropped
};

// The window a scan reads, times and chooses a way for at once (a mapped window's pages are
// dropped after it): 8 MiB, less when many threads scan one member, so that their windows
// together stay within 16 MiB (>= 1 MiB each).
size_t scan_window(unsigned parts) {
  const size_t w = (size_t{16} << 20) / std::max(1u, parts);
  return std::clamp<size_t>(w - w % (size_t{1} << 20), size_t{1} << 20, size_t{8} << 20);
}

}  // namespace

// 0 = measure, 1 = map, 2 = pread (NPZGUARD_SCAN_READ, read once).
unsigned pinned_way() {
  static const unsigned pinned = [] {
    const char* v = std::getenv("NPZGUARD_SCAN_READ");
    if (v != nullptr && std::strcmp(v, "map") == 0) return 1u;
    if (v != nullptr && std::strcmp(v, "pread") == 0) return 2u;
    return 0u;
  }();
  return pinned;
}

bool ScanCost::may_map(bool timed) const {
  const unsigned pinned = pinned_way();
  return pinned == 1 || (pinned == 0 && timed);
}

ReadWay ScanCost::choose(bool timed) {
  const unsigned pinned = pinned_way();
  if (pinned != 0) return pinned == 1 ? ReadWay::Map : ReadWay::Pread;
  if (!timed) return ReadWay::Pread;
  const uint64_t m = estimate(ReadWay::Map);
  const uint64_t p = estimate(ReadWay::Pread);
  if (m == 0) return ReadWay::Map;
  if (p == 0) return ReadWay::Pread;
  const ReadWay best = m <= p ? ReadWay::Map : ReadWay::Pread;
  const bool explore = windows_.fetch_add(1, std::memory_order_relaxed) % 32 == 31;
  return explore ? (best == ReadWay::Map ? ReadWay::Pread : ReadWay::Map) : best;
}

void ScanCost::record(ReadWay w, uint64_t bytes, uint64_t cpu_ns) {
  if (bytes == 0 || cpu_ns > (uint64_t{1} << 40)) return;
  const uint64_t c = std::max<uint64_t>(1, cpu_ns * 1000 / bytes);
  const unsigned i = static_cast<unsigned>(w);
  const uint64_t k = next_[i].fetch_add(1, std::memory_order_relaxed);
  recent_[i][k % kRecent].store(c, std::memory_order_relaxed);
}

uint64_t ScanCost::estimate(ReadWay w) const {
  uint64_t best = 0;
  for (const std::atomic<uint64_t>& slot : recent_[static_cast<unsigned>(w)]) {
    const uint64_t v = slot.load(std::memory_order_relaxed);
    if (v != 0 && (best == 0 || v < best)) best = v;
  }
  return best;
}

// Scans bytes [from, to) of a STORED member: CRC (optional) and value stats over the part that
// lies inside [arr_begin, arr_end), kScanRead bytes at a time, from a guarded mapping of the
// range or with pread (ScanCost decides; in-memory sources are always read).
RangeResult scan_stored_range(const Source& src, const FileSource* file, const ZipEntry& e,
                              uint64_t from, uint64_t to, uint64_t arr_begin, uint64_t arr_end,
                              const DType* dt, uint64_t row_len, bool crc,
                              const std::atomic<bool>* cancel, const std::string& key,
                              unsigned parts, ScanCost& cost) {
  RangeResult r;
  std::optional<Scanner> sc;
  const uint64_t first_row =
      (dt && row_len) ? (std::max(from, arr_begin) - arr_begin) / dt->itemsize / row_len : 0;
  if (dt) sc.emplace(*dt, row_len, first_row);
  auto consume = [&](const uint8_t* p, uint64_t pos, size_t k) {
    if (crc) r.crc = crc32_update(r.crc, p, k);
    const uint64_t a = std::max(pos, arr_begin), b = std::min(pos + k, arr_end);
    if (sc && a < b) sc->feed(p + (a - pos), static_cast<size_t>(b - a));
  };
  // Ranges under kTimedRange are read with pread (unless pinned) and not timed; longer ones are
  // mapped whole, then read window by window, each window the way ScanCost chooses (a window
  // read with pread never touches the mapping, so its pages cost nothing).
  const bool timed = file != nullptr && to - from >= kTimedRange;
  std::optional<RangeMap> range;
  if (file != nullptr && cost.may_map(timed)) {
    install_sigbus_handler();
    range.emplace(file->fd(), e.data_offset + from, to - from);
    if (!range->data()) range.reset();
  }
  std::vector<uint8_t> buf;
  const size_t window = scan_window(parts);
  for (uint64_t pos = from; pos < to;) {
    check_cancel(cancel, key);
    const uint64_t end = std::min<uint64_t>(to, pos + window);
    const ReadWay way = range ? cost.choose(timed) : ReadWay::Pread;
    const uint64_t t0 = timed ? thread_cpu_ns() : 0;
    if (way == ReadWay::Map) {
      const uint8_t* d = range->data();
      const bool ok = bus_guarded([&] {
        for (uint64_t at = pos; at < end; at += kScanRead) {
          consume(d + (at - from), at,
                  static_cast<size_t>(std::min<uint64_t>(kScanRead, end - at)));
        }
      });
      if (!ok)
        throw Error(Code::NpzCorrupt,
                    "file truncated while scanning member '" + key + "' (in the " +
                        std::to_string(end - pos) + " bytes from byte " + std::to_string(pos) +
                        " of the member)",
                    key);
    } else {
      if (buf.empty()) buf.resize(static_cast<size_t>(std::min<uint64_t>(kScanRead, to - from)));
      for (uint64_t at = pos; at < end;) {
        const size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - at));
        src.read(e.data_offset + at, buf.data(), k);  // a short read (truncated file) throws
        consume(buf.data(), at, k);
        at += k;
      }
    }
    if (timed) cost.record(way, end - pos, thread_cpu_ns() - t0);
    pos = end;
    if (way == ReadWay::Map) range->release_before(pos - from);
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
//  - where free 2 MiB blocks are plentiful (huge_pages_ready, fresh_fill.h), the buffer is advised
//    MADV_HUGEPAGE and each thread fills its part with pread (one fault per 2 MiB);
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
// NPZGUARD_NO_HUGEPAGES=1 in the environment leaves huge pages out, NPZGUARD_NO_USERFAULTFD=1
// userfaultfd (tests cover the three paths).
uint32_t copy_stored_parallel(const Source& src, const FileSource* file, const ZipEntry& z,
                              uint64_t arr_begin, uint8_t* dst, size_t n, uint32_t swap,
                              unsigned parts) {
  const size_t page = FreshFill::page_size();
  const size_t full = n / page * page;  // UFFDIO_COPY works in whole pages
  std::optional<FreshFill> fresh;
  std::optional<RangeMap> from_file;
  const char* no_uffd = std::getenv("NPZGUARD_NO_USERFAULTFD");
  // Huge pages where they can be had without compaction (then the pread path fills them: a
  // UFFDIO_COPY fill would take 4 KiB pages); else userfaultfd where the kernel allows it.
  const bool huge = advise_huge_pages(dst, n);
  if (!huge && file && full > 0 && !(no_uffd && *no_uffd && std::strcmp(no_uffd, "0") != 0)) {
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
