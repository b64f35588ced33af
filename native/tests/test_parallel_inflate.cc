// The parallel DEFLATE engine (parallel_inflate.cc): parallel == serial == zlib byte for byte at
// 1..8 threads and small chunk sizes on numpy-written members of every dtype and on synthetic
// streams (stored / fixed / dynamic blocks mixed in one stream, long matches across chunk
// boundaries, data full of false-positive block headers); chunks are really decoded
// speculatively and confirmed (not all re-decoded serially); corrupt and truncated streams are
// never accepted; the output cap, the declared size and cancellation hold.
// Over 400 lines: one file for the engine's guarantees, which share the stream generators.
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "archive.h"
#include "bit_writer.h"
#include "crc32.h"
#include "fuzz_bodies_parallel.h"
#include "harness.h"
#include "parallel_inflate.h"
#include "parallel_member.h"
#include "source.h"
#include "zip_builder.h"
#include "zip_index.h"

using npz::Code;
using Bytes = std::vector<uint8_t>;

namespace {

// Raw deflate of `in` cut into `parts` pieces, each with its own (level, strategy) through
// deflateParams, so one stream mixes stored, fixed and dynamic blocks.
Bytes deflate_mixed(const Bytes& in, const std::vector<std::pair<int, int>>& params,
                    bool sync_flush = false, int mem_level = 8) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  // memLevel 1: a block every 128 symbols (many boundaries in small inputs).
  deflateInit2(&zs, params[0].first, Z_DEFLATED, -15, mem_level, params[0].second);
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) * 2 + 4096);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const size_t parts = params.size();
  for (size_t p = 0; p < parts; ++p) {
    const size_t a = in.size() * p / parts, b = in.size() * (p + 1) / parts;
    if (p > 0) deflateParams(&zs, params[p].first, params[p].second);
    zs.next_in = const_cast<Bytef*>(in.data() + a);
    zs.avail_in = static_cast<uInt>(b - a);
    deflate(&zs, p + 1 == parts ? Z_FINISH : (sync_flush ? Z_SYNC_FLUSH : Z_NO_FLUSH));
  }
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}
Bytes deflate_one(const Bytes& in, int level, int strategy = Z_DEFAULT_STRATEGY) {
  return deflate_mixed(in, {{level, strategy}});
}

// 0: float32 noise (literal-heavy, like diffraction data); 1: text-like; 2: runs; 3: random;
// 4: a random 20 KiB block repeated with sparse edits (long matches across every boundary).
Bytes sample(int kind, size_t n, uint32_t seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0:
        if (i % 4 == 0 && i + 4 <= n) {
          const float f = g(rng);
          std::memcpy(&b[i], &f, 4);
        }
        break;
      case 1: b[i] = static_cast<uint8_t>("the quick brown fox "[(i * 7 + rng() % 3) % 20]); break;
      case 2: b[i] = static_cast<uint8_t>((i / 1000) & 1 ? 0 : (i % 251)); break;
      case 3: b[i] = static_cast<uint8_t>(rng()); break;
      default:
        b[i] = i < 20000 ? static_cast<uint8_t>(rng()) : b[i - 20000];
        if (i >= 20000 && rng() % 97 == 0) b[i] = static_cast<uint8_t>(rng());
        break;
    }
  }
  return b;
}

struct Run {
  npz::ParallelInflateResult r;
  Bytes out;
};
Run par(const Bytes& z, uint64_t usize, unsigned threads, size_t chunk, size_t cap = 0,
        size_t overhang = 0) {
  npz::MemorySource src(z.data(), z.size());
  npzfuzz::VecSink sink;
  npz::ParallelInflateOptions o;
  o.threads = threads;
  o.chunk_size = chunk;
  o.max_chunk_output = cap;
  o.overhang = overhang;
  Run run;
  run.r = npz::parallel_inflate(src, 0, z.size(), usize, sink, o);
  run.out = std::move(sink.out);
  return run;
}

// Parallel output == the data (which zlib's deflate was given) == zlib's inflate of z.
bool check_same(const Bytes& z, const Bytes& data, unsigned threads, size_t chunk,
                npz::ParallelInflateResult* stats = nullptr, size_t cap = 0) {
  Bytes ref;
  const bool zok = npzfuzz::zlib_raw(z.data(), z.size(), size_t{1} << 28, &ref);
  const Run run = par(z, data.size(), threads, chunk, cap);
  const bool good = zok && ref == data && run.r.ok && run.out == data &&
                    run.r.crc == npz::crc32_update(0, data.data(), data.size());
  if (!good)
    std::fprintf(stderr, "  threads=%u chunk=%zu ok=%d reason=%s out=%zu/%zu\n", threads, chunk,
                 run.r.ok, run.r.reason.c_str(), run.out.size(), data.size());
  if (stats) {
    stats->chunks += run.r.chunks;
    stats->confirmed += run.r.confirmed;
    stats->redecoded += run.r.redecoded;
    stats->markers += run.r.markers;
    stats->paused += run.r.paused;
  }
  return good;
}

}  // namespace

NPZ_TEST(parallel_inflate_synthetic_streams_equal_zlib) {
  int cases = 0;
  npz::ParallelInflateResult st;
  for (int kind = 0; kind < 5; ++kind)
    for (size_t n :
         {size_t{1}, size_t{70000}, static_cast<size_t>(kind == 0 || kind == 4 ? 600000 : 250000)})
      for (int level : {0, 1, 6, 9})
        for (int strat : {Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY}) {
          if (level == 0 && strat != Z_DEFAULT_STRATEGY) continue;
          const Bytes data = sample(kind, n, static_cast<uint32_t>(n * 5 + kind));
          const Bytes z = deflate_one(data, level, strat);
          for (unsigned threads : {1u, 2u, 3u, 8u}) {
            const size_t chunk = std::max<size_t>(64, z.size() / (3 + threads * 2));
            NPZ_EXPECT(check_same(z, data, threads, chunk, &st));
            ++cases;
          }
        }
  std::printf(
      "     %d streams: %llu chunks, %llu confirmed, %llu re-decoded, %llu markers\n", cases,
      static_cast<unsigned long long>(st.chunks), static_cast<unsigned long long>(st.confirmed),
      static_cast<unsigned long long>(st.redecoded), static_cast<unsigned long long>(st.markers));
  // The parallel path is really taken: chunks start at boundaries found speculatively.
  NPZ_EXPECT(st.confirmed > 500);
  NPZ_EXPECT(st.markers > 10000);
}

NPZ_TEST(parallel_inflate_mixed_block_types_in_one_stream) {
  const std::vector<std::pair<int, int>> mixes[] = {
      {{0, Z_DEFAULT_STRATEGY},
       {6, Z_FIXED},
       {6, Z_DEFAULT_STRATEGY},
       {0, Z_DEFAULT_STRATEGY},
       {1, Z_HUFFMAN_ONLY},
       {9, Z_DEFAULT_STRATEGY}},
      {{6, Z_FIXED}, {6, Z_DEFAULT_STRATEGY}, {6, Z_FIXED}, {6, Z_DEFAULT_STRATEGY}},
      {{0, Z_DEFAULT_STRATEGY}, {9, Z_DEFAULT_STRATEGY}, {0, Z_DEFAULT_STRATEGY}},
  };
  npz::ParallelInflateResult st;
  for (int kind : {0, 1, 4})
    for (const auto& mix : mixes)
      for (bool sync : {false, true}) {
        const Bytes data = sample(kind, 250000, 7u + static_cast<uint32_t>(kind));
        const Bytes z = deflate_mixed(data, mix, sync);
        for (unsigned threads : {1u, 2u, 3u, 8u})
          for (size_t chunk : {size_t{999}, size_t{4096}, size_t{50000}})
            NPZ_EXPECT(check_same(z, data, threads, chunk, &st));
      }
  NPZ_EXPECT(st.confirmed > 0);
  NPZ_EXPECT(st.redecoded > 0);  // fixed blocks cannot be found: those chunks are re-decoded
}

// Long matches (distance 20000, length 258) run across every chunk boundary: the chunks after
// the first are full of markers, resolved from the previous chunk's last 32 KiB.
NPZ_TEST(parallel_inflate_long_matches_across_chunks) {
  const Bytes data = sample(4, 600000, 99);
  npz::ParallelInflateResult st;
  for (int level : {1, 6, 9}) {
    const Bytes z = deflate_one(data, level);
    for (unsigned threads : {1u, 2u, 4u, 8u})
      for (size_t chunk : {size_t{1000}, size_t{16384}})
        NPZ_EXPECT(check_same(z, data, threads, chunk, &st));
  }
  NPZ_EXPECT(st.confirmed > 50);
  NPZ_EXPECT(st.markers > 100000);
}

// Streams where most literal/length lookups return a two-literal entry (deflate_tables.h, pairs):
// skewed bytes (codes of 1 to 15 bits, so every split of the 12 index bits occurs) and float32
// noise (8-9 bit mantissa bytes next to 2-4 bit exponent bytes). Small chunks and a small
// overhang make each chunk's input run out often, so the careful loop decodes pairs too, among
// them pairs whose second code lies beyond the input given so far (it must take the first
// literal alone and continue after more input arrives). Fixed blocks (Z_FIXED) have pairs as well.
NPZ_TEST(parallel_inflate_literal_pair_streams_equal_zlib) {
  std::mt19937 rng(57);
  std::vector<Bytes> inputs;
  for (double p : {0.5, 0.3, 0.15}) {
    Bytes b(90000);
    std::geometric_distribution<int> g(p);
    for (auto& x : b) x = static_cast<uint8_t>(std::min(g(rng), 255) * 37 + 11);
    inputs.push_back(b);
  }
  inputs.push_back(sample(0, 160000, 58));
  int cases = 0;
  npz::ParallelInflateResult st;
  for (const Bytes& data : inputs)
    for (int strat : {Z_HUFFMAN_ONLY, Z_DEFAULT_STRATEGY, Z_FIXED})
      for (int mem : {1, 8}) {
        const Bytes z = deflate_mixed(data, {{6, strat}}, false, mem);
        Bytes ref;
        NPZ_EXPECT(npzfuzz::zlib_raw(z.data(), z.size(), size_t{1} << 28, &ref) && ref == data);
        for (unsigned threads : {1u, 2u, 3u, 4u})
          for (size_t chunk : {size_t{333}, size_t{4000}})
            for (size_t overhang : {size_t{24}, size_t{0}}) {
              const Run run = par(z, data.size(), threads, chunk, 0, overhang);
              ++cases;
              const bool good = run.r.ok && run.out == data &&
                                run.r.crc == npz::crc32_update(0, data.data(), data.size());
              NPZ_EXPECT(good);
              if (!good) {
                size_t k = 0;
                while (k < run.out.size() && k < data.size() && run.out[k] == data[k]) ++k;
                std::fprintf(stderr,
                             "  input %zu strategy %d mem %d threads %u chunk %zu overhang %zu: "
                             "ok=%d (%s), first difference at %zu of %zu/%zu\n",
                             static_cast<size_t>(&data - inputs.data()), strat, mem, threads, chunk,
                             overhang, run.r.ok, run.r.reason.c_str(), k, run.out.size(),
                             data.size());
                return;
              }
              st.confirmed += run.r.confirmed;
            }
      }
  NPZ_EXPECT(st.confirmed > 100);  // speculative chunks decoded pairs, not only the consumer
  std::printf("     %d literal-pair streams identical to zlib (%llu chunks confirmed)\n", cases,
              static_cast<unsigned long long>(st.confirmed));
}

// A level-0 stream whose payload holds deflate streams: the block finder meets dynamic and
// stored headers inside stored blocks that validate and even decode (false positives). The
// result is still exact (the false starts are never confirmed).
NPZ_TEST(parallel_inflate_false_positive_block_candidates) {
  const Bytes inner_data = sample(1, 30000, 5);
  Bytes inner = deflate_mixed(inner_data, {{6, Z_DEFAULT_STRATEGY}, {0, Z_DEFAULT_STRATEGY}}, true);
  Bytes data;
  std::mt19937 rng(3);
  while (data.size() < 1500000) {
    data.insert(data.end(), inner.begin(), inner.end() - 5);  // without the final empty block
    for (int i = 0; i < 7; ++i) data.push_back(static_cast<uint8_t>(rng()));
  }
  npz::ParallelInflateResult st;
  for (int level : {0, 1}) {
    const Bytes z = deflate_one(data, level);
    for (unsigned threads : {1u, 2u, 5u, 8u})
      for (size_t chunk : {size_t{3000}, size_t{40000}})
        NPZ_EXPECT(check_same(z, data, threads, chunk, &st));
  }
  std::printf("     false positives: %llu chunks, %llu confirmed, %llu re-decoded\n",
              static_cast<unsigned long long>(st.chunks),
              static_cast<unsigned long long>(st.confirmed),
              static_cast<unsigned long long>(st.redecoded));
  NPZ_EXPECT(st.redecoded > 0);
}

// numpy-written members (np.savez_compressed of every dtype, the fixtures) in tiny chunks.
NPZ_TEST(parallel_inflate_numpy_members_equal_zlib) {
  int members = 0;
  npz::ParallelInflateResult st;
  for (const char* f : {"npz/grid_compressed.npz", "npz/stream_compressed.npz",
                        "npz/metadata_unicode_compressed.npz"}) {
    npz::FileSource src(npztest::fixtures_dir + "/" + f);
    auto es = npz::read_zip_index(src, {});
    for (const auto& e : es) {
      if (e.method != 8) continue;
      Bytes z(static_cast<size_t>(e.csize));
      src.read(e.data_offset, z.data(), z.size());
      Bytes ref;
      NPZ_EXPECT(npzfuzz::zlib_raw(z.data(), z.size(), size_t{1} << 28, &ref));
      NPZ_EXPECT(ref.size() == e.usize);
      NPZ_EXPECT(npz::crc32_update(0, ref.data(), ref.size()) == e.crc32);
      for (unsigned threads : {1u, 2u, 4u, 8u})
        for (size_t chunk : {size_t{64}, size_t{700}})
          NPZ_EXPECT(check_same(z, ref, threads, chunk, &st));
      ++members;
    }
  }
  std::printf("     %d numpy members: %llu chunks, %llu confirmed\n", members,
              static_cast<unsigned long long>(st.chunks),
              static_cast<unsigned long long>(st.confirmed));
  NPZ_EXPECT(members > 100);
}

// A chunk that would hold more than the cap pauses and is finished by the consumer, streaming.
NPZ_TEST(parallel_inflate_output_cap_pauses_chunks) {
  const Bytes data = sample(2, 3000000, 1);  // compresses ~100:1
  const Bytes z = deflate_one(data, 6);
  npz::ParallelInflateResult st;
  for (unsigned threads : {1u, 2u, 4u})
    NPZ_EXPECT(check_same(z, data, threads, std::max<size_t>(64, z.size() / 8), &st, 4096));
  NPZ_EXPECT(st.paused > 0);
}

NPZ_TEST(parallel_inflate_declared_size_and_corruption) {
  const Bytes data = sample(0, 300000, 8);
  const Bytes z = deflate_one(data, 6);
  // More or less output than declared: not ok, and never more than declared delivered.
  for (uint64_t usize : {uint64_t{data.size() - 1}, uint64_t{data.size() + 1}, uint64_t{1000}}) {
    const Run run = par(z, usize, 2, 4096);
    NPZ_EXPECT(!run.r.ok);
    NPZ_EXPECT(run.out.size() <= usize);
  }
  // Truncated: not ok at every cut.
  for (size_t cut : {size_t{1}, z.size() / 3, z.size() - 1}) {
    const Bytes t(z.begin(), z.begin() + static_cast<long>(cut));
    NPZ_EXPECT(!par(t, data.size(), 3, 1024).r.ok);
  }
  // Flipped bytes: ok only when zlib decodes the same bytes (then it is the same answer).
  std::mt19937 rng(11);
  int refused = 0;
  for (int t = 0; t < 60; ++t) {
    Bytes c = z;
    c[rng() % c.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    Bytes ref;
    const bool zok = npzfuzz::zlib_raw(c.data(), c.size(), size_t{1} << 26, &ref);
    const Run run = par(c, data.size(), 1 + t % 4, 2048);
    if (!zok || ref.size() != data.size()) {
      NPZ_EXPECT(!run.r.ok);
      ++refused;
    } else {
      NPZ_EXPECT(!run.r.ok || run.out == ref);
    }
  }
  std::printf("     %d of 60 corrupted streams refused by zlib and by the engine\n", refused);
  NPZ_EXPECT(refused > 3);
}

// A fixed block: `before` literals, a match of 10 at distance before + extra, 4000 literals and the
// end of block. In the middle of the block the fast loop (deflate_fast.h) decodes the match.
Bytes far_stream(unsigned before, unsigned extra) {
  ztest::Bits w;
  w.put(1, 1);
  w.put(1, 2);
  for (unsigned i = 0; i < before; ++i) w.fixed_sym('a' + i % 26);
  w.fixed_sym(264);  // length 10
  w.put_rev(19, 5);  // distances 769-1024
  w.put(before + extra - 769, 8);
  for (unsigned i = 0; i < 4000; ++i) w.fixed_sym('A' + i % 26);
  w.fixed_sym(256);
  w.align();
  return w.b;
}

// A distance one byte past the output so far is refused (not ok) at every thread count and
// chunk size; the same stream with the distance in range decodes like zlib.
NPZ_TEST(parallel_inflate_refuses_distance_past_output) {
  for (const unsigned extra : {0u, 1u}) {
    const Bytes z = far_stream(1000, extra);
    Bytes ref;
    const bool zok = npzfuzz::zlib_raw(z.data(), z.size(), size_t{1} << 20, &ref);
    NPZ_EXPECT(zok == (extra == 0));
    for (const unsigned threads : {1u, 2u, 3u})
      for (const size_t chunk : {size_t{64}, size_t{600}, z.size()}) {
        const Run run = par(z, 1000 + 10 + 4000, threads, chunk);
        if (extra == 0) {
          NPZ_EXPECT(run.r.ok && run.out == ref);
        } else {
          NPZ_EXPECT(!run.r.ok);
        }
      }
  }
}

// The engine's memory: at any thread count no more decoding threads than chunks in flight and a
// reservation within the process-wide pool; calls at once never reserve more than the pool
// together, and a call that finds it taken declines at once (ok = false, nothing delivered: the
// caller decodes serially) rather than using more. Every call that runs equals the data.
NPZ_TEST(parallel_inflate_memory_pool_shared_by_concurrent_calls) {
  const Bytes data = sample(0, 6000000, 21);
  const Bytes z = deflate_one(data, 6);
  const size_t pool = npz::parallel_inflate_memory_pool();
  const Run one = par(z, data.size(), 1024, 0);
  NPZ_EXPECT(one.r.ok && one.out == data);
  NPZ_EXPECT(one.r.reserved > 0 && one.r.reserved <= pool);
  NPZ_EXPECT(one.r.workers >= 2 && one.r.workers <= one.r.in_flight && one.r.in_flight < 1024);
  std::printf(
      "     1024 threads asked: %llu workers, %llu in flight, %llu MiB reserved of %zu MiB\n",
      static_cast<unsigned long long>(one.r.workers),
      static_cast<unsigned long long>(one.r.in_flight),
      static_cast<unsigned long long>(one.r.reserved >> 20), pool >> 20);
  std::vector<Run> runs(8);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < runs.size(); ++i)
    callers.emplace_back([&, i] { runs[i] = par(z, data.size(), 64, 0); });
  for (std::thread& t : callers) t.join();
  int ran = 0, declined = 0;
  for (const Run& r : runs) {
    if (r.r.ok) {
      ++ran;
      NPZ_EXPECT(r.out == data);
    } else {
      ++declined;
      NPZ_EXPECT(r.r.reason.find("memory") != std::string::npos);
      NPZ_EXPECT(r.out.empty());
    }
  }
  std::printf("     8 calls at 64 threads at once: %d ran, %d declined; peak %zu MiB reserved\n",
              ran, declined, npz::parallel_inflate_memory_peak() >> 20);
  NPZ_EXPECT(ran >= 1);
  NPZ_EXPECT(npz::parallel_inflate_memory_peak() <= pool);
  // Given back: a call after them all gets its reservation again.
  NPZ_EXPECT(par(z, data.size(), 2, 0).r.ok);
}

NPZ_TEST(parallel_inflate_cancellation) {
  const Bytes data = sample(0, 2000000, 2);
  const Bytes z = deflate_one(data, 6);
  npz::MemorySource src(z.data(), z.size());
  npzfuzz::VecSink sink;
  std::atomic<bool> cancel{true};
  npz::ParallelInflateOptions o;
  o.threads = 2;
  o.chunk_size = 10000;
  o.cancel = &cancel;
  NPZ_EXPECT_CODE(npz::parallel_inflate(src, 0, z.size(), data.size(), sink, o), Code::NpzAborted);
}

NPZ_TEST(parallel_inflate_fuzz_body_on_random_and_mutated_inputs) {
  std::mt19937 rng(2);
  const Bytes base = deflate_mixed(
      sample(4, 60000, 4),
      {{6, Z_DEFAULT_STRATEGY}, {0, Z_DEFAULT_STRATEGY}, {6, Z_FIXED}, {6, Z_DEFAULT_STRATEGY}},
      false, 1);
  auto fail = [](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "  FAIL parallel fuzz invariant: %s\n", what);
      ++npztest::failures;
    }
  };
  int speculative = 0;
  for (int t = 0; t < 400; ++t) {
    Bytes in;
    for (int i = 0; i < 3; ++i) in.push_back(static_cast<uint8_t>(rng()));
    if (t % 2) {
      in.insert(in.end(), base.begin(), base.end());
      for (int k = 0; k < t % 5; ++k) in[3 + rng() % base.size()] ^= static_cast<uint8_t>(rng());
    } else {
      in.resize(3 + rng() % 600);
      for (size_t i = 3; i < in.size(); ++i) in[i] = static_cast<uint8_t>(rng());
    }
    const npz::ParallelInflateResult r = npzfuzz::parallel_diff(in.data(), in.size(), fail);
    if (r.ok && r.confirmed > 0) ++speculative;
  }
  // The mutated streams are split and confirmed often enough for the checks above to bite.
  std::printf("     %d of 400 inputs decoded with confirmed speculative chunks\n", speculative);
  NPZ_EXPECT(speculative > 20);
}

namespace {
bool same_stats(const npz::ScanResult& a, const npz::ScanResult& b) {
  if (a.crc_checked != b.crc_checked || a.crc_ok != b.crc_ok || a.bytes_read != b.bytes_read ||
      a.stats.has_value() != b.stats.has_value())
    return false;
  if (!a.stats) return true;
  const npz::ScanStats &x = *a.stats, &y = *b.stats;
  if (x.components.size() != y.components.size() || x.elements != y.elements ||
      x.bad_bool != y.bad_bool || std::memcmp(&x.sum_abs2, &y.sum_abs2, sizeof(double)) != 0)
    return false;
  for (size_t i = 0; i < x.components.size(); ++i) {
    const npz::ComponentStats &p = x.components[i], &q = y.components[i];
    if (p.count != q.count || p.nan != q.nan || p.pos_inf != q.pos_inf || p.neg_inf != q.neg_inf ||
        p.negative != q.negative || p.zero != q.zero || p.finite != q.finite ||
        std::memcmp(&p.min, &q.min, 8) || std::memcmp(&p.max, &q.max, 8) ||
        std::memcmp(&p.sum, &q.sum, 8) || std::memcmp(&p.sum_sq, &q.sum_sq, 8))
      return false;
  }
  return true;
}
}  // namespace

// Archive::scan and read_array of DEFLATED members above the size threshold: at 2 and 4
// threads the parallel path is taken (counted), and the results are identical to 1 thread
// (serial): CRC verdict, bytes, bit-identical statistics, array bytes (big-endian swapped).
// A wrong CRC in the central directory is still a CRC mismatch.
NPZ_TEST(parallel_inflate_archive_scan_and_copy_equal_serial) {
  std::mt19937 rng(21);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> le(1500000), be(1500000);
  for (auto& v : le) v = g(rng);
  for (auto& v : be) v = g(rng);
  le[1234] = std::numeric_limits<float>::quiet_NaN();
  le[777777] = 0.f;
  Bytes be_bytes = ztest::raw(be);
  for (size_t i = 0; i < be_bytes.size(); i += 4)
    std::reverse(be_bytes.begin() + static_cast<long>(i),
                 be_bytes.begin() + static_cast<long>(i) + 4);
  for (bool bad_crc : {false, true}) {
    ztest::Member a("le.npy", ztest::npy("<f4", "(1500000,)", ztest::raw(le)), 8);
    ztest::Member b("be.npy", ztest::npy(">f4", "(1000, 1500)", be_bytes), 8);
    if (bad_crc) a.cd_crc = ztest::crc(a.data) ^ 1u;
    const Bytes zip = ztest::build_zip({a, b}).bytes;
    std::vector<npz::ScanResult> serial(2);
    std::vector<npz::ByteBuffer> serial_arr(2);
    for (unsigned threads : {1u, 2u, 4u}) {
      npz::OpenOptions o;
      o.threads = threads;
      auto ar = npz::Archive::open_source(
          std::make_unique<npz::MemorySource>(zip.data(), zip.size()), "mem.npz", o);
      NPZ_EXPECT(ar->members()[0].entry.csize >= npz::kParallelInflateMin);
      NPZ_EXPECT(ar->members()[1].entry.csize >= npz::kParallelInflateMin);
      const uint64_t before = npz::parallel_members_decoded();
      for (size_t m = 0; m < 2; ++m) {
        const npz::ScanResult r = ar->scan(m, {});
        NPZ_EXPECT(r.crc_checked);
        NPZ_EXPECT(r.crc_ok == !(bad_crc && m == 0));
        NPZ_EXPECT(r.stats.has_value());
        if (threads == 1) serial[m] = r;
        NPZ_EXPECT(same_stats(r, serial[m]));
        Bytes into(6000000);
        if (bad_crc && m == 0) {
          NPZ_EXPECT_CODE(ar->read_array(m, npz::CopyMode::ForceCopy), Code::NpzCrcMismatch);
          NPZ_EXPECT_CODE(ar->read_array_into(m, into.data(), into.size()), Code::NpzCrcMismatch);
          continue;
        }
        npz::ArrayBytes arr = ar->read_array(m, npz::CopyMode::ForceCopy);
        NPZ_EXPECT(arr.crc_verified && arr.byte_length == 6000000);
        const Bytes want = ztest::raw(m == 0 ? le : be);  // native order either way
        NPZ_EXPECT(std::memcmp(arr.data, want.data(), want.size()) == 0);
        ar->read_array_into(m, into.data(), into.size());  // straight into a destination
        NPZ_EXPECT(into == want);
      }
      const uint64_t used = npz::parallel_members_decoded() - before;
      // threads >= 2: scans, copies and decodes into a destination in parallel, except for the
      // bad-CRC member (whose parallel result disagrees with the directory: decoded serially).
      NPZ_EXPECT(used == (threads == 1 ? 0u : bad_crc ? 3u : 6u));
    }
  }
}
