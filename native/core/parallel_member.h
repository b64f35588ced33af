// Whole-member reads of a DEFLATED member through the parallel engine (parallel_inflate.h):
// the streaming scan (CRC + Scanner fed in member order, so the statistics are those of a
// serial pass) and the array copy (decoded straight into the destination buffer). Both return
// false when the engine could not finish (or its CRC disagrees with the central directory):
// the caller then decodes the member serially from its start, which reports the real error.
// Thread-safety: callable from any thread; one engine runs at a time per process (a concurrent
// call returns false at once, and its caller decodes serially), which bounds the memory.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>

#include "byte_buffer.h"
#include "npy_header.h"
#include "scan.h"
#include "source.h"
#include "zip_index.h"

namespace npz {

// Members whose compressed size is below this decode serially (thread start-up and the block
// search would cost more than they save).
constexpr uint64_t kParallelInflateMin = uint64_t{4} << 20;
// ... and so do members that inflate more than this many times their compressed size (runs and
// long matches decode at several GB/s on one core; in chunks they would be mostly markers).
constexpr uint64_t kParallelMaxRatio = 8;
// Whether a member is decoded in parallel (given >= 2 threads): DEFLATED and both of the above.
bool worth_parallel(const ZipEntry& z);

// The decoding thread count for a requested count (0 = the CPUs this process may use).
unsigned inflate_threads(unsigned requested);

// Scans [0, z.usize): CRC into *crc; when dt is set, the bytes [arr_begin, arr_end) go through
// a Scanner whose result lands in *stats, fed in the serial scan's pieces of `piece` bytes.
bool scan_deflated_parallel(const Source& src, const ZipEntry& z, unsigned threads, const DType* dt,
                            uint64_t row_len, uint64_t arr_begin, uint64_t arr_end, size_t piece,
                            const std::atomic<bool>* cancel, std::optional<ScanStats>* stats,
                            uint32_t* crc);

// Copies member bytes [skip, skip + n) into *out (resized to n).
bool copy_deflated_parallel(const Source& src, const ZipEntry& z, unsigned threads, uint64_t skip,
                            size_t n, ByteBuffer* out, uint32_t* crc);

// Decodes member bytes [skip, skip + n) straight into dst (all n bytes written when true).
bool decode_deflated_parallel(const Source& src, const ZipEntry& z, unsigned threads, uint64_t skip,
                              uint8_t* dst, size_t n, uint32_t* crc);

// Members decoded in parallel so far in this process (tests: the parallel path was taken).
uint64_t parallel_members_decoded();

}  // namespace npz
