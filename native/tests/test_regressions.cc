// Fuzz regressions: every input kept in native/tests/fuzz-regressions/<target>/ (crashes found
// by native/tests/run-fuzz.sh, plus hand-made boundary inputs named "hand-*") is run through
// the same core entry points, with the same invariants, as the libFuzzer target <target>.
// Under the ctest ASan/UBSan build a regression shows as a sanitizer report or a failed
// expectation. Every hand-broken file of test/fixtures/corrupt also goes through all four.
// The bodies come from fuzz_bodies.h, which the fuzz_*.cc targets include too.
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
#include "fuzz_bodies.h"
#include "harness.h"
#include "npy_header.h"
#include "pickle_walker.h"
#include "source.h"
#include "zip_index.h"

namespace {

using Bytes = std::vector<uint8_t>;

// ---- the fuzz targets' bodies (fuzz_bodies.h); a broken invariant is an expectation failure ----

void expect_invariant(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "  FAIL fuzz invariant: %s\n", what);
    ++npztest::failures;
  }
}

void fuzz_archive_scan(const Bytes& in) {
  npzfuzz::archive_scan(in.data(), in.size(), expect_invariant);
}
void fuzz_npy_header(const Bytes& in) {
  npzfuzz::npy_header(in.data(), in.size(), expect_invariant);
}
void fuzz_pickle(const Bytes& in) { npzfuzz::pickle(in.data(), in.size(), expect_invariant); }
void fuzz_zip_index(const Bytes& in) { npzfuzz::zip_index(in.data(), in.size(), expect_invariant); }

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
    if (f.size() < 4 ||
        (f.compare(f.size() - 4, 4, ".npz") != 0 && f.compare(f.size() - 4, 4, ".npy") != 0))
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
