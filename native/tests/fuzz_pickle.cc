// libFuzzer target: the whitelisting pickle walker and the string decoders.
// Input is either a whole .npy file (then the pickle after the header is walked against the
// header's shape, which is how the reader uses it) or a bare pickle (walked as a 0-d array).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "errors.h"
#include "npy_header.h"
#include "pickle_walker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
    } catch (const npz::Error&) {
      return 0;
    }
  }
  try {
    npz::ObjectStrings r = npz::walk_object_pickle(p, n, shape, limits);
    if (r.shape != shape) std::abort();
    uint64_t count = 1;
    for (uint64_t d : shape) count *= d;
    if (r.items.size() != count) std::abort();
  } catch (const npz::Error&) {
  }
  std::string out;
  (void)npz::ucs4_to_utf8(data, size & ~size_t{3}, size > 0 && (data[0] & 1), &out);
  (void)npz::bytes_to_utf8(data, size, &out);
  return 0;
}
