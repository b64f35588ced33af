// Whitelisting walker for the pickle payload of '|O' NPY members (npy-npz-format.md §9.3).
// A symbolic stack machine over a fixed opcode subset; it never executes or imports anything.
// Accepts only numpy's _reconstruct/ndarray/dtype object arrays whose items are str or None.
// Anything else -> ERR_NPY_PICKLE_REFUSED naming the opcode/offset. Pure, thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace npz {

struct PickleLimits {
  uint64_t max_opcodes = 10'000'000;
  size_t max_stack = 64;
  size_t max_memo = 1u << 20;
  size_t max_items = 1u << 20;
  uint64_t max_text = 16u << 20;
};

struct ObjectStrings {
  std::vector<uint64_t> shape;
  bool fortran_order = false;
  // Row-major (C) order whatever fortran_order says: numpy pickles object arrays that way, and
  // Archive::read_strings reorders column-major U/S arrays to match. nullopt = None.
  std::vector<std::optional<std::string>> items;
  bool trailing_bytes = false;  // bytes after STOP (ignored)
};

// p/n: the bytes after the NPY header (the pickle). expected_shape: from the NPY header.
ObjectStrings walk_object_pickle(const uint8_t* p, size_t n,
                                 const std::vector<uint64_t>& expected_shape,
                                 const PickleLimits& limits = {});

// <U n: UCS-4 code units (byte order per big_endian) -> UTF-8, trailing U+0000 stripped.
// Invalid code points (> 0x10FFFF, surrogates) -> ERR_NPY_BAD_HEADER? no: returns false.
bool ucs4_to_utf8(const uint8_t* p, size_t nbytes, bool big_endian, std::string* out);
// |S n: strip trailing NULs; returns false when not valid UTF-8 (out still gets raw bytes).
bool bytes_to_utf8(const uint8_t* p, size_t nbytes, std::string* out);

}  // namespace npz
