// The bodies of the libFuzzer targets, shared with test_regressions.cc (a fuzz_*.cc file cannot
// be linked into the ctest binary: each defines LLVMFuzzerTestOneInput). Each body drives one
// core entry point over arbitrary bytes; only npz::Error may escape the core, and every
// invariant the rest of the core relies on is handed to `check(ok, what)`: the fuzzers trap on
// a false one, the regression test records an expectation failure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archive.h"
#include "npy_header.h"
#include "pickle_walker.h"
#include "source.h"
#include "zip_index.h"

namespace npzfuzz {

// Archive::open_source as .npz (and as .npy when the input has the NPY magic), then every member
// is scanned, copied and string-decoded. Limits keep single runs small.
template <class Check>
void archive_one(const uint8_t* data, size_t size, const char* name, Check&& check) {
  npz::OpenOptions opts;
  opts.zip.max_entries = 64;
  opts.max_object_member = 1u << 20;
  std::unique_ptr<npz::Archive> a;
  try {
    a = npz::Archive::open_source(std::make_unique<npz::MemorySource>(data, size), name, opts);
  } catch (const npz::Error&) { return; }
  for (size_t i = 0; i < a->members().size(); ++i) {
    const npz::Member& m = a->members()[i];
    try {
      npz::ScanResult r = a->scan(i, {});
      check(r.bytes_read <= m.entry.usize, "scan read at most the member's size");
    } catch (const npz::Error&) {}
    try {
      npz::ArrayBytes b = a->read_array(i, npz::CopyMode::Auto);
      check(!(b.byte_length && !b.data), "array bytes present");
    } catch (const npz::Error&) {}
    if (m.header && !m.header->shape.empty()) {
      // Row reads: the last row, and a range past the end (must be refused, never read).
      const uint64_t rows = m.header->shape[0];
      try {
        npz::ArrayBytes b = a->read_rows(i, rows ? rows - 1 : 0, rows, npz::CopyMode::ForceCopy);
        check(!(b.byte_length && !b.data), "row bytes present");
        check(b.byte_length <= m.header->byte_length, "rows within the array");
      } catch (const npz::Error&) {}
      try {
        npz::RowProfile p = a->row_profile(i, uint64_t{1} << 16, nullptr);
        check(p.sum.size() == rows && p.nonzero.size() == rows, "one profile entry per row");
      } catch (const npz::Error&) {}
      if (rows > 1) {
        try {
          npz::ByteBuffer b = a->read_row_set(i, {0, rows - 1});
          check(b.size() <= m.header->byte_length, "row set within the array");
        } catch (const npz::Error&) {}
      }
      if (rows < UINT64_MAX) {
        try {
          (void)a->read_rows(i, 0, rows + 1, npz::CopyMode::Auto);
          check(false, "row range past the end refused");
        } catch (const npz::Error&) {}
      }
    }
    if (m.header &&
        (m.header->dtype.is_object || m.header->dtype.kind == 'U' || m.header->dtype.kind == 'S')) {
      try {
        npz::ObjectStrings s = a->read_strings(i);
        (void)s;
      } catch (const npz::Error&) {}
    }
  }
}

template <class Check>
void archive_scan(const uint8_t* data, size_t size, Check&& check) {
  archive_one(data, size, "fuzz.npz", check);
  if (size >= 6 && std::memcmp(data, "\x93NUMPY", 6) == 0)
    archive_one(data, size, "fuzz.npy", check);
}

// The NPY header parser, and the descr table on a bounded slice of the input. The last byte
// picks the hard header cap now and then, so larger-than-default headers get exercised.
template <class Check>
void npy_header(const uint8_t* data, size_t size, Check&& check) {
  npz::NpyLimits limits;
  if (size > 0 && data[size - 1] == 0xFF) limits.max_header_len = npz::kHardMaxHeaderLen;
  try {
    uint64_t total = npz::npy_header_total_length(data, size, limits);
    npz::NpyHeader h = npz::parse_npy_header(data, size, limits);
    check(h.data_offset == total && h.data_offset <= size, "data offset within the input");
    check(h.shape.size() <= npz::kMaxNdim, "ndim cap");
    check(h.count <= (1ull << 53) && h.byte_length <= (1ull << 53), "sizes fit JavaScript");
    check(h.count == 0 || h.byte_length == h.count * h.dtype.itemsize,
          "byte length = count x itemsize");
    check(!(h.dtype.supported && (h.dtype.itemsize == 0 || h.dtype.is_object)),
          "supported dtypes have an itemsize");
  } catch (const npz::Error&) {}
  try {
    std::string_view d(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
    npz::DType t = npz::parse_descr(d);
    check(!(t.supported && !t.reason.empty()), "supported dtypes carry no refusal reason");
  } catch (const npz::Error&) {}
}

// A decoded plain value is well formed: nesting within the limit, ints without a high zero word
// or a negative zero, dicts as key/value pairs.
inline bool plain_ok(const npz::PlainValue& v, size_t depth, const npz::PickleLimits& limits) {
  using T = npz::PlainValue::Type;
  if (depth > limits.max_depth) return false;
  if (v.type == T::Int &&
      ((!v.magnitude.empty() && v.magnitude.back() == 0) || (v.negative && v.magnitude.empty())))
    return false;
  if (v.type == T::Dict && v.items.size() % 2 != 0) return false;
  if (v.type != T::List && v.type != T::Tuple && v.type != T::Dict && !v.items.empty())
    return false;
  for (const auto& x : v.items)
    if (!plain_ok(x, depth + 1, limits)) return false;
  return true;
}

// The pickle walkers (after an NPY header when the input starts with one), and the string decoders.
template <class Check>
void pickle(const uint8_t* data, size_t size, Check&& check) {
  npz::PickleLimits limits;
  limits.max_opcodes = 1u << 20;  // keep single runs short
  const uint8_t* p = data;
  size_t n = size;
  std::vector<uint64_t> shape;
  if (size >= 6 && data[0] == 0x93 && data[1] == 'N') {
    try {
      npz::NpyHeader h = npz::parse_npy_header(data, size, npz::NpyLimits{});
      p = data + h.data_offset;
      n = size - static_cast<size_t>(h.data_offset);
      shape = h.shape;
    } catch (const npz::Error&) { return; }
  }
  try {
    npz::ObjectStrings r = npz::walk_object_pickle(p, n, shape, limits);
    check(r.shape == shape, "walker shape equals the header shape");
    uint64_t count = 1;
    for (uint64_t dim : shape) count *= dim;
    check(r.items.size() == count, "one item per element");
  } catch (const npz::Error&) {}
  try {
    npz::PlainValue v = npz::walk_object_value(p, n, shape, limits);
    check(plain_ok(v, 0, limits), "plain value within the depth limit, dict entries paired");
  } catch (const npz::Error&) {}
  std::string out;
  (void)npz::ucs4_to_utf8(data, size & ~size_t{3}, size > 0 && (data[0] & 1), &out);
  (void)npz::bytes_to_utf8(data, size, &out);
}

// The ZIP central-directory reader.
template <class Check>
void zip_index(const uint8_t* data, size_t size, Check&& check) {
  npz::MemorySource src(data, size);
  npz::ZipLimits lim;
  lim.max_entries = 256;
  try {
    auto entries = npz::read_zip_index(src, lim);
    for (const auto& e : entries) {
      check(e.data_offset >= e.lfh_offset + 30 && e.data_offset + e.csize <= size,
            "member data inside the file");
      check(!(e.method == 0 && e.csize != e.usize), "stored sizes agree");
      (void)npz::member_key(e.name);
    }
  } catch (const npz::Error&) {}
}

// For the fuzz targets: a broken invariant is a crash libFuzzer records.
inline void trap_unless(bool ok, const char*) {
  if (!ok) __builtin_trap();
}

}  // namespace npzfuzz
