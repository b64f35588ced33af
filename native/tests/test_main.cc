// Runs every NPZ_TEST registered by the test_*.cc files. argv[1]: the test/fixtures directory.
#include <cstdio>
#include <exception>

#include "harness.h"

namespace npztest {
std::vector<Case>& registry() { static std::vector<Case> r; return r; }
int failures = 0;
std::string fixtures_dir = "test/fixtures";
}  // namespace npztest

int main(int argc, char** argv) {
  if (argc > 1) npztest::fixtures_dir = argv[1];
  int passed = 0, failed = 0;
  for (auto& c : npztest::registry()) {
    int before = npztest::failures;
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  FAIL %s: unexpected exception: %s\n", c.name, e.what());
      ++npztest::failures;
    }
    if (npztest::failures == before) { ++passed; std::printf("ok   %s\n", c.name); }
    else { ++failed; std::printf("FAIL %s\n", c.name); }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
