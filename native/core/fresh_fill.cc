#include "fresh_fill.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "small_file.h"

#if defined(__linux__) && __has_include(<linux/userfaultfd.h>)
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#define NPZ_HAVE_UFFD 1
#endif

namespace npz {

size_t FreshFill::page_size() {
  static const size_t page = [] {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<size_t>(p) : size_t{4096};
  }();
  return page;
}

FreshFill::FreshFill(uint8_t* dst, size_t length) : dst_(dst), length_(length) {
#if defined(NPZ_HAVE_UFFD) && defined(SYS_userfaultfd) && defined(UFFD_USER_MODE_ONLY)
  const size_t page = page_size();
  if (length == 0 || reinterpret_cast<uintptr_t>(dst) % page != 0 || length % page != 0) return;
  // UFFD_USER_MODE_ONLY: allowed without privileges (vm.unprivileged_userfaultfd=0, Linux 5.11+).
  const long fd = ::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0) return;
  uffdio_api api{};
  api.api = UFFD_API;
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(dst);
  reg.range.len = length;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (::ioctl(static_cast<int>(fd), UFFDIO_API, &api) != 0 ||
      ::ioctl(static_cast<int>(fd), UFFDIO_REGISTER, &reg) != 0 ||
      (reg.ioctls & (uint64_t{1} << _UFFDIO_COPY)) == 0) {
    ::close(static_cast<int>(fd));
    return;
  }
  fd_ = static_cast<int>(fd);
#endif
}

FreshFill::~FreshFill() { release(); }

void FreshFill::release() {
#ifdef NPZ_HAVE_UFFD
  if (fd_ < 0) return;
  uffdio_range range{};
  range.start = reinterpret_cast<uintptr_t>(dst_);
  range.len = length_;
  ::ioctl(fd_, UFFDIO_UNREGISTER, &range);  // closing the fd unregisters too, should this fail
  ::close(fd_);
  fd_ = -1;
#endif
}

bool FreshFill::fill(uint8_t* dst, const uint8_t* src, size_t n) const {
#ifdef NPZ_HAVE_UFFD
  if (fd_ < 0 || n == 0) return n == 0;
  const size_t page = page_size();
  if (dst < dst_ || n > length_ || static_cast<size_t>(dst - dst_) > length_ - n ||
      reinterpret_cast<uintptr_t>(dst) % page != 0 || n % page != 0)
    return false;
  uffdio_copy cp{};
  cp.dst = reinterpret_cast<uintptr_t>(dst);
  cp.src = reinterpret_cast<uintptr_t>(src);
  cp.len = n;
  cp.mode = UFFDIO_COPY_MODE_DONTWAKE;  // no thread waits on these pages
  return ::ioctl(fd_, UFFDIO_COPY, &cp) == 0 && cp.copy == static_cast<int64_t>(n);
#else
  (void)dst;
  (void)src;
  return n == 0;
#endif
}

namespace {

// The file's text, or "" when it cannot be read.
std::string small_file_text(const char* path) {
  std::string text;
  return read_small_file(path, &text) ? text : std::string();
}

// The PMD size transparent huge pages come in, or 0 when this process cannot ask for them.
size_t thp_block() {
  static const size_t block = [] {
    const std::string mode = small_file_text("/sys/kernel/mm/transparent_hugepage/enabled");
    if (mode.find("[always]") == std::string::npos && mode.find("[madvise]") == std::string::npos)
      return size_t{0};
    const unsigned long long b = std::strtoull(
        small_file_text("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size").c_str(), nullptr, 10);
    const size_t page = FreshFill::page_size();
    if (b < page || b > (size_t{32} << 20) || (b & (b - 1)) != 0) return size_t{0};
    return static_cast<size_t>(b);
  }();
  return block;
}

}  // namespace

uint64_t buddyinfo_free_bytes(const std::string& text, size_t page, size_t block) {
  unsigned min_order = 0;
  while ((size_t{page} << min_order) < block && min_order < 30) ++min_order;
  uint64_t total = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    // "Node 0, zone   Normal   7858   2021 ...": free blocks of order 0, 1, ... after the zone
    // name.
    const size_t z = line.find("zone");
    if (z == std::string::npos) continue;
    std::istringstream fields(line.substr(z + 4));
    std::string name;
    if (!(fields >> name)) continue;
    unsigned long long count = 0;
    for (unsigned order = 0; order < 40 && (fields >> count); ++order) {
      if (order < min_order) continue;
      const uint64_t bytes = static_cast<uint64_t>(page) << order;
      if (count > UINT64_MAX / bytes || total > UINT64_MAX - count * bytes) return UINT64_MAX;
      total += count * bytes;
    }
  }
  return total;
}

bool huge_pages_ready(size_t length) {
  const char* off = std::getenv("NPZGUARD_NO_HUGEPAGES");
  if (off && *off && std::strcmp(off, "0") != 0) return false;
  const size_t block = thp_block();
  if (block == 0 || length < block || length > (size_t{1} << 50)) return false;
  const uint64_t free_huge =
      buddyinfo_free_bytes(small_file_text("/proc/buddyinfo"), FreshFill::page_size(), block);
  const uint64_t want = static_cast<uint64_t>(length) + length / 2 + (uint64_t{64} << 20);
  return free_huge >= want;
}

bool advise_huge_pages(uint8_t* dst, size_t length) {
#ifdef MADV_HUGEPAGE
  if (!huge_pages_ready(length)) return false;
  const uintptr_t page = FreshFill::page_size();
  const uintptr_t a = (reinterpret_cast<uintptr_t>(dst) + page - 1) & ~(page - 1);
  const uintptr_t b = (reinterpret_cast<uintptr_t>(dst) + length) & ~(page - 1);
  return b > a && ::madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE) == 0;
#else
  (void)dst;
  (void)length;
  return false;
#endif
}

}  // namespace npz
