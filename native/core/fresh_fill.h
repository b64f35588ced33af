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

}  // namespace npz
