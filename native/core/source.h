// Byte sources the parsers read from. Every read is bounds-checked against the source size
// fixed at open time; a short read (file truncated after open) throws ERR_NPZ_CORRUPT /
// ERR_NPY_TRUNCATED instead of returning garbage. FileSource uses pread(2), so a file that is
// truncated or replaced while we read it cannot raise SIGBUS here (the only mappings the core
// reads are the SIGBUS-guarded scan windows in stored_io.cc). MemorySource serves fuzzers and
// tests. Thread-safety: read() is const and safe to call concurrently (pread has no shared offset).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace npz {

class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at off. Throws Error(NpzCorrupt) if [off, off+n) is outside size()
  // or the underlying read comes up short.
  virtual void read(uint64_t off, void* dst, size_t n) const = 0;
  // Reads up to n bytes; returns the count actually read (0 at/after the end).
  virtual size_t read_some(uint64_t off, void* dst, size_t n) const = 0;
};

class MemorySource final : public Source {
 public:
  MemorySource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t size() const override { return size_; }
  void read(uint64_t off, void* dst, size_t n) const override;
  size_t read_some(uint64_t off, void* dst, size_t n) const override;

 private:
  const uint8_t* data_;
  size_t size_;
};

// RAII file descriptor, opened read-only with O_CLOEXEC|O_NOFOLLOW-free semantics.
// Refuses directories, FIFOs, sockets and devices *before* any blocking read (opened with
// O_NONBLOCK, checked with fstat) -> ERR_NPZ_OPEN with the reason.
class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  void read(uint64_t off, void* dst, size_t n) const override;
  size_t read_some(uint64_t off, void* dst, size_t n) const override;
  // Re-stat: current size on disk (to detect truncation after open).
  uint64_t current_size() const;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  uint64_t inode() const { return ino_; }
  double mtime_ms() const { return mtime_ms_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t ino_ = 0;
  double mtime_ms_ = 0;
};

// RAII private, copy-on-write mapping of [offset, offset+length) of a file
// (PROT_READ|PROT_WRITE, MAP_PRIVATE: JS may write into views; the file never changes).
class Mapping {
 public:
  Mapping(int fd, uint64_t offset, size_t length);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return length_; }

 private:
  void* base_ = nullptr;
  size_t base_len_ = 0;
  uint8_t* data_ = nullptr;
  size_t length_ = 0;
};

}  // namespace npz
