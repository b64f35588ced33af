// ZIP central-directory reader for NPZ archives (npy-npz-format.md §5, checklist §10 rows 1-18).
// Reads the EOCD / zip64 EOCD, every central record (zip64 extras), re-reads every local header
// and cross-checks it, computes each member's data offset from the LOCAL lengths, and rejects
// overlaps, duplicates, bad names, encryption and unsupported methods. Never walks local
// headers sequentially. Pure over a Source; thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "source.h"

namespace npz {

struct ZipEntry {
  std::string name;  // as stored (UTF-8 when flag bit 11)
  uint16_t flags = 0;
  uint16_t method = 0;  // 0 stored, 8 deflated (others rejected)
  uint32_t crc32 = 0;   // from the central directory
  uint64_t csize = 0;   // compressed size (central directory / zip64 extra)
  uint64_t usize = 0;   // uncompressed size
  uint64_t lfh_offset = 0;
  uint64_t data_offset = 0;          // lfh_offset + 30 + local name len + local extra len
  bool has_data_descriptor = false;  // flag bit 3
};

struct ZipLimits {
  uint64_t max_entries = 10000;
  uint32_t max_name_len = 4096;
};

// Throws ERR_NPZ_NOT_ZIP, ERR_NPZ_CORRUPT, ERR_NPZ_OVERLAP, ERR_NPZ_DUPLICATE_MEMBER,
// ERR_NPZ_BAD_NAME, ERR_NPZ_ENCRYPTED, ERR_NPZ_UNSUPPORTED_METHOD, ERR_NPZ_SIZE_MISMATCH
// (stored csize != usize; usize > 1032*csize + 1024 for deflate), ERR_NPZ_LIMIT.
// Entries are returned in central-directory (archive) order.
std::vector<ZipEntry> read_zip_index(const Source& src, const ZipLimits& limits);

// Key of a member: name with one trailing ".npy" removed.
std::string member_key(const std::string& name);

}  // namespace npz
