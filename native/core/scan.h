// Value statistics for one array, computed in one streaming pass (data-001.md §6.6):
// per component (real; or real and imaginary for complex) counts of NaN/+Inf/-Inf, negatives
// (-0.0 is not negative), zeros, finite count, min/max over finite values, sum and sum of
// squares over finite values; for complex also sum |z|^2. Bool: count of bytes other than 0/1.
// Handles any alignment and elements split across chunk boundaries. Not thread-safe per object.
// Optionally (a row length given) it also tallies the rows of the first axis in the same pass:
// rows whose every value is zero, and NaN/Inf and negative counts per row (issue 13: findings
// that name frames, data-001.md §6.6 per-frame zero-energy count). Rows are cut at exact
// element boundaries; a scanner may start at any row (first_row) so a range scan of rows
// [r, ...) merges with the one before it (merge_row_tallies) without partial rows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
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

// Rows holding some property, and the first kRowListMax of them with their count.
constexpr size_t kRowListMax = 8;
struct RowTally {
  uint64_t rows = 0;    // rows affected
  uint64_t values = 0;  // values counted over those rows (component values for complex)
  std::vector<std::pair<uint64_t, uint64_t>> first;  // (row, count), ascending, <= kRowListMax
};

struct RowTallies {
  uint64_t row_elements = 0;  // elements per row
  uint64_t first_row = 0;     // index of the first row this tally covers
  uint64_t rows = 0;          // rows seen in full
  RowTally zero;              // rows whose every value (every component) is zero
  RowTally nonfinite;         // NaN/+-Inf values per row (per component for complex)
  RowTally negative;          // values < 0 per row
};

// Appends b (the rows right after a's) to a: a.first_row + a.rows must equal b.first_row.
void merge_row_tallies(RowTallies& a, const RowTallies& b);

// The row length Archive::scan tallies for an array: the product of shape[1:] for a C-order
// array of rank >= 2 whose rows hold at least kMinRowTallyElements values (smaller rows would
// cut the kernels into short runs); 0 (no tally) otherwise.
constexpr uint64_t kMinRowTallyElements = 64;
uint64_t row_tally_elements(const NpyHeader& h);

struct ScanStats {
  std::vector<ComponentStats> components;  // 1, or 2 for complex (re, im)
  double sum_abs2 = 0;                     // complex: sum over finite elements of re^2+im^2
  uint64_t bad_bool = 0;                   // b1 bytes other than 0/1
  uint64_t elements = 0;
  std::optional<RowTallies> rows;  // set when the Scanner was given a row length
};

class Scanner {
 public:
  // dtype must be numeric or bool (throws otherwise). row_elements > 0: tally rows of that many
  // elements, the first fed element being the start of row first_row.
  explicit Scanner(const DType& dtype, uint64_t row_elements = 0, uint64_t first_row = 0);
  void feed(const uint8_t* p, size_t n);
  ScanStats finish();  // throws ERR_NPY_TRUNCATED on a partial element

 private:
  DType dtype_;
  ScanStats stats_;
  uint8_t carry_[16];
  size_t carry_len_ = 0;
  // Row being filled: elements seen, and its zero / non-finite / negative component counts.
  uint64_t row_pos_ = 0, row_zero_ = 0, row_nonfinite_ = 0, row_negative_ = 0;
  void feed_aligned(const uint8_t* p, size_t nelem);
  void close_row();
};

}  // namespace npz
