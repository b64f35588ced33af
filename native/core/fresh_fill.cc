#include "fresh_fill.h"

#include <unistd.h>

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

}  // namespace npz
