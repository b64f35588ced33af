// CRC-32 (ISO-HDLC / ZIP / zlib: reflected polynomial 0xEDB88320, init and final xor ~0) with
// runtime CPU dispatch, no library needed: carry-less-multiply folding (VPCLMULQDQ on 512-bit
// lanes when the CPU has AVX-512F + VPCLMULQDQ, on 256-bit lanes with AVX2 + VPCLMULQDQ,
// PCLMULQDQ otherwise on x86-64; PMULL on arm64,
// with the ARMv8 CRC32 instructions for short inputs) and a portable slicing-by-8 table.
// The implementation is chosen once, on first use, from what the running CPU supports (the
// default build needs no -march flags: each kernel is compiled with a target attribute).
// Thread-safe (pure functions; the dispatch is a function-local static). Raises nothing.
#pragma once
#include <cstddef>
#include <cstdint>

namespace npz {

// crc32_update(0, p, n) is zlib's crc32(0, p, n); chaining over pieces gives the CRC of the
// concatenation.
uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n);

// CRC of A||B from crc(A), crc(B) and len(B): what zlib's crc32_combine computes.
uint32_t crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// Name of the kernel selected on this CPU, e.g. "vpclmul-avx2 (npzguard)".
const char* crc32_impl_name();

// Every kernel compiled into this build, with whether this CPU can run it (tests run each
// supported one against zlib; NPZGUARD_CRC32=<name> in the environment forces one, for
// benchmarks and tests, when supported).
struct Crc32Kernel {
  const char* name;
  uint32_t (*fn)(uint32_t crc, const uint8_t* p, size_t n);
  bool supported;
};
size_t crc32_kernels(const Crc32Kernel** out);

}  // namespace npz
