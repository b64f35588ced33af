// CRC-32, inflate back ends, MemberStream (rows 13, 14, 16) and the Scanner kernels.
// Over 400 lines: the tests of three small components that feed each other (CRC, inflaters,
// MemberStream + Scanner), kept together because each builds its streams with the others.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "harness.h"
#include "inflate.h"
#include "member_stream.h"
#include "npy_header.h"
#include "scan.h"
#include "source.h"
#include "zip_builder.h"
#include "zip_index.h"

using npz::Code;
using ztest::Bytes;

namespace {

Bytes pattern(size_t n, uint32_t seed = 1) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i % 97 < 50) ? (rng() & 7) : i);
  return b;
}

Bytes read_all(const npz::Source& src, const npz::ZipEntry& e, size_t chunk, size_t piece) {
  npz::MemberStream ms(src, e, chunk);
  Bytes out;
  std::vector<uint8_t> buf(piece);
  for (;;) {
    const size_t k = ms.read(buf.data(), buf.size());
    if (k == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(k));
  }
  return out;
}

npz::DType dt(const std::string& descr) { return npz::parse_descr(descr); }

npz::ScanStats scan_bytes(const std::string& descr, const Bytes& b) {
  npz::Scanner sc(dt(descr));
  sc.feed(b.data(), b.size());
  return sc.finish();
}

}  // namespace

NPZ_TEST(crc32_check_value_and_chaining) {
  const char* s = "123456789";
  const auto* p = reinterpret_cast<const uint8_t*>(s);
  NPZ_EXPECT(npz::crc32_update(0, p, 9) == 0xCBF43926u);
  NPZ_EXPECT(npz::crc32_update(npz::crc32_update(0, p, 4), p + 4, 5) == 0xCBF43926u);
  Bytes big = pattern(1 << 20);
  uint32_t c = 0;
  for (size_t i = 0; i < big.size(); i += 4093)
    c = npz::crc32_update(c, big.data() + i, std::min<size_t>(4093, big.size() - i));
  NPZ_EXPECT(c == ztest::crc(big));
  NPZ_EXPECT(std::strlen(npz::crc32_impl_name()) > 0);
  NPZ_EXPECT(std::strlen(npz::inflate_impl_name()) > 0);
}

NPZ_TEST(inflaters_agree_with_zlib) {
  Bytes data = pattern(300000, 7);
  Bytes z = ztest::deflate_raw(data);
  for (int which = 0; which < 2; ++which) {
    auto inf = which ? npz::make_zlib_inflater() : npz::make_inflater();
    Bytes out(data.size() + 10);
    size_t in = 0, o = 0;
    bool end = false;
    while (!end) {
      const size_t il = std::min<size_t>(777, z.size() - in);
      inf->in_final = in + il == z.size();
      const size_t ol = std::min<size_t>(1000, out.size() - o);
      auto s = inf->step(z.data() + in, il, out.data() + o, ol);
      in += s.consumed;
      o += s.produced;
      end = s.end;
      if (!s.consumed && !s.produced && !end) break;
    }
    NPZ_EXPECT(end);
    NPZ_EXPECT(o == data.size());
    out.resize(o);
    NPZ_EXPECT(out == data);
  }
  Bytes junk = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Bytes out(100);
  auto inf = npz::make_inflater();
  inf->in_final = true;
  NPZ_EXPECT_CODE(inf->step(junk.data(), junk.size(), out.data(), out.size()), Code::NpzCorrupt);
}

NPZ_TEST(member_stream_stored_and_deflated_roundtrip) {
  Bytes data = pattern(200000, 3);
  ztest::Member a{"a.npy", data, 0};
  ztest::Member b{"b.npy", data, 8};
  auto built = ztest::build_zip({a, b});
  npz::MemorySource src(built.bytes.data(), built.bytes.size());
  auto es = npz::read_zip_index(src, {});
  for (const auto& e : es) {
    for (size_t chunk : {size_t{4096}, size_t{1} << 20}) {
      for (size_t piece : {size_t{1}, size_t{13}, size_t{65536}}) {
        if (piece == 1 && chunk != 4096) continue;
        NPZ_EXPECT(read_all(src, e, chunk, piece) == data);
      }
    }
    npz::MemberStream ms(src, e);
    Bytes head(12);
    ms.read_exact(head.data(), head.size());
    NPZ_EXPECT(std::memcmp(head.data(), data.data(), 12) == 0);
    ms.skip(1000);
    NPZ_EXPECT(ms.position() == 1012);
    NPZ_EXPECT(!ms.finished());
  }
}

NPZ_TEST(member_stream_row16_crc_mismatch) {
  Bytes data = pattern(5000);
  for (uint16_t method : {0, 8}) {
    ztest::Member m{"a.npy", data, method};
    m.cd_crc = ztest::crc(data) ^ 1;
    auto built = ztest::build_zip({m});
    npz::MemorySource src(built.bytes.data(), built.bytes.size());
    auto es = npz::read_zip_index(src, {});
    NPZ_EXPECT_CODE(read_all(src, es[0], 4096, 1000), Code::NpzCrcMismatch);
    npz::MemberStream ms(src, es[0]);
    ms.set_verify_crc(false);
    Bytes all(data.size());
    ms.read_exact(all.data(), all.size());
    uint8_t x;
    NPZ_EXPECT(ms.read(&x, 1) == 0 && ms.finished());
    NPZ_EXPECT(ms.crc() == ztest::crc(data));
  }
}

NPZ_TEST(member_stream_row14_inflate_size_lies) {
  Bytes data = pattern(20000);
  ztest::Member longer{"a.npy", data, 8};
  longer.cd_usize = data.size() - 1;  // inflates to more than declared
  ztest::Member shorter{"b.npy", data, 8};
  shorter.cd_usize = data.size() + 1;  // ends early
  auto built = ztest::build_zip({longer, shorter});
  npz::MemorySource src(built.bytes.data(), built.bytes.size());
  auto es = npz::read_zip_index(src, {});
  NPZ_EXPECT_CODE(read_all(src, es[0], 4096, 999), Code::NpzSizeMismatch);
  NPZ_EXPECT_CODE(read_all(src, es[1], 4096, 999), Code::NpzSizeMismatch);
  // compressed bytes cut short: the CD csize is smaller than the real stream
  ztest::Member cut{"c.npy", data, 8};
  const size_t real = ztest::deflate_raw(data).size();
  cut.cd_csize = real / 2;
  auto b2 = ztest::build_zip({cut});
  npz::MemorySource s2(b2.bytes.data(), b2.bytes.size());
  auto e2 = npz::read_zip_index(s2, {});
  NPZ_EXPECT_CODE(read_all(s2, e2[0], 4096, 999), Code::NpzSizeMismatch);
}

NPZ_TEST(member_stream_corrupt_deflate_and_cancel) {
  Bytes data = pattern(50000);
  auto built = ztest::build_zip({ztest::Member{"a.npy", data, 8}});
  Bytes b = built.bytes;
  for (size_t i = 0; i < 64; ++i) b[built.data[0] + 5 + i] ^= 0xA5;
  npz::MemorySource src(b.data(), b.size());
  auto es = npz::read_zip_index(src, {});
  bool coded = false;
  try {
    read_all(src, es[0], 4096, 4096);
  } catch (const npz::Error& e) {
    coded = e.code() == Code::NpzCorrupt || e.code() == Code::NpzSizeMismatch ||
            e.code() == Code::NpzCrcMismatch;
  }
  NPZ_EXPECT(coded);
  npz::MemorySource good(built.bytes.data(), built.bytes.size());
  std::atomic<bool> cancel{true};
  npz::MemberStream ms(good, es[0]);
  ms.set_cancel(&cancel);
  uint8_t x[16];
  NPZ_EXPECT_CODE(ms.read(x, sizeof x), Code::NpzAborted);
  ztest::Member stored{"a.npy", data, 0};
  auto sb = ztest::build_zip({stored});
  npz::MemorySource ss(sb.bytes.data(), sb.bytes.size());
  auto se = npz::read_zip_index(ss, {});
  npz::MemberStream ms2(ss, se[0]);
  Bytes too(data.size() + 1);
  NPZ_EXPECT_CODE(ms2.read_exact(too.data(), too.size()), Code::NpyTruncated);
}

NPZ_TEST(scanner_f4_special_values) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {1.5f, -2.0f, 0.0f, -0.0f, std::nanf(""), inf, -inf, 3.0f};
  auto s = scan_bytes("<f4", ztest::raw(v));
  const auto& c = s.components[0];
  NPZ_EXPECT(s.elements == 8 && c.count == 8);
  NPZ_EXPECT(c.nan == 1 && c.pos_inf == 1 && c.neg_inf == 1);
  NPZ_EXPECT(c.finite == 5);
  NPZ_EXPECT(c.zero == 2);
  NPZ_EXPECT(c.negative == 2);  // -2.0 and -Inf; -0.0 is not negative
  NPZ_EXPECT(c.min == -2.0 && c.max == 3.0);
  NPZ_EXPECT(c.sum == 2.5);
  NPZ_EXPECT(c.sum_sq == 2.25 + 4.0 + 9.0);
}

NPZ_TEST(scanner_fast_and_exact_paths_agree) {
  // Large non-negative array (fast path) with a few values that force the exact path.
  const size_t n = 100003;
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 1000) * 0.25f;
  v[5000] = std::nanf("");
  v[77777] = -1.0f;
  v[99999] = -0.0f;
  Bytes b(1 + n * 4);
  std::memcpy(b.data() + 1, v.data(), n * 4);  // misaligned on purpose
  npz::Scanner sc(dt("<f4"));
  sc.feed(b.data() + 1, n * 4);
  auto s = sc.finish();
  const auto& c = s.components[0];
  uint64_t zeros = 0;
  double sum = 0, mx = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) continue;
    if (v[i] == 0) ++zeros;
    sum += v[i];
    mx = std::max(mx, static_cast<double>(v[i]));
  }
  NPZ_EXPECT(c.nan == 1 && c.negative == 1 && c.zero == zeros);
  NPZ_EXPECT(c.min == -1.0 && c.max == mx);
  NPZ_EXPECT(std::fabs(c.sum - sum) <= 1e-6 * sum);
  NPZ_EXPECT(c.finite == n - 1);
}

NPZ_TEST(scanner_split_feeds_and_big_endian) {
  std::vector<double> v = {1.0, -3.5, 0.0, 1e300, -1e-300, 42.0, 7.0};
  Bytes le = ztest::raw(v);
  Bytes be = le;
  for (size_t i = 0; i < be.size(); i += 8)
    std::reverse(be.begin() + static_cast<long>(i), be.begin() + static_cast<long>(i) + 8);
  auto ref = scan_bytes("<f8", le);
  for (size_t cut = 0; cut <= le.size(); ++cut) {
    npz::Scanner a(dt("<f8")), b(dt(">f8"));
    a.feed(le.data(), cut);
    a.feed(le.data() + cut, le.size() - cut);
    for (size_t i = 0; i < be.size(); ++i) b.feed(be.data() + i, 1);
    auto sa = a.finish(), sb = b.finish();
    NPZ_EXPECT(sa.components[0].min == ref.components[0].min);
    NPZ_EXPECT(sb.components[0].max == ref.components[0].max);
    NPZ_EXPECT(sb.components[0].negative == 2 && sa.components[0].zero == 1);
    NPZ_EXPECT(sb.components[0].sum == ref.components[0].sum);
  }
  npz::Scanner part(dt("<f8"));
  part.feed(le.data(), 5);
  NPZ_EXPECT_CODE(part.finish(), Code::NpyTruncated);
}

NPZ_TEST(scanner_integers_bool_half_complex) {
  auto s8 = scan_bytes("|i1", Bytes{0x80, 0x7f, 0x00, 0xff});
  NPZ_EXPECT(s8.components[0].min == -128 && s8.components[0].max == 127);
  NPZ_EXPECT(s8.components[0].negative == 2 && s8.components[0].zero == 1);
  auto u8 = scan_bytes("|u1", Bytes{0x80, 0x7f, 0x00, 0xff});
  NPZ_EXPECT(u8.components[0].max == 255 && u8.components[0].negative == 0);
  std::vector<int64_t> i64 = {-5, 3, 0, 1000000000000LL};
  auto s64 = scan_bytes("<i8", ztest::raw(i64));
  NPZ_EXPECT(s64.components[0].min == -5 && s64.components[0].max == 1e12);
  Bytes be16 = {0x01, 0x02, 0xff, 0xfe};  // >u2: 258, 65534
  auto u16 = scan_bytes(">u2", be16);
  NPZ_EXPECT(u16.components[0].min == 258 && u16.components[0].max == 65534);
  std::vector<uint32_t> u32 = {7, 4000000000u};
  NPZ_EXPECT(scan_bytes("<u4", ztest::raw(u32)).components[0].max == 4e9);
  auto b1 = scan_bytes("|b1", Bytes{0, 1, 2, 1, 255});
  NPZ_EXPECT(b1.bad_bool == 2 && b1.components[0].zero == 1);
  // float16: 1.0 (0x3c00), -2.0 (0xc000), +inf (0x7c00), NaN (0x7e00), smallest subnormal (0x0001)
  std::vector<uint16_t> h = {0x3c00, 0xc000, 0x7c00, 0x7e00, 0x0001, 0x8000};
  auto f2 = scan_bytes("<f2", ztest::raw(h));
  const auto& c2 = f2.components[0];
  NPZ_EXPECT(c2.pos_inf == 1 && c2.nan == 1 && c2.negative == 1 && c2.zero == 1);
  NPZ_EXPECT(c2.min == -2.0 && c2.max == 1.0);
  NPZ_EXPECT(std::fabs(c2.sum - (-1.0 + std::ldexp(1.0, -24))) < 1e-12);
  // complex64: (1, -2), (3, 4), (nan, 5)
  std::vector<float> c = {1, -2, 3, 4, std::nanf(""), 5};
  auto sc = scan_bytes("<c8", ztest::raw(c));
  NPZ_EXPECT(sc.components.size() == 2 && sc.elements == 3);
  NPZ_EXPECT(sc.components[0].nan == 1 && sc.components[0].max == 3);
  NPZ_EXPECT(sc.components[1].min == -2 && sc.components[1].max == 5 &&
             sc.components[1].negative == 1);
  NPZ_EXPECT(sc.sum_abs2 == 1 + 4 + 9 + 16);
  std::vector<double> cd = {1, 1, -1, 2};
  Bytes cbe = ztest::raw(cd);
  for (size_t i = 0; i < cbe.size(); i += 8)
    std::reverse(cbe.begin() + static_cast<long>(i), cbe.begin() + static_cast<long>(i) + 8);
  auto scb = scan_bytes(">c16", cbe);
  NPZ_EXPECT(scb.components[0].min == -1 && scb.components[1].max == 2 && scb.sum_abs2 == 7);
  NPZ_EXPECT_CODE(npz::Scanner(dt("<U4")), Code::NpyUnsupportedDtype);
  NPZ_EXPECT_CODE(npz::Scanner(dt("|O")), Code::NpyUnsupportedDtype);
}

NPZ_TEST(scanner_f8_fast_path_matches_reference) {
  const size_t n = 10007;
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (i % 5 == 0) ? 0.0 : static_cast<double>(i) * 1.25;
  v[10] = -0.0;
  for (int variant = 0; variant < 2; ++variant) {
    if (variant == 1) v[6000] = std::numeric_limits<double>::infinity();
    Bytes b(3 + n * 8);
    std::memcpy(b.data() + 3, v.data(), n * 8);
    npz::Scanner sc(dt("<f8"));
    sc.feed(b.data() + 3, n * 8);
    auto s = sc.finish();
    const auto& c = s.components[0];
    uint64_t zeros = 0;
    double sum = 0, sq = 0, mx = 0;
    for (double x : v) {
      if (!std::isfinite(x)) continue;
      zeros += x == 0;
      sum += x;
      sq += x * x;
      mx = std::max(mx, x);
    }
    NPZ_EXPECT(c.zero == zeros && c.negative == 0 && c.min == 0 && c.max == mx);
    NPZ_EXPECT(c.pos_inf == static_cast<uint64_t>(variant) && c.finite == n - variant);
    NPZ_EXPECT(std::fabs(c.sum - sum) <= 1e-12 * sum && std::fabs(c.sum_sq - sq) <= 1e-12 * sq);
  }
}

// The float32 run kernel (AVX2 where available) against a scalar reference on random data:
// special values at random places (so some 512-value blocks take the exact kernel), values big
// enough to overflow a float partial sum, subnormals, -0.0, random feed splits and misalignment.
NPZ_TEST(scanner_f4_runs_match_scalar_reference) {
  std::mt19937_64 rng(20261128);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {
      std::nanf(""), inf,     -inf,     -1.5f,     -0.0f,
      0.0f,          3.0e38f, 1.0e-45f, -1.0e-45f, std::numeric_limits<float>::max()};
  for (int round = 0; round < 40; ++round) {
    const size_t n = 1 + static_cast<size_t>(rng() % 40000);
    std::vector<float> v(n);
    const int kind = round % 4;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = rng();
      if (kind == 0) v[i] = static_cast<float>(r % 7);                      // many zeros
      else if (kind == 1) v[i] = static_cast<float>(r % 100000) * 1.0e33f;  // float sums overflow
      else v[i] = static_cast<float>(static_cast<double>(r >> 11) * 0x1.0p-53 * 1000.0);
    }
    const size_t nspecial = kind == 3 ? static_cast<size_t>(rng() % 8) : (round % 5 == 0 ? 1 : 0);
    for (size_t k = 0; k < nspecial; ++k)
      v[rng() % n] = specials[rng() % (sizeof specials / sizeof *specials)];

    uint64_t nan = 0, pinf = 0, ninf = 0, neg = 0, zero = 0, fin = 0;
    double mn = inf, mx = -inf, sum = 0, sq = 0, asum = 0, asq = 0;
    for (float x : v) {
      if (std::isnan(x)) {
        ++nan;
        continue;
      }
      if (std::isinf(x)) {
        x > 0 ? ++pinf : ++ninf;
        if (x < 0) ++neg;
        continue;
      }
      ++fin;
      if (x < 0) ++neg;
      if (x == 0) ++zero;
      const double d = x;
      mn = std::min(mn, d);
      mx = std::max(mx, d);
      sum += d;
      sq += d * d;
      asum += std::fabs(d);
      asq += d * d;
    }
    const size_t shift = static_cast<size_t>(rng() % 4);
    Bytes b(shift + n * 4);
    std::memcpy(b.data() + shift, v.data(), n * 4);
    npz::Scanner sc(dt("<f4"));
    for (size_t pos = 0; pos < n * 4;) {
      const size_t k = std::min(n * 4 - pos, 1 + static_cast<size_t>(rng() % 300000));
      sc.feed(b.data() + shift + pos, k);
      pos += k;
    }
    const auto s = sc.finish();
    const auto& c = s.components[0];
    NPZ_EXPECT(c.count == n && c.nan == nan && c.pos_inf == pinf && c.neg_inf == ninf);
    NPZ_EXPECT(c.negative == neg && c.zero == zero && c.finite == fin);
    if (fin) NPZ_EXPECT(c.min == mn && c.max == mx);
    // Float partial sums over short blocks: relative to the sum of magnitudes, well within 1e-5.
    NPZ_EXPECT(std::fabs(c.sum - sum) <= 1e-5 * asum + 1e-30);
    NPZ_EXPECT(std::isfinite(c.sum_sq) && std::fabs(c.sum_sq - sq) <= 1e-5 * asq + 1e-30);
  }
}

// Per-row tallies (issue 13): rows of R values, random feed cuts (elements split across feeds,
// misaligned starts), and two scanners split at a row boundary merged back equal one pass.
NPZ_TEST(scanner_row_tallies_match_reference_and_merge) {
  std::mt19937 rng(13);
  for (int trial = 0; trial < 24; ++trial) {
    const bool cplx = trial % 3 == 2;
    const size_t R = 64 + static_cast<size_t>(rng() % 700);  // values per row
    const size_t rows = 2 + static_cast<size_t>(rng() % 40);
    const size_t ncomp = cplx ? 2 : 1;
    std::vector<float> v(rows * R * ncomp);
    for (auto& x : v) x = static_cast<float>(rng() % 5) * 0.5f;  // some zeros in every row
    std::vector<uint64_t> zero_rows, nf(rows, 0), neg(rows, 0);
    for (size_t r = 0; r < rows; ++r) {
      const int kind = static_cast<int>(rng() % 5);
      float* row = v.data() + r * R * ncomp;
      if (kind == 0) std::fill(row, row + R * ncomp, (rng() & 1) ? 0.0f : -0.0f);
      if (kind == 1) {
        row[rng() % (R * ncomp)] = std::nanf("");
        row[0] = -std::numeric_limits<float>::infinity();
      }
      if (kind == 2) {
        row[R * ncomp - 1] = -2.0f;
        row[1] = -0.5f;
      }
    }
    for (size_t r = 0; r < rows; ++r) {
      const float* row = v.data() + r * R * ncomp;
      bool all0 = true;
      for (size_t i = 0; i < R * ncomp; ++i) {
        const float x = row[i];
        if (x != 0) all0 = false;
        if (!std::isfinite(x)) ++nf[r];
        if (x < 0) ++neg[r];
      }
      if (all0) zero_rows.push_back(r);
    }
    const std::string descr = cplx ? "<c8" : "<f4";
    const Bytes b = ztest::raw(v);
    const size_t elem = 4 * ncomp;
    auto run = [&](size_t from_row, size_t to_row) {
      npz::Scanner sc(dt(descr), R, from_row);
      const size_t end = to_row * R * elem;
      for (size_t pos = from_row * R * elem; pos < end;) {
        const size_t k = std::min(end - pos, 1 + static_cast<size_t>(rng() % (3 * R * elem)));
        sc.feed(b.data() + pos, k);
        pos += k;
      }
      return sc.finish();
    };
    auto check = [&](const npz::RowTallies& t) {
      NPZ_EXPECT(t.row_elements == R && t.rows == rows && t.first_row == 0);
      NPZ_EXPECT(t.zero.rows == zero_rows.size());
      for (size_t i = 0; i < t.zero.first.size(); ++i)
        NPZ_EXPECT(t.zero.first[i].first == zero_rows[i] && t.zero.first[i].second == R * ncomp);
      NPZ_EXPECT(t.zero.first.size() == std::min(zero_rows.size(), npz::kRowListMax));
      std::vector<std::pair<uint64_t, uint64_t>> want_nf, want_neg;
      uint64_t nf_rows = 0, neg_rows = 0, nf_vals = 0;
      for (size_t r = 0; r < rows; ++r) {
        if (nf[r]) {
          ++nf_rows;
          nf_vals += nf[r];
          if (want_nf.size() < npz::kRowListMax) want_nf.emplace_back(r, nf[r]);
        }
        if (neg[r]) {
          ++neg_rows;
          if (want_neg.size() < npz::kRowListMax) want_neg.emplace_back(r, neg[r]);
        }
      }
      NPZ_EXPECT(t.nonfinite.rows == nf_rows && t.nonfinite.values == nf_vals &&
                 t.nonfinite.first == want_nf);
      NPZ_EXPECT(t.negative.rows == neg_rows && t.negative.first == want_neg);
    };
    const auto whole = run(0, rows);
    NPZ_EXPECT(whole.rows.has_value());
    check(*whole.rows);
    const size_t split = 1 + static_cast<size_t>(rng() % (rows - 1));
    auto a = run(0, split);
    const auto c = run(split, rows);
    NPZ_EXPECT(c.rows->first_row == split && c.rows->rows == rows - split);
    npz::merge_row_tallies(*a.rows, *c.rows);
    check(*a.rows);
  }
  // No row length: no tallies; row_tally_elements picks C-order rank >= 2 with >= 64 per row.
  NPZ_EXPECT(!scan_bytes("<f4", Bytes(16, 0)).rows.has_value());
  npz::NpyHeader h;
  h.shape = {10, 8, 8};
  h.count = 640;
  NPZ_EXPECT(npz::row_tally_elements(h) == 64);
  h.fortran_order = true;
  NPZ_EXPECT(npz::row_tally_elements(h) == 0);
  h.fortran_order = false;
  h.shape = {640};
  NPZ_EXPECT(npz::row_tally_elements(h) == 0);
  h.shape = {20, 32};
  NPZ_EXPECT(npz::row_tally_elements(h) == 0);
}
