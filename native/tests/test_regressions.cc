// Fuzz regressions: every input kept in native/tests/fuzz-regressions/<target>/ (crashes found
// by native/tests/run-fuzz.sh, plus hand-made boundary inputs named "hand-*") is run through
// the same core entry points, with the same invariants, as the libFuzzer target <target>.
// Under the ctest ASan/UBSan build a regression shows as a sanitizer report or a failed
// expectation. Every hand-broken file of test/fixtures/corrupt also goes through all four.
// The fuzz_*.cc files cannot be linked here (each defines LLVMFuzzerTestOneInput), so their
// bodies are mirrored below: keep the two in sync when a fuzz target changes.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archive.h"
#include "harness.h"
#include "npy_header.h"
#include "pickle_walker.h"
#include "source.h"
#include "zip_index.h"

namespace {

using Bytes = std::vector<uint8_t>;

// ---- mirrors of the fuzz targets (a broken invariant is an expectation failure) ----

// fuzz_archive_scan.cc
void archive_exercise(const uint8_t* data, size_t size, const char* name) {
  npz::OpenOptions opts;
  opts.zip.max_entries = 64;
  opts.max_object_member = 1u << 20;
  std::unique_ptr<npz::Archive> a;
  try {
    a = npz::Archive::open_source(std::make_unique<npz::MemorySource>(data, size), name, opts);
  } catch (const npz::Error&) {
    return;
  }
  for (size_t i = 0; i < a->members().size(); ++i) {
    const npz::Member& m = a->members()[i];
    try {
      npz::ScanResult r = a->scan(i, {});
      NPZ_EXPECT(r.bytes_read <= m.entry.usize);
    } catch (const npz::Error&) {
    }
    try {
      npz::ArrayBytes b = a->read_array(i, npz::CopyMode::Auto);
      NPZ_EXPECT(!(b.byte_length && !b.data));
    } catch (const npz::Error&) {
    }
    if (m.header && (m.header->dtype.is_object || m.header->dtype.kind == 'U' ||
                     m.header->dtype.kind == 'S')) {
      try {
        npz::ObjectStrings s = a->read_strings(i);
        (void)s;
      } catch (const npz::Error&) {
      }
    }
  }
}

void fuzz_archive_scan(const Bytes& in) {
  archive_exercise(in.data(), in.size(), "fuzz.npz");
  if (in.size() >= 6 && std::memcmp(in.data(), "\x93NUMPY", 6) == 0)
    archive_exercise(in.data(), in.size(), "fuzz.npy");
}

// fuzz_npy_header.cc
void fuzz_npy_header(const Bytes& in) {
  const uint8_t* data = in.data();
  const size_t size = in.size();
  npz::NpyLimits limits;
  if (size > 0 && data[size - 1] == 0xFF) limits.max_header_len = npz::kHardMaxHeaderLen;
  try {
    uint64_t total = npz::npy_header_total_length(data, size, limits);
    npz::NpyHeader h = npz::parse_npy_header(data, size, limits);
    NPZ_EXPECT(h.data_offset == total && h.data_offset <= size);
    NPZ_EXPECT(h.shape.size() <= npz::kMaxNdim);
    NPZ_EXPECT(h.count <= (1ull << 53) && h.byte_length <= (1ull << 53));
    NPZ_EXPECT(h.count == 0 || h.byte_length == h.count * h.dtype.itemsize);
    NPZ_EXPECT(!(h.dtype.supported && (h.dtype.itemsize == 0 || h.dtype.is_object)));
  } catch (const npz::Error&) {
  }
  try {
    std::string_view d(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
    npz::DType t = npz::parse_descr(d);
    NPZ_EXPECT(!(t.supported && !t.reason.empty()));
  } catch (const npz::Error&) {
  }
}

// fuzz_pickle.cc
void fuzz_pickle(const Bytes& in) {
  const uint8_t* data = in.data();
  const size_t size = in.size();
  npz::PickleLimits limits;
  limits.max_opcodes = 1u << 20;
  const uint8_t* p = data;
  size_t n = size;
  std::vector<uint64_t> shape;
  if (size >= 6 && data[0] == 0x93 && data[1] == 'N') {
    try {
      npz::NpyHeader h = npz::parse_npy_header(data, size, npz::NpyLimits{});
      p = data + h.data_offset;
      n = size - static_cast<size_t>(h.data_offset);
      shape = h.shape;
    } catch (const npz::Error&) {
      return;
    }
  }
  try {
    npz::ObjectStrings r = npz::walk_object_pickle(p, n, shape, limits);
    NPZ_EXPECT(r.shape == shape);
    uint64_t count = 1;
    for (uint64_t dim : shape) count *= dim;
    NPZ_EXPECT(r.items.size() == count);
  } catch (const npz::Error&) {
  }
  std::string out;
  (void)npz::ucs4_to_utf8(data, size & ~size_t{3}, size > 0 && (data[0] & 1), &out);
  (void)npz::bytes_to_utf8(data, size, &out);
}

// fuzz_zip_index.cc
void fuzz_zip_index(const Bytes& in) {
  npz::MemorySource src(in.data(), in.size());
  npz::ZipLimits lim;
  lim.max_entries = 256;
  try {
    auto entries = npz::read_zip_index(src, lim);
    for (const auto& e : entries) {
      NPZ_EXPECT(e.data_offset >= e.lfh_offset + 30 && e.data_offset + e.csize <= in.size());
      NPZ_EXPECT(!(e.method == 0 && e.csize != e.usize));
      (void)npz::member_key(e.name);
    }
  } catch (const npz::Error&) {
  }
}

struct Target {
  const char* name;
  void (*run)(const Bytes&);
};
const Target kTargets[] = {
    {"fuzz_archive_scan", fuzz_archive_scan},
    {"fuzz_npy_header", fuzz_npy_header},
    {"fuzz_pickle", fuzz_pickle},
    {"fuzz_zip_index", fuzz_zip_index},
};

// ---- files ----

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> regular_files(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n == "." || n == ".." || n == "README.md") continue;
    const std::string p = dir + "/" + n;
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.push_back(p);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Bytes slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// native/tests/fuzz-regressions: next to this source file when built in-tree, else relative
// to the fixtures directory passed to the test binary (<repo>/test/fixtures).
std::string regressions_dir() {
  std::string here = __FILE__;
  const size_t slash = here.find_last_of('/');
  if (slash != std::string::npos) {
    const std::string d = here.substr(0, slash) + "/fuzz-regressions";
    if (is_dir(d)) return d;
  }
  return npztest::fixtures_dir + "/../../native/tests/fuzz-regressions";
}

}  // namespace

NPZ_TEST(fuzz_regressions_replay) {
  const std::string root = regressions_dir();
  NPZ_EXPECT(is_dir(root));
  size_t total = 0;
  for (const Target& t : kTargets) {
    for (const std::string& f : regular_files(root + "/" + t.name)) {
      const Bytes in = slurp(f);
      try {
        t.run(in);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "  FAIL %s: %s escaped the core: %s\n", t.name, f.c_str(), e.what());
        ++npztest::failures;
      }
      ++total;
    }
  }
  std::printf("     replayed %zu fuzz regression inputs\n", total);
  NPZ_EXPECT(total > 0);
}

NPZ_TEST(fuzz_entry_points_on_corrupt_fixtures) {
  const auto files = regular_files(npztest::fixtures_dir + "/corrupt");
  size_t n = 0;
  for (const std::string& f : files) {
    if (f.size() < 4 || (f.compare(f.size() - 4, 4, ".npz") != 0 &&
                         f.compare(f.size() - 4, 4, ".npy") != 0))
      continue;
    const Bytes in = slurp(f);
    for (const Target& t : kTargets) {
      try {
        t.run(in);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "  FAIL %s: %s escaped the core: %s\n", t.name, f.c_str(), e.what());
        ++npztest::failures;
      }
    }
    ++n;
  }
  NPZ_EXPECT(n > 50);
}
