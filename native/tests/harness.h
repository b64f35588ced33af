// Minimal self-registering test harness for the core's C++ tests (no external framework):
//   NPZ_TEST(name) { NPZ_EXPECT(cond); NPZ_EXPECT_CODE(expr, npz::Code::X); }
// test_main.cc runs every registered test; exit status 1 when any expectation failed.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "errors.h"

namespace npztest {
struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& registry();
extern int failures;
extern std::string fixtures_dir;
struct Reg {
  Reg(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); }
};
}  // namespace npztest

#define NPZ_TEST(name)                                        \
  static void npz_test_##name();                              \
  static npztest::Reg npz_reg_##name(#name, npz_test_##name); \
  static void npz_test_##name()

#define NPZ_EXPECT(cond)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++npztest::failures;                                                   \
    }                                                                        \
  } while (0)

#define NPZ_EXPECT_CODE(expr, want)                                                           \
  do {                                                                                        \
    bool threw_ = false;                                                                      \
    try {                                                                                     \
      (void)(expr);                                                                           \
    } catch (const npz::Error& e_) {                                                          \
      threw_ = true;                                                                          \
      if (e_.code() != (want)) {                                                              \
        std::fprintf(stderr, "  FAIL %s:%d: %s threw %s (%s), want %s\n", __FILE__, __LINE__, \
                     #expr, npz::code_name(e_.code()), e_.what(), npz::code_name(want));      \
        ++npztest::failures;                                                                  \
      }                                                                                       \
    }                                                                                         \
    if (!threw_) {                                                                            \
      std::fprintf(stderr, "  FAIL %s:%d: %s did not throw %s\n", __FILE__, __LINE__, #expr,  \
                   npz::code_name(want));                                                     \
      ++npztest::failures;                                                                    \
    }                                                                                         \
  } while (0)
