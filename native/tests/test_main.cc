// Runs every NPZ_TEST registered by the test_*.cc files. argv[1]: the test/fixtures directory.
// NPZ_TEST_FILTER=prefix1,prefix2 runs only the tests whose names start with one of them (the
// arm64 run under qemu uses it to keep to the kernels that differ by architecture). Each line
// says the test's wall time, so a slow test (under qemu-user especially) is visible in the log.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "harness.h"

namespace npztest {
std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
int failures = 0;
std::string fixtures_dir = "test/fixtures";
}  // namespace npztest

int main(int argc, char** argv) {
  if (argc > 1) npztest::fixtures_dir = argv[1];
  int passed = 0, failed = 0;
  const char* filter = std::getenv("NPZ_TEST_FILTER");
  auto selected = [&](const char* name) {
    if (!filter || !*filter) return true;
    std::string f = filter;
    for (size_t at = 0; at <= f.size();) {
      size_t comma = f.find(',', at);
      if (comma == std::string::npos) comma = f.size();
      const std::string p = f.substr(at, comma - at);
      if (!p.empty() && std::strncmp(name, p.c_str(), p.size()) == 0) return true;
      at = comma + 1;
    }
    return false;
  };
  for (auto& c : npztest::registry()) {
    if (!selected(c.name)) continue;
    int before = npztest::failures;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  FAIL %s: unexpected exception: %s\n", c.name, e.what());
      ++npztest::failures;
    }
    const long long ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (npztest::failures == before) {
      ++passed;
      std::printf("ok   %s (%lld ms)\n", c.name, ms);
    } else {
      ++failed;
      std::printf("FAIL %s (%lld ms)\n", c.name, ms);
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
