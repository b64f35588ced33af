#include "file_lock.h"

#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace npz {

LockResult flock_fd(int fd, bool exclusive, bool wait) {
  if (fd < 0) throw Error(Code::NpzOpen, "flock: invalid file descriptor " + std::to_string(fd));
  const int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  for (;;) {
    if (::flock(fd, op) == 0) return LockResult::kAcquired;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return LockResult::kBusy;
    throw Error(Code::NpzOpen, std::string("flock: ") + std::strerror(errno));
  }
}

void funlock_fd(int fd) {
  if (::flock(fd, LOCK_UN) != 0 && errno != EBADF) {
    throw Error(Code::NpzOpen, std::string("flock(LOCK_UN): ") + std::strerror(errno));
  }
}

}  // namespace npz
