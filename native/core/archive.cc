// Archive (archive.h): sniffing, member loading (header-only), the inflate budget and
// whole-array and string reads. Member-level failures at open are recorded in Member::error;
// container-level ones throw. Row reads live in archive_rows.cc, streaming scans in
// archive_scan.cc, the STORED-member mapping / SIGBUS guard / parallel copy in stored_io.cc.
#include "archive.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "archive_internal.h"
#include "byteswap.h"
#include "cpu_count.h"
#include "member_stream.h"
#include "parallel_member.h"
#include "stored_io.h"

namespace npz {

namespace {

constexpr uint8_t kNpyMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

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
  if (a->opts_.threads == 0) a->opts_.threads = available_cpus();
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
        throw Error(Code::NpyBadMagic,
                    "member '" + m.key + "' is not an NPY array (" +
                        (head.size() < 10 ? "only " + std::to_string(z.usize) + " bytes"
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
      if (hdr.size() > head.size())
        ms.read_exact(hdr.data() + head.size(), hdr.size() - head.size());
      NpyHeader h = parse_npy_header(hdr.data(), hdr.size(), opts_.npy);
      if (z.method == 0) m.array_offset = z.data_offset + h.data_offset;
      const uint64_t avail = z.usize - h.data_offset;
      const bool object = h.dtype.is_object;
      const uint64_t need = h.byte_length;
      m.header = std::move(h);
      if (!object) {
        if (need > avail)
          throw Error(Code::NpyTruncated, "member '" + m.key + "': header declares " +
                                              std::to_string(need) + " data bytes but only " +
                                              std::to_string(avail) + " follow");
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

bool Archive::map_array_bytes(const Member& m, uint64_t from, uint64_t len, CopyMode mode,
                              bool rows, ArrayBytes* out) const {
  if (mode == CopyMode::ForceCopy) return false;
  const DType& dt = m.header->dtype;
  const uint32_t cs = dt.component_size ? dt.component_size : 1;
  const char* why = nullptr;
  Code code = Code::NpzLimit;
  if (m.entry.method != 0) {
    code = Code::NpzCompressedMember;
    why = rows ? "is DEFLATE-compressed and cannot be mapped"
               : "is DEFLATE-compressed and cannot be mapped (save with np.savez, not "
                 "np.savez_compressed)";
  } else if (!file_) {
    why = "comes from an in-memory source, which cannot be mapped";
  } else if (dt.big_endian) {
    code = Code::NpyNonNativeEndian;
    why = "is stored big-endian; a view needs native (little-endian) order";
  } else if (m.array_offset % cs != 0) {
    code = Code::NpyMisaligned;
    why = "has its data at a file offset that is not a multiple of the element size";
  } else if (len > detail::kZeroCopyMax) {
    why = rows ? "row range is larger than 4 GiB, the cap for one external buffer"
               : "is larger than 4 GiB, the cap for one external buffer";
  }
  if (!why) {
    if (file_->current_size() < m.array_offset + from + len)
      throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened", m.key);
    out->mapping =
        std::make_shared<Mapping>(file_->fd(), m.array_offset + from, static_cast<size_t>(len));
    out->data = out->mapping->data();
    out->zero_copy = true;
    return true;
  }
  if (mode == CopyMode::RequireZeroCopy) {
    std::string msg = "member '" + m.key + "' " + why;
    if (!rows && code == Code::NpyMisaligned)
      msg += " (offset " + std::to_string(m.array_offset) + ", element " + std::to_string(cs) +
             " bytes)";
    throw Error(code, msg, m.key);
  }
  return false;
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
  if (map_array_bytes(m, 0, h.byte_length, mode, false, &out)) return out;
  if (h.byte_length > SIZE_MAX) throw Error(Code::NpzLimit, "array too large to copy", m.key);
  const size_t n = static_cast<size_t>(h.byte_length);
  if (z.method == 0 && file_ && n >= detail::kParallelCopyMin && opts_.threads >= 2) {
    if (file_->current_size() < file_->size())
      throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened", m.key);
    out.owned.resize(n);
    const uint32_t crc = detail::copy_stored_parallel(
        *src_, file_, z, h.data_offset, out.owned.data(), n, dt.big_endian ? cs : 0,
        detail::split_parts(opts_.threads, n, detail::kParallelCopyMin));
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
  if (kind_ == Kind::Npz && worth_parallel(z)) {
    const unsigned threads = inflate_threads(opts_.threads);
    uint32_t crc = 0;
    if (threads >= 2 &&
        copy_deflated_parallel(*src_, z, threads, h.data_offset, n, &out.owned, &crc)) {
      if (dt.big_endian) swap_units(out.owned.data(), out.owned.size(), cs);
      out.data = out.owned.data();
      out.crc_verified = true;
      return out;
    }
    out.owned = ByteBuffer();  // not finished in parallel: decode serially from the start
  }
  MemberStream ms(*src_, z);
  ms.set_verify_crc(kind_ == Kind::Npz);
  ms.skip(h.data_offset);
  if (z.method == 0) {
    // Chunked, so the CRC of each chunk is computed while it is still in cache (one pass over
    // memory instead of a copy followed by a separate CRC pass).
    out.owned.resize(n);
    for (size_t have = 0; have < n;) {
      const size_t k = std::min<size_t>(n - have, detail::kScanChunk);
      ms.read_exact(out.owned.data() + have, k);
      have += k;
    }
  } else {
    detail::read_growing(ms, out.owned, n);
  }
  uint8_t scratch[4096];
  while (ms.read(scratch, sizeof scratch) != 0) {}
  if (dt.big_endian) swap_units(out.owned.data(), out.owned.size(), cs);
  out.data = out.owned.data();
  out.crc_verified = kind_ == Kind::Npz;
  return out;
}

void Archive::read_array_into(size_t index, uint8_t* dst, size_t n) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  if (!dt.supported || dt.is_object)
    throw Error(
        Code::NpyUnsupportedDtype,
        "member '" + m.key + "' has dtype '" + dt.descr + "', which cannot be read as an array",
        m.key);
  if (n != h.byte_length)
    throw Error(Code::NpzLimit,
                "member '" + m.key + "' holds " + std::to_string(h.byte_length) +
                    " array bytes, not the " + std::to_string(n) + " of the destination",
                m.key);
  try {
    charge_inflate(m);
    const unsigned threads = inflate_threads(opts_.threads);
    uint32_t crc = 0;
    if (kind_ == Kind::Npz && threads >= 2 && worth_parallel(m.entry) &&
        decode_deflated_parallel(*src_, m.entry, threads, h.data_offset, dst, n, &crc)) {
      const uint32_t unit = dt.component_size ? dt.component_size : 1;
      if (dt.big_endian && unit > 1) swap_units(dst, n, unit);
      return;
    }
    MemberStream ms(*src_, m.entry);
    ms.set_verify_crc(kind_ == Kind::Npz);
    ms.skip(h.data_offset);
    ms.read_exact(dst, n);
    uint8_t rest[4096];
    while (ms.read(rest, sizeof rest) != 0) {}
    const uint32_t unit = dt.component_size ? dt.component_size : 1;
    if (dt.big_endian && unit > 1) swap_units(dst, n, unit);
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
}

std::vector<uint8_t> Archive::object_payload(const Member& m) const {
  const ZipEntry& z = m.entry;
  if (z.usize > opts_.max_object_member)
    throw Error(Code::NpzLimit, "object member '" + m.key + "' is " + std::to_string(z.usize) +
                                    " bytes, over the limit of " +
                                    std::to_string(opts_.max_object_member));
  charge_inflate(m);
  std::vector<uint8_t> all(static_cast<size_t>(z.usize));
  MemberStream ms(*src_, z);
  ms.set_verify_crc(kind_ == Kind::Npz);
  ms.read_exact(all.data(), all.size());
  uint8_t probe[1];
  while (ms.read(probe, sizeof probe) != 0) {}
  const size_t off = static_cast<size_t>(m.header->data_offset);
  if (off > all.size())
    throw Error(Code::NpyTruncated, "object member '" + m.key + "' ends inside its header");
  all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(off));
  return all;
}

PlainValue Archive::read_plain_value(size_t index) const {
  const Member& m = npy_member(index);
  if (!m.header->dtype.is_object)
    throw Error(Code::NpyUnsupportedDtype, "member '" + m.key + "' is not an object ('|O') array");
  try {
    const std::vector<uint8_t> pickle = object_payload(m);
    return walk_object_value(pickle.data(), pickle.size(), m.header->shape, opts_.pickle);
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
}

ObjectStrings Archive::read_strings(size_t index) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  try {
    if (dt.is_object) {
      const std::vector<uint8_t> pickle = object_payload(m);
      return walk_object_pickle(pickle.data(), pickle.size(), h.shape, opts_.pickle);
    }
    if (dt.supported && (dt.kind == 'U' || dt.kind == 'S')) {
      if (h.byte_length > opts_.max_object_member)
        throw Error(Code::NpzLimit,
                    "string member '" + m.key + "' is " + std::to_string(h.byte_length) +
                        " bytes, over the limit of " + std::to_string(opts_.max_object_member));
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

}  // namespace npz
