// Test/fuzz helper: drives an Inflater over a whole raw-DEFLATE stream the way MemberStream does
// (unconsumed input is kept and more appended behind it; in_final marks the last piece), with
// chosen input and output piece sizes, and records the outcome.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "errors.h"
#include "inflate.h"

namespace npztest {

struct InflateOutcome {
  bool ended = false;  // the final block was decoded
  bool threw = false;  // the decoder refused the stream (ERR_NPZ_CORRUPT)
  std::vector<uint8_t> out;
};

inline InflateOutcome inflate_with(npz::Inflater& inf, const uint8_t* z, size_t zn, size_t in_piece,
                                   size_t out_piece, size_t max_out) {
  InflateOutcome r;
  size_t in = 0, end = 0;
  std::vector<uint8_t> buf(out_piece);
  try {
    for (;;) {
      if (end == in || end - in < in_piece) end = std::min(zn, end + in_piece);
      inf.in_final = end == zn;
      const npz::Inflater::Step s = inf.step(z + in, end - in, buf.data(), buf.size());
      in += s.consumed;
      r.out.insert(r.out.end(), buf.begin(), buf.begin() + static_cast<long>(s.produced));
      if (s.end) {
        r.ended = true;
        break;
      }
      if (r.out.size() > max_out) break;
      if (!s.consumed && !s.produced) {
        if (end == zn) break;  // no more input: truncated
        end = std::min(zn, end + in_piece);
      }
    }
  } catch (const npz::Error& e) { r.threw = true; }
  return r;
}

}  // namespace npztest
