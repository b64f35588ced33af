// flock_fd: two descriptors of one file exclude each other (LOCK_NB reports busy, not an
// error), closing the holder releases the lock, shared locks coexist, and a bad descriptor is a
// coded error.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "file_lock.h"
#include "harness.h"

namespace {
std::string temp_lock_path() {
  char tmpl[] = "/tmp/npz_lock_XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd >= 0) ::close(fd);
  return tmpl;
}
}  // namespace

NPZ_TEST(file_lock_exclusive_busy_then_released) {
  const std::string path = temp_lock_path();
  const int a = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  const int b = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  NPZ_EXPECT(a >= 0 && b >= 0);
  NPZ_EXPECT(npz::flock_fd(a, true, false) == npz::LockResult::kAcquired);
  NPZ_EXPECT(npz::flock_fd(b, true, false) == npz::LockResult::kBusy);
  NPZ_EXPECT(npz::flock_fd(b, false, false) == npz::LockResult::kBusy);
  ::close(a);  // closing the holder's descriptor drops the lock
  NPZ_EXPECT(npz::flock_fd(b, true, false) == npz::LockResult::kAcquired);
  npz::funlock_fd(b);
  ::close(b);
  ::unlink(path.c_str());
}

NPZ_TEST(file_lock_shared_locks_coexist) {
  const std::string path = temp_lock_path();
  const int a = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  const int b = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  NPZ_EXPECT(npz::flock_fd(a, false, false) == npz::LockResult::kAcquired);
  NPZ_EXPECT(npz::flock_fd(b, false, true) == npz::LockResult::kAcquired);
  ::close(a);
  ::close(b);
  ::unlink(path.c_str());
}

NPZ_TEST(file_lock_bad_descriptor_is_coded) {
  NPZ_EXPECT_CODE(npz::flock_fd(-1, true, false), npz::Code::NpzOpen);
  NPZ_EXPECT_CODE(npz::flock_fd(987654, true, false), npz::Code::NpzOpen);
}
