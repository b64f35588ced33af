// Internal to the Archive implementation (archive.cc, archive_rows.cc, archive_scan.cc,
// stored_io.cc): the sizes they share, the cancellation check and the growing read of a
// DEFLATED member. Not part of the core's API.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "byte_buffer.h"
#include "errors.h"
#include "member_stream.h"

namespace npz {
namespace detail {

constexpr uint64_t kZeroCopyMax = uint64_t{1} << 32;  // Node's external-buffer cap
// STORED scans go in fixed blocks of this many member bytes (the unit spread over threads).
constexpr uint64_t kScanBlock = uint64_t{32} << 20;
constexpr size_t kParallelCopyMin = size_t{64} << 20;  // STORED copies split from this size
constexpr size_t kScanChunk = 1u << 20;                // pread / inflate piece of one pass

// ERR_NPZ_ABORTED when the caller's flag is set.
inline void check_cancel(const std::atomic<bool>* c, const std::string& key) {
  if (c && c->load(std::memory_order_relaxed))
    throw Error(Code::NpzAborted, "operation aborted", key);
}

// Reads the next n bytes of ms into out (empty on entry), growing it 4 MiB at a time: a DEFLATED
// member's declared size is only bounded by the 1032:1 ratio, so the address space is reserved
// but pages become resident only as inflated bytes actually arrive (a stream that ends early
// cannot make a small file cost ~1000x its size in RAM).
inline void read_growing(MemberStream& ms, ByteBuffer& out, size_t n) {
  out.reserve(n);
  while (out.size() < n) {
    const size_t have = out.size();
    const size_t k = std::min<size_t>(n - have, kScanChunk * 4);
    out.resize(have + k);
    ms.read_exact(out.data() + have, k);
  }
}

}  // namespace detail
}  // namespace npz
