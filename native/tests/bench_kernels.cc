// Single-core kernel throughput for `npm run bench`: CRC-32 (every supported kernel and zlib's
// crc32 on the same buffer) and raw inflate (npzguard's decoder and zlib's on the same stream).
// Usage: npz_bench_kernels crc [MiB]            -> one JSON line per kernel
//        npz_bench_kernels inflate FILE.npz KEY [REPS] -> inflate the member KEY.npy (or KEY) with
//        both
//        npz_bench_kernels pinflate FILE.npz KEY THREADS [CHUNK] -> the parallel engine, wall time
// Not a test: prints numbers, asserts only that each result equals zlib's.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "crc32.h"
#include "inflate.h"
#include "parallel_inflate.h"
#include "source.h"
#include "zip_index.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

// CPU time of this thread: the machine is shared, so wall time would count other processes'
// turns on the core; the rates are "per core while running".
double wall() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The memory ceiling for a one-core streaming kernel: the same buffer read with the widest plain
// loads (AVX2 where the CPU has it), XOR-reduced so nothing can be skipped. A CRC kernel that
// prefetches can come out at or a little above it (the 512-bit kernel on the Zen 5 VM: 94-103%;
// a variant of this loop with the same 8 KiB prefetch measured no faster there): it says the CRC
// runs at the speed of the memory, not that it could go much further.
#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_all_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  uint64_t r = static_cast<uint64_t>(_mm256_extract_epi64(a, 0)) ^
               static_cast<uint64_t>(_mm256_extract_epi64(a, 3));
  for (; i < n; ++i) r ^= p[i];
  return r;
}
#endif
uint64_t read_all(const uint8_t* p, size_t n, const char** how) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) {
    *how = "avx2 loads";
    return read_all_avx2(p, n);
  }
#endif
  *how = "64-bit loads";
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t v[4];
    std::memcpy(v, p + i, 32);
    a0 ^= v[0];
    a1 ^= v[1];
    a2 ^= v[2];
    a3 ^= v[3];
  }
  uint64_t r = a0 ^ a1 ^ a2 ^ a3;
  for (; i < n; ++i) r ^= p[i];
  return r;
}

int bench_crc(size_t mib) {
  const size_t n = mib << 20;
  std::vector<uint8_t> buf(n);
  std::mt19937_64 rng(1);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(buf.data() + i, &v, 8);
  }
  double t0 = 0, tz = 1e9;  // best of 3, like the kernels below
  uLong z = 0;
  for (int rep = 0; rep < 3; ++rep) {
    t0 = now();
    z = 0;
    for (size_t off = 0; off < n; off += 1u << 30)
      z = ::crc32(z, buf.data() + off, static_cast<uInt>(std::min<size_t>(1u << 30, n - off)));
    tz = std::min(tz, now() - t0);
  }
  std::printf(
      "{\"kind\":\"crc32\",\"impl\":\"zlib %s\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f}\n",
      zlibVersion(), n, tz, n / tz / 1e9);
  {
    double tr = 1e9;
    uint64_t sink = 0;
    const char* how = "";
    for (int rep = 0; rep < 3; ++rep) {
      t0 = now();
      sink ^= read_all(buf.data(), n, &how);
      tr = std::min(tr, now() - t0);
    }
    std::printf(
        "{\"kind\":\"read-ceiling\",\"impl\":\"%s\",\"bytes\":%zu,\"seconds\":%.4f,"
        "\"gbps\":%.3f,\"sink\":%llu}\n",
        how, n, tr, n / tr / 1e9, static_cast<unsigned long long>(sink & 1));
  }
  const npz::Crc32Kernel* ks = nullptr;
  const size_t nk = npz::crc32_kernels(&ks);
  int bad = 0;
  for (size_t i = 0; i < nk; ++i) {
    if (!ks[i].supported) continue;
    double best = 1e9;
    uint32_t c = 0;
    for (int rep = 0; rep < 3; ++rep) {
      t0 = now();
      c = ks[i].fn(0, buf.data(), n);
      best = std::min(best, now() - t0);
    }
    if (c != static_cast<uint32_t>(z)) bad = 1;
    std::printf(
        "{\"kind\":\"crc32\",\"impl\":\"%s\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f,"
        "\"vsZlib\":%.2f,\"selected\":%s}\n",
        ks[i].name, n, best, n / best / 1e9, tz / best,
        std::strcmp(ks[i].name, npz::crc32_impl_name()) == 0 ? "true" : "false");
  }
  // Context: the same kernels on a 1 MiB buffer (cache-resident) 256 times, where memory
  // bandwidth does not cap them.
  const size_t small = size_t{1} << 20, reps = 256;
  t0 = now();
  uLong zs = 0;
  for (size_t r = 0; r < reps; ++r) zs = ::crc32(zs, buf.data(), static_cast<uInt>(small));
  const double tzs = now() - t0;
  std::printf(
      "{\"kind\":\"crc32-cached\",\"impl\":\"zlib "
      "%s\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f}\n",
      zlibVersion(), small * reps, tzs, small * reps / tzs / 1e9);
  for (size_t i = 0; i < nk; ++i) {
    if (!ks[i].supported || std::strcmp(ks[i].name, npz::crc32_impl_name()) != 0) continue;
    uint32_t c = 0;
    t0 = now();
    for (size_t r = 0; r < reps; ++r) c = ks[i].fn(c, buf.data(), small);
    const double t = now() - t0;
    if (c != static_cast<uint32_t>(zs)) bad = 1;
    std::printf(
        "{\"kind\":\"crc32-cached\",\"impl\":\"%s\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f,"
        "\"vsZlib\":%.2f,\"selected\":true}\n",
        ks[i].name, small * reps, t, small * reps / t / 1e9, tzs / t);
  }
  return bad;
}

// Inflates the whole raw stream with one decoder, 1 MiB input chunks, 256 KiB output steps.
double run_inflate(npz::Inflater& inf, const std::vector<uint8_t>& z, std::vector<uint8_t>& out,
                   size_t* produced) {
  const double t0 = now();
  size_t in = 0, o = 0;
  bool end = false;
  while (!end) {
    const size_t il = std::min<size_t>(z.size() - in, 1u << 20);
    inf.in_final = in + il == z.size();
    const size_t ol = std::min<size_t>(out.size() - o, 256u << 10);
    const npz::Inflater::Step s = inf.step(z.data() + in, il, out.data() + o, ol);
    in += s.consumed;
    o += s.produced;
    end = s.end;
    if (!s.consumed && !s.produced && !end) break;
  }
  *produced = o;
  return now() - t0;
}

int bench_inflate(const char* path, const std::string& key, int reps) {
  npz::FileSource src(path);
  const auto entries = npz::read_zip_index(src, {});
  for (const auto& e : entries) {
    if (e.name != key && e.name != key + ".npy") continue;
    if (e.method != 8) {
      std::fprintf(stderr, "member %s is not deflated\n", e.name.c_str());
      return 2;
    }
    std::vector<uint8_t> z(static_cast<size_t>(e.csize));
    src.read(e.data_offset, z.data(), z.size());
    std::vector<uint8_t> a(static_cast<size_t>(e.usize) + 1), b(a.size());
    size_t na = 0, nb = 0;
    // Alternating runs, best of each: the machine is shared, and load changes between runs.
    double tz = 1e9, to = 1e9;
    for (int rep = 0; rep < reps; ++rep) {
      auto zl = npz::make_zlib_inflater();
      tz = std::min(tz, run_inflate(*zl, z, a, &na));
      auto ours = npz::make_npz_inflater();
      to = std::min(to, run_inflate(*ours, z, b, &nb));
    }
    if (auto isal = npz::make_isal_inflater()) {
      std::vector<uint8_t> c(a.size());
      size_t nc = 0;
      double ti = 1e9;
      for (int rep = 0; rep < reps; ++rep) {
        auto fresh = npz::make_isal_inflater();
        ti = std::min(ti, run_inflate(*fresh, z, c, &nc));
      }
      std::printf(
          "{\"kind\":\"inflate\",\"impl\":\"isa-l\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f,"
          "\"vsZlib\":%.2f}\n",
          nc, ti, nc / ti / 1e9, tz / ti);
    }
    const bool same = na == nb && na == e.usize && std::memcmp(a.data(), b.data(), na) == 0;
    std::printf(
        "{\"kind\":\"inflate\",\"impl\":\"zlib "
        "%s\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f}\n",
        zlibVersion(), na, tz, na / tz / 1e9);
    std::printf(
        "{\"kind\":\"inflate\",\"impl\":\"%s\",\"bytes\":%zu,\"seconds\":%.4f,\"gbps\":%.3f,"
        "\"vsZlib\":%.2f,\"identical\":%s}\n",
        "npzguard", nb, to, nb / to / 1e9, tz / to, same ? "true" : "false");
    return same ? 0 : 1;
  }
  std::fprintf(stderr, "no member %s\n", key.c_str());
  return 2;
}

struct CrcSink final : npz::InflateSink {
  uint32_t crc = 0;
  void write(const uint8_t* p, size_t k) override { crc = npz::crc32_update(crc, p, k); }
};

// Wall time of the parallel engine on one member (reading from the file, CRC of the output in
// the sink); the serial decoder's rate is the inflate mode's.
int bench_pinflate(const char* path, const std::string& key, unsigned threads, size_t chunk) {
  npz::FileSource src(path);
  const auto entries = npz::read_zip_index(src, {});
  for (const auto& e : entries) {
    if (e.name != key && e.name != key + ".npy") continue;
    if (e.method != 8) return 2;
    npz::ParallelInflateOptions o;
    o.threads = threads;
    o.chunk_size = chunk;
    CrcSink sink;
    const double t0 = wall();
    const npz::ParallelInflateResult r =
        npz::parallel_inflate(src, e.data_offset, e.csize, e.usize, sink, o);
    const double t = wall() - t0;
    std::printf(
        "{\"kind\":\"pinflate\",\"threads\":%u,\"ok\":%s,\"crcOk\":%s,\"bytes\":%llu,"
        "\"seconds\":%.4f,\"gbps\":%.3f,\"chunks\":%llu,\"confirmed\":%llu,"
        "\"redecoded\":%llu,\"paused\":%llu,\"markers\":%llu,\"reason\":\"%s\"}\n",
        threads, r.ok ? "true" : "false", r.crc == e.crc32 ? "true" : "false",
        static_cast<unsigned long long>(r.total), t, static_cast<double>(r.total) / t / 1e9,
        static_cast<unsigned long long>(r.chunks), static_cast<unsigned long long>(r.confirmed),
        static_cast<unsigned long long>(r.redecoded), static_cast<unsigned long long>(r.paused),
        static_cast<unsigned long long>(r.markers), r.reason.c_str());
    return r.ok && r.crc == e.crc32 ? 0 : 1;
  }
  std::fprintf(stderr, "no member %s\n", key.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "crc") == 0)
      return bench_crc(argc >= 3 ? static_cast<size_t>(std::atoi(argv[2])) : 256);
    if (argc >= 5 && std::strcmp(argv[1], "pinflate") == 0)
      return bench_pinflate(argv[2], argv[3], static_cast<unsigned>(std::atoi(argv[4])),
                            argc >= 6 ? static_cast<size_t>(std::atol(argv[5])) : 0);
    if (argc >= 4 && std::strcmp(argv[1], "inflate") == 0)
      return bench_inflate(argv[2], argv[3], argc >= 5 ? std::max(1, std::atoi(argv[4])) : 3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: npz_bench_kernels crc [MiB] | inflate FILE.npz KEY\n");
  return 2;
}
