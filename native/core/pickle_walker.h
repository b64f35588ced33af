// Whitelisting walker for the pickle payload of '|O' NPY members (npy-npz-format.md §9.3).
// A symbolic stack machine over a fixed opcode subset; it never executes or imports anything.
// walk_object_pickle accepts only numpy's _reconstruct/ndarray/dtype object arrays whose items
// are str or None; walk_object_value accepts a one-item object array (e.g. a pickled `_metadata`
// dict) whose item is a plain value json.dumps accepts: dict / list / tuple of str, int (any
// size), float, bool, None, nested. Anything else -> ERR_NPY_PICKLE_REFUSED naming the
// opcode/offset. Pure, thread-safe.
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
  size_t max_depth = 64;  // walk_object_value: nesting of containers (a cycle exceeds it)
  size_t max_values =
      1u << 18;  // walk_object_value: values built (shared references count each time)
  size_t max_long_bytes = 1024;  // LONG1/LONG4 integers: 2,466 decimal digits
};

// A plain Python value decoded from a pickle (no code executed): what json.dumps accepts.
struct PlainValue {
  enum class Type : uint8_t { None, Bool, Int, Float, Str, List, Tuple, Dict };
  Type type = Type::None;
  bool boolean = false;             // Bool
  bool negative = false;            // Int: sign (false for zero)
  std::vector<uint64_t> magnitude;  // Int: |value| as little-endian 64-bit words, no high zero word
  double number = 0;                // Float
  std::string text;                 // Str (UTF-8)
  // List / Tuple: the elements. Dict: key, value, key, value, ... in insertion order, keys unique
  // under Python's equality (1 == 1.0 == True); a repeated key keeps its first position and
  // takes the last value, as the unpickler's dict does.
  std::vector<PlainValue> items;
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

// p/n, expected_shape: as above; the array must hold exactly one item, a plain value.
// Expanded size is capped (max_items values, max_text bytes, max_depth nesting).
PlainValue walk_object_value(const uint8_t* p, size_t n,
                             const std::vector<uint64_t>& expected_shape,
                             const PickleLimits& limits = {});

// <U n: UCS-4 code units (byte order per big_endian) -> UTF-8, trailing U+0000 stripped.
// Invalid code points (> 0x10FFFF, surrogates) -> ERR_NPY_BAD_HEADER? no: returns false.
bool ucs4_to_utf8(const uint8_t* p, size_t nbytes, bool big_endian, std::string* out);
// |S n: strip trailing NULs; returns false when not valid UTF-8 (out still gets raw bytes).
bool bytes_to_utf8(const uint8_t* p, size_t nbytes, std::string* out);

}  // namespace npz
