// Internal to the Archive implementation (archive.cc, archive_rows.cc, archive_scan.cc,
// stored_io.cc): the sizes they share and the cancellation check. Not part of the core's API.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "errors.h"

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

}  // namespace detail
}  // namespace npz
