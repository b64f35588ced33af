// ZIP central-directory reader (npy-npz-format.md §5.2-5.3, checklist rows 1-18).
// Every size and offset read from the file is untrusted: ranges are checked with overflow-safe
// arithmetic before anything is read or allocated from them.
#include "zip_index.h"
#include "utf8.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "errors.h"

namespace npz {

namespace {

constexpr uint32_t kSigLocal = 0x04034b50;
constexpr uint32_t kSigCentral = 0x02014b50;
constexpr uint32_t kSigEocd = 0x06054b50;
constexpr uint32_t kSigZip64Eocd = 0x06064b50;
constexpr uint32_t kSigZip64Locator = 0x07064b50;
constexpr uint32_t kSigDescriptor = 0x08074b50;
constexpr size_t kEocdLen = 22;
constexpr size_t kMaxComment = 65535;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const uint8_t* p) {
  return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}

// a + b, or throw ERR_NPZ_CORRUPT on overflow.
uint64_t add(uint64_t a, uint64_t b, const char* what) {
  if (a > UINT64_MAX - b) throw Error(Code::NpzCorrupt, std::string(what) + " overflows 64 bits");
  return a + b;
}

std::string quoted(const std::string& name) {
  std::string out = "'";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

bool valid_utf8(const std::string& s) {
  return npz::valid_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void check_name(const std::string& name, uint16_t flags) {
  auto bad = [&](const char* why) {
    throw Error(Code::NpzBadName, "member name " + quoted(name) + " " + why, name);
  };
  if (name.empty()) bad("is empty");
  if (name.find('\0') != std::string::npos) bad("contains a NUL byte");
  if (name.find('\\') != std::string::npos) bad("contains a backslash");
  if (name[0] == '/') bad("is absolute");
  if (name.size() >= 2 && name[1] == ':' &&
      ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
    bad("starts with a drive letter");
  if (name.back() == '/') bad("is a directory (ends with '/')");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    if (slash - start == 2 && name.compare(start, 2, "..") == 0) bad("has a '..' segment");
    start = slash + 1;
  }
  bool ascii = true;
  for (unsigned char c : name) {
    if (c >= 0x80) ascii = false;
  }
  if (!ascii) {
    if (!(flags & (1u << 11))) bad("is not ASCII and the UTF-8 flag (bit 11) is not set");
    if (!valid_utf8(name)) bad("is not valid UTF-8");
  }
  if (member_key(name).empty()) bad("has an empty key after removing '.npy'");
}

struct Range {
  uint64_t begin, end;
  size_t index;
};

}  // namespace

std::string member_key(const std::string& name) {
  if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".npy") == 0)
    return name.substr(0, name.size() - 4);
  return name;
}

std::vector<ZipEntry> read_zip_index(const Source& src, const ZipLimits& limits) {
  const uint64_t fsize = src.size();
  if (fsize < kEocdLen) {
    throw Error(Code::NpzNotZip, "file is " + std::to_string(fsize) +
                                     " bytes, shorter than a ZIP end-of-central-directory record");
  }

  // 1. EOCD: the last signature whose comment ends exactly at EOF.
  const size_t tail_len = static_cast<size_t>(std::min<uint64_t>(fsize, kEocdLen + kMaxComment));
  const uint64_t tail_off = fsize - tail_len;
  std::vector<uint8_t> tail(tail_len);
  src.read(tail_off, tail.data(), tail_len);
  size_t eocd_rel = SIZE_MAX;
  bool saw_sig = false;
  for (size_t i = tail_len - kEocdLen + 1; i-- > 0;) {
    if (le32(&tail[i]) != kSigEocd) continue;
    saw_sig = true;
    if (i + kEocdLen + le16(&tail[i + 20]) == tail_len) {
      eocd_rel = i;
      break;
    }
  }
  if (eocd_rel == SIZE_MAX) {
    if (saw_sig)
      throw Error(Code::NpzCorrupt, "end-of-central-directory comment does not end at end of file");
    throw Error(Code::NpzNotZip, "no ZIP end-of-central-directory record in the last " +
                                     std::to_string(tail_len) + " bytes");
  }
  const uint64_t eocd_off = tail_off + eocd_rel;
  const uint8_t* e = &tail[eocd_rel];
  uint64_t disk = le16(e + 4), cd_disk = le16(e + 6);
  uint64_t entries_disk = le16(e + 8), entries = le16(e + 10);
  uint64_t cd_size = le32(e + 12), cd_off = le32(e + 16);
  uint64_t cd_end_limit = eocd_off;  // the CD must end exactly here (or at the zip64 record)

  // 2. zip64: detected by the locator, whose values then win over the (clamped) classic ones.
  if (eocd_off >= 20) {
    uint8_t loc[20];
    src.read(eocd_off - 20, loc, 20);
    if (le32(loc) == kSigZip64Locator) {
      const uint32_t loc_disk = le32(loc + 4);
      const uint64_t rec_off = le64(loc + 8);
      const uint32_t total_disks = le32(loc + 16);
      if (loc_disk != 0 || total_disks > 1)
        throw Error(Code::NpzCorrupt, "zip64 locator names a multi-disk archive");
      if (rec_off > eocd_off - 20 || eocd_off - 20 - rec_off < 56)
        throw Error(Code::NpzCorrupt, "zip64 end-of-central-directory record offset " +
                                          std::to_string(rec_off) + " is outside the file");
      uint8_t rec[56];
      src.read(rec_off, rec, 56);
      if (le32(rec) != kSigZip64Eocd)
        throw Error(Code::NpzCorrupt, "bad zip64 end-of-central-directory signature");
      const uint64_t rec_size = le64(rec + 4);
      if (rec_size < 44 ||
          add(add(rec_off, 12, "zip64 record"), rec_size, "zip64 record") > eocd_off - 20)
        throw Error(Code::NpzCorrupt, "zip64 end-of-central-directory record has a bad size");
      disk = le32(rec + 16);
      cd_disk = le32(rec + 20);
      entries_disk = le64(rec + 24);
      entries = le64(rec + 32);
      cd_size = le64(rec + 40);
      cd_off = le64(rec + 48);
      cd_end_limit = rec_off;
    }
  }
  if (disk != 0 || cd_disk != 0 || entries_disk != entries)
    throw Error(Code::NpzCorrupt, "multi-disk ZIP archives are not supported (disk fields " +
                                      std::to_string(disk) + "/" + std::to_string(cd_disk) + ")");
  if (entries > limits.max_entries)
    throw Error(Code::NpzLimit, "archive declares " + std::to_string(entries) +
                                    " entries, more than the limit of " +
                                    std::to_string(limits.max_entries));
  // Strict: the CD ends where the EOCD (or zip64 record) starts; prepended data is refused.
  if (add(cd_off, cd_size, "central directory range") != cd_end_limit)
    throw Error(Code::NpzCorrupt, "central directory [" + std::to_string(cd_off) + ", +" +
                                      std::to_string(cd_size) + ") does not end at offset " +
                                      std::to_string(cd_end_limit));
  if (cd_size / 46 < entries)
    throw Error(Code::NpzCorrupt, "central directory of " + std::to_string(cd_size) +
                                      " bytes cannot hold " + std::to_string(entries) + " entries");
  const uint64_t cd_cap = entries * (46u + uint64_t{limits.max_name_len} + 2u * 65535u);
  if (cd_size > cd_cap)
    throw Error(Code::NpzCorrupt, "central directory is " + std::to_string(cd_size) +
                                      " bytes, too large for " + std::to_string(entries) +
                                      " entries");

  std::vector<uint8_t> cd(static_cast<size_t>(cd_size));
  if (cd_size) src.read(cd_off, cd.data(), cd.size());

  // 3. central records.
  std::vector<ZipEntry> out;
  out.reserve(static_cast<size_t>(entries));
  size_t pos = 0;
  for (uint64_t k = 0; k < entries; ++k) {
    if (cd.size() - pos < 46 || le32(&cd[pos]) != kSigCentral)
      throw Error(Code::NpzCorrupt, "central directory record " + std::to_string(k) +
                                        " has a bad signature or is truncated");
    const uint8_t* r = &cd[pos];
    ZipEntry z;
    z.flags = le16(r + 8);
    z.method = le16(r + 10);
    z.crc32 = le32(r + 16);
    const uint32_t csize32 = le32(r + 20), usize32 = le32(r + 24);
    const uint16_t name_len = le16(r + 28), extra_len = le16(r + 30), comment_len = le16(r + 32);
    const uint16_t disk_start16 = le16(r + 34);
    const uint32_t lfh32 = le32(r + 42);
    if (name_len > limits.max_name_len)
      throw Error(Code::NpzLimit, "member name of " + std::to_string(name_len) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(limits.max_name_len));
    const size_t rec_len = 46u + name_len + extra_len + comment_len;
    if (cd.size() - pos < rec_len)
      throw Error(Code::NpzCorrupt, "central directory record " + std::to_string(k) +
                                        " runs past the end of the central directory");
    z.name.assign(reinterpret_cast<const char*>(r + 46), name_len);
    z.csize = csize32;
    z.usize = usize32;
    z.lfh_offset = lfh32;
    uint64_t disk_start = disk_start16;

    // zip64 extra: exactly the fields whose 32-bit slot is saturated, in fixed order.
    const uint8_t* ex = r + 46 + name_len;
    size_t ep = 0;
    const uint8_t* z64 = nullptr;
    size_t z64_len = 0;
    while (ep < extra_len) {
      if (extra_len - ep < 4)
        throw Error(Code::NpzCorrupt, "extra field of " + quoted(z.name) + " is malformed", z.name);
      const uint16_t id = le16(ex + ep), len = le16(ex + ep + 2);
      if (extra_len - ep - 4 < len)
        throw Error(Code::NpzCorrupt, "extra field of " + quoted(z.name) + " is malformed", z.name);
      if (id == 0x0001 && !z64) {
        z64 = ex + ep + 4;
        z64_len = len;
      }
      ep += 4u + len;
    }
    size_t zp = 0;
    auto take64 = [&](const char* what) -> uint64_t {
      if (!z64 || z64_len - zp < 8)
        throw Error(Code::NpzCorrupt,
                    std::string(what) + " of " + quoted(z.name) +
                        " is 0xFFFFFFFF but the zip64 extra does not hold it",
                    z.name);
      const uint64_t v = le64(z64 + zp);
      zp += 8;
      return v;
    };
    if (usize32 == 0xFFFFFFFFu) z.usize = take64("uncompressed size");
    if (csize32 == 0xFFFFFFFFu) z.csize = take64("compressed size");
    if (lfh32 == 0xFFFFFFFFu) z.lfh_offset = take64("local header offset");
    if (disk_start16 == 0xFFFFu) {
      if (!z64 || z64_len - zp < 4)
        throw Error(
            Code::NpzCorrupt,
            "disk number of " + quoted(z.name) + " is 0xFFFF but the zip64 extra does not hold it",
            z.name);
      disk_start = le32(z64 + zp);
      zp += 4;
    }
    if (disk_start != 0)
      throw Error(Code::NpzCorrupt,
                  "member " + quoted(z.name) + " starts on disk " + std::to_string(disk_start),
                  z.name);
    pos += rec_len;

    check_name(z.name, z.flags);
    if (z.flags & 0x41u)
      throw Error(Code::NpzEncrypted, "member " + quoted(z.name) + " is encrypted", z.name);
    if (z.method != 0 && z.method != 8)
      throw Error(Code::NpzUnsupportedMethod,
                  "member " + quoted(z.name) + " uses compression method " +
                      std::to_string(z.method) + "; only 0 (stored) and 8 (deflate) are supported",
                  z.name);
    if (z.method == 0 && z.csize != z.usize)
      throw Error(Code::NpzSizeMismatch,
                  "stored member " + quoted(z.name) + " has compressed size " +
                      std::to_string(z.csize) + " != uncompressed size " + std::to_string(z.usize),
                  z.name);
    if (z.method == 8 && z.csize <= (UINT64_MAX - 1024) / 1032 && z.usize > 1032 * z.csize + 1024)
      throw Error(Code::NpzSizeMismatch,
                  "deflated member " + quoted(z.name) + " claims " + std::to_string(z.usize) +
                      " bytes from " + std::to_string(z.csize) +
                      " compressed (beyond DEFLATE's 1032:1 limit)",
                  z.name);
    z.has_data_descriptor = (z.flags & 0x08u) != 0;
    out.push_back(std::move(z));
  }
  if (pos != cd.size())
    throw Error(Code::NpzCorrupt, "central directory holds " + std::to_string(cd.size() - pos) +
                                      " bytes beyond the declared " + std::to_string(entries) +
                                      " entries");

  // Duplicates (including "x" next to "x.npy": both have key "x").
  {
    std::unordered_map<std::string, size_t> seen;
    seen.reserve(out.size() * 2);
    for (size_t i = 0; i < out.size(); ++i) {
      auto ins = seen.emplace(member_key(out[i].name), i);
      if (!ins.second)
        throw Error(Code::NpzDuplicateMember,
                    "members " + quoted(out[ins.first->second].name) + " and " +
                        quoted(out[i].name) + " have the same key",
                    out[i].name);
    }
  }

  // 4. local headers: re-read, cross-check, data offset from the LOCAL lengths.
  std::vector<Range> ranges;
  ranges.reserve(out.size());
  std::vector<uint8_t> lname;
  for (size_t i = 0; i < out.size(); ++i) {
    ZipEntry& z = out[i];
    if (z.lfh_offset > cd_off || cd_off - z.lfh_offset < 30)
      throw Error(Code::NpzCorrupt,
                  "local header of " + quoted(z.name) + " at offset " +
                      std::to_string(z.lfh_offset) + " is not before the central directory",
                  z.name);
    uint8_t h[30];
    src.read(z.lfh_offset, h, 30);
    if (le32(h) != kSigLocal)
      throw Error(Code::NpzCorrupt,
                  "no local file header signature at offset " + std::to_string(z.lfh_offset) +
                      " for " + quoted(z.name),
                  z.name);
    const uint16_t lflags = le16(h + 6), lmethod = le16(h + 8);
    const uint16_t lname_len = le16(h + 26), lextra_len = le16(h + 28);
    if (lmethod != z.method)
      throw Error(Code::NpzCorrupt,
                  "local header of " + quoted(z.name) + " says method " + std::to_string(lmethod) +
                      ", central directory says " + std::to_string(z.method),
                  z.name);
    if (lflags & 0x41u)
      throw Error(Code::NpzEncrypted, "member " + quoted(z.name) + " is encrypted", z.name);
    if (lname_len != z.name.size())
      throw Error(
          Code::NpzCorrupt,
          "local header name length of " + quoted(z.name) + " differs from the central directory",
          z.name);
    const uint64_t name_off = z.lfh_offset + 30;
    z.data_offset = add(add(name_off, lname_len, "local header"), lextra_len, "local header");
    if (z.data_offset > cd_off)
      throw Error(Code::NpzCorrupt,
                  "local header of " + quoted(z.name) + " runs into the central directory", z.name);
    lname.resize(lname_len);
    if (lname_len) src.read(name_off, lname.data(), lname_len);
    if (lname_len && std::memcmp(lname.data(), z.name.data(), lname_len) != 0)
      throw Error(Code::NpzCorrupt,
                  "file name in directory " + quoted(z.name) + " and local header differ", z.name);
    const uint64_t data_end = add(z.data_offset, z.csize, "member data range");
    if (data_end > cd_off)
      throw Error(Code::NpzCorrupt,
                  "data of " + quoted(z.name) + " [" + std::to_string(z.data_offset) + ", " +
                      std::to_string(data_end) +
                      ") runs into the central directory or past end of file",
                  z.name);
    ranges.push_back({z.lfh_offset, data_end, i});
  }

  // 5. overlaps (CVE-2024-0450 style quoted-overlap bombs) and data descriptors.
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t j = 0; j < ranges.size(); ++j) {
    ZipEntry& z = out[ranges[j].index];
    const uint64_t next = j + 1 < ranges.size() ? ranges[j + 1].begin : cd_off;
    if (j + 1 < ranges.size() && ranges[j].end > next)
      throw Error(Code::NpzOverlap,
                  "members " + quoted(z.name) + " and " + quoted(out[ranges[j + 1].index].name) +
                      " overlap",
                  out[ranges[j + 1].index].name);
    if (!z.has_data_descriptor) continue;
    // Optional descriptor after the data: [sig] crc csize usize, sizes 32 or 64 bits.
    const uint64_t gap = next - ranges[j].end;
    uint8_t d[28] = {};
    const size_t dn = static_cast<size_t>(std::min<uint64_t>(gap, sizeof d));
    if (dn) src.read(ranges[j].end, d, dn);
    size_t base = 0;
    if (dn >= 4 && le32(d) == kSigDescriptor) base = 4;
    else if (!(dn >= 12 && le32(d) == z.crc32)) continue;  // no descriptor present
    bool ok = false;
    if (dn >= base + 12 && le32(d + base) == z.crc32) {
      if (dn >= base + 20 && le64(d + base + 4) == z.csize && le64(d + base + 12) == z.usize)
        ok = true;
      else if (le32(d + base + 4) == z.csize && le32(d + base + 8) == z.usize) ok = true;
    }
    if (!ok)
      throw Error(Code::NpzCorrupt,
                  "data descriptor of " + quoted(z.name) + " disagrees with the central directory",
                  z.name);
  }
  return out;
}

}  // namespace npz
