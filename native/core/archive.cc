// Archive: sniffing, member loading (header-only), array reads, string extraction and streaming
// scans. Member-level failures at open are recorded in Member::error; container-level ones throw.
#include "archive.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <mutex>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "byteswap.h"
#include "crc32.h"
#include "fresh_fill.h"
#include "member_stream.h"

namespace npz {

namespace {

constexpr uint8_t kNpyMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr uint64_t kZeroCopyMax = uint64_t{1} << 32;        // Node's external-buffer cap
constexpr uint64_t kParallelScanMin = uint64_t{64} << 20;   // split STORED scans above this
constexpr size_t kParallelCopyMin = size_t{64} << 20;       // and STORED copies from this size
constexpr size_t kCopyChunk = 256u << 10;                   // per pread of a parallel copy
constexpr size_t kScanChunk = 1u << 20;
constexpr size_t kStoredChunk = 1u << 20;  // pread target stays in L2 for the CRC + scan passes

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string file_stem(const std::string& path) {
  std::string b = base_name(path);
  const size_t dot = b.find_last_of('.');
  if (dot != std::string::npos && dot > 0) b.resize(dot);
  return b;
}

void merge_component(ComponentStats& a, const ComponentStats& b) {
  if (b.finite) {
    if (a.finite == 0) {
      a.min = b.min;
      a.max = b.max;
    } else {
      a.min = std::min(a.min, b.min);
      a.max = std::max(a.max, b.max);
    }
  }
  a.count += b.count;
  a.nan += b.nan;
  a.pos_inf += b.pos_inf;
  a.neg_inf += b.neg_inf;
  a.negative += b.negative;
  a.zero += b.zero;
  a.finite += b.finite;
  a.sum += b.sum;
  a.sum_sq += b.sum_sq;
}

void merge_stats(ScanStats& a, const ScanStats& b) {
  for (size_t c = 0; c < a.components.size() && c < b.components.size(); ++c)
    merge_component(a.components[c], b.components[c]);
  a.sum_abs2 += b.sum_abs2;
  a.bad_bool += b.bad_bool;
  a.elements += b.elements;
}

bool stats_dtype(const DType& d) {
  if (!d.supported || d.is_object) return false;
  switch (d.kind) {
    case 'b': case 'i': case 'u': case 'f': case 'c': return true;
    default: return false;
  }
}

void check_cancel(const std::atomic<bool>* c, const std::string& key) {
  if (c && c->load(std::memory_order_relaxed))
    throw Error(Code::NpzAborted, "operation aborted", key);
}


struct RangeResult {
  uint32_t crc = 0;
  std::optional<ScanStats> stats;
};

// pread-based pass over member bytes [from, to) of a STORED member: CRC over all of it, stats
// over the part inside the array [arr_begin, arr_end). Boundaries inside the array are
// element-aligned by the caller.
// ---- Scans of STORED members read the page cache through short-lived mappings ----------------
// Why mappings: a pread() scan copies every byte once more (kernel -> buffer) before the CRC and
// the statistics read it; reading the mapping directly measured ~1.5x faster per thread here.
// Why that is safe: a file truncated while we read it makes the access raise SIGBUS. Each scan
// thread arms a thread-local recovery point around the code that touches the mapping (CRC-32 and
// Scanner::feed, which own nothing that needs unwinding); the process-wide handler jumps back to
// it and the scan fails with ERR_NPZ_CORRUPT. A SIGBUS on any other thread (e.g. JS touching a
// zero-copy view of a truncated file) is passed on to the previous handler / default action.
thread_local sigjmp_buf* t_bus_jump = nullptr;
struct sigaction g_prev_bus;

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  if (t_bus_jump != nullptr) siglongjmp(*t_bus_jump, 1);
  if ((g_prev_bus.sa_flags & SA_SIGINFO) != 0 && g_prev_bus.sa_sigaction != nullptr) {
    g_prev_bus.sa_sigaction(sig, info, uctx);
    return;
  }
  if ((g_prev_bus.sa_flags & SA_SIGINFO) == 0 && g_prev_bus.sa_handler != SIG_DFL &&
      g_prev_bus.sa_handler != SIG_IGN) {
    g_prev_bus.sa_handler(sig);
    return;
  }
  std::signal(SIGBUS, SIG_DFL);  // the faulting access runs again and takes the default action
}

void install_sigbus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGBUS, &sa, &g_prev_bus);
  });
}

// Runs fn(); returns false instead if it raised SIGBUS. fn must not create objects that need
// destructors (the recovery jumps over its frames): here it only reads mapped bytes.
template <class F>
bool bus_guarded(F&& fn) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_bus_jump = nullptr;
    return false;
  }
  t_bus_jump = &jump;
  fn();
  t_bus_jump = nullptr;
  return true;
}

// Read-only private mapping of one window of the file, prefaulted (MAP_POPULATE) in one call
// unless asked not to (a source only the kernel reads, see copy_stored_parallel).
class ScanWindow {
 public:
  ScanWindow(int fd, uint64_t offset, size_t length, bool populate = true) {
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t start = offset - offset % page;
    len_ = static_cast<size_t>(offset - start) + length;
    base_ = ::mmap(nullptr, len_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd,
                   static_cast<off_t>(start));
    if (base_ == MAP_FAILED) base_ = nullptr;
    else data_ = static_cast<const uint8_t*>(base_) + (offset - start);
  }
  ~ScanWindow() {
    if (base_) ::munmap(base_, len_);
  }
  ScanWindow(const ScanWindow&) = delete;
  ScanWindow& operator=(const ScanWindow&) = delete;
  const uint8_t* data() const { return data_; }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
  const uint8_t* data_ = nullptr;
};

constexpr size_t kScanWindow = 8u << 20;

// CRC-32 of a mapped range in 16 KiB steps, asking for the next step's cache lines before each
// one: the CRC kernel outruns the hardware prefetcher when two threads stream from memory
// (measured ~12% faster on two threads here). Prefetches never fault, and stay inside [p, p+n).
uint32_t crc32_prefetched(uint32_t crc, const uint8_t* p, size_t n) {
  constexpr size_t kStep = 16u << 10;
  for (size_t off = 0; off < n; off += kStep) {
    const size_t next_end = std::min(n, off + 2 * kStep);
    for (size_t q = off + kStep; q < next_end; q += 64) __builtin_prefetch(p + q, 0, 3);
    crc = crc32_update(crc, p + off, std::min(kStep, n - off));
  }
  return crc;
}
constexpr size_t kScanSlice = 256u << 10;

// Scans bytes [from, to) of a STORED member: CRC (optional) and value stats over the part that
// lies inside [arr_begin, arr_end). File-backed sources are read through guarded mappings,
// in-memory ones (fuzzers, tests) directly; a failed mapping falls back to pread.
RangeResult scan_stored_range(const Source& src, const FileSource* file, const ZipEntry& e,
                              uint64_t from, uint64_t to, uint64_t arr_begin, uint64_t arr_end,
                              const DType* dt, bool crc, const std::atomic<bool>* cancel,
                              const std::string& key) {
  RangeResult r;
  std::optional<Scanner> sc;
  if (dt) sc.emplace(*dt);
  std::vector<uint8_t> buf;
  if (file) install_sigbus_handler();
  uint64_t pos = from;
  while (pos < to) {
    check_cancel(cancel, key);
    const size_t k = static_cast<size_t>(std::min<uint64_t>(file ? kScanWindow : kStoredChunk, to - pos));
    std::optional<ScanWindow> win;
    const uint8_t* p = nullptr;
    if (file) {
      win.emplace(file->fd(), e.data_offset + pos, k);
      p = win->data();
    }
    if (!p) {
      buf.resize(k);
      src.read(e.data_offset + pos, buf.data(), k);
      p = buf.data();
    }
    const bool ok = bus_guarded([&] {
      // With statistics, CRC and stats go per 256 KiB slice so the second pass reads from L2,
      // not memory; a CRC-only pass takes the whole window in one call (fewer fold setups).
      const size_t slice = sc ? kScanSlice : k;
      for (size_t off = 0; off < k; off += slice) {
        const size_t len = std::min(slice, k - off);
        if (crc) r.crc = crc32_prefetched(r.crc, p + off, len);
        const uint64_t a = std::max(pos + off, arr_begin), b = std::min(pos + off + len, arr_end);
        if (sc && a < b) sc->feed(p + (a - pos), static_cast<size_t>(b - a));
      }
    });
    if (!ok)
      throw Error(Code::NpzCorrupt,
                  "file truncated while scanning member '" + key + "' (at byte " +
                      std::to_string(pos) + " of the member)",
                  key);
    pos += k;
  }
  if (sc) r.stats = sc->finish();
  return r;
}

unsigned copy_threads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return std::min(2u, hc == 0 ? 1u : hc);
}

uint8_t* page_floor(uint8_t* p) {
  const uintptr_t page = FreshFill::page_size();
  return reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) & ~(page - 1));
}

// CRC-32 of member bytes [from, to), read through a small buffer (NPY header, trailing bytes).
uint32_t crc_of_range(const Source& src, const ZipEntry& z, uint64_t from, uint64_t to) {
  uint8_t buf[16384];
  uint32_t crc = 0;
  for (uint64_t pos = from; pos < to;) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(sizeof buf, to - pos));
    src.read(z.data_offset + pos, buf, k);
    crc = crc32_update(crc, buf, k);
    pos += k;
  }
  return crc;
}

// Copies array bytes [from, to) (relative to dst) of a STORED member whose array starts at member
// offset arr_begin: pread straight into dst in kCopyChunk pieces, each CRC'd (and byte-swapped
// when swap is the unit size) while still in cache. Returns the CRC-32 of those bytes, continuing
// from crc (the CRC of the bytes before `from`, when a part is finished by this path).
uint32_t copy_stored_part(const Source& src, const ZipEntry& z, uint64_t arr_begin, uint8_t* dst,
                          size_t from, size_t to, uint32_t swap, uint32_t crc = 0) {
  for (size_t pos = from; pos < to;) {
    const size_t k = std::min(kCopyChunk, to - pos);
#ifdef MADV_POPULATE_WRITE
    // Fault the chunk's fresh pages in with one call instead of one trap per 4 KiB page
    // (measured ~1.3x faster here); best effort: a kernel without it just faults on write.
    ::madvise(page_floor(dst + pos), static_cast<size_t>(dst + pos + k - page_floor(dst + pos)),
              MADV_POPULATE_WRITE);
#endif
    src.read(z.data_offset + arr_begin + pos, dst + pos, k);
    crc = crc32_update(crc, dst + pos, k);
    if (swap) swap_units(dst + pos, k, swap);
    pos += k;
  }
  return crc;
}

// One copy of a large STORED array on two threads. Fresh pages are what a copy into new memory
// costs on this kind of machine (the kernel zeroes each page before the copy overwrites it), so:
//  - where userfaultfd allows it, each thread fills its half of the new buffer straight from a
//    read-only mapping of the file (UFFDIO_COPY: one pass per page, no zeroing; fresh_fill.h),
//    then CRCs each piece while it is in cache. A piece the kernel refuses (a file truncated
//    since it was opened, say) and everything after it in that half, plus the last partial
//    page, are finished with pread once the range is back to ordinary memory;
//  - otherwise each thread faults in and fills its own half with pread (MADV_POPULATE_WRITE
//    per piece instead of one fault per page).
// The member's CRC-32 is assembled from the header bytes, the parts and any trailing bytes with
// crc32_combine. n and arr_begin were checked against the member (and the member against the
// file) when the archive was opened; src.read throws on a short read.
// NPZGUARD_NO_USERFAULTFD=1 in the environment forces the pread path (tests cover both).
uint32_t copy_stored_parallel(const Source& src, const FileSource* file, const ZipEntry& z,
                              uint64_t arr_begin, uint8_t* dst, size_t n, uint32_t swap) {
  const size_t page = FreshFill::page_size();
  const size_t full = n / page * page;  // UFFDIO_COPY works in whole pages
  std::optional<FreshFill> fresh;
  std::optional<ScanWindow> from_file;
  const char* no_uffd = std::getenv("NPZGUARD_NO_USERFAULTFD");
  if (file && full > 0 && !(no_uffd && *no_uffd && std::strcmp(no_uffd, "0") != 0)) {
    fresh.emplace(dst, full);
    if (fresh->ok()) from_file.emplace(file->fd(), z.data_offset + arr_begin, full, false);
    if (!fresh->ok() || !from_file->data()) {
      fresh.reset();
      from_file.reset();
    }
  }
  const size_t unit = swap ? swap : 1;
  // Split point: page-aligned for the fill path (page sizes are multiples of every swap unit),
  // element-aligned otherwise, so a swap never straddles it.
  const size_t half = fresh ? full / 2 / page * page : (n / unit / 2) * unit;
  const size_t end1 = fresh ? full : n;

  struct Part {
    uint32_t crc = 0;
    size_t done = 0;  // filled up to here
  };
  auto fill_part = [&](size_t from, size_t to) {
    Part r{0, from};
    while (r.done < to) {
      const size_t k = std::min(kCopyChunk, to - r.done);
      if (!fresh->fill(dst + r.done, from_file->data() + r.done, k)) break;
      r.crc = crc32_update(r.crc, dst + r.done, k);
      if (swap) swap_units(dst + r.done, k, swap);
      r.done += k;
    }
    return r;
  };

  Part p0, p1;
  std::exception_ptr err;
  std::thread t([&] {
    try {
      if (fresh) p1 = fill_part(half, end1);
      else p1 = Part{copy_stored_part(src, z, arr_begin, dst, half, end1, swap), end1};
    } catch (...) {
      err = std::current_exception();
    }
  });
  uint32_t head = 0, tail = 0;
  try {
    head = crc_of_range(src, z, 0, arr_begin);
    if (fresh) p0 = fill_part(0, half);
    else p0 = Part{copy_stored_part(src, z, arr_begin, dst, 0, half, swap), half};
  } catch (...) {
    t.join();
    throw;
  }
  t.join();
  if (err) std::rethrow_exception(err);
  uint32_t rest = 0;
  if (fresh) {
    fresh->release();  // ordinary memory again: the pread path may touch any page now
    if (p0.done < half) p0.crc = copy_stored_part(src, z, arr_begin, dst, p0.done, half, swap, p0.crc);
    if (p1.done < full) p1.crc = copy_stored_part(src, z, arr_begin, dst, p1.done, full, swap, p1.crc);
    rest = copy_stored_part(src, z, arr_begin, dst, full, n, swap);
  }
  tail = crc_of_range(src, z, arr_begin + n, z.usize);
  uint32_t crc = crc32_combine(head, p0.crc, half);
  crc = crc32_combine(crc, p1.crc, end1 - half);
  crc = crc32_combine(crc, rest, n - end1);
  return crc32_combine(crc, tail, z.usize - arr_begin - n);
}

}  // namespace

std::unique_ptr<Archive> Archive::open(const std::string& path, const OpenOptions& opts) {
  auto fs = std::make_unique<FileSource>(path);
  const FileSource* f = fs.get();
  std::unique_ptr<Archive> a = open_source(std::move(fs), path, opts);
  a->file_ = f;
  return a;
}

std::unique_ptr<Archive> Archive::open_source(std::unique_ptr<Source> src, const std::string& name,
                                              const OpenOptions& opts) {
  std::unique_ptr<Archive> a(new Archive());
  a->src_ = std::move(src);
  a->name_ = name;
  a->opts_ = opts;
  uint8_t head[6] = {};
  const size_t got = a->src_->read_some(0, head, sizeof head);
  if (got >= 4 && head[0] == 'P' && head[1] == 'K' &&
      ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6))) {
    a->kind_ = Kind::Npz;
  } else if (got == 6 && std::memcmp(head, kNpyMagic, 6) == 0) {
    a->kind_ = Kind::Npy;
  } else if (ends_with(name, ".npy")) {
    throw Error(Code::NpyBadMagic, "'" + name + "' does not start with the NPY magic \\x93NUMPY");
  } else {
    throw Error(Code::NpzNotZip, "'" + name + "' is neither a ZIP (.npz) nor an NPY file");
  }
  a->load_members();
  return a;
}

void Archive::load_members() {
  std::vector<ZipEntry> entries;
  if (kind_ == Kind::Npz) {
    entries = read_zip_index(*src_, opts_.zip);
  } else {
    ZipEntry z;
    z.name = base_name(name_);
    z.method = 0;
    z.csize = z.usize = src_->size();
    z.lfh_offset = 0;
    z.data_offset = 0;
    entries.push_back(std::move(z));
  }
  members_.clear();
  members_.reserve(entries.size());
  for (auto& e : entries) {
    Member m;
    m.entry = std::move(e);
    m.key = kind_ == Kind::Npy ? file_stem(name_) : member_key(m.entry.name);
    try {
      const ZipEntry& z = m.entry;
      std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(12, z.usize)));
      MemberStream ms(*src_, z, 64u << 10);
      ms.set_verify_crc(false);
      if (!head.empty()) ms.read_exact(head.data(), head.size());
      if (head.size() < 10 || std::memcmp(head.data(), kNpyMagic, 6) != 0) {
        m.npy_magic = false;
        throw Error(Code::NpyBadMagic, "member '" + m.key + "' is not an NPY array (" +
                                           (head.size() < 10 ? "only " + std::to_string(z.usize) +
                                                                   " bytes"
                                                             : std::string("no \\x93NUMPY magic")) +
                                           ")");
      }
      m.npy_magic = true;
      const uint64_t total = npy_header_total_length(head.data(), head.size(), opts_.npy);
      if (total > z.usize)
        throw Error(Code::NpyTruncated, "member '" + m.key + "': NPY header needs " +
                                            std::to_string(total) + " bytes but the member has " +
                                            std::to_string(z.usize));
      std::vector<uint8_t> hdr(static_cast<size_t>(total));
      std::memcpy(hdr.data(), head.data(), std::min<size_t>(head.size(), hdr.size()));
      if (hdr.size() > head.size()) ms.read_exact(hdr.data() + head.size(), hdr.size() - head.size());
      NpyHeader h = parse_npy_header(hdr.data(), hdr.size(), opts_.npy);
      if (z.method == 0) m.array_offset = z.data_offset + h.data_offset;
      const uint64_t avail = z.usize - h.data_offset;
      const bool object = h.dtype.is_object;
      const uint64_t need = h.byte_length;
      m.header = std::move(h);
      if (!object) {
        if (need > avail)
          throw Error(Code::NpyTruncated,
                      "member '" + m.key + "': header declares " + std::to_string(need) +
                          " data bytes but only " + std::to_string(avail) + " follow");
        m.trailing_bytes = static_cast<int64_t>(avail - need);
      }
    } catch (Error& err) {
      err.set_member(m.key);
      m.error = err;
    }
    members_.push_back(std::move(m));
  }
}

void Archive::charge_inflate(const Member& m) const { charge_inflate_bytes(m, m.entry.usize); }

void Archive::charge_inflate_bytes(const Member& m, uint64_t n) const {
  const ZipEntry& z = m.entry;
  if (z.method == 0) return;
  const uint64_t budget = opts_.max_inflate_total;
  uint64_t cur = inflated_.load();
  for (;;) {
    if (n > budget || cur > budget - n)
      throw Error(Code::NpzLimit,
                  "inflating member '" + m.key + "' (" + std::to_string(n) +
                      " bytes) would exceed this archive's inflate budget of " +
                      std::to_string(budget) + " bytes (" + std::to_string(cur) +
                      " already inflated); raise maxInflateBytes to allow more",
                  m.key);
    if (inflated_.compare_exchange_weak(cur, cur + n)) return;
  }
}

const Member& Archive::member_at(size_t index) const {
  if (index >= members_.size())
    throw Error(Code::NpzMemberNotFound, "member index " + std::to_string(index) + " out of range");
  return members_[index];
}

const Member& Archive::npy_member(size_t index) const {
  const Member& m = member_at(index);
  if (m.error) throw *m.error;
  if (!m.header) throw Error(Code::NpyBadMagic, "member has no NPY header", m.key);
  return m;
}

ArrayBytes Archive::read_array(size_t index, CopyMode mode) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  if (!dt.supported || dt.is_object)
    throw Error(Code::NpyUnsupportedDtype,
                "member '" + m.key + "' has dtype '" + dt.descr + "'" +
                    (dt.reason.empty() ? std::string() : " (" + dt.reason + ")") +
                    ", which cannot be read as an array",
                m.key);
  const ZipEntry& z = m.entry;
  const uint32_t cs = dt.component_size ? dt.component_size : 1;
  ArrayBytes out;
  out.byte_length = h.byte_length;
  if (mode != CopyMode::ForceCopy) {
    const char* why = nullptr;
    Code code = Code::NpzLimit;
    if (z.method != 0) {
      code = Code::NpzCompressedMember;
      why = "is DEFLATE-compressed and cannot be mapped (save with np.savez, not "
            "np.savez_compressed)";
    } else if (!file_) {
      code = Code::NpzLimit;
      why = "comes from an in-memory source, which cannot be mapped";
    } else if (dt.big_endian) {
      code = Code::NpyNonNativeEndian;
      why = "is stored big-endian; a view needs native (little-endian) order";
    } else if (m.array_offset % cs != 0) {
      code = Code::NpyMisaligned;
      why = "has its data at a file offset that is not a multiple of the element size";
    } else if (h.byte_length > kZeroCopyMax) {
      code = Code::NpzLimit;
      why = "is larger than 4 GiB, the cap for one external buffer";
    }
    if (!why) {
      if (file_->current_size() < m.array_offset + h.byte_length)
        throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened", m.key);
      out.mapping = std::make_shared<Mapping>(file_->fd(), m.array_offset,
                                              static_cast<size_t>(h.byte_length));
      out.data = out.mapping->data();
      out.zero_copy = true;
      return out;
    }
    if (mode == CopyMode::RequireZeroCopy) {
      std::string msg = "member '" + m.key + "' " + why;
      if (code == Code::NpyMisaligned)
        msg += " (offset " + std::to_string(m.array_offset) + ", element " + std::to_string(cs) +
               " bytes)";
      throw Error(code, msg, m.key);
    }
  }
  if (h.byte_length > SIZE_MAX) throw Error(Code::NpzLimit, "array too large to copy", m.key);
  const size_t n = static_cast<size_t>(h.byte_length);
  if (z.method == 0 && file_ && n >= kParallelCopyMin && copy_threads() >= 2) {
    if (file_->current_size() < file_->size())
      throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened", m.key);
    out.owned.resize(n);
    const uint32_t crc = copy_stored_parallel(*src_, file_, z, h.data_offset, out.owned.data(), n,
                                              dt.big_endian ? cs : 0);
    if (kind_ == Kind::Npz && crc != z.crc32) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "CRC-32 is %08x, central directory says %08x", crc, z.crc32);
      throw Error(Code::NpzCrcMismatch, "member '" + z.name + "': " + buf, m.key);
    }
    out.data = out.owned.data();
    out.crc_verified = kind_ == Kind::Npz;
    return out;
  }
  charge_inflate(m);
  MemberStream ms(*src_, z);
  ms.set_verify_crc(kind_ == Kind::Npz);
  ms.skip(h.data_offset);
  if (z.method == 0) {
    // Chunked, so the CRC of each chunk is computed while it is still in cache (one pass over
    // memory instead of a copy followed by a separate CRC pass).
    out.owned.resize(n);
    for (size_t have = 0; have < n;) {
      const size_t k = std::min<size_t>(n - have, kScanChunk);
      ms.read_exact(out.owned.data() + have, k);
      have += k;
    }
  } else {
    // A deflated member's declared size is only bounded by the 1032:1 ratio: reserve it (address
    // space, no pages touched) and let it become resident as inflated bytes actually arrive, so
    // a stream that ends early cannot make a small file cost ~1000x its size in RAM.
    out.owned.reserve(n);
    while (out.owned.size() < n) {
      const size_t have = out.owned.size();
      const size_t k = std::min<size_t>(n - have, kScanChunk * 4);
      out.owned.resize(have + k);
      ms.read_exact(out.owned.data() + have, k);
    }
  }
  uint8_t scratch[4096];
  while (ms.read(scratch, sizeof scratch) != 0) {
  }
  if (dt.big_endian) swap_units(out.owned.data(), out.owned.size(), cs);
  out.data = out.owned.data();
  out.crc_verified = kind_ == Kind::Npz;
  return out;
}

ArrayBytes Archive::read_rows(size_t index, uint64_t start, uint64_t end, CopyMode mode) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  if (!dt.supported || dt.is_object)
    throw Error(Code::NpyUnsupportedDtype,
                "member '" + m.key + "' has dtype '" + dt.descr + "', which cannot be read as rows",
                m.key);
  if (h.shape.empty())
    throw Error(Code::NpyRowRange, "member '" + m.key + "' is 0-dimensional: it has no rows", m.key);
  if (h.fortran_order && h.shape.size() > 1)
    throw Error(Code::NpyFortranOrder,
                "member '" + m.key +
                    "' is stored in Fortran order, so its rows are not contiguous; read the whole "
                    "array instead",
                m.key);
  const uint64_t rows = h.shape[0];
  if (start > end || end > rows)
    throw Error(Code::NpyRowRange,
                "member '" + m.key + "': rows [" + std::to_string(start) + ", " +
                    std::to_string(end) + ") are outside its first axis of " +
                    std::to_string(rows) + " rows",
                m.key);
  // Bytes per row, overflow-checked: with shape[0] == 0 the header's byte_length check does not
  // bound the product of the other dimensions.
  uint64_t row_bytes = dt.itemsize;
  for (size_t d = 1; d < h.shape.size(); ++d) {
    const uint64_t dim = h.shape[d];
    if (dim != 0 && row_bytes > UINT64_MAX / dim)
      throw Error(Code::NpyLengthOverflow, "member '" + m.key + "': row size overflows", m.key);
    row_bytes *= dim;
  }
  // end <= rows, so end * row_bytes <= byte_length (checked against the member at open) unless
  // rows == 0, where end == 0.
  const uint64_t from = start * row_bytes, to = end * row_bytes;
  if (to > h.byte_length)
    throw Error(Code::NpyLengthOverflow, "member '" + m.key + "': row range beyond the data", m.key);
  const uint64_t len = to - from;
  if (len > SIZE_MAX) throw Error(Code::NpzLimit, "row range too large to read", m.key);
  const ZipEntry& z = m.entry;
  const uint32_t cs = dt.component_size ? dt.component_size : 1;
  ArrayBytes out;
  out.byte_length = len;
  if (len == 0) {
    out.data = out.owned.data();
    return out;
  }
  if (mode != CopyMode::ForceCopy) {
    const char* why = nullptr;
    Code code = Code::NpzLimit;
    if (z.method != 0) {
      code = Code::NpzCompressedMember;
      why = "is DEFLATE-compressed and cannot be mapped";
    } else if (!file_) {
      why = "comes from an in-memory source, which cannot be mapped";
    } else if (dt.big_endian) {
      code = Code::NpyNonNativeEndian;
      why = "is stored big-endian; a view needs native (little-endian) order";
    } else if (m.array_offset % cs != 0) {
      code = Code::NpyMisaligned;
      why = "has its data at a file offset that is not a multiple of the element size";
    } else if (len > kZeroCopyMax) {
      why = "row range is larger than 4 GiB, the cap for one external buffer";
    }
    if (!why) {
      if (file_->current_size() < m.array_offset + to)
        throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened", m.key);
      out.mapping = std::make_shared<Mapping>(file_->fd(), m.array_offset + from,
                                              static_cast<size_t>(len));
      out.data = out.mapping->data();
      out.zero_copy = true;
      return out;
    }
    if (mode == CopyMode::RequireZeroCopy)
      throw Error(code, "member '" + m.key + "' " + why, m.key);
  }
  const size_t n = static_cast<size_t>(len);
  try {
    if (z.method == 0) {
      out.owned.resize(n);
      for (size_t have = 0; have < n;) {
        const size_t k = std::min<size_t>(n - have, kScanChunk);
        src_->read(z.data_offset + h.data_offset + from + have, out.owned.data() + have, k);
        have += k;
      }
    } else {
      charge_inflate_bytes(m, h.data_offset + to);
      MemberStream ms(*src_, z);
      ms.set_verify_crc(false);  // the CRC covers the whole member; a row read stops early
      ms.skip(h.data_offset + from);
      // Reserve address space only: pages become resident as inflated rows arrive.
      out.owned.reserve(n);
      while (out.owned.size() < n) {
        const size_t have = out.owned.size();
        const size_t k = std::min<size_t>(n - have, kScanChunk * 4);
        out.owned.resize(have + k);
        ms.read_exact(out.owned.data() + have, k);
      }
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  if (dt.big_endian) swap_units(out.owned.data(), out.owned.size(), cs);
  out.data = out.owned.data();
  return out;
}

namespace {

template <class T>
T load_value(const uint8_t* p, bool swap) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

double value_at(const DType& dt, const uint8_t* p) {
  const bool sw = dt.big_endian;
  switch (dt.kind) {
    case 'b': return p[0] != 0 ? 1.0 : 0.0;
    case 'f':
      if (dt.itemsize == 4) return load_value<float>(p, sw);
      if (dt.itemsize == 8) return load_value<double>(p, sw);
      break;
    case 'i':
      switch (dt.itemsize) {
        case 1: return static_cast<int8_t>(p[0]);
        case 2: return load_value<int16_t>(p, sw);
        case 4: return load_value<int32_t>(p, sw);
        case 8: return static_cast<double>(load_value<int64_t>(p, sw));
      }
      break;
    case 'u':
      switch (dt.itemsize) {
        case 1: return p[0];
        case 2: return load_value<uint16_t>(p, sw);
        case 4: return load_value<uint32_t>(p, sw);
        case 8: return static_cast<double>(load_value<uint64_t>(p, sw));
      }
      break;
  }
  return 0;
}

bool profile_dtype(const DType& d) {
  if (!d.supported || d.is_object) return false;
  if (d.kind == 'f') return d.itemsize == 4 || d.itemsize == 8;  // f2: no
  return d.kind == 'b' || d.kind == 'i' || d.kind == 'u';
}

}  // namespace

RowProfile Archive::row_profile(size_t index, uint64_t max_rows, const std::atomic<bool>* cancel) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  if (!profile_dtype(dt))
    throw Error(Code::NpyUnsupportedDtype,
                "member '" + m.key + "' has dtype '" + dt.descr + "': per-row totals need a real numeric dtype",
                m.key);
  if (h.shape.empty())
    throw Error(Code::NpyRowRange, "member '" + m.key + "' is 0-dimensional: it has no rows", m.key);
  if (h.fortran_order && h.shape.size() > 1)
    throw Error(Code::NpyFortranOrder, "member '" + m.key + "' is stored in Fortran order", m.key);
  const uint64_t rows = h.shape[0];
  if (rows > max_rows)
    throw Error(Code::NpzLimit, "member '" + m.key + "' has " + std::to_string(rows) +
                                    " rows, over the per-row profile cap of " + std::to_string(max_rows),
                m.key);
  RowProfile out;
  out.sum.assign(static_cast<size_t>(rows), 0.0);
  out.nonfinite.assign(static_cast<size_t>(rows), 0);
  out.nonzero.assign(static_cast<size_t>(rows), 0);
  out.negative.assign(static_cast<size_t>(rows), 0);
  if (h.byte_length == 0 || rows == 0) return out;
  // byte_length = rows * per_row * itemsize (checked at open), so per_row fits and is >= 1.
  const uint64_t isz = dt.itemsize;
  const uint64_t per_row = h.count / rows;
  constexpr uint64_t kMaxPattern = uint64_t{16} << 20;
  if (per_row <= kMaxPattern) out.col_sum.assign(static_cast<size_t>(per_row), 0.0);
  const bool pattern = !out.col_sum.empty();
  const ZipEntry& z = m.entry;
  std::optional<MemberStream> ms;
  if (z.method != 0) {
    charge_inflate_bytes(m, h.data_offset + h.byte_length);
    ms.emplace(*src_, z);
    ms->set_verify_crc(false);
    ms->set_cancel(cancel);
    ms->skip(h.data_offset);
  }
  const size_t chunk = static_cast<size_t>(std::max<uint64_t>(isz, kScanChunk / isz * isz));
  std::vector<uint8_t> buf(chunk);
  uint64_t elem = 0;  // elements consumed
  const bool is_float = dt.kind == 'f';
  try {
    for (uint64_t pos = 0; pos < h.byte_length;) {
      check_cancel(cancel, m.key);
      const size_t k = static_cast<size_t>(std::min<uint64_t>(chunk, h.byte_length - pos));
      if (ms) ms->read_exact(buf.data(), k);
      else src_->read(z.data_offset + h.data_offset + pos, buf.data(), k);
      const size_t n = k / static_cast<size_t>(isz);  // chunk is a multiple of isz
      for (size_t i = 0; i < n; ++i, ++elem) {
        const size_t r = static_cast<size_t>(elem / per_row);
        const double v = value_at(dt, buf.data() + i * isz);
        if (is_float && !std::isfinite(v)) {
          ++out.nonfinite[r];
          ++out.nonzero[r];
          continue;
        }
        out.sum[r] += v;
        if (pattern) out.col_sum[static_cast<size_t>(elem - r * per_row)] += v;
        if (v != 0) ++out.nonzero[r];
        if (v < 0) ++out.negative[r];
      }
      pos += k;
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  return out;
}

ByteBuffer Archive::read_row_set(size_t index, const std::vector<uint64_t>& rows) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  if (h.shape.empty()) throw Error(Code::NpyRowRange, "member '" + m.key + "' has no rows", m.key);
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= h.shape[0] || (i > 0 && rows[i] <= rows[i - 1]))
      throw Error(Code::NpyRowRange, "member '" + m.key + "': row list must be ascending, unique and below " +
                                         std::to_string(h.shape[0]), m.key);
  ByteBuffer out;
  if (rows.empty()) return out;
  // One row through read_rows gives the dtype/order checks and the row size.
  if (m.entry.method == 0) {
    for (uint64_t r : rows) {
      ArrayBytes b = read_rows(index, r, r + 1, CopyMode::ForceCopy);
      out.insert(out.end(), b.data, b.data + b.byte_length);
    }
    return out;
  }
  ArrayBytes first = read_rows(index, rows[0], rows[0] + 1, CopyMode::ForceCopy);
  const uint64_t rb = first.byte_length;
  if (rb != 0 && rows.size() > SIZE_MAX / rb) throw Error(Code::NpzLimit, "row set too large", m.key);
  out.reserve(static_cast<size_t>(rb * rows.size()));
  out.insert(out.end(), first.data, first.data + rb);
  if (rows.size() == 1 || rb == 0) return out;
  const ZipEntry& z = m.entry;
  charge_inflate_bytes(m, h.data_offset + (rows.back() + 1) * rb);
  MemberStream ms(*src_, z);
  ms.set_verify_crc(false);
  uint64_t at = 0;  // member byte position
  for (size_t i = 1; i < rows.size(); ++i) {
    const uint64_t want = h.data_offset + rows[i] * rb;
    ms.skip(want - at);
    const size_t have = out.size();
    out.resize(have + static_cast<size_t>(rb));
    ms.read_exact(out.data() + have, static_cast<size_t>(rb));
    at = want + rb;
  }
  if (h.dtype.big_endian) {
    const uint32_t cs = h.dtype.component_size ? h.dtype.component_size : 1;
    swap_units(out.data() + rb, out.size() - static_cast<size_t>(rb), cs);  // first row already swapped
  }
  return out;
}

ObjectStrings Archive::read_strings(size_t index) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  try {
    if (dt.is_object) {
      const ZipEntry& z = m.entry;
      if (z.usize > opts_.max_object_member)
        throw Error(Code::NpzLimit, "object member '" + m.key + "' is " +
                                        std::to_string(z.usize) + " bytes, over the limit of " +
                                        std::to_string(opts_.max_object_member));
      charge_inflate(m);
      std::vector<uint8_t> all(static_cast<size_t>(z.usize));
      MemberStream ms(*src_, z);
      ms.set_verify_crc(kind_ == Kind::Npz);
      ms.read_exact(all.data(), all.size());
      uint8_t probe[1];
      while (ms.read(probe, sizeof probe) != 0) {
      }
      const size_t off = static_cast<size_t>(h.data_offset);
      return walk_object_pickle(all.data() + off, all.size() - off, h.shape, opts_.pickle);
    }
    if (dt.supported && (dt.kind == 'U' || dt.kind == 'S')) {
      if (h.byte_length > opts_.max_object_member)
        throw Error(Code::NpzLimit, "string member '" + m.key + "' is " +
                                        std::to_string(h.byte_length) +
                                        " bytes, over the limit of " +
                                        std::to_string(opts_.max_object_member));
      ArrayBytes bytes = read_array(index, CopyMode::ForceCopy);
      ObjectStrings out;
      out.shape = h.shape;
      out.fortran_order = h.fortran_order;
      const size_t isz = dt.itemsize;
      out.items.reserve(static_cast<size_t>(h.count));
      // Items are returned in C (row-major) order, like numpy's object-array pickles, whatever
      // the storage order: walk a C-order multi-index and map it to the column-major element.
      const size_t nd = h.shape.size();
      const bool remap = h.fortran_order && nd > 1;
      std::vector<uint64_t> idx(nd, 0), fstride(nd, 1);
      for (size_t d = 1; d < nd; ++d) fstride[d] = fstride[d - 1] * h.shape[d - 1];
      for (uint64_t i = 0; i < h.count; ++i) {
        std::string s;
        uint64_t elem = i;
        if (remap) {
          elem = 0;
          for (size_t d = 0; d < nd; ++d) elem += idx[d] * fstride[d];
          for (size_t d = nd; d-- > 0;) {  // advance the C-order counter (last axis fastest)
            if (++idx[d] < h.shape[d]) break;
            idx[d] = 0;
          }
        }
        const uint8_t* p = bytes.data + elem * isz;
        if (dt.kind == 'U') {
          if (!ucs4_to_utf8(p, isz, false, &s))
            throw Error(Code::NpyUnsupportedDtype, "member '" + m.key + "' element " +
                                                       std::to_string(i) +
                                                       " holds an invalid code point");
        } else {
          bytes_to_utf8(p, isz, &s);
        }
        out.items.emplace_back(std::move(s));
      }
      return out;
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  throw Error(Code::NpyUnsupportedDtype,
              "member '" + m.key + "' has dtype '" + dt.descr + "', not strings or objects", m.key);
}

ScanResult Archive::scan(size_t index, const ScanOptions& opts) const {
  const Member& m = member_at(index);
  // A member without NPY magic still has a CRC that numpy's loader verifies: scan its raw bytes
  // (CRC only, no stats) instead of refusing, so corruption there is found too.
  const bool raw_member = kind_ == Kind::Npz && !m.npy_magic;
  if (m.error && !raw_member) throw *m.error;
  if (!m.header && !raw_member) throw Error(Code::NpyBadMagic, "member has no NPY header", m.key);
  static const NpyHeader kNoHeader{};
  const NpyHeader& h = raw_member ? kNoHeader : *m.header;
  const ZipEntry& z = m.entry;
  const bool want_stats = !raw_member && opts.stats && stats_dtype(h.dtype);
  const bool want_crc = opts.verify_crc && kind_ == Kind::Npz;
  const uint64_t arr_begin = raw_member ? 0 : h.data_offset;
  const uint64_t arr_end = (raw_member || h.dtype.is_object) ? arr_begin : arr_begin + h.byte_length;
  ScanResult res;
  try {
    if (file_ && file_->current_size() < file_->size())
      throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened");
    if (z.method == 0) {
      const DType* dt = want_stats ? &h.dtype : nullptr;
      unsigned hc = std::thread::hardware_concurrency();
      const unsigned threads = std::min(2u, hc == 0 ? 1u : hc);
      const uint64_t isz = h.dtype.itemsize ? h.dtype.itemsize : 1;
      const uint64_t nelem = (arr_end - arr_begin) / isz;
      if (threads >= 2 && z.usize > kParallelScanMin && nelem >= 2) {
        const uint64_t split = arr_begin + (nelem / 2) * isz;
        RangeResult r1;
        std::exception_ptr err;
        std::thread t([&] {
          try {
            r1 = scan_stored_range(*src_, file_, z, split, z.usize, arr_begin, arr_end, dt, want_crc,
                                   opts.cancel, m.key);
          } catch (...) {
            err = std::current_exception();
          }
        });
        RangeResult r0;
        try {
          r0 = scan_stored_range(*src_, file_, z, 0, split, arr_begin, arr_end, dt, want_crc,
                                 opts.cancel, m.key);
        } catch (...) {
          t.join();
          throw;
        }
        t.join();
        if (err) std::rethrow_exception(err);
        if (want_crc)
          res.crc_ok = crc32_combine(r0.crc, r1.crc, z.usize - split) == z.crc32;
        if (r0.stats) {
          merge_stats(*r0.stats, *r1.stats);
          res.stats = std::move(r0.stats);
        }
      } else {
        RangeResult r = scan_stored_range(*src_, file_, z, 0, z.usize, arr_begin, arr_end, dt, want_crc,
                                          opts.cancel, m.key);
        if (want_crc) res.crc_ok = r.crc == z.crc32;
        res.stats = std::move(r.stats);
      }
      res.bytes_read = z.usize;
    } else {
      charge_inflate(m);
      MemberStream ms(*src_, z);
      ms.set_verify_crc(false);  // compared below: a mismatch is a result, not an exception
      ms.set_cancel(opts.cancel);
      std::optional<Scanner> sc;
      if (want_stats) sc.emplace(h.dtype);
      std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kScanChunk, z.usize)));
      for (;;) {
        const uint64_t pos = ms.position();
        const size_t k = buf.empty() ? ms.read(nullptr, 0) : ms.read(buf.data(), buf.size());
        if (k == 0) break;
        if (sc) {
          const uint64_t a = std::max(pos, arr_begin), b = std::min(pos + k, arr_end);
          if (a < b) sc->feed(buf.data() + (a - pos), static_cast<size_t>(b - a));
        }
      }
      if (!ms.finished()) throw Error(Code::NpzSizeMismatch, "member stream did not finish");
      if (want_crc) res.crc_ok = ms.crc() == z.crc32;
      if (sc) res.stats = sc->finish();
      res.bytes_read = ms.position();
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  res.crc_checked = want_crc;
  return res;
}

}  // namespace npz
