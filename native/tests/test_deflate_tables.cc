// The Huffman table builder of deflate_tables.h (shared by the serial and the parallel decoder)
// against a plain reference builder, and the serial decoder's literal-pair entries: checked slot by
// slot against their definition, and end to end on streams where most lookups hit a pair,
// compared with zlib in every input/output piece size.
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "deflate_tables.h"
#include "harness.h"
#include "inflate.h"
#include "inflate_diff.h"
#include "zip_builder.h"

using namespace npz::deflate;

namespace {

using Bytes = std::vector<uint8_t>;

// The straightforward builder: every symbol's entry replicated across the primary table, and
// subtables for longer codes (the builder before the doubling one; same refusals as zlib).
bool reference_build(uint32_t* table, unsigned pbits, const uint8_t* lens, unsigned n, Kind kind) {
  unsigned count[16] = {0};
  for (unsigned i = 0; i < n; ++i) ++count[lens[i]];
  count[0] = 0;
  unsigned maxlen = 0;
  for (unsigned l = 1; l <= 15; ++l)
    if (count[l]) maxlen = l;
  const uint32_t invalid = kBad | 1;
  const unsigned psize = 1u << pbits;
  if (maxlen == 0) {
    for (unsigned i = 0; i < psize; ++i) table[i] = invalid;
    return kind != Kind::Pre;
  }
  int left = 1;
  for (unsigned l = 1; l <= 15; ++l) {
    left = (left << 1) - static_cast<int>(count[l]);
    if (left < 0) return false;
  }
  if (left > 0 && (kind == Kind::Pre || maxlen != 1)) return false;
  const bool complete = left == 0;
  if (!complete)
    for (unsigned i = 0; i < psize; ++i) table[i] = invalid;
  std::vector<bool> root(psize, false);
  unsigned next[16], code = 0;
  next[0] = 0;
  for (unsigned l = 1; l <= 15; ++l) {
    code = (code + count[l - 1]) << 1;
    next[l] = code;
  }
  const unsigned sbits = maxlen > pbits ? maxlen - pbits : 0;
  unsigned next_sub = psize;
  for (unsigned sym = 0; sym < n; ++sym) {
    const unsigned len = lens[sym];
    if (!len) continue;
    const unsigned c = next[len]++;
    unsigned r = 0;  // bit-reversed code, bit by bit
    for (unsigned b = 0; b < len; ++b) r |= ((c >> b) & 1u) << (len - 1 - b);
    const uint32_t e = symbol_entry(kind, sym);
    if (len <= pbits) {
      for (unsigned i = r; i < psize; i += 1u << len) table[i] = e | len;
      continue;
    }
    const unsigned p = r & (psize - 1);
    if (!root[p]) {
      root[p] = true;
      table[p] = kSub | pbits | (sbits << 8) | (next_sub << 16);
      if (!complete)
        for (unsigned i = 0; i < (1u << sbits); ++i) table[next_sub + i] = invalid;
      next_sub += 1u << sbits;
    }
    const unsigned off = table[p] >> 16, sublen = len - pbits;
    for (unsigned i = r >> pbits; i < (1u << sbits); i += 1u << sublen) table[off + i] = e | sublen;
  }
  return true;
}

// Code lengths of a random complete code over m of the n symbols (lengths <= maxlen): repeatedly
// splits a random leaf, so every shape of tree turns up, short codes included.
void random_complete(std::mt19937& rng, uint8_t* lens, unsigned n, unsigned m, unsigned maxlen) {
  std::vector<unsigned> leaves{0};
  while (leaves.size() < m) {
    const size_t j = rng() % leaves.size();
    if (leaves[j] >= maxlen) {
      bool any = false;
      for (unsigned x : leaves) any = any || x < maxlen;
      if (!any) break;
      continue;
    }
    leaves[j] += 1;
    leaves.push_back(leaves[j]);
  }
  std::memset(lens, 0, n);
  for (unsigned len : leaves) {
    unsigned s;
    do s = rng() % n;
    while (lens[s]);
    lens[s] = static_cast<uint8_t>(len);
  }
}

}  // namespace

NPZ_TEST(deflate_tables_match_reference_builder) {
  std::mt19937 rng(12);
  struct Alphabet {
    Kind kind;
    unsigned n, pbits, maxlen;
    size_t size;
  };
  const Alphabet alphabets[] = {{Kind::LitLen, 288, kLitBits, 15, kLitTable},
                                {Kind::LitLen, 288, kSerialLitBits, 15, kSerialLitTable},
                                {Kind::LitLen, 257, kSerialLitBits, 15, kSerialLitTable},
                                {Kind::Dist, 32, kDistBits, 15, kDistTable},
                                {Kind::Pre, 19, kPreBits, 7, size_t{1} << kPreBits}};
  int built = 0, refused = 0;
  for (int it = 0; it < 20000; ++it) {
    const Alphabet& a = alphabets[it % 5];
    uint8_t lens[288];
    switch ((it / 5) % 4) {
      case 0:  // random lengths: mostly refused (over-subscribed or incomplete)
        for (unsigned i = 0; i < a.n; ++i) lens[i] = static_cast<uint8_t>(rng() % (a.maxlen + 1));
        break;
      case 1:  // a single code, of one bit (accepted except for the code-length code) or more
        std::memset(lens, 0, a.n);
        lens[rng() % a.n] = static_cast<uint8_t>(1 + (rng() % 3 == 0 ? rng() % 3 : 0));
        break;
      case 2:  // empty
        std::memset(lens, 0, a.n);
        break;
      default: random_complete(rng, lens, a.n, 2 + rng() % (a.n - 1), a.maxlen); break;
    }
    std::vector<uint32_t> want(a.size, 0xDEADBEEFu), got(a.size, 0xDEADBEEFu);
    const bool rw = reference_build(want.data(), a.pbits, lens, a.n, a.kind);
    const bool rg = build_table(got.data(), a.pbits, lens, a.n, a.kind);
    NPZ_EXPECT(rw == rg);
    if (rw != rg) return;
    rw ? ++built : ++refused;
    NPZ_EXPECT(!rw || want == got);
    if (rw && want != got) {
      std::fprintf(stderr, "  table differs: case %d\n", it);
      return;
    }
  }
  NPZ_EXPECT(built > 5000 && refused > 5000);
  std::printf("     %d tables identical to the reference, %d refused by both\n", built, refused);
}

NPZ_TEST(deflate_literal_pairs_follow_their_definition) {
  // Every primary slot of a pair table: where the slot's first code is a literal of l1 bits and
  // the code in the next bits is a literal of l2 <= pbits - l1 bits (its entry in the single
  // table at index i >> l1 is then exact) and is not literal 255, the slot holds both literals
  // and l1 + l2; elsewhere it holds the single entry. Every literal entry carries the BEXTR
  // width (12) in bits 8-11. Subtables are untouched.
  std::mt19937 rng(34);
  long pairs = 0, singles = 0;
  for (int it = 0; it < 3000; ++it) {
    uint8_t lens[288];
    const unsigned n = 257 + rng() % 32;
    random_complete(rng, lens, n, 2 + rng() % (n - 1), 15);
    if (it % 3 == 0) {  // fixed-code lengths, and a skewed code (one short literal code)
      for (unsigned i = 0; i < 288; ++i) lens[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    }
    const unsigned nn = it % 3 == 0 ? 288 : n;
    std::vector<uint32_t> single(kSerialLitTable, 0), pair(kSerialLitTable, 0);
    const bool a = build_table(single.data(), kSerialLitBits, lens, nn, Kind::LitLen);
    const bool b = build_table(pair.data(), kSerialLitBits, lens, nn, Kind::LitLen, true);
    NPZ_EXPECT(a && b);
    for (unsigned i = 0; i < (1u << kSerialLitBits); ++i) {
      const uint32_t e = single[i];
      uint32_t want = e;
      if ((e & kFlags) == 0) {  // a literal
        NPZ_EXPECT((e >> 24) == kNoSecond && ((e >> 8) & 0xFF) == kSerialLitBits);
        const unsigned l1 = e & 0xFF;
        const uint32_t f = single[i >> l1];
        const unsigned l2 = f & 0xFF;
        // Literal 255 is never a second literal (bits 24-31 = 255 mean "no second literal").
        if ((f & kFlags) == 0 && l1 + l2 <= kSerialLitBits && ((f >> 16) & 0xFF) != kNoSecond)
          want = (kSerialLitBits << 8) | (l1 + l2) | (e & 0xFF0000u) | ((f & 0xFF0000u) << 8);
      }
      ((want & kFlags) == 0 && (want >> 24) != kNoSecond) ? ++pairs : ++singles;
      NPZ_EXPECT(pair[i] == want);
      if (pair[i] != want) {
        std::fprintf(stderr, "  case %d slot %u: %08x, want %08x\n", it, i, pair[i], want);
        return;
      }
    }
    NPZ_EXPECT(std::equal(single.begin() + (1u << kSerialLitBits), single.end(),
                          pair.begin() + (1u << kSerialLitBits)));
  }
  NPZ_EXPECT(pairs > 100000 && singles > 100000);
  std::printf("     %ld pair slots and %ld other slots as defined\n", pairs, singles);
}

NPZ_TEST(inflate_literal_pair_streams_identical_to_zlib) {
  // Streams where most table lookups return two literals: skewed bytes (codes of 1 to 15 bits,
  // so every split of the 12 index bits occurs), and float32 noise (8-9 bit mantissa bytes next
  // to 2-4 bit exponent bytes, as in np.savez_compressed ground truth). Huffman-only and
  // default compression; whole buffers and small pieces, so both the fast loop and the careful
  // one (which takes only the first literal of a pair) decode pairs, including pairs whose
  // second code lies beyond the input given so far.
  std::mt19937 rng(56);
  std::vector<Bytes> inputs;
  for (double p : {0.5, 0.3, 0.15}) {
    Bytes b(300000);
    std::geometric_distribution<int> g(p);
    for (auto& x : b) x = static_cast<uint8_t>(std::min(g(rng), 255) * 37 + 11);
    inputs.push_back(b);
  }
  {
    Bytes b(400000);
    std::normal_distribution<float> g(0.f, 1.f);
    for (size_t i = 0; i + 4 <= b.size(); i += 4) {
      const float f = g(rng);
      std::memcpy(&b[i], &f, 4);
    }
    inputs.push_back(b);
  }
  const size_t pieces[][2] = {{1u << 22, 1u << 22}, {1, 1}, {3, 5}, {17, 4096}, {1000, 77}};
  int cases = 0;
  for (const Bytes& data : inputs)
    for (int strat : {Z_HUFFMAN_ONLY, Z_DEFAULT_STRATEGY}) {
      const Bytes z = ztest::deflate_raw(data, 6, strat);
      for (const auto& pc : pieces) {
        auto ours = npz::make_npz_inflater();
        auto zl = npz::make_zlib_inflater();
        const auto a = npztest::inflate_with(*ours, z.data(), z.size(), pc[0], pc[1], 1u << 24);
        const auto b = npztest::inflate_with(*zl, z.data(), z.size(), pc[0], pc[1], 1u << 24);
        NPZ_EXPECT(!a.threw && a.ended && b.ended);
        NPZ_EXPECT(a.out == data && b.out == data);
        ++cases;
        if (a.out != data) {
          size_t k = 0;
          while (k < a.out.size() && k < data.size() && a.out[k] == data[k]) ++k;
          std::fprintf(stderr, "  input %zu strategy %d pieces %zu/%zu: first difference at %zu\n",
                       static_cast<size_t>(&data - inputs.data()), strat, pc[0], pc[1], k);
          return;
        }
        // Truncated copies: the same prefix of output as zlib, never an error.
        if (pc[0] == 3) {
          for (size_t cut : {z.size() / 3, z.size() - 1}) {
            auto o2 = npz::make_npz_inflater();
            auto z2 = npz::make_zlib_inflater();
            const auto c = npztest::inflate_with(*o2, z.data(), cut, 3, 5, 1u << 24);
            const auto d = npztest::inflate_with(*z2, z.data(), cut, 3, 5, 1u << 24);
            NPZ_EXPECT(!c.threw && !c.ended && !d.ended);
            NPZ_EXPECT(c.out.size() <= d.out.size());
            NPZ_EXPECT(std::equal(c.out.begin(), c.out.end(), d.out.begin()));
          }
        }
      }
    }
  std::printf("     %d literal-pair streams identical to zlib\n", cases);
}
