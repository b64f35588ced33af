// libFuzzer target: the NPY prefix/header parser and the descr table on arbitrary bytes.
// Any npz::Error is an expected outcome; crashes, sanitizer reports and broken invariants are not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "errors.h"
#include "npy_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npz::NpyLimits limits;
  // The last byte picks a header cap now and then, so larger-than-default headers get exercised.
  if (size > 0 && data[size - 1] == 0xFF) limits.max_header_len = npz::kHardMaxHeaderLen;
  try {
    uint64_t total = npz::npy_header_total_length(data, size, limits);
    npz::NpyHeader h = npz::parse_npy_header(data, size, limits);
    if (h.data_offset != total || h.data_offset > size) std::abort();
    if (h.shape.size() > npz::kMaxNdim) std::abort();
    if (h.count > (1ull << 53) || h.byte_length > (1ull << 53)) std::abort();
    if (h.count != 0 && h.byte_length != h.count * h.dtype.itemsize) std::abort();
    if (h.dtype.supported && (h.dtype.itemsize == 0 || h.dtype.is_object)) std::abort();
  } catch (const npz::Error&) {
  }
  // The descr table on its own, on a bounded slice of the input.
  try {
    std::string_view d(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
    npz::DType t = npz::parse_descr(d);
    if (t.supported && !t.reason.empty()) std::abort();
  } catch (const npz::Error&) {
  }
  return 0;
}
