// libFuzzer target: the ZIP index reader over arbitrary bytes. Any outcome other than a list of
// entries or an npz::Error (crash, over-read, leak, UB, huge allocation) is a bug.
#include <cstddef>
#include <cstdint>

#include "errors.h"
#include "source.h"
#include "zip_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npz::MemorySource src(data, size);
  npz::ZipLimits lim;
  lim.max_entries = 256;
  try {
    auto entries = npz::read_zip_index(src, lim);
    for (const auto& e : entries) {
      // Invariants the rest of the core relies on.
      if (e.data_offset < e.lfh_offset + 30 || e.data_offset + e.csize > size) __builtin_trap();
      if (e.method == 0 && e.csize != e.usize) __builtin_trap();
      (void)npz::member_key(e.name);
    }
  } catch (const npz::Error&) {
  }
  return 0;
}
