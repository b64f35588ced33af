// npzguard's DEFLATE decoder (deflate_decoder.cc) against zlib: byte-identical output on
// numpy-written members of every dtype and on synthetic streams (stored, fixed and dynamic
// blocks, long matches, the largest distance), in every input/output piece size; the same
// streams refused (corrupted and truncated streams), and the same error class through
// MemberStream.
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bit_writer.h"
#include "fuzz_bodies_inflate.h"
#include "harness.h"
#include "inflate.h"
#include "inflate_diff.h"
#include "member_stream.h"
#include "source.h"
#include "zip_builder.h"
#include "zip_index.h"

using npz::Code;
using ztest::Bytes;

namespace {

// Float32 noise (literal-heavy, like diffraction data), text-like data (matches), runs.
Bytes sample(int kind, size_t n, uint32_t seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: {
        if (i % 4 == 0) {
          const float f = g(rng);
          std::memcpy(&b[i], &f, std::min<size_t>(4, n - i) < 4 ? 0 : 4);
        }
        break;
      }
      case 1: b[i] = static_cast<uint8_t>("the quick brown fox "[(i * 7 + rng() % 3) % 20]); break;
      case 2: b[i] = static_cast<uint8_t>((i / 1000) & 1 ? 0 : (i % 251)); break;
      default: b[i] = static_cast<uint8_t>(rng()); break;
    }
  }
  return b;
}

npztest::InflateOutcome ours(const Bytes& z, size_t ip, size_t op, size_t max_out = 1u << 26) {
  auto inf = npz::make_npz_inflater();
  return npztest::inflate_with(*inf, z.data(), z.size(), ip, op, max_out);
}
npztest::InflateOutcome zlibs(const Bytes& z, size_t ip, size_t op, size_t max_out = 1u << 26) {
  auto inf = npz::make_zlib_inflater();
  return npztest::inflate_with(*inf, z.data(), z.size(), ip, op, max_out);
}

bool same(const npztest::InflateOutcome& a, const npztest::InflateOutcome& b) {
  if (a.ended != b.ended) return false;
  return !a.ended || a.out == b.out;
}

using ztest::Bits;
void fixed_sym(Bits& w, unsigned sym) { w.fixed_sym(sym); }

}  // namespace

NPZ_TEST(inflate_synthetic_streams_identical_to_zlib) {
  const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE, Z_FILTERED};
  const size_t sizes[] = {0, 1, 5, 300, 70000, 1u << 20};
  const size_t pieces[][2] = {{1u << 20, 1u << 20}, {1, 7}, {13, 1}, {4096, 65536}, {777, 1000}};
  int cases = 0;
  for (int kind = 0; kind < 4; ++kind)
    for (size_t n : sizes)
      for (int level : {0, 1, 6, 9})
        for (int strat : strategies) {
          if (level == 0 && strat != Z_DEFAULT_STRATEGY) continue;
          const Bytes data = sample(kind, n, static_cast<uint32_t>(n + kind));
          const Bytes z = ztest::deflate_raw(data, level, strat);
          for (const auto& pc : pieces) {
            if (n >= (1u << 20) && pc[0] < 100)
              continue;  // byte-at-a-time on 1 MiB: slow, covered above
            const auto a = ours(z, pc[0], pc[1]);
            NPZ_EXPECT(!a.threw);
            NPZ_EXPECT(a.ended);
            NPZ_EXPECT(a.out == data);
            ++cases;
            if (a.out != data) {
              std::fprintf(stderr, "  kind=%d n=%zu level=%d strat=%d pieces=%zu/%zu\n", kind, n,
                           level, strat, pc[0], pc[1]);
              return;
            }
          }
        }
  std::printf("     %d synthetic streams identical\n", cases);
}

// Direct output (deflate_decoder.cc): once a step's output holds a 32 KiB window the decoder
// writes straight into the caller's buffer. Step sizes around the point where that starts (32 KiB
// window + 16 KiB), the caller's buffer reused between steps and filled with stale bytes before
// each (so a match read from an earlier step's buffer instead of the window shows), and a canary
// past each step's end (the decoder may pass its stop by a match, never the buffer's end).
NPZ_TEST(inflate_direct_output_steps) {
  Bytes data = sample(0, 600000, 11);  // float noise, then text-like matches, then runs
  for (int kind : {1, 2}) {
    const Bytes more = sample(kind, 300000, static_cast<uint32_t>(kind));
    data.insert(data.end(), more.begin(), more.end());
  }
  const size_t steps[] = {48u << 10,       (48u << 10) - 1, (48u << 10) + 1, 65536 + 7,
                          (32u << 10) + 1, 262144,          1u << 20,        4u << 20};
  constexpr size_t kCanary = 4096;  // > a match and its overrun: an overrun lands here
  int cases = 0;
  for (int level : {1, 6, 9})
    for (int strat : {Z_DEFAULT_STRATEGY, Z_FIXED}) {
      const Bytes z = ztest::deflate_raw(data, level, strat);
      for (const size_t step : steps) {
        auto inf = npz::make_npz_inflater();
        inf->in_final = true;
        std::vector<uint8_t> buf(step + kCanary);
        Bytes out;
        size_t in = 0;
        bool ended = false, overrun = false;
        for (int guard = 0; !ended && guard < 100000; ++guard) {
          std::memset(buf.data(), 0x5A, step);            // stale bytes
          std::memset(buf.data() + step, 0xC3, kCanary);  // canary
          const npz::Inflater::Step s = inf->step(z.data() + in, z.size() - in, buf.data(), step);
          for (size_t i = step; i < step + kCanary; ++i) overrun = overrun || buf[i] != 0xC3;
          in += s.consumed;
          out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(s.produced));
          ended = s.end;
          if (!s.consumed && !s.produced && !s.end) break;
        }
        NPZ_EXPECT(ended);
        NPZ_EXPECT(!overrun);
        NPZ_EXPECT(out == data);
        ++cases;
        if (!ended || overrun || out != data) {
          std::fprintf(stderr, "  level=%d strat=%d step=%zu\n", level, strat, step);
          return;
        }
      }
    }
  std::printf("     %d streams x step sizes identical\n", cases);
}

NPZ_TEST(inflate_hand_made_blocks) {
  // Fixed block: 'a', then a 258-byte match at distance 1 via code 285 and via code 284 + 31,
  // then an end of block; followed by an empty stored block and a final fixed block using the
  // largest distance (32768, code 29 + 8191) after 32768 bytes of stored data.
  Bits w;
  w.put(0, 1);
  w.put(1, 2);
  fixed_sym(w, 'a');
  fixed_sym(w, 285);
  w.put_rev(0, 5);  // distance code 0 = 1
  fixed_sym(w, 284);
  w.put(31, 5);
  w.put_rev(0, 5);
  fixed_sym(w, 256);
  w.put(0, 1);  // stored, not final
  w.put(0, 2);
  w.align();
  ztest::put16(w.b, 0);
  ztest::put16(w.b, 0xFFFF);
  w.put(0, 1);  // stored 32768 bytes
  w.put(0, 2);
  w.align();
  Bytes stored(32768);
  for (size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<uint8_t>(i * 31 + 7);
  ztest::put16(w.b, 32768);
  ztest::put16(w.b, 0x7FFF);
  ztest::append(w.b, stored);
  w.put(1, 1);  // final fixed block: match of 10 at distance 32768
  w.put(1, 2);
  fixed_sym(w, 264);  // length 10
  w.put_rev(29, 5);
  w.put(8191, 13);
  fixed_sym(w, 256);
  w.align();
  Bytes want(1 + 258 + 258, 'a');
  ztest::append(want, stored);
  for (int i = 0; i < 10; ++i) want.push_back(want[want.size() - 32768]);
  for (size_t ip : {size_t{1}, size_t{3}, size_t{100000}}) {
    const auto a = ours(w.b, ip, 17), z = zlibs(w.b, ip, 17);
    NPZ_EXPECT(z.ended && z.out == want);
    NPZ_EXPECT(a.ended && !a.threw && a.out == want);
  }
  // One byte further back than the output so far: refused by both.
  Bits far;
  far.put(1, 1);
  far.put(1, 2);
  fixed_sym(far, 'x');
  fixed_sym(far, 257);
  far.put_rev(1, 5);  // distance 2 > 1 byte of output
  fixed_sym(far, 256);
  far.align();
  NPZ_EXPECT(ours(far.b, 100, 100).threw);
  NPZ_EXPECT(zlibs(far.b, 100, 100).threw);
  // Fixed-block symbols that exist as codes but not as values: length 286, distance 30.
  for (int which = 0; which < 2; ++which) {
    Bits bad;
    bad.put(1, 1);
    bad.put(1, 2);
    fixed_sym(bad, 'x');
    if (which == 0) {
      fixed_sym(bad, 286);
    } else {
      fixed_sym(bad, 257);
      bad.put_rev(30, 5);
    }
    fixed_sym(bad, 256);
    bad.align();
    NPZ_EXPECT(ours(bad.b, 100, 100).threw);
    NPZ_EXPECT(zlibs(bad.b, 100, 100).threw);
  }
  // Block type 3, and stored LEN/NLEN disagreeing.
  const Bytes type3 = {0x07, 0x00};
  NPZ_EXPECT(ours(type3, 10, 10).threw && zlibs(type3, 10, 10).threw);
  const Bytes badlen = {0x01, 0x05, 0x00, 0xFA, 0xF0, 'h', 'e', 'l', 'l', 'o'};
  NPZ_EXPECT(ours(badlen, 10, 10).threw && zlibs(badlen, 10, 10).threw);
}

// A match one byte further back than the output so far, in the middle of a long block: there
// the fast loop (deflate_fast.h) decodes it, not the careful loop near the end of the input that
// the short stream above reaches. Distance = output so far is accepted and equal to zlib's.
NPZ_TEST(inflate_distance_past_output_refused_in_fast_loop) {
  for (const unsigned before : {100u, 1000u}) {
    for (const unsigned extra : {0u, 1u}) {
      Bits w;
      w.put(1, 1);
      w.put(1, 2);
      for (unsigned i = 0; i < before; ++i) fixed_sym(w, 'a' + i % 26);
      fixed_sym(w, 264);  // length 10
      const unsigned dist = before + extra;
      if (before == 100) {
        w.put_rev(13, 5);  // distances 97-128
        w.put(dist - 97, 5);
      } else {
        w.put_rev(19, 5);  // distances 769-1024
        w.put(dist - 769, 8);
      }
      for (unsigned i = 0; i < 200; ++i) fixed_sym(w, 'A' + i % 26);
      fixed_sym(w, 256);
      w.align();
      for (const size_t ip : {size_t{64}, size_t{100000}}) {
        const auto a = ours(w.b, ip, 1u << 16), z = zlibs(w.b, ip, 1u << 16);
        if (extra == 0) {
          NPZ_EXPECT(z.ended && !z.threw && z.out.size() == before + 10 + 200);
          NPZ_EXPECT(a.ended && !a.threw && a.out == z.out);
        } else {
          NPZ_EXPECT(z.threw);
          NPZ_EXPECT(a.threw);
        }
      }
    }
  }
}

NPZ_TEST(inflate_corrupt_and_truncated_streams_refused_like_zlib) {
  std::mt19937 rng(5);
  int refused = 0, total = 0;
  for (int kind = 0; kind < 4; ++kind) {
    const Bytes data = sample(kind, 20000, static_cast<uint32_t>(kind));
    for (int strat : {Z_DEFAULT_STRATEGY, Z_FIXED}) {
      const Bytes z = ztest::deflate_raw(data, 6, strat);
      // Every prefix (truncation) of the first 300 bytes and a sample of the rest.
      for (size_t cut = 0; cut < z.size(); cut += cut < 300 ? 1 : 97) {
        const Bytes t(z.begin(), z.begin() + static_cast<long>(cut));
        const auto a = ours(t, 64, 4096), b = zlibs(t, 64, 4096);
        NPZ_EXPECT(!a.ended && !b.ended);
        NPZ_EXPECT(a.out.size() <= data.size() &&
                   (a.out.empty() || std::memcmp(a.out.data(), data.data(), a.out.size()) == 0));
      }
      // Random bit flips and byte overwrites: same outcome as zlib.
      for (int t = 0; t < 400; ++t) {
        Bytes c = z;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) {
          const size_t at = rng() % std::min<size_t>(c.size(), t % 2 ? c.size() : 200);
          if (rng() & 1) c[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          else c[at] = static_cast<uint8_t>(rng());
        }
        const auto a = ours(c, 1 + rng() % 5000, 1 + rng() % 70000, 1u << 22);
        const auto b = zlibs(c, 4096, 65536, 1u << 22);
        ++total;
        if (!b.ended) ++refused;
        if (!same(a, b)) {
          std::fprintf(
              stderr, "  FAIL corrupt stream kind=%d t=%d: ours ended=%d threw=%d, zlib ended=%d\n",
              kind, t, a.ended, a.threw, b.ended);
          ++npztest::failures;
          return;
        }
      }
    }
  }
  std::printf("     %d corrupted streams: %d refused by both, the rest identical\n", total,
              refused);
  NPZ_EXPECT(refused > total / 4);
}

// Through MemberStream: the error code of a corrupt or truncated member is the one zlib gives.
NPZ_TEST(inflate_member_stream_error_classes_match_zlib) {
  const Bytes data = sample(0, 100000, 3);
  const Bytes z = ztest::deflate_raw(data, 6, Z_DEFAULT_STRATEGY);
  auto member_code = [&](const Bytes& body, bool use_zlib) {
    ztest::Member m{"a.npy", body, 77};  // stored as-is; method patched to 8 below
    m.cd_usize = data.size();
    auto built = ztest::build_zip({m});
    Bytes zip = built.bytes;
    // Patch the method fields (LFH offset 8, CD offset 10) to DEFLATE.
    zip[8] = 8;
    zip[9] = 0;
    for (size_t i = 0; i + 4 <= zip.size(); ++i)
      if (zip[i] == 'P' && zip[i + 1] == 'K' && zip[i + 2] == 1 && zip[i + 3] == 2) {
        zip[i + 10] = 8;
        zip[i + 11] = 0;
      }
    npz::MemorySource src(zip.data(), zip.size());
    npz::ZipLimits lim;
    auto es = npz::read_zip_index(src, lim);
    npz::ZipEntry e = es.at(0);
    e.crc32 = ztest::crc(data);
    npz::MemberStream ms(src, e, 4096);
    if (use_zlib) ms.use_inflater_for_tests(npz::make_zlib_inflater());
    std::vector<uint8_t> buf(10000);
    try {
      while (ms.read(buf.data(), buf.size()) != 0) {}
    } catch (const npz::Error& err) { return err.code(); }
    return Code::kCount_;
  };
  NPZ_EXPECT(member_code(z, false) == Code::kCount_);
  NPZ_EXPECT(member_code(z, true) == Code::kCount_);
  for (size_t cut : {size_t{200}, size_t{201}, z.size() / 2, z.size() - 1}) {  // >= 1:1032
    const Bytes t(z.begin(), z.begin() + static_cast<long>(cut));
    const Code a = member_code(t, false), b = member_code(t, true);
    NPZ_EXPECT(a == b);
    NPZ_EXPECT(a == Code::NpzSizeMismatch);
  }
  Bytes c = z;
  c[0] = 0x07;  // block type 3
  NPZ_EXPECT(member_code(c, false) == Code::NpzCorrupt);
  NPZ_EXPECT(member_code(c, true) == Code::NpzCorrupt);
}

// numpy-written members (np.savez_compressed of every dtype, the fixtures) decode identically.
NPZ_TEST(inflate_numpy_members_identical_to_zlib) {
  int members = 0;
  for (const char* f : {"npz/grid_compressed.npz", "npz/stream_compressed.npz",
                        "npz/metadata_unicode_compressed.npz"}) {
    npz::FileSource src(npztest::fixtures_dir + "/" + f);
    auto es = npz::read_zip_index(src, {});
    for (const auto& e : es) {
      if (e.method != 8) continue;
      Bytes z(static_cast<size_t>(e.csize));
      src.read(e.data_offset, z.data(), z.size());
      for (size_t ip : {size_t{1}, size_t{64}, size_t{1u << 20}}) {
        const auto a = ours(z, ip, 1000), b = zlibs(z, ip, 1000);
        NPZ_EXPECT(a.ended && b.ended && a.out == b.out && a.out.size() == e.usize);
      }
      ++members;
    }
  }
  std::printf("     %d numpy-written deflated members identical\n", members);
  NPZ_EXPECT(members > 100);
}

NPZ_TEST(inflate_fuzz_body_on_random_inputs) {
  std::mt19937 rng(1);
  for (int t = 0; t < 300; ++t) {
    Bytes in(rng() % 600);
    for (auto& b : in) b = static_cast<uint8_t>(rng());
    npzfuzz::inflate_diff(in.data(), in.size(), [](bool ok, const char* what) {
      if (!ok) {
        std::fprintf(stderr, "  FAIL inflate fuzz invariant: %s\n", what);
        ++npztest::failures;
      }
    });
  }
}
