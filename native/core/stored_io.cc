// Stored-member I/O (stored_io.h): the scan of a STORED range (pread) and the parallel copy of a
// large STORED array (into huge pages, through userfaultfd, or by pread).
#include "stored_io.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
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
// Scans read the file with pread into a buffer of this size, which stays in L2 while the CRC and
// the statistics read it. Why pread and not a mapping (as until 2026-12-06): reading a mapping
// skips one copy, but the kernel must map every page and unmap it again, and what that costs
// depends on how the page cache holds the file. Measured on the 2-core EPYC VM (Zen 5), whole
// `check --profile study` of the 1 GB study file, 2 threads, best of 10, alternating:
//   - page cache in 2 MiB folios (read back after a drop_caches): mapping 72-81 ms, pread 75-83;
//   - the same bytes written with 64 KiB writes: mapping 103-111 ms, pread 75-80;
//   - as numpy wrote it the first time on that machine (folio sizes not inspected): mapping
//     133-145 ms, pread 97-118.
// pread is never far behind and never falls off that cliff. It also cannot raise SIGBUS when the
// file is truncated under the scan: a short read is ERR_NPZ_CORRUPT.
constexpr size_t kScanRead = 256u << 10;

// Read-only private mapping of a range of the file: the source the kernel reads for the
// userfaultfd copy (copy_stored_parallel); this process never touches it. data() is null when
// the range cannot be mapped (RLIMIT_AS, say); the copy then uses pread.
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
  }
  ~RangeMap() {
    if (base_) ::munmap(base_, len_);
  }
  RangeMap(const RangeMap&) = delete;
  RangeMap& operator=(const RangeMap&) = delete;
  const uint8_t* data() const { return data_; }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
  const uint8_t* data_ = nullptr;
};

}  // namespace

// Scans bytes [from, to) of a STORED member: CRC (optional) and value stats over the part that
// lies inside [arr_begin, arr_end), read kScanRead bytes at a time.
RangeResult scan_stored_range(const Source& src, const ZipEntry& e, uint64_t from, uint64_t to,
                              uint64_t arr_begin, uint64_t arr_end, const DType* dt,
                              uint64_t row_len, bool crc, const std::atomic<bool>* cancel,
                              const std::string& key) {
  RangeResult r;
  std::optional<Scanner> sc;
  const uint64_t first_row =
      (dt && row_len) ? (std::max(from, arr_begin) - arr_begin) / dt->itemsize / row_len : 0;
  if (dt) sc.emplace(*dt, row_len, first_row);
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kScanRead, to - from)));
  for (uint64_t pos = from; pos < to;) {
    check_cancel(cancel, key);
    const size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), to - pos));
    src.read(e.data_offset + pos, buf.data(), k);  // a short read (truncated file) throws
    if (crc) r.crc = crc32_update(r.crc, buf.data(), k);
    const uint64_t a = std::max(pos, arr_begin), b = std::min(pos + k, arr_end);
    if (sc && a < b) sc->feed(buf.data() + (a - pos), static_cast<size_t>(b - a));
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
