// Internal to the core (not part of the public API): the raw-DEFLATE decoder behind
// MemberStream, with its own bounded input buffer. npzguard's own decoder (deflate_decoder.cc)
// by default; zlib's for differential tests; ISA-L's only in builds that link it.
// Not thread-safe: one per stream. RAII over the decoder state. Raises ERR_NPZ_CORRUPT on an
// invalid DEFLATE stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace npz {

class Inflater {
 public:
  struct Step {
    size_t consumed = 0;
    size_t produced = 0;
    bool end = false;  // final block decoded and flushed
  };
  virtual ~Inflater() = default;
  // Decodes from in[0, in_len) into out[0, out_len). Throws ERR_NPZ_CORRUPT on bad data.
  virtual Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) = 0;

  // Input staging owned by the stream's decoder: buf[off, len) not yet consumed.
  std::vector<uint8_t> buf;
  size_t off = 0, len = 0;
  bool ended = false;
  // Set by the caller when `in` holds the last bytes of the stream (the decoder then treats
  // running out of input as a truncated stream instead of asking for more).
  bool in_final = false;
};

std::unique_ptr<Inflater> make_inflater();       // the default: make_npz_inflater()
std::unique_ptr<Inflater> make_npz_inflater();   // npzguard's own decoder (deflate_decoder.cc)
std::unique_ptr<Inflater> make_zlib_inflater();  // always zlib (differential tests)
std::unique_ptr<Inflater> make_isal_inflater();  // nullptr unless built with ISA-L

// Name of the implementation make_inflater() returns ("npzguard", ...).
const char* inflate_impl_name();

}  // namespace npz
