// Advisory whole-file locks (flock(2)) on a descriptor the caller opened, for the hand-off's
// run lock (<artifact_root>/.npzguard.lock) and the verification cache's merge lock. The
// descriptor is owned by the caller (Node's fs, opened O_CLOEXEC, so trainers never inherit it);
// the lock goes away when the descriptor is closed or the process dies (also on SIGKILL), which
// is exactly why flock and not a pid file. Thread-safe: no state. Throws npz::Error(NpzOpen)
// with the errno text for anything but "held by someone else".
#pragma once

namespace npz {

enum class LockResult { kAcquired, kBusy };

// exclusive: LOCK_EX, else LOCK_SH. wait: block until granted (retrying on EINTR), else LOCK_NB.
LockResult flock_fd(int fd, bool exclusive, bool wait);

// Drops the lock without closing the descriptor (LOCK_UN).
void funlock_fd(int fd);

}  // namespace npz
