// Test-only helpers: a tiny ZIP writer with knobs for every malformation the index reader must
// catch, an NPY v1.0 byte builder, and temp-dir/file utilities. Header-only, used by the
// test_*.cc files (not part of the core).
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ztest {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
inline void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void set32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void append(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }
inline void append(Bytes& b, const std::string& x) { b.insert(b.end(), x.begin(), x.end()); }

inline uint32_t crc(const Bytes& d) {
  return static_cast<uint32_t>(::crc32(0, d.data(), static_cast<uInt>(d.size())));
}

// Raw DEFLATE (no zlib header) by zlib itself: the reference encoder of the C++ tests.
inline Bytes deflate_raw(const Bytes& in, int level = 6, int strategy = Z_DEFAULT_STRATEGY,
                         int mem_level = 8) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  deflateInit2(&zs, level, Z_DEFLATED, -15, mem_level, strategy);
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct Member {
  Member() = default;
  Member(std::string n, Bytes d, uint16_t m = 0)
      : name(std::move(n)), data(std::move(d)), method(m) {}
  std::string name;
  Bytes data;           // uncompressed member bytes
  uint16_t method = 0;  // 0 or 8 (compressed with zlib); others: data stored as-is
  uint16_t flags = 0;
  bool numpy_local = true;        // LFH like current NumPy: sizes 0xFFFFFFFF + 20-byte zip64 extra
  bool cd_zip64 = false;          // CD: all three fields 0xFFFFFFFF, values in a zip64 extra
  bool cd_zip64_missing = false;  // CD: usize 0xFFFFFFFF but no extra
  int descriptor = 0;  // 0 none; 1 sig+64-bit; 2 no sig, 32-bit; 3 sig+64-bit, wrong usize
  std::optional<uint32_t> cd_crc;
  std::optional<uint64_t> cd_csize, cd_usize;
  std::optional<std::string> local_name;
  std::optional<uint16_t> local_method;
  std::optional<uint32_t> local_sig;
  std::optional<uint64_t> cd_offset_override;  // LFH offset written into the CD
  uint16_t local_extra_pad = 0;                // extra bytes of padding in the LFH extra
};

struct Options {
  std::string comment;
  bool zip64_eocd = false;
  std::optional<uint64_t> eocd_entries;     // override the declared count
  std::optional<uint32_t> cd_offset_delta;  // add to the declared CD offset
  bool bad_cd_sig = false;
  Bytes prefix;  // bytes prepended to the archive
};

struct Built {
  Bytes bytes;
  std::vector<uint64_t> lfh;   // offsets (relative to archive start incl. prefix)
  std::vector<uint64_t> data;  // member data offsets
  uint64_t cd_offset = 0;
};

inline Built build_zip(const std::vector<Member>& ms, const Options& o = {}) {
  Built r;
  Bytes& b = r.bytes;
  b = o.prefix;
  struct Cd {
    uint32_t crc;
    uint64_t cs, us, off;
  };
  std::vector<Cd> cds;
  for (const auto& m : ms) {
    Bytes payload = m.method == 8 ? deflate_raw(m.data) : m.data;
    const uint32_t c = crc(m.data);
    const uint64_t off = b.size();
    r.lfh.push_back(off);
    const bool dd = m.descriptor != 0;
    put32(b, m.local_sig.value_or(0x04034b50));
    put16(b, 45);
    put16(b, m.flags | (dd ? 8u : 0u));
    put16(b, m.local_method.value_or(m.method));
    put16(b, 0);
    put16(b, 0x21);
    put32(b, dd ? 0 : c);
    const std::string lname = m.local_name.value_or(m.name);
    if (m.numpy_local) {
      put32(b, 0xFFFFFFFFu);
      put32(b, 0xFFFFFFFFu);
    } else {
      put32(b, dd ? 0 : static_cast<uint32_t>(payload.size()));
      put32(b, dd ? 0 : static_cast<uint32_t>(m.data.size()));
    }
    put16(b, static_cast<uint32_t>(lname.size()));
    const uint16_t extra = static_cast<uint16_t>((m.numpy_local ? 20 : 0) +
                                                 (m.local_extra_pad ? 4 + m.local_extra_pad : 0));
    put16(b, extra);
    append(b, lname);
    if (m.numpy_local) {
      put16(b, 1);
      put16(b, 16);
      put64(b, dd ? 0 : m.data.size());
      put64(b, dd ? 0 : payload.size());
    }
    if (m.local_extra_pad) {
      put16(b, 0xD935);
      put16(b, m.local_extra_pad);
      for (int i = 0; i < m.local_extra_pad; ++i) b.push_back(0);
    }
    r.data.push_back(b.size());
    append(b, payload);
    if (m.descriptor == 1 || m.descriptor == 3) {
      put32(b, 0x08074b50);
      put32(b, c);
      put64(b, payload.size());
      put64(b, m.data.size() + (m.descriptor == 3 ? 1 : 0));
    } else if (m.descriptor == 2) {
      put32(b, c);
      put32(b, static_cast<uint32_t>(payload.size()));
      put32(b, static_cast<uint32_t>(m.data.size()));
    }
    cds.push_back({m.cd_crc.value_or(c), m.cd_csize.value_or(payload.size()),
                   m.cd_usize.value_or(m.data.size()), m.cd_offset_override.value_or(off)});
  }
  const uint64_t cd_off = b.size();
  r.cd_offset = cd_off;
  for (size_t i = 0; i < ms.size(); ++i) {
    const auto& m = ms[i];
    const auto& c = cds[i];
    put32(b, o.bad_cd_sig ? 0x02014b51 : 0x02014b50);
    put16(b, 45);
    put16(b, 45);
    put16(b, m.flags | (m.descriptor ? 8u : 0u));
    put16(b, m.method);
    put16(b, 0);
    put16(b, 0x21);
    put32(b, c.crc);
    if (m.cd_zip64) {
      put32(b, 0xFFFFFFFFu);
      put32(b, 0xFFFFFFFFu);
    } else if (m.cd_zip64_missing) {
      put32(b, static_cast<uint32_t>(c.cs));
      put32(b, 0xFFFFFFFFu);
    } else {
      put32(b, static_cast<uint32_t>(c.cs));
      put32(b, static_cast<uint32_t>(c.us));
    }
    put16(b, static_cast<uint32_t>(m.name.size()));
    put16(b, m.cd_zip64 ? 28 : 0);
    put16(b, 0);
    put16(b, 0);
    put16(b, 0);
    put32(b, 0);
    put32(b, m.cd_zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(c.off));
    append(b, m.name);
    if (m.cd_zip64) {
      put16(b, 1);
      put16(b, 24);
      put64(b, c.us);
      put64(b, c.cs);
      put64(b, c.off);
    }
  }
  const uint64_t cd_size = b.size() - cd_off;
  const uint64_t n = o.eocd_entries.value_or(ms.size());
  const uint64_t decl_off = cd_off + o.cd_offset_delta.value_or(0);
  if (o.zip64_eocd) {
    const uint64_t rec = b.size();
    put32(b, 0x06064b50);
    put64(b, 44);
    put16(b, 45);
    put16(b, 45);
    put32(b, 0);
    put32(b, 0);
    put64(b, n);
    put64(b, n);
    put64(b, cd_size);
    put64(b, decl_off);
    put32(b, 0x07064b50);
    put32(b, 0);
    put64(b, rec);
    put32(b, 1);
  }
  put32(b, 0x06054b50);
  put16(b, 0);
  put16(b, 0);
  put16(b, o.zip64_eocd ? 0xFFFF : static_cast<uint32_t>(n));
  put16(b, o.zip64_eocd ? 0xFFFF : static_cast<uint32_t>(n));
  put32(b, o.zip64_eocd ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_size));
  put32(b, o.zip64_eocd ? 0xFFFFFFFFu : static_cast<uint32_t>(decl_off));
  put16(b, static_cast<uint32_t>(o.comment.size()));
  append(b, o.comment);
  return r;
}

// NPY v1.0 bytes: magic, header dict padded with spaces + '\n' to a multiple of 64, data.
inline Bytes npy(const std::string& descr, const std::string& shape, const Bytes& data,
                 bool fortran = false) {
  // A structured descr is a list literal, written unquoted.
  const std::string d = !descr.empty() && descr[0] == '[' ? descr : "'" + descr + "'";
  std::string dict = "{'descr': " + d + ", 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  size_t total = 10 + dict.size() + 1;
  const size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  put16(b, static_cast<uint32_t>(dict.size()));
  append(b, dict);
  append(b, data);
  return b;
}

template <typename T>
Bytes raw(const std::vector<T>& v) {
  Bytes b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A fresh temp directory (removed by the caller via remove_tree when wanted).
inline std::string temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/npzguard-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const char* d = ::mkdtemp(buf.data());
  return d ? std::string(d) : std::string();
}

inline bool write_file(const std::string& path, const Bytes& b) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < b.size()) {
    const ssize_t w = ::write(fd, b.data() + done, b.size() - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  ::close(fd);
  return done == b.size();
}

inline void remove_tree(const std::string& dir) {
  if (dir.empty()) return;
  const std::string cmd = "rm -rf '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) {}
}

}  // namespace ztest
