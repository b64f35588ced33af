// Parallel decoding of ONE raw-DEFLATE stream (a ZIP member), after the approach of pugz
// (Kerbiriou & Chikhi 2019) and rapidgzip (Knespel & Brunst 2023); the code is written here.
//
// The compressed member is cut into chunks of `chunk_size` compressed bytes. Chunk 0 decodes
// from the start. Each later chunk looks for a block start inside its range by trying bit
// offsets: a dynamic-Huffman header whose code-length code and literal/length + distance codes
// are valid (end-of-block present), or a stored header (LEN == ~NLEN, zero padding), and then
// decodes from there with 16-bit output symbols: a back-reference into the 32 KiB before the
// chunk (not known yet) yields markers (256 + window index) instead of bytes. Once the last
// 32 KiB of a chunk's output hold no marker, no later output can: it switches to plain bytes.
// Every chunk decodes up to the first dynamic or stored block boundary at or after the next
// chunk's nominal start, so a chunk is confirmed exactly when it started at the bit where its
// predecessor stopped. The consumer (the calling thread) takes chunks in order: a confirmed
// chunk has its markers replaced from the previous 32 KiB of real output and is delivered; an
// unconfirmed one (false-positive boundary, none found, or an error) is re-decoded from the
// confirmed position with the real window. Anything inconsistent (a marker before the start of
// the stream, an error at a confirmed position, a stream that ends early, more or less output
// than declared, input shorter than a chunk needs) makes the call return ok=false having
// delivered a prefix at most: the caller then decodes the member serially from its start (and
// gets the serial decoder's error, if there is one). Never a wrong answer: correctness does not
// depend on the CRC (which the caller still checks against the central directory).
//
// Memory: at most `max_in_flight` chunks exist at once (input + output, output capped at
// `max_chunk_output` bytes: a chunk that would produce more pauses and is finished by the
// consumer, streaming), and no more decoding threads than that run. With the default
// (max_in_flight = 0) the chunks' memory is reserved from one pool that all calls in the process
// share (parallel_inflate_memory_pool(), 96 MiB): the engines of a process stay under it
// whatever the thread count and however many members are decoded at once, and a call that finds
// too little of it free returns ok = false at once (decode that member serially).
// Thread-safety: one call uses its own threads and buffers; `src.read` must be thread-safe.
// Errors: throws ERR_NPZ_ABORTED when `cancel` is set; every other problem is ok=false.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "source.h"

namespace npz {

// Receives the member's uncompressed bytes in order (from the calling thread only).
class InflateSink {
 public:
  virtual ~InflateSink() = default;
  virtual void write(const uint8_t* p, size_t n) = 0;
};

struct ParallelInflateOptions {
  unsigned threads = 2;         // decoding threads besides the caller (>= 1)
  size_t chunk_size = 0;        // compressed bytes per chunk; 0 = automatic (<= 4 MiB)
  size_t overhang = 0;          // compressed bytes a chunk may read past its range; 0 = auto
  size_t max_chunk_output = 0;  // output bytes a chunk may hold before pausing; 0 = auto
  size_t max_in_flight = 0;     // chunks decoded or waiting at once; 0 = from a memory budget
  const std::atomic<bool>* cancel = nullptr;
};

struct ParallelInflateResult {
  bool ok = false;     // false: decode the member serially (reason says why)
  uint32_t crc = 0;    // CRC-32 of the output (combined from per-chunk CRCs)
  uint64_t total = 0;  // bytes delivered to the sink
  std::string reason;  // why ok is false
  // Statistics (tests and benchmarks):
  uint64_t chunks = 0;     // chunks the member was cut into
  uint64_t confirmed = 0;  // chunks > 0 decoded speculatively and confirmed (parallel work used)
  uint64_t redecoded = 0;  // chunks re-decoded at a confirmed position by the consumer
  uint64_t markers = 0;    // marker symbols resolved
  uint64_t paused = 0;     // chunks that hit the output cap and were finished by the consumer
  uint64_t workers = 0;    // decoding threads started
  uint64_t in_flight = 0;  // chunks decoded or waiting at once, at most
  uint64_t reserved = 0;   // bytes reserved from the process-wide pool (max_in_flight = 0)
};

// Decodes the raw-DEFLATE stream at src[offset, offset + csize) that must inflate to exactly
// `usize` bytes, delivering them to `sink` in order.
ParallelInflateResult parallel_inflate(const Source& src, uint64_t offset, uint64_t csize,
                                       uint64_t usize, InflateSink& sink,
                                       const ParallelInflateOptions& opts);

// The process-wide pool of the calls with max_in_flight = 0, and the most of it reserved at once
// so far (tests).
size_t parallel_inflate_memory_pool();
size_t parallel_inflate_memory_peak();

}  // namespace npz
