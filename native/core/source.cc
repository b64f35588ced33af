// Sources: bounds-checked reads over memory or a file descriptor (pread only), and the RAII
// private mapping used for zero-copy array views.
#include "source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace npz {

namespace {

[[noreturn]] void throw_range(uint64_t off, size_t n, uint64_t size) {
  throw Error(Code::NpzCorrupt, "read of " + std::to_string(n) + " bytes at offset " +
                                    std::to_string(off) + " is outside the " +
                                    std::to_string(size) + "-byte source");
}

bool range_ok(uint64_t off, size_t n, uint64_t size) {
  return off <= size && static_cast<uint64_t>(n) <= size - off;
}

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "not a regular file";
}

// pread until n bytes or EOF; EINTR is retried. Returns bytes read.
size_t pread_full(int fd, uint64_t off, void* dst, size_t n, const std::string& path) {
  size_t done = 0;
  auto* out = static_cast<uint8_t*>(dst);
  while (done < n) {
    const size_t want = n - done > (size_t{1} << 30) ? (size_t{1} << 30) : n - done;
    const ssize_t r = ::pread(fd, out + done, want, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(Code::NpzCorrupt, "read error on '" + path + "': " + std::strerror(errno));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

}  // namespace

void MemorySource::read(uint64_t off, void* dst, size_t n) const {
  if (!range_ok(off, n, size_)) throw_range(off, n, size_);
  if (n) std::memcpy(dst, data_ + off, n);
}

size_t MemorySource::read_some(uint64_t off, void* dst, size_t n) const {
  if (off >= size_) return 0;
  const uint64_t avail = size_ - off;
  const size_t k = avail < n ? static_cast<size_t>(avail) : n;
  if (k) std::memcpy(dst, data_ + off, k);
  return k;
}

FileSource::FileSource(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not hang waiting for a writer; we refuse it right after.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    const int e = errno;
    throw Error(Code::NpzOpen, "cannot open '" + path + "': " + std::strerror(e));
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(Code::NpzOpen, "cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw Error(Code::NpzOpen,
                "'" + path + "' is " + file_kind(st.st_mode) + ", expected a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  ino_ = static_cast<uint64_t>(st.st_ino);
  mtime_ms_ = static_cast<double>(st.st_mtim.tv_sec) * 1000.0 +
              static_cast<double>(st.st_mtim.tv_nsec) / 1e6;
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSource::read(uint64_t off, void* dst, size_t n) const {
  if (!range_ok(off, n, size_)) throw_range(off, n, size_);
  if (n == 0) return;
  const size_t got = pread_full(fd_, off, dst, n, path_);
  if (got != n) {
    throw Error(Code::NpzCorrupt, "'" + path_ + "': file changed or truncated while reading (got " +
                                      std::to_string(got) + " of " + std::to_string(n) +
                                      " bytes at offset " + std::to_string(off) + ")");
  }
}

size_t FileSource::read_some(uint64_t off, void* dst, size_t n) const {
  if (off >= size_) return 0;
  const uint64_t avail = size_ - off;
  const size_t k = avail < n ? static_cast<size_t>(avail) : n;
  if (k == 0) return 0;
  return pread_full(fd_, off, dst, k, path_);
}

uint64_t FileSource::current_size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Mapping::Mapping(int fd, uint64_t offset, size_t length) : length_(length) {
  if (length == 0) return;  // mmap refuses empty ranges; an empty view needs no memory
  const long page = ::sysconf(_SC_PAGESIZE);
  const uint64_t pg = page > 0 ? static_cast<uint64_t>(page) : 4096u;
  const uint64_t base_off = offset - offset % pg;
  const size_t lead = static_cast<size_t>(offset - base_off);
  if (length > SIZE_MAX - lead) throw Error(Code::NpzLimit, "mapping length overflows");
  base_len_ = length + lead;
  // PROT_WRITE + MAP_PRIVATE: JS may write into its views; writes never reach the file.
  void* p = ::mmap(nullptr, base_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
                   static_cast<off_t>(base_off));
  if (p == MAP_FAILED) {
    const int e = errno;
    base_len_ = 0;
    throw Error(Code::NpzOpen, std::string("mmap failed: ") + std::strerror(e));
  }
  base_ = p;
  data_ = static_cast<uint8_t*>(p) + lead;
}

Mapping::~Mapping() {
  if (base_) ::munmap(base_, base_len_);
}

}  // namespace npz
