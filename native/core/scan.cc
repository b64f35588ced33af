// Streaming value statistics. The kernels read through memcpy (unaligned-safe, no aliasing UB)
// into fixed-width lane accumulators with branch-free updates, a shape GCC and clang turn into
// SIMD at -O3 without -ffast-math (each lane is an independent dependency chain, so no
// reassociation is needed). Non-native byte order and float16 go through a small aligned
// staging buffer first.
// Over 400 lines on purpose: the float kernels (generic, SSE2, AVX2) share the lane-accumulator
// templates and the dispatch that picks one per dtype; split, those templates would move into a
// header every kernel file includes, for no gain in reading.
#include "scan.h"
#include "byteswap.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "errors.h"

#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#endif

namespace npz {

namespace {

constexpr int kLanes = 16;                        // even: lane j of complex data is component j % 2
constexpr size_t kStageBytes = 16384;             // per staging round (swapped or float16 values)
constexpr size_t kDirectRoundBytes = 256u << 10;  // per round read in place; per-lane u32/i32
                                                  // counters stay far below overflow

struct Partial {
  uint64_t count = 0, nan = 0, pos_inf = 0, neg_inf = 0, negative = 0, zero = 0, finite = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0, sum_sq = 0;
};

void merge(ComponentStats& cs, const Partial& p) {
  cs.count += p.count;
  cs.nan += p.nan;
  cs.pos_inf += p.pos_inf;
  cs.neg_inf += p.neg_inf;
  cs.negative += p.negative;
  cs.zero += p.zero;
  if (p.finite) {
    if (cs.finite == 0) {
      cs.min = p.min;
      cs.max = p.max;
    } else {
      if (p.min < cs.min) cs.min = p.min;
      if (p.max > cs.max) cs.max = p.max;
    }
  }
  cs.finite += p.finite;
  cs.sum += p.sum;
  cs.sum_sq += p.sum_sq;
}

template <typename F>
struct FloatBits;
template <>
struct FloatBits<float> {
  using U = uint32_t;
  static constexpr U kAbs = 0x7fffffffu, kExp = 0x7f800000u;
  static constexpr int kSignShift = 31;
};
template <>
struct FloatBits<double> {
  using U = uint64_t;
  static constexpr U kAbs = 0x7fffffffffffffffull, kExp = 0x7ff0000000000000ull;
  static constexpr int kSignShift = 63;
};

// Order-preserving integer key of an IEEE value (total order on non-NaN values), so min/max
// run on integers: no floating-point compares in the hot loop (GCC will not if-convert those
// under the default -ftrapping-math, which blocks vectorization).
template <typename S, typename U>
inline S order_key(U b) {
  const S v = static_cast<S>(b);
  return v ^ static_cast<S>(static_cast<U>(v >> (sizeof(S) * 8 - 1)) >> 1);
}

template <typename F>
struct FloatLanes {
  using B = FloatBits<F>;
  using U = typename B::U;
  using S = typename std::make_signed<U>::type;
  static constexpr S kMaxKey = std::numeric_limits<S>::max();
  static constexpr S kMinKey = std::numeric_limits<S>::min();
  U nan[kLanes] = {}, pinf[kLanes] = {}, ninf[kLanes] = {}, neg[kLanes] = {}, zero[kLanes] = {};
  S mn[kLanes], mx[kLanes];
  double s[kLanes] = {}, q[kLanes] = {};

  FloatLanes() {
    for (int j = 0; j < kLanes; ++j) {
      mn[j] = kMaxKey;
      mx[j] = kMinKey;
    }
  }

  inline __attribute__((always_inline)) void add(const U* bv) {
    for (int j = 0; j < kLanes; ++j) {
      const U b = bv[j];
      const U a = b & B::kAbs;
      const U sgn = b >> B::kSignShift;
      const U isnan = static_cast<U>(a > B::kExp);
      const U isinf = static_cast<U>(a == B::kExp);
      const U fin = static_cast<U>(a < B::kExp);
      const U isz = static_cast<U>(a == 0);
      nan[j] += isnan;
      pinf[j] += isinf & (sgn ^ 1);
      ninf[j] += isinf & sgn;
      neg[j] += sgn & (isnan ^ 1) & (isz ^ 1);  // x < 0: -0.0 is not negative, -Inf is
      zero[j] += isz;
      const U fmask = static_cast<U>(0) - fin;
      const U key = static_cast<U>(order_key<S, U>(b));
      const S kl = static_cast<S>((key & fmask) | (static_cast<U>(kMaxKey) & ~fmask));
      const S kh = static_cast<S>((key & fmask) | (static_cast<U>(kMinKey) & ~fmask));
      mn[j] = kl < mn[j] ? kl : mn[j];
      mx[j] = kh > mx[j] ? kh : mx[j];
      const U xb = b & fmask;
      F xf;
      std::memcpy(&xf, &xb, sizeof xf);
      const double d = static_cast<double>(xf);
      s[j] += d;
      q[j] += d * d;
    }
  }
};

// Fast path for the common case (every value finite and >= 0): zeros, min, max, sum, sum of
// squares in a few vector registers. Returns false, having changed nothing, when the block
// holds any negative or non-finite value; the caller then runs the exact general kernel.
// n must be a multiple of kFastLanes.
constexpr int kFastLanes = 16;
constexpr size_t kFastBlock = 512;  // values; float partial sums stay short (accuracy)

// Portable fast path (any architecture).
template <typename F>
bool fast_block_generic(const uint8_t* p, size_t n, Partial* out) {
  using U = typename FloatBits<F>::U;
  constexpr F kMax = std::numeric_limits<F>::max();
  U bad[kFastLanes] = {}, zero[kFastLanes] = {};
  F mn[kFastLanes], mx[kFastLanes], s[kFastLanes] = {}, q[kFastLanes] = {};
  for (int j = 0; j < kFastLanes; ++j) {
    mn[j] = kMax;
    mx[j] = F(0);
  }
  for (size_t i = 0; i < n; i += kFastLanes) {
    F v[kFastLanes];
    std::memcpy(v, p + i * sizeof(F), sizeof v);
    for (int j = 0; j < kFastLanes; ++j) {
      const F x = v[j];
      bad[j] |= static_cast<U>(!((x >= F(0)) & (x <= kMax)));
      zero[j] += static_cast<U>(x == F(0));
      mn[j] = x < mn[j] ? x : mn[j];
      mx[j] = x > mx[j] ? x : mx[j];
      s[j] += x;
      q[j] += x * x;
    }
  }
  U anybad = 0;
  for (int j = 0; j < kFastLanes; ++j) anybad |= bad[j];
  if (anybad) return false;
  for (int j = 0; j < kFastLanes; ++j)  // a float partial sum that overflowed: exact kernel
    if (!std::isfinite(s[j]) || !std::isfinite(q[j])) return false;
  Partial& o = out[0];
  double sum = 0, sq = 0;
  for (int j = 0; j < kFastLanes; ++j) {
    o.zero += zero[j];
    if (static_cast<double>(mn[j]) < o.min) o.min = static_cast<double>(mn[j]);
    if (static_cast<double>(mx[j]) > o.max) o.max = static_cast<double>(mx[j]);
    sum += static_cast<double>(s[j]);
    sq += static_cast<double>(q[j]);
  }
  o.sum += sum;
  o.sum_sq += sq;
  o.count += n;
  o.finite += n;
  return true;
}

#if defined(__x86_64__) && defined(__SSE2__)
// x86-64: explicit vectors. Compilers will not turn the float selects above into minps/maxps
// without -ffinite-math-only, and that flag would break the NaN accounting elsewhere.
template <int W>  // W = 4 (SSE2) or 8 (AVX2) floats per vector: shared epilogue
inline bool finish_fast(const float* mn, const float* mx, const float* s, const float* q,
                        const int32_t* z, bool bad, size_t n, Partial* out) {
  if (bad) return false;
  // Values in range can still overflow a float partial sum (or sum of squares): the exact
  // kernel sums in double instead.
  for (int j = 0; j < W; ++j)
    if (!std::isfinite(s[j]) || !std::isfinite(q[j])) return false;
  Partial& o = out[0];
  double sum = 0, sq = 0;
  for (int j = 0; j < W; ++j) {
    o.zero += static_cast<uint32_t>(z[j]);
    if (static_cast<double>(mn[j]) < o.min) o.min = static_cast<double>(mn[j]);
    if (static_cast<double>(mx[j]) > o.max) o.max = static_cast<double>(mx[j]);
    sum += static_cast<double>(s[j]);
    sq += static_cast<double>(q[j]);
  }
  o.sum += sum;
  o.sum_sq += sq;
  o.count += n;
  o.finite += n;
  return true;
}

bool fast_block_f32_sse2(const uint8_t* p, size_t n, Partial* out) {
  const __m128 zero = _mm_setzero_ps();
  const __m128 fmax = _mm_set1_ps(std::numeric_limits<float>::max());
  __m128 mn0 = fmax, mn1 = fmax, mx0 = zero, mx1 = zero;
  __m128 s0 = zero, s1 = zero, q0 = zero, q1 = zero, ok = _mm_castsi128_ps(_mm_set1_epi32(-1));
  __m128i z0 = _mm_setzero_si128(), z1 = _mm_setzero_si128();
  for (size_t i = 0; i < n; i += 8) {
    const __m128 a = _mm_loadu_ps(reinterpret_cast<const float*>(p + 4 * i));
    const __m128 b = _mm_loadu_ps(reinterpret_cast<const float*>(p + 4 * i + 16));
    ok = _mm_and_ps(ok, _mm_and_ps(_mm_and_ps(_mm_cmpge_ps(a, zero), _mm_cmple_ps(a, fmax)),
                                   _mm_and_ps(_mm_cmpge_ps(b, zero), _mm_cmple_ps(b, fmax))));
    z0 = _mm_sub_epi32(z0, _mm_castps_si128(_mm_cmpeq_ps(a, zero)));
    z1 = _mm_sub_epi32(z1, _mm_castps_si128(_mm_cmpeq_ps(b, zero)));
    mn0 = _mm_min_ps(mn0, a);
    mn1 = _mm_min_ps(mn1, b);
    mx0 = _mm_max_ps(mx0, a);
    mx1 = _mm_max_ps(mx1, b);
    s0 = _mm_add_ps(s0, a);
    s1 = _mm_add_ps(s1, b);
    q0 = _mm_add_ps(q0, _mm_mul_ps(a, a));
    q1 = _mm_add_ps(q1, _mm_mul_ps(b, b));
  }
  alignas(16) float mn[4], mx[4], s[4], q[4];
  alignas(16) int32_t z[4];
  _mm_store_ps(mn, _mm_min_ps(mn0, mn1));
  _mm_store_ps(mx, _mm_max_ps(mx0, mx1));
  _mm_store_ps(s, _mm_add_ps(s0, s1));
  _mm_store_ps(q, _mm_add_ps(q0, q1));
  _mm_store_si128(reinterpret_cast<__m128i*>(z), _mm_add_epi32(z0, z1));
  return finish_fast<4>(mn, mx, s, q, z, _mm_movemask_ps(ok) != 0xF, n, out);
}

// AVX2 + FMA, float32, whole runs: blocks of kFastBlock values keep float partial sums short,
// and good blocks fold into double-precision vector accumulators without leaving registers, so
// the per-block cost is a few vector ops instead of a scalar epilogue (which cost as much as the
// block itself). Validity comes from the accumulators instead of per-value range compares: any
// NaN or +-Inf poisons its lane's sum (x + Inf = Inf, Inf - Inf = NaN, NaN sticks), a negative
// value pulls the minimum below zero, and a float sum or sum of squares that overflows also
// sends the block to the exact kernel. min(a, m) returns m when a is NaN, so the running minimum
// stays a number. Returns how many values (whole good blocks) it consumed; it stops before the
// first block that is not all finite and >= 0, or at the last incomplete block (any n).
__attribute__((target("avx2,fma"))) size_t fast_run_f32_avx2(const uint8_t* p, size_t n,
                                                             Partial* out) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  __m256d sd = _mm256_setzero_pd(), qd = _mm256_setzero_pd();
  __m256 mnT = inf, mxT = zero;
  __m256i zT = _mm256_setzero_si256();  // per-lane zeros; <= n / 8 < 2^31 per run (see caller)
  const float* f = reinterpret_cast<const float*>(p);
  size_t done = 0;
  while (n - done >= kFastBlock) {
    const float* b0 = f + done;
    __m256 mn0 = inf, mn1 = inf, mx0 = zero, mx1 = zero;
    __m256 s0 = zero, s1 = zero, s2 = zero, s3 = zero, q0 = zero, q1 = zero, q2 = zero, q3 = zero;
    __m256i z0 = _mm256_setzero_si256(), z1 = z0;
    for (size_t i = 0; i < kFastBlock; i += 32) {
      const __m256 a = _mm256_loadu_ps(b0 + i), b = _mm256_loadu_ps(b0 + i + 8);
      const __m256 c = _mm256_loadu_ps(b0 + i + 16), d = _mm256_loadu_ps(b0 + i + 24);
      z0 = _mm256_sub_epi32(z0, _mm256_castps_si256(_mm256_cmp_ps(a, zero, _CMP_EQ_OQ)));
      z1 = _mm256_sub_epi32(z1, _mm256_castps_si256(_mm256_cmp_ps(b, zero, _CMP_EQ_OQ)));
      z0 = _mm256_sub_epi32(z0, _mm256_castps_si256(_mm256_cmp_ps(c, zero, _CMP_EQ_OQ)));
      z1 = _mm256_sub_epi32(z1, _mm256_castps_si256(_mm256_cmp_ps(d, zero, _CMP_EQ_OQ)));
      mn0 = _mm256_min_ps(a, mn0);
      mn1 = _mm256_min_ps(b, mn1);
      mn0 = _mm256_min_ps(c, mn0);
      mn1 = _mm256_min_ps(d, mn1);
      mx0 = _mm256_max_ps(a, mx0);
      mx1 = _mm256_max_ps(b, mx1);
      mx0 = _mm256_max_ps(c, mx0);
      mx1 = _mm256_max_ps(d, mx1);
      s0 = _mm256_add_ps(s0, a);
      s1 = _mm256_add_ps(s1, b);
      s2 = _mm256_add_ps(s2, c);
      s3 = _mm256_add_ps(s3, d);
      q0 = _mm256_fmadd_ps(a, a, q0);
      q1 = _mm256_fmadd_ps(b, b, q1);
      q2 = _mm256_fmadd_ps(c, c, q2);
      q3 = _mm256_fmadd_ps(d, d, q3);
    }
    const __m256 mn = _mm256_min_ps(mn0, mn1);
    const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    const __m256 q = _mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3));
    // s - s is 0 for a finite lane and NaN for an infinite or NaN one.
    const __m256 ok =
        _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(s, s), zero, _CMP_EQ_OQ),
                                    _mm256_cmp_ps(_mm256_sub_ps(q, q), zero, _CMP_EQ_OQ)),
                      _mm256_cmp_ps(mn, zero, _CMP_GE_OQ));
    if (_mm256_movemask_ps(ok) != 0xFF) break;
    sd = _mm256_add_pd(sd, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)),
                                         _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1))));
    qd = _mm256_add_pd(qd, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(q)),
                                         _mm256_cvtps_pd(_mm256_extractf128_ps(q, 1))));
    mnT = _mm256_min_ps(mn, mnT);
    mxT = _mm256_max_ps(_mm256_max_ps(mx0, mx1), mxT);
    zT = _mm256_add_epi32(zT, _mm256_add_epi32(z0, z1));
    done += kFastBlock;
  }
  if (done == 0) return 0;
  alignas(32) float mn[8], mx[8];
  alignas(32) double sv[4], qv[4];
  alignas(32) int32_t z[8];
  _mm256_store_ps(mn, mnT);
  _mm256_store_ps(mx, mxT);
  _mm256_store_pd(sv, sd);
  _mm256_store_pd(qv, qd);
  _mm256_store_si256(reinterpret_cast<__m256i*>(z), zT);
  Partial& o = out[0];
  for (int j = 0; j < 8; ++j) {
    o.zero += static_cast<uint32_t>(z[j]);
    if (static_cast<double>(mn[j]) < o.min) o.min = static_cast<double>(mn[j]);
    if (static_cast<double>(mx[j]) > o.max) o.max = static_cast<double>(mx[j]);
  }
  o.sum += (sv[0] + sv[1]) + (sv[2] + sv[3]);
  o.sum_sq += (qv[0] + qv[1]) + (qv[2] + qv[3]);
  o.count += done;
  o.finite += done;
  return done;
}

template <int W>
inline bool finish_fast_d(const double* mn, const double* mx, const double* s, const double* q,
                          const int64_t* z, bool bad, size_t n, Partial* out) {
  if (bad) return false;
  Partial& o = out[0];
  for (int j = 0; j < W; ++j) {
    o.zero += static_cast<uint64_t>(z[j]);
    if (mn[j] < o.min) o.min = mn[j];
    if (mx[j] > o.max) o.max = mx[j];
    o.sum += s[j];
    o.sum_sq += q[j];
  }
  o.count += n;
  o.finite += n;
  return true;
}

bool fast_block_f64_sse2(const uint8_t* p, size_t n, Partial* out) {
  const __m128d zero = _mm_setzero_pd();
  const __m128d dmax = _mm_set1_pd(std::numeric_limits<double>::max());
  __m128d mn0 = dmax, mn1 = dmax, mx0 = zero, mx1 = zero;
  __m128d s0 = zero, s1 = zero, q0 = zero, q1 = zero, ok = _mm_castsi128_pd(_mm_set1_epi32(-1));
  __m128i z0 = _mm_setzero_si128(), z1 = _mm_setzero_si128();
  for (size_t i = 0; i < n; i += 4) {
    const __m128d a = _mm_loadu_pd(reinterpret_cast<const double*>(p + 8 * i));
    const __m128d b = _mm_loadu_pd(reinterpret_cast<const double*>(p + 8 * i + 16));
    ok = _mm_and_pd(ok, _mm_and_pd(_mm_and_pd(_mm_cmpge_pd(a, zero), _mm_cmple_pd(a, dmax)),
                                   _mm_and_pd(_mm_cmpge_pd(b, zero), _mm_cmple_pd(b, dmax))));
    z0 = _mm_sub_epi64(z0, _mm_castpd_si128(_mm_cmpeq_pd(a, zero)));
    z1 = _mm_sub_epi64(z1, _mm_castpd_si128(_mm_cmpeq_pd(b, zero)));
    mn0 = _mm_min_pd(mn0, a);
    mn1 = _mm_min_pd(mn1, b);
    mx0 = _mm_max_pd(mx0, a);
    mx1 = _mm_max_pd(mx1, b);
    s0 = _mm_add_pd(s0, a);
    s1 = _mm_add_pd(s1, b);
    q0 = _mm_add_pd(q0, _mm_mul_pd(a, a));
    q1 = _mm_add_pd(q1, _mm_mul_pd(b, b));
  }
  alignas(16) double mn[2], mx[2], s[2], q[2];
  alignas(16) int64_t z[2];
  _mm_store_pd(mn, _mm_min_pd(mn0, mn1));
  _mm_store_pd(mx, _mm_max_pd(mx0, mx1));
  _mm_store_pd(s, _mm_add_pd(s0, s1));
  _mm_store_pd(q, _mm_add_pd(q0, q1));
  _mm_store_si128(reinterpret_cast<__m128i*>(z), _mm_add_epi64(z0, z1));
  return finish_fast_d<2>(mn, mx, s, q, z, _mm_movemask_pd(ok) != 0x3, n, out);
}

__attribute__((target("avx2"))) bool fast_block_f64_avx2(const uint8_t* p, size_t n, Partial* out) {
  const __m256d zero = _mm256_setzero_pd();
  const __m256d dmax = _mm256_set1_pd(std::numeric_limits<double>::max());
  __m256d mn0 = dmax, mn1 = dmax, mx0 = zero, mx1 = zero;
  __m256d s0 = zero, s1 = zero, q0 = zero, q1 = zero;
  __m256d ok = _mm256_castsi256_pd(_mm256_set1_epi32(-1));
  __m256i z0 = _mm256_setzero_si256(), z1 = _mm256_setzero_si256();
  for (size_t i = 0; i < n; i += 8) {
    const __m256d a = _mm256_loadu_pd(reinterpret_cast<const double*>(p + 8 * i));
    const __m256d b = _mm256_loadu_pd(reinterpret_cast<const double*>(p + 8 * i + 32));
    ok = _mm256_and_pd(
        ok,
        _mm256_and_pd(
            _mm256_and_pd(_mm256_cmp_pd(a, zero, _CMP_GE_OQ), _mm256_cmp_pd(a, dmax, _CMP_LE_OQ)),
            _mm256_and_pd(_mm256_cmp_pd(b, zero, _CMP_GE_OQ), _mm256_cmp_pd(b, dmax, _CMP_LE_OQ))));
    z0 = _mm256_sub_epi64(z0, _mm256_castpd_si256(_mm256_cmp_pd(a, zero, _CMP_EQ_OQ)));
    z1 = _mm256_sub_epi64(z1, _mm256_castpd_si256(_mm256_cmp_pd(b, zero, _CMP_EQ_OQ)));
    mn0 = _mm256_min_pd(mn0, a);
    mn1 = _mm256_min_pd(mn1, b);
    mx0 = _mm256_max_pd(mx0, a);
    mx1 = _mm256_max_pd(mx1, b);
    s0 = _mm256_add_pd(s0, a);
    s1 = _mm256_add_pd(s1, b);
    q0 = _mm256_add_pd(q0, _mm256_mul_pd(a, a));
    q1 = _mm256_add_pd(q1, _mm256_mul_pd(b, b));
  }
  alignas(32) double mn[4], mx[4], s[4], q[4];
  alignas(32) int64_t z[4];
  _mm256_store_pd(mn, _mm256_min_pd(mn0, mn1));
  _mm256_store_pd(mx, _mm256_max_pd(mx0, mx1));
  _mm256_store_pd(s, _mm256_add_pd(s0, s1));
  _mm256_store_pd(q, _mm256_add_pd(q0, q1));
  _mm256_store_si256(reinterpret_cast<__m256i*>(z), _mm256_add_epi64(z0, z1));
  return finish_fast_d<4>(mn, mx, s, q, z, _mm256_movemask_pd(ok) != 0xF, n, out);
}

bool have_avx2() {
  static const bool v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return v;
}
#endif

template <typename F>
bool fast_block(const uint8_t* p, size_t n, Partial* out) {
#if defined(__x86_64__) && defined(__SSE2__)
  // A failed fast block leaves out untouched, so the exact kernel can redo it.
  if (n % 16 == 0) {
    if (std::is_same<F, float>::value) return fast_block_f32_sse2(p, n, out);
    return have_avx2() ? fast_block_f64_avx2(p, n, out) : fast_block_f64_sse2(p, n, out);
  }
#endif
  return fast_block_generic<F>(p, n, out);
}

// n scalars at p (any alignment), native order. ncomp 1 (real) or 2 (complex, interleaved).
template <typename F>
void kern_float_exact(const uint8_t* p, size_t n, int ncomp, Partial* out) {
  using L = FloatLanes<F>;
  using U = typename L::U;
  using S = typename L::S;
  L acc;
  const size_t full = n / kLanes * kLanes;
  for (size_t i = 0; i < full; i += kLanes) {
    U bv[kLanes];
    std::memcpy(bv, p + i * sizeof(F), sizeof bv);
    acc.add(bv);
  }
  if (full < n) {
    // Pad the last block with NaNs (they touch no min/max/sum) and take them back out.
    U bv[kLanes];
    for (int j = 0; j < kLanes; ++j) bv[j] = FloatBits<F>::kAbs;
    const size_t rest = n - full;
    std::memcpy(bv, p + full * sizeof(F), rest * sizeof(F));
    acc.add(bv);
    for (size_t j = rest; j < static_cast<size_t>(kLanes); ++j) acc.nan[j] -= 1;
  }
  for (int j = 0; j < kLanes; ++j) {
    Partial& o = out[j % ncomp];
    o.nan += acc.nan[j];
    o.pos_inf += acc.pinf[j];
    o.neg_inf += acc.ninf[j];
    o.negative += acc.neg[j];
    o.zero += acc.zero[j];
    if (acc.mn[j] != L::kMaxKey) {
      const U kb = static_cast<U>(order_key<S, U>(static_cast<U>(acc.mn[j])));
      F f;
      std::memcpy(&f, &kb, sizeof f);
      if (static_cast<double>(f) < o.min) o.min = static_cast<double>(f);
    }
    if (acc.mx[j] != L::kMinKey) {
      const U kb = static_cast<U>(order_key<S, U>(static_cast<U>(acc.mx[j])));
      F f;
      std::memcpy(&f, &kb, sizeof f);
      if (static_cast<double>(f) > o.max) o.max = static_cast<double>(f);
    }
    o.sum += acc.s[j];
    o.sum_sq += acc.q[j];
  }
  const uint64_t per = n / static_cast<size_t>(ncomp);
  for (int c = 0; c < ncomp; ++c) {
    out[c].count += per;
    out[c].finite = out[c].count - out[c].nan - out[c].pos_inf - out[c].neg_inf;
  }
}

// Real values: blocks go through the fast path and fall back to the exact kernel per block.
template <typename F>
void kern_float(const uint8_t* p, size_t n, int ncomp, Partial* out) {
  if (ncomp != 1) {
    kern_float_exact<F>(p, n, ncomp, out);
    return;
  }
  size_t i = 0;
  while (i < n) {
#if defined(__x86_64__) && defined(__SSE2__)
    if (std::is_same<F, float>::value && have_avx2()) {
      i += fast_run_f32_avx2(p + i * sizeof(F), n - i, out);
      if (i == n) break;
    }
#endif
    const size_t m = std::min(kFastBlock, n - i);
    const size_t mf = m / kFastLanes * kFastLanes;
    if (mf == 0 || !fast_block<F>(p + i * sizeof(F), mf, out)) {
      kern_float_exact<F>(p + i * sizeof(F), m, 1, out);
    } else if (mf < m) {
      kern_float_exact<F>(p + (i + mf) * sizeof(F), m - mf, 1, out);
    }
    i += m;
  }
}

template <typename T>
void kern_int(const uint8_t* p, size_t n, Partial* out, uint64_t* bad_bool) {
  uint32_t neg[kLanes] = {}, zero[kLanes] = {}, bad[kLanes] = {};
  T mn[kLanes], mx[kLanes];
  double s[kLanes] = {}, q[kLanes] = {};
  for (int j = 0; j < kLanes; ++j) {
    mn[j] = std::numeric_limits<T>::max();
    mx[j] = std::numeric_limits<T>::lowest();
  }
  auto body = [&](size_t i, int j) {
    T x;
    std::memcpy(&x, p + i * sizeof(T), sizeof(T));
    neg[j] += static_cast<uint32_t>(x < T(0));
    zero[j] += static_cast<uint32_t>(x == T(0));
    bad[j] += static_cast<uint32_t>(x > T(1));
    mn[j] = x < mn[j] ? x : mn[j];
    mx[j] = x > mx[j] ? x : mx[j];
    const double d = static_cast<double>(x);
    s[j] += d;
    q[j] += d * d;
  };
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) body(i + j, j);
  }
  for (int j = 0; i + j < n; ++j) body(i + j, j);
  Partial& o = out[0];
  for (int j = 0; j < kLanes; ++j) {
    o.negative += neg[j];
    o.zero += zero[j];
    if (bad_bool) *bad_bool += bad[j];
    if (n > static_cast<size_t>(j)) {
      if (static_cast<double>(mn[j]) < o.min) o.min = static_cast<double>(mn[j]);
      if (static_cast<double>(mx[j]) > o.max) o.max = static_cast<double>(mx[j]);
    }
    o.sum += s[j];
    o.sum_sq += q[j];
  }
  o.count += n;
  o.finite += n;
}

// IEEE binary16 -> binary32, exact for every input (subnormals, Inf, NaN payloads).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  // Rebias by multiplying: 2^(127-15) maps normals and subnormals alike.
  uint32_t bits = em << 13;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  f *= 0x1p112f;
  std::memcpy(&bits, &f, sizeof bits);
  if (em >= 0x7c00u) bits = 0x7f800000u | ((em & 0x3ffu) << 13);
  bits |= sign;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

bool scannable(const DType& d) {
  if (!d.supported || d.is_object) return false;
  switch (d.kind) {
    case 'b': return d.itemsize == 1;
    case 'i':
    case 'u': return d.itemsize == 1 || d.itemsize == 2 || d.itemsize == 4 || d.itemsize == 8;
    case 'f': return d.itemsize == 2 || d.itemsize == 4 || d.itemsize == 8;
    case 'c': return d.itemsize == 8 || d.itemsize == 16;
    default: return false;
  }
}

}  // namespace

namespace {

void tally(RowTally& t, uint64_t row, uint64_t count) {
  ++t.rows;
  t.values += count;
  if (t.first.size() < kRowListMax) t.first.emplace_back(row, count);
}

void append_tally(RowTally& a, const RowTally& b) {
  a.rows += b.rows;
  a.values += b.values;
  for (const auto& e : b.first) {
    if (a.first.size() >= kRowListMax) break;
    a.first.push_back(e);
  }
}

}  // namespace

void merge_row_tallies(RowTallies& a, const RowTallies& b) {
  a.rows += b.rows;
  append_tally(a.zero, b.zero);
  append_tally(a.nonfinite, b.nonfinite);
  append_tally(a.negative, b.negative);
}

uint64_t row_tally_elements(const NpyHeader& h) {
  if (h.shape.size() < 2 || h.fortran_order || h.shape[0] == 0) return 0;
  const uint64_t per_row = h.count / h.shape[0];  // count is the overflow-checked product
  return per_row >= kMinRowTallyElements ? per_row : 0;
}

Scanner::Scanner(const DType& dtype, uint64_t row_elements, uint64_t first_row) : dtype_(dtype) {
  if (!scannable(dtype))
    throw Error(Code::NpyUnsupportedDtype,
                "dtype '" + dtype.descr + "' has no value statistics (numeric or bool only)");
  stats_.components.resize(dtype.kind == 'c' ? 2 : 1);
  if (row_elements > 0) {
    stats_.rows.emplace();
    stats_.rows->row_elements = row_elements;
    stats_.rows->first_row = first_row;
  }
}

void Scanner::close_row() {
  RowTallies& t = *stats_.rows;
  const uint64_t row = t.first_row + t.rows;
  const uint64_t ncomp = stats_.components.size();
  // row_pos_ < row_elements only for a row cut short by the end of the data (finish()).
  if (row_pos_ == t.row_elements && row_zero_ == row_pos_ * ncomp) tally(t.zero, row, row_zero_);
  if (row_nonfinite_) tally(t.nonfinite, row, row_nonfinite_);
  if (row_negative_) tally(t.negative, row, row_negative_);
  ++t.rows;
  row_pos_ = row_zero_ = row_nonfinite_ = row_negative_ = 0;
}

void Scanner::feed(const uint8_t* p, size_t n) {
  const size_t isz = dtype_.itemsize;
  if (carry_len_) {
    const size_t k = std::min(isz - carry_len_, n);
    std::memcpy(carry_ + carry_len_, p, k);
    carry_len_ += k;
    p += k;
    n -= k;
    if (carry_len_ < isz) return;
    feed_aligned(carry_, 1);
    carry_len_ = 0;
  }
  const size_t nelem = n / isz;
  if (nelem) feed_aligned(p, nelem);
  const size_t rest = n - nelem * isz;
  if (rest) {
    std::memcpy(carry_, p + nelem * isz, rest);
    carry_len_ = rest;
  }
}

void Scanner::feed_aligned(const uint8_t* p, size_t nelem) {
  const size_t isz = dtype_.itemsize;
  alignas(64) uint8_t stage[kStageBytes];
  alignas(64) float hstage[kStageBytes / 2];
  const bool swap = dtype_.big_endian && dtype_.component_size > 1;
  const bool staged = swap || (dtype_.kind == 'f' && isz == 2);
  // Values read in place go in bigger rounds (less per-round merging); staged ones fill the buffer.
  const size_t per_round = (staged ? kStageBytes : kDirectRoundBytes) / isz;
  const uint64_t row_len = stats_.rows ? stats_.rows->row_elements : 0;
  while (nelem > 0) {
    size_t m = nelem < per_round ? nelem : per_round;
    if (row_len && m > row_len - row_pos_)
      m = static_cast<size_t>(row_len - row_pos_);  // end at the row's end
    const size_t bytes = m * isz;
    const uint8_t* q = p;
    if (staged) {
      std::memcpy(stage, p, bytes);
      if (swap) swap_units(stage, bytes, dtype_.component_size);
      q = stage;
    }
    Partial part[2];
    switch (dtype_.kind) {
      case 'b': kern_int<uint8_t>(q, m, part, &stats_.bad_bool); break;
      case 'i':
        switch (isz) {
          case 1: kern_int<int8_t>(q, m, part, nullptr); break;
          case 2: kern_int<int16_t>(q, m, part, nullptr); break;
          case 4: kern_int<int32_t>(q, m, part, nullptr); break;
          default: kern_int<int64_t>(q, m, part, nullptr); break;
        }
        break;
      case 'u':
        switch (isz) {
          case 1: kern_int<uint8_t>(q, m, part, nullptr); break;
          case 2: kern_int<uint16_t>(q, m, part, nullptr); break;
          case 4: kern_int<uint32_t>(q, m, part, nullptr); break;
          default: kern_int<uint64_t>(q, m, part, nullptr); break;
        }
        break;
      case 'f':
        if (isz == 2) {
          for (size_t i = 0; i < m; ++i) {
            uint16_t h;
            std::memcpy(&h, q + 2 * i, 2);
            hstage[i] = half_to_float(h);
          }
          kern_float<float>(reinterpret_cast<const uint8_t*>(hstage), m, 1, part);
        } else if (isz == 4) {
          kern_float<float>(q, m, 1, part);
        } else {
          kern_float<double>(q, m, 1, part);
        }
        break;
      case 'c': {
        if (isz == 8) kern_float<float>(q, 2 * m, 2, part);
        else kern_float<double>(q, 2 * m, 2, part);
        // |z|^2 over elements whose both parts are finite: the per-component sums of squares
        // minus the finite half of any element that has a non-finite part (rare: slow path).
        double abs2 = part[0].sum_sq + part[1].sum_sq;
        if (part[0].finite != part[0].count || part[1].finite != part[1].count) {
          const size_t cs = isz / 2;
          for (size_t i = 0; i < m; ++i) {
            double re, im;
            if (cs == 4) {
              float a, b;
              std::memcpy(&a, q + i * 8, 4);
              std::memcpy(&b, q + i * 8 + 4, 4);
              re = a;
              im = b;
            } else {
              std::memcpy(&re, q + i * 16, 8);
              std::memcpy(&im, q + i * 16 + 8, 8);
            }
            const bool fr = std::isfinite(re), fi = std::isfinite(im);
            if (fr && !fi) abs2 -= re * re;
            if (fi && !fr) abs2 -= im * im;
          }
        }
        stats_.sum_abs2 += abs2;
        break;
      }
      default: break;
    }
    for (size_t c = 0; c < stats_.components.size(); ++c) merge(stats_.components[c], part[c]);
    stats_.elements += m;
    if (row_len) {
      for (size_t c = 0; c < stats_.components.size(); ++c) {
        row_zero_ += part[c].zero;
        row_nonfinite_ += part[c].nan + part[c].pos_inf + part[c].neg_inf;
        row_negative_ += part[c].negative;
      }
      row_pos_ += m;
      if (row_pos_ == row_len) close_row();
    }
    p += bytes;
    nelem -= m;
  }
}

ScanStats Scanner::finish() {
  if (carry_len_)
    throw Error(Code::NpyTruncated, "data ends " + std::to_string(carry_len_) +
                                        " bytes into an element of " +
                                        std::to_string(dtype_.itemsize) + " bytes");
  if (stats_.rows && row_pos_) close_row();
  return stats_;
}

}  // namespace npz
