// Value statistics for one array, computed in one streaming pass (data-001.md §6.6):
// per component (real; or real and imaginary for complex) counts of NaN/+Inf/-Inf, negatives
// (-0.0 is not negative), zeros, finite count, min/max over finite values, sum and sum of
// squares over finite values; for complex also sum |z|^2. Bool: count of bytes other than 0/1.
// Handles any alignment and elements split across chunk boundaries. Not thread-safe per object.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "npy_header.h"

namespace npz {

struct ComponentStats {
  uint64_t count = 0;  // values seen
  uint64_t nan = 0, pos_inf = 0, neg_inf = 0;
  uint64_t negative = 0, zero = 0;
  uint64_t finite = 0;
  double min = 0, max = 0;  // over finite values; meaningful iff finite > 0
  double sum = 0, sum_sq = 0;
};

struct ScanStats {
  std::vector<ComponentStats> components;  // 1, or 2 for complex (re, im)
  double sum_abs2 = 0;                     // complex: sum over finite elements of re^2+im^2
  uint64_t bad_bool = 0;                   // b1 bytes other than 0/1
  uint64_t elements = 0;
};

class Scanner {
 public:
  explicit Scanner(const DType& dtype);  // dtype must be numeric or bool (throws otherwise)
  void feed(const uint8_t* p, size_t n);
  ScanStats finish();  // throws ERR_NPY_TRUNCATED on a partial element

 private:
  DType dtype_;
  ScanStats stats_;
  uint8_t carry_[16];
  size_t carry_len_ = 0;
  void feed_aligned(const uint8_t* p, size_t nelem);
};

}  // namespace npz
