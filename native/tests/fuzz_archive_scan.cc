// libFuzzer target: Archive::open_source over arbitrary bytes (as .npz, and as .npy when the
// input has the NPY magic), then every member is scanned, copied and string-decoded. Only
// npz::Error may escape the core.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "archive.h"

namespace {

void exercise(const uint8_t* data, size_t size, const char* name) {
  npz::OpenOptions opts;
  opts.zip.max_entries = 64;
  opts.max_object_member = 1u << 20;
  std::unique_ptr<npz::Archive> a;
  try {
    a = npz::Archive::open_source(std::make_unique<npz::MemorySource>(data, size), name, opts);
  } catch (const npz::Error&) {
    return;
  }
  for (size_t i = 0; i < a->members().size(); ++i) {
    const npz::Member& m = a->members()[i];
    // Never ask the core for more than it could need: declared sizes are bounded by the input
    // (stored) or by the 1032:1 DEFLATE ratio, so copies stay small for small inputs.
    try {
      npz::ScanResult r = a->scan(i, {});
      (void)r;
    } catch (const npz::Error&) {
    }
    try {
      npz::ArrayBytes b = a->read_array(i, npz::CopyMode::Auto);
      if (b.byte_length && !b.data) __builtin_trap();
    } catch (const npz::Error&) {
    }
    if (m.header && (m.header->dtype.is_object || m.header->dtype.kind == 'U' ||
                     m.header->dtype.kind == 'S')) {
      try {
        npz::ObjectStrings s = a->read_strings(i);
        (void)s;
      } catch (const npz::Error&) {
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exercise(data, size, "fuzz.npz");
  if (size >= 6 && std::memcmp(data, "\x93NUMPY", 6) == 0) exercise(data, size, "fuzz.npy");
  return 0;
}
