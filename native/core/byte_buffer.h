// ByteBuffer: the owned destination of array copies. A std::vector whose allocator
//  - does not zero-fill on resize (default-initialises bytes): the copy writes every byte anyway,
//    so zeroing first would touch all of it twice;
//  - backs large buffers (>= 2 MiB) with an anonymous mapping aligned to 2 MiB. Pages become
//    resident only when written, so reserve() of an untrusted declared size costs address space,
//    not RAM. With -DNPZ_USE_HUGEPAGES every such mapping is also advised MADV_HUGEPAGE: measured
//    on an earlier VM (THP "madvise" mode) that gave 2.5 GB/s copies on a fresh machine but
//    0.7 GB/s once memory was fragmented (direct-compaction stalls), against a steady 1.3 GB/s
//    without, so it is off by default. Large STORED copies instead ask at run time, where
//    /proc/buddyinfo shows the free 2 MiB blocks (advise_huge_pages, fresh_fill.h);
//  - refuses (std::bad_alloc) a buffer larger than memory_ceiling(), whatever the overcommit
//  policy.
// Header-only; thread-safe as std::vector is (no shared state).
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "memory_ceiling.h"

namespace npz {

template <class T>
struct BulkAllocator {
  using value_type = T;
  static constexpr size_t kHuge = size_t{2} << 20;

  BulkAllocator() = default;
  template <class U>
  BulkAllocator(const BulkAllocator<U>&) noexcept {}

  static size_t mapped_length(size_t bytes) { return (bytes + kHuge - 1) / kHuge * kHuge; }

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    const size_t bytes = n * sizeof(T);
    if (bytes < kHuge) return static_cast<T*>(::operator new(bytes));
    // More than the machine could ever back: refuse before the kernel grants it under overcommit.
    if (bytes > memory_ceiling()) throw std::bad_alloc();
    const size_t len = mapped_length(bytes);
    // Over-map by one huge page and trim, so the buffer starts on a 2 MiB boundary.
    void* raw =
        ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kHuge - 1) / kHuge * kHuge;
    if (aligned > base) ::munmap(raw, aligned - base);
    const uintptr_t end = base + len + kHuge;
    if (end > aligned + len)
      ::munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
#if defined(MADV_HUGEPAGE) && defined(NPZ_USE_HUGEPAGES)
    ::madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);
#endif
    return reinterpret_cast<T*>(aligned);
  }

  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHuge) {
      ::operator delete(p);
    } else {
      ::munmap(p, mapped_length(bytes));
    }
  }

  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-init: no zero fill
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  friend bool operator==(const BulkAllocator&, const BulkAllocator&) { return true; }
  friend bool operator!=(const BulkAllocator&, const BulkAllocator&) { return false; }
};

using ByteBuffer = std::vector<uint8_t, BulkAllocator<uint8_t>>;

}  // namespace npz
