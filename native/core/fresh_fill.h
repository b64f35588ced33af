// FreshFill: fill never-touched anonymous pages straight from another address, without the
// kernel zeroing them first.
//
// A copy into new memory normally costs two passes per page: the kernel zeroes the page on the
// first write fault (or MADV_POPULATE_WRITE), then the copy overwrites it. On the 2-core VM this
// project is measured on, zeroing alone runs at ~6 GB/s, which caps any copy into fresh memory
// below the 5 GB/s the reader targets. userfaultfd's UFFDIO_COPY allocates each page and fills it
// from a source address in one step (no zeroing: the page is fully written): measured 5.5-6 GB/s
// for the same copy, CRC included.
//
// Use: construct over a page-aligned, freshly mapped, untouched range; ok() says whether the
// kernel allowed it (it may not: no userfaultfd, seccomp, an old kernel; callers then copy the
// usual way). While registered, a user-space touch of a page that was not filled yet would block
// forever (nobody serves the fault), so: touch only pages that fill() has filled, and call
// release() (or destroy the object) before any other access to the range. Kernel-mode accesses
// are not served either (UFFD_USER_MODE_ONLY) and fail with EFAULT instead of blocking.
//
// Thread-safety: fill() may be called concurrently on disjoint ranges.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace npz {

class FreshFill {
 public:
  FreshFill(uint8_t* dst, size_t length);  // length and dst: multiples of the page size
  ~FreshFill();
  FreshFill(const FreshFill&) = delete;
  FreshFill& operator=(const FreshFill&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Fills [dst, dst+n) (page-aligned, inside the range, not filled before) from src (any
  // alignment; n readable bytes). False on any failure (e.g. src beyond the end of a truncated
  // file): some pages may then be filled, others not; release() before touching them.
  bool fill(uint8_t* dst, const uint8_t* src, size_t n) const;
  void release();  // unregisters the range: from then on it is ordinary memory

  static size_t page_size();

 private:
  int fd_ = -1;
  uint8_t* dst_ = nullptr;
  size_t length_ = 0;
};

// Huge pages for a fresh range, the other way to make new memory cheap: one fault brings in a
// 2 MiB page instead of 512 faults of 4 KiB (the kernel still zeroes it, but in one go). numpy
// asks for them for every large array; measured on the 2-core EPYC VM (Zen 5): a 318 MiB copy
// from the page cache on 2 threads took 31-36 ms this way against 75-77 ms with UFFDIO_COPY.
// The catch: when free memory is fragmented, a huge-page fault may stall in compaction (measured
// on an earlier VM: 0.7 GB/s copies). So huge_pages_ready() says yes only where
//  - the kernel's transparent huge pages can be asked for (THP mode "always" or "madvise", PMD
//    size <= 32 MiB), and
//  - /proc/buddyinfo shows free blocks of that size for 1.5 times the range plus 64 MiB, so the
//    faults find free huge pages without compacting;
//  - and NPZGUARD_NO_HUGEPAGES is unset or "0".
// advise_huge_pages() then advises the whole pages inside [dst, dst+length) MADV_HUGEPAGE;
// false (nothing done) when not ready or the kernel refuses. Call it before the range is touched.
bool huge_pages_ready(size_t length);
bool advise_huge_pages(uint8_t* dst, size_t length);

// Bytes of free memory that /proc/buddyinfo text shows in blocks of at least `block` bytes,
// pages of `page` bytes (both powers of two, block >= page). Unparseable lines count nothing.
uint64_t buddyinfo_free_bytes(const std::string& text, size_t page, size_t block);

}  // namespace npz
