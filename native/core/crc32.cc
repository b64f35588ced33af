// CRC-32 kernels and their run-time dispatch (see crc32.h).
//
// Folding, in one paragraph: a 16-byte little-endian load of the message is a 128-bit polynomial
// in the reflected bit order CRC-32 uses (bit 0 of the first byte is the highest power). Moving a
// block X = A*x^64 + B forward by D bits and xoring it into the block there keeps the message's
// remainder mod P unchanged, and X*x^D mod P = A*(x^(64+D) mod P) + B*(x^D mod P) is two 64x64
// carry-less multiplies. A carry-less multiply of two reflected operands yields the reflected
// product times x, hence the constants x^(63+D) and x^(D-1) below. After the last fold the
// remaining 128 bits have the same CRC as everything folded into them, so the table finishes
// them (and the < 16-byte tail): no Barrett reduction needed. The constants are computed at
// compile time from the polynomial by the same arithmetic crc32_combine uses.
#include "crc32.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define NPZ_CRC_X86 1
#include <cpuid.h>
#include <immintrin.h>
#elif defined(__aarch64__)
#define NPZ_CRC_ARM 1
#include <arm_acle.h>
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1 << 4)
#endif
#endif

namespace npz {

namespace {

constexpr uint32_t kPoly = 0xEDB88320u;  // x^32 + ... reflected; bit 31 is x^0

// Polynomials mod P in the reflected 32-bit form: bit (31 - i) holds the coefficient of x^i.
constexpr uint32_t mul_mod_p(uint32_t a, uint32_t b) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {  // b runs through b * x^i
    if (a & (0x80000000u >> i)) r ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return r;
}

// x^(k*e) mod P for base = x^k mod P, by square-and-multiply over the bits of e.
constexpr uint32_t pow_mod_p(uint32_t base, uint64_t e) {
  uint32_t r = 0x80000000u;  // x^0
  while (e) {
    if (e & 1) r = mul_mod_p(r, base);
    base = mul_mod_p(base, base);
    e >>= 1;
  }
  return r;
}

constexpr uint32_t xpow(uint64_t e) { return pow_mod_p(0x40000000u, e); }  // x^e mod P

// As a 64-bit reflected operand (bit 63 - i holds x^i).
constexpr uint64_t fold_k(uint64_t e) { return static_cast<uint64_t>(xpow(e)) << 32; }

constexpr uint64_t kF127 = fold_k(127), kF191 = fold_k(191);      // D = 128
constexpr uint64_t kF255 = fold_k(255), kF319 = fold_k(319);      // D = 256
constexpr uint64_t kF511 = fold_k(511), kF575 = fold_k(575);      // D = 512
constexpr uint64_t kF1023 = fold_k(1023), kF1087 = fold_k(1087);  // D = 1024
constexpr uint64_t kF2047 = fold_k(2047), kF2111 = fold_k(2111);  // D = 2048

struct Tables {
  uint32_t t[8][256];
};
constexpr Tables make_tables() {
  Tables s{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    s.t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (int k = 1; k < 8; ++k) s.t[k][i] = (s.t[k - 1][i] >> 8) ^ s.t[0][s.t[k - 1][i] & 0xFF];
  return s;
}
constexpr Tables kT = make_tables();

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

// Raw register update (no pre/post inversion), slicing-by-8.
uint32_t table_raw(uint32_t c, const uint8_t* p, size_t n) {
  while (n >= 8) {
    const uint64_t v = load_le64(p) ^ c;
    c = kT.t[7][v & 0xFF] ^ kT.t[6][(v >> 8) & 0xFF] ^ kT.t[5][(v >> 16) & 0xFF] ^
        kT.t[4][(v >> 24) & 0xFF] ^ kT.t[3][(v >> 32) & 0xFF] ^ kT.t[2][(v >> 40) & 0xFF] ^
        kT.t[1][(v >> 48) & 0xFF] ^ kT.t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ kT.t[0][(c ^ *p++) & 0xFF];
  return c;
}

uint32_t crc_table(uint32_t crc, const uint8_t* p, size_t n) { return ~table_raw(~crc, p, n); }

#if defined(NPZ_CRC_X86)

#define NPZ_PCLMUL __attribute__((target("pclmul,sse4.1")))
#define NPZ_VPCLMUL __attribute__((target("vpclmulqdq,pclmul,avx2,sse4.1")))

// Software prefetch this far ahead of the fold loops (only inside the buffer). On a buffer
// larger than the caches the folds outrun the hardware prefetcher: measured on the 2-core EPYC
// VM (Zen 3), 256 MiB, best of 3, one core: 11.3-14.3 GB/s without, 14.5-16.1 GB/s with 2 KiB;
// 512 B and 1 KiB gained less. A plain AVX2 load loop reads the same buffer at ~17 GB/s there.
constexpr size_t kPrefetchAhead = 2048;
inline void prefetch_line(const uint8_t* p) { __builtin_prefetch(p, 0, 3); }

NPZ_PCLMUL inline __m128i fold128(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}
NPZ_PCLMUL inline __m128i ld128(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Folds the one remaining 128-bit block x plus the n < ... tail bytes at p to the final CRC.
NPZ_PCLMUL uint32_t finish128(__m128i x, const uint8_t* p, size_t n) {
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kF127), static_cast<long long>(kF191));
  while (n >= 16) {
    x = _mm_xor_si128(fold128(x, k128), ld128(p));
    p += 16;
    n -= 16;
  }
  alignas(16) uint8_t r[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(r), x);
  return ~table_raw(table_raw(0, r, 16), p, n);
}

NPZ_PCLMUL uint32_t crc_pclmul(uint32_t crc, const uint8_t* p, size_t n) {
  if (n < 64) return crc_table(crc, p, n);
  const __m128i k512 = _mm_set_epi64x(static_cast<long long>(kF511), static_cast<long long>(kF575));
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kF127), static_cast<long long>(kF191));
  __m128i x0 = _mm_xor_si128(ld128(p), _mm_cvtsi32_si128(static_cast<int>(~crc)));
  __m128i x1 = ld128(p + 16), x2 = ld128(p + 32), x3 = ld128(p + 48);
  p += 64;
  n -= 64;
  while (n >= 64) {
    if (n >= kPrefetchAhead + 64) prefetch_line(p + kPrefetchAhead);
    x0 = _mm_xor_si128(fold128(x0, k512), ld128(p));
    x1 = _mm_xor_si128(fold128(x1, k512), ld128(p + 16));
    x2 = _mm_xor_si128(fold128(x2, k512), ld128(p + 32));
    x3 = _mm_xor_si128(fold128(x3, k512), ld128(p + 48));
    p += 64;
    n -= 64;
  }
  __m128i x = _mm_xor_si128(fold128(x0, k128), x1);
  x = _mm_xor_si128(fold128(x, k128), x2);
  x = _mm_xor_si128(fold128(x, k128), x3);
  return finish128(x, p, n);
}

NPZ_VPCLMUL inline __m256i fold256(__m256i x, __m256i k) {
  return _mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00),
                          _mm256_clmulepi64_epi128(x, k, 0x11));
}
NPZ_VPCLMUL inline __m256i ld256(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
NPZ_VPCLMUL inline __m256i bcast_k(uint64_t lo, uint64_t hi) {
  const long long l = static_cast<long long>(lo), h = static_cast<long long>(hi);
  return _mm256_set_epi64x(h, l, h, l);
}

// Eight 128-bit lanes in four 256-bit registers, 128 bytes per iteration.
NPZ_VPCLMUL uint32_t crc_vpclmul_avx2(uint32_t crc, const uint8_t* p, size_t n) {
  if (n < 256) return crc_pclmul(crc, p, n);
  const __m256i k1024 = bcast_k(kF1087, kF1023);
  const __m256i k256 = bcast_k(kF319, kF255);
  __m256i y0 =
      _mm256_xor_si256(ld256(p), _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(~crc))));
  __m256i y1 = ld256(p + 32), y2 = ld256(p + 64), y3 = ld256(p + 96);
  p += 128;
  n -= 128;
  while (n >= 128) {
    if (n >= kPrefetchAhead + 128) {
      prefetch_line(p + kPrefetchAhead);
      prefetch_line(p + kPrefetchAhead + 64);
    }
    y0 = _mm256_xor_si256(fold256(y0, k1024), ld256(p));
    y1 = _mm256_xor_si256(fold256(y1, k1024), ld256(p + 32));
    y2 = _mm256_xor_si256(fold256(y2, k1024), ld256(p + 64));
    y3 = _mm256_xor_si256(fold256(y3, k1024), ld256(p + 96));
    p += 128;
    n -= 128;
  }
  __m256i y = _mm256_xor_si256(fold256(y0, k256), y1);
  y = _mm256_xor_si256(fold256(y, k256), y2);
  y = _mm256_xor_si256(fold256(y, k256), y3);
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kF127), static_cast<long long>(kF191));
  const __m128i x =
      _mm_xor_si128(fold128(_mm256_castsi256_si128(y), k128), _mm256_extracti128_si256(y, 1));
  return finish128(x, p, n);
}

#define NPZ_VPCLMUL512 __attribute__((target("vpclmulqdq,pclmul,avx512f,avx2,sse4.1")))

// x folded forward and xored into d: VPTERNLOGQ 0x96 is a three-way xor, so one instruction
// joins both products and the data.
NPZ_VPCLMUL512 inline __m512i fold512(__m512i x, __m512i k, __m512i d) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), d, 0x96);
}
NPZ_VPCLMUL512 inline __m512i ld512(const uint8_t* p) { return _mm512_loadu_si512(p); }
NPZ_VPCLMUL512 inline __m512i bcast_k512(uint64_t lo, uint64_t hi) {
  const long long l = static_cast<long long>(lo), h = static_cast<long long>(hi);
  return _mm512_set_epi64(h, l, h, l, h, l, h, l);
}

// Sixteen 128-bit lanes in four 512-bit registers, 256 bytes per iteration (AVX-512F +
// VPCLMULQDQ: Ice Lake and later, Zen 4 and later). Shorter inputs take the 256-bit kernel.
// Its prefetch runs further ahead (kPrefetchAhead512): measured on a 2-core EPYC VM (Zen 5,
// AVX-512), 256 MiB, one core, best of 7, three alternations: 29.0-31.1 GB/s with no prefetch,
// 27.2-27.7 at 1 KiB, 29.3-29.9 at 2 KiB, 33.1-34.6 at 4 KiB, 35.6-37.3 at 8 KiB, 35.1-36.3 at
// 12-16 KiB, 34.5-35.5 at 32 KiB; a plain load loop reads the same buffer at 36-38 GB/s there.
// The 256-bit kernel on that machine: 26.6-27.9 GB/s, 29.1-29.4 with the 8 KiB prefetch.
// On a 2-core EPYC VM of family 25 (Zen 4, 2026-12-07) software prefetch costs instead: the same
// buffer, 8 alternations on an idle machine, median CRC speed against a plain read of the buffer
// in the same run: 101% with no prefetch, 85% at 2, 4 and 8 KiB (23.9 against 20.3, 19.9 and
// 21.1 GB/s). So the kernel comes in two instances, with the 8 KiB prefetch and without
// (`vpclmul-avx512-noprefetch`), and AMD family 25 selects the second (make_kernels).
constexpr size_t kPrefetchAhead512 = 8192;
template <size_t Prefetch>
NPZ_VPCLMUL512 uint32_t crc_vpclmul_avx512(uint32_t crc, const uint8_t* p, size_t n) {
  if (n < 512) return crc_vpclmul_avx2(crc, p, n);
  const __m512i k2048 = bcast_k512(kF2111, kF2047);
  const __m512i k512 = bcast_k512(kF575, kF511);
  __m512i z0 =
      _mm512_xor_si512(ld512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(~crc))));
  __m512i z1 = ld512(p + 64), z2 = ld512(p + 128), z3 = ld512(p + 192);
  p += 256;
  n -= 256;
  while (n >= 256) {
    if constexpr (Prefetch != 0) {
      if (n >= Prefetch + 256) {
        prefetch_line(p + Prefetch);
        prefetch_line(p + Prefetch + 64);
        prefetch_line(p + Prefetch + 128);
        prefetch_line(p + Prefetch + 192);
      }
    }
    z0 = fold512(z0, k2048, ld512(p));
    z1 = fold512(z1, k2048, ld512(p + 64));
    z2 = fold512(z2, k2048, ld512(p + 128));
    z3 = fold512(z3, k2048, ld512(p + 192));
    p += 256;
    n -= 256;
  }
  __m512i z = fold512(z0, k512, z1);
  z = fold512(z, k512, z2);
  z = fold512(z, k512, z3);
  const __m256i y =
      _mm256_xor_si256(fold256(_mm512_maskz_extracti64x4_epi64(0xFF, z, 0), bcast_k(kF319, kF255)),
                       _mm512_maskz_extracti64x4_epi64(0xFF, z, 1));
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kF127), static_cast<long long>(kF191));
  const __m128i x =
      _mm_xor_si128(fold128(_mm256_castsi256_si128(y), k128), _mm256_extracti128_si256(y, 1));
  return finish128(x, p, n);
}

bool cpu_has_pclmul() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_PCLMUL) && (c & bit_SSE4_1);
}
bool cpu_has_vpclmul_avx2() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool osxsave = c & bit_OSXSAVE;
  if (!osxsave || !(c & bit_PCLMUL)) return false;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6) != 0x6) return false;  // the OS saves XMM and YMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & bit_AVX2) && (c & (1u << 10));  // CPUID.7.0:ECX bit 10 = VPCLMULQDQ
}
// AMD CPU family 25 (0x19: Zen 3 and Zen 4; of these only Zen 4 has AVX-512), from CPUID.
bool cpu_is_amd_family_19h() {
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  // "AuthenticAMD" in EBX, EDX, ECX
  if (b != 0x68747541u || d != 0x69746e65u || c != 0x444d4163u) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const unsigned base = (a >> 8) & 0xF, ext = (a >> 20) & 0xFF;
  return (base == 0xF ? base + ext : base) == 0x19;
}
bool cpu_has_vpclmul_avx512() {
  if (!cpu_has_vpclmul_avx2()) return false;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xE6) != 0xE6) return false;  // and the opmask and all of the ZMM state
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & (1u << 16)) != 0;  // CPUID.7.0:EBX bit 16 = AVX512F
}

#endif  // NPZ_CRC_X86

#if defined(NPZ_CRC_ARM)

#define NPZ_ARM_CRC __attribute__((target("arch=armv8-a+crc")))
#define NPZ_ARM_PMULL __attribute__((target("arch=armv8-a+crc+crypto")))

NPZ_ARM_CRC uint32_t crc_armv8(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  while (n >= 8) {
    c = __crc32d(c, load_le64(p));
    p += 8;
    n -= 8;
  }
  while (n--) c = __crc32b(c, *p++);
  return ~c;
}

NPZ_ARM_PMULL inline uint64x2_t fold_neon(uint64x2_t x, poly64_t ka, poly64_t kb) {
  const poly128_t a = vmull_p64(static_cast<poly64_t>(vgetq_lane_u64(x, 0)), ka);
  const poly128_t b = vmull_p64(static_cast<poly64_t>(vgetq_lane_u64(x, 1)), kb);
  return veorq_u64(vreinterpretq_u64_p128(a), vreinterpretq_u64_p128(b));
}

// PMULL folding, four 128-bit lanes; the ARMv8 CRC32 instructions finish the last block and tail.
NPZ_ARM_PMULL uint32_t crc_pmull(uint32_t crc, const uint8_t* p, size_t n) {
  if (n < 64) return crc_armv8(crc, p, n);
  const poly64_t a512 = static_cast<poly64_t>(kF575), b512 = static_cast<poly64_t>(kF511);
  const poly64_t a128 = static_cast<poly64_t>(kF191), b128 = static_cast<poly64_t>(kF127);
  uint64x2_t x0 = veorq_u64(vld1q_u64(reinterpret_cast<const uint64_t*>(p)),
                            vsetq_lane_u64(static_cast<uint64_t>(~crc), vdupq_n_u64(0), 0));
  uint64x2_t x1 = vld1q_u64(reinterpret_cast<const uint64_t*>(p + 16));
  uint64x2_t x2 = vld1q_u64(reinterpret_cast<const uint64_t*>(p + 32));
  uint64x2_t x3 = vld1q_u64(reinterpret_cast<const uint64_t*>(p + 48));
  p += 64;
  n -= 64;
  while (n >= 64) {
    x0 = veorq_u64(fold_neon(x0, a512, b512), vld1q_u64(reinterpret_cast<const uint64_t*>(p)));
    x1 = veorq_u64(fold_neon(x1, a512, b512), vld1q_u64(reinterpret_cast<const uint64_t*>(p + 16)));
    x2 = veorq_u64(fold_neon(x2, a512, b512), vld1q_u64(reinterpret_cast<const uint64_t*>(p + 32)));
    x3 = veorq_u64(fold_neon(x3, a512, b512), vld1q_u64(reinterpret_cast<const uint64_t*>(p + 48)));
    p += 64;
    n -= 64;
  }
  uint64x2_t x = veorq_u64(fold_neon(x0, a128, b128), x1);
  x = veorq_u64(fold_neon(x, a128, b128), x2);
  x = veorq_u64(fold_neon(x, a128, b128), x3);
  while (n >= 16) {
    x = veorq_u64(fold_neon(x, a128, b128), vld1q_u64(reinterpret_cast<const uint64_t*>(p)));
    p += 16;
    n -= 16;
  }
  // The raw CRC of the 16 folded bytes, then of the tail (CRC32X is the raw register update).
  uint32_t c = __crc32d(0, vgetq_lane_u64(x, 0));
  c = __crc32d(c, vgetq_lane_u64(x, 1));
  while (n >= 8) {
    c = __crc32d(c, load_le64(p));
    p += 8;
    n -= 8;
  }
  while (n--) c = __crc32b(c, *p++);
  return ~c;
}

#endif  // NPZ_CRC_ARM

struct KernelList {
  Crc32Kernel k[6];
  size_t n = 0;
};

KernelList make_kernels() {
  KernelList l;
#if defined(NPZ_CRC_X86)
  // Both 512-bit instances run (and are tested) wherever AVX-512 is; the first supported kernel
  // is selected, so the order says which (see kPrefetchAhead512).
  const bool avx512 = cpu_has_vpclmul_avx512();
  const Crc32Kernel pf = {"vpclmul-avx512 (npzguard)", crc_vpclmul_avx512<kPrefetchAhead512>,
                          avx512};
  const Crc32Kernel nopf = {"vpclmul-avx512-noprefetch (npzguard)", crc_vpclmul_avx512<0>, avx512};
  const bool hw_prefetch_better = cpu_is_amd_family_19h();
  l.k[l.n++] = hw_prefetch_better ? nopf : pf;
  l.k[l.n++] = hw_prefetch_better ? pf : nopf;
  l.k[l.n++] = {"vpclmul-avx2 (npzguard)", crc_vpclmul_avx2, cpu_has_vpclmul_avx2()};
  l.k[l.n++] = {"pclmul (npzguard)", crc_pclmul, cpu_has_pclmul()};
#elif defined(NPZ_CRC_ARM)
  const unsigned long hw = getauxval(AT_HWCAP);
  const bool has_crc = (hw & HWCAP_CRC32) != 0;
  l.k[l.n++] = {"pmull (npzguard)", crc_pmull, has_crc && (hw & HWCAP_PMULL) != 0};
  l.k[l.n++] = {"armv8-crc32 (npzguard)", crc_armv8, has_crc};
#endif
  l.k[l.n++] = {"slice-by-8 (npzguard)", crc_table, true};
  return l;
}

const KernelList& kernels() {
  static const KernelList l = make_kernels();
  return l;
}

// The first (fastest) supported kernel, or the one NPZGUARD_CRC32 names when it is supported.
const Crc32Kernel& selected() {
  static const Crc32Kernel* const sel = [] {
    const KernelList& l = kernels();
    const char* want = std::getenv("NPZGUARD_CRC32");
    if (want && *want) {
      for (size_t i = 0; i < l.n; ++i)
        if (l.k[i].supported && std::strncmp(l.k[i].name, want, std::strlen(want)) == 0)
          return &l.k[i];
    }
    for (size_t i = 0; i < l.n; ++i)
      if (l.k[i].supported) return &l.k[i];
    return &l.k[l.n - 1];
  }();
  return *sel;
}

}  // namespace

uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
  if (n == 0) return crc;
  static const auto fn = selected().fn;
  return fn(crc, p, n);
}

uint32_t crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  // crc(A||B) = crc(A) * x^(8 len_b) + crc(B) mod P; the ~ conditioning cancels out.
  return mul_mod_p(pow_mod_p(xpow(8), len_b), crc_a) ^ crc_b;
}

const char* crc32_impl_name() { return selected().name; }

size_t crc32_kernels(const Crc32Kernel** out) {
  *out = kernels().k;
  return kernels().n;
}

}  // namespace npz
