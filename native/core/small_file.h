// Reading a small kernel-written file (/proc, /sys, cgroup files) whole. Internal to the core
// (cpu_count.cc, fresh_fill.cc). Thread-safe; raises nothing.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>

namespace npz {

constexpr size_t kMaxSmallFile = 4u << 20;  // mountinfo of a host with thousands of mounts fits

// Whole small file (procfs reports size 0, so read to EOF); false when it cannot be opened or
// is larger than kMaxSmallFile.
inline bool read_small_file(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  std::string s;
  char buf[8192];
  bool ok = true;
  for (;;) {
    const ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    if (k == 0) break;
    if (s.size() + static_cast<size_t>(k) > kMaxSmallFile) {
      ok = false;
      break;
    }
    s.append(buf, static_cast<size_t>(k));
  }
  ::close(fd);
  if (ok) *out = std::move(s);
  return ok;
}

}  // namespace npz
