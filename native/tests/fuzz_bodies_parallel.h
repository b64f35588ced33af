// Body of the fuzz_parallel_inflate target (also run by test_parallel_inflate.cc): the parallel
// DEFLATE engine against zlib on arbitrary bytes, with tiny chunks so that fuzz inputs are cut
// into many chunks. The first three input bytes pick the thread count, the chunk size, the
// overhang and the per-chunk output cap; the rest is the raw-DEFLATE stream.
// Invariants: when the engine says ok, zlib decoded the same stream to the same bytes (and the
// engine's CRC is that of those bytes); when zlib refuses the stream, the engine is not ok.
#pragma once
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crc32.h"
#include "parallel_inflate.h"
#include "source.h"

namespace npzfuzz {

struct VecSink final : npz::InflateSink {
  std::vector<uint8_t> out;
  void write(const uint8_t* p, size_t n) override { out.insert(out.end(), p, p + n); }
};

// zlib's raw inflate of the whole input: (ok, output). ok: final block reached.
inline bool zlib_raw(const uint8_t* z, size_t zn, size_t max_out, std::vector<uint8_t>* out) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, -15) != Z_OK) return false;
  zs.next_in = const_cast<Bytef*>(z);
  zs.avail_in = static_cast<uInt>(zn);
  uint8_t buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out->insert(out->end(), buf, buf + (sizeof buf - zs.avail_out));
    if (out->size() > max_out) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// Returns the engine's result (tests count how often chunks were confirmed).
template <class Check>
npz::ParallelInflateResult parallel_diff(const uint8_t* data, size_t size, Check&& check) {
  if (size < 3) return {};
  npz::ParallelInflateOptions o;
  o.threads = 1 + (data[0] & 3);
  o.chunk_size = 16 + static_cast<size_t>(data[1]) * 8;
  o.overhang = 64 + static_cast<size_t>(data[2] & 0x7F) * 64;
  o.max_chunk_output = data[2] & 0x80 ? 512 : (1u << 20);
  o.max_in_flight = 1 + (data[0] >> 6);
  data += 3;
  size -= 3;
  constexpr size_t kMaxOut = size_t{1} << 24;
  std::vector<uint8_t> ref;
  const bool zok = zlib_raw(data, size, kMaxOut, &ref);
  if (ref.size() > kMaxOut) return {};
  npz::MemorySource src(data, size);
  VecSink sink;
  // The declared size: zlib's output (a stream zlib refuses has none that is right).
  const uint64_t usize = ref.size() ? ref.size() : 1;
  const npz::ParallelInflateResult r = npz::parallel_inflate(src, 0, size, usize, sink, o);
  if (r.ok) {
    check(zok, "the engine accepted a stream zlib refuses");
    check(sink.out == ref, "same output as zlib");
    check(r.crc == npz::crc32_update(0, ref.data(), ref.size()), "CRC of the output");
  }
  check(sink.out.size() <= usize, "never more output than declared");
  check(sink.out.size() == r.total, "total counts what was delivered");
  const size_t common = std::min(sink.out.size(), ref.size());
  check(common == 0 || std::memcmp(sink.out.data(), ref.data(), common) == 0,
        "delivered prefix agrees with zlib");
  return r;
}

}  // namespace npzfuzz
