// ZIP index reader: npy-npz-format.md §5 and checklist rows 1-18.
#include <string>
#include <vector>

#include "harness.h"
#include "source.h"
#include "zip_builder.h"
#include "zip_index.h"

using npz::Code;
using ztest::Bytes;

namespace {

std::vector<npz::ZipEntry> index_of(const Bytes& b, npz::ZipLimits lim = {}) {
  npz::MemorySource src(b.data(), b.size());
  return npz::read_zip_index(src, lim);
}

ztest::Member mem(const std::string& name, size_t n = 100, uint16_t method = 0) {
  ztest::Member m;
  m.name = name;
  m.data.resize(n);
  for (size_t i = 0; i < n; ++i) m.data[i] = static_cast<uint8_t>(i * 7 + 3);
  m.method = method;
  return m;
}

}  // namespace

NPZ_TEST(zip_numpy_style_archive) {
  auto built = ztest::build_zip({mem("a.npy"), mem("b.npy", 5000, 8), mem("c.npy", 0)});
  auto es = index_of(built.bytes);
  NPZ_EXPECT(es.size() == 3);
  if (es.size() != 3) return;
  NPZ_EXPECT(es[0].name == "a.npy" && es[1].name == "b.npy" && es[2].name == "c.npy");
  NPZ_EXPECT(es[0].method == 0 && es[1].method == 8);
  NPZ_EXPECT(es[0].usize == 100 && es[0].csize == 100);
  NPZ_EXPECT(es[1].usize == 5000 && es[1].csize < 5000);
  // data offset from the LOCAL lengths: 30 + name + 20-byte zip64 extra
  NPZ_EXPECT(es[0].data_offset == 30 + 5 + 20);
  NPZ_EXPECT(es[0].data_offset == built.data[0] && es[1].data_offset == built.data[1]);
  NPZ_EXPECT(es[2].data_offset == built.data[2]);
  NPZ_EXPECT(es[1].crc32 == ztest::crc(mem("b.npy", 5000).data));
  NPZ_EXPECT(!es[0].has_data_descriptor);
}

NPZ_TEST(zip_old_style_local_headers_and_padding_extra) {
  auto a = mem("a.npy");
  a.numpy_local = false;
  auto b = mem("b.npy");
  b.local_extra_pad = 13;
  auto built = ztest::build_zip({a, b});
  auto es = index_of(built.bytes);
  NPZ_EXPECT(es.size() == 2);
  if (es.size() != 2) return;
  NPZ_EXPECT(es[0].data_offset == 35);
  NPZ_EXPECT(es[1].data_offset == built.data[1]);
}

NPZ_TEST(zip_member_key) {
  NPZ_EXPECT(npz::member_key("x.npy") == "x");
  NPZ_EXPECT(npz::member_key("x.npy.npy") == "x.npy");
  NPZ_EXPECT(npz::member_key("x") == "x");
  NPZ_EXPECT(npz::member_key("x.NPY") == "x.NPY");
}

// Row 1
NPZ_TEST(zip_row1_eocd) {
  Bytes tiny = {'P', 'K', 5, 6};
  NPZ_EXPECT_CODE(index_of(tiny), Code::NpzNotZip);
  Bytes junk(1000, 0x41);
  NPZ_EXPECT_CODE(index_of(junk), Code::NpzNotZip);
  auto built = ztest::build_zip({mem("a.npy")});
  Bytes trailing = built.bytes;
  trailing.push_back(0);  // comment no longer ends at EOF
  NPZ_EXPECT_CODE(index_of(trailing), Code::NpzCorrupt);
  ztest::Options o;
  o.comment = "hello PK\x05\x06 inside a comment";
  auto commented = ztest::build_zip({mem("a.npy")}, o);
  NPZ_EXPECT(index_of(commented.bytes).size() == 1);
  // EOCD beyond the 65,557-byte search window: the comment field lies about its length
  Bytes far = built.bytes;
  far.resize(far.size() + 70000, 0);
  NPZ_EXPECT_CODE(index_of(far), Code::NpzNotZip);
}

NPZ_TEST(zip_empty_archive_is_valid) {
  auto built = ztest::build_zip({});
  NPZ_EXPECT(built.bytes.size() == 22);
  NPZ_EXPECT(index_of(built.bytes).empty());
}

// Row 2
NPZ_TEST(zip_row2_zip64_records) {
  ztest::Options o;
  o.zip64_eocd = true;
  auto good = ztest::build_zip({mem("a.npy"), mem("b.npy", 300, 8)}, o);
  auto es = index_of(good.bytes);
  NPZ_EXPECT(es.size() == 2);
  // locator pointing outside the file
  Bytes bad = good.bytes;
  const size_t eocd = bad.size() - 22;
  ztest::set32(bad, eocd - 20 + 8, 0x7FFFFFF0u);
  NPZ_EXPECT_CODE(index_of(bad), Code::NpzCorrupt);
  // bad zip64 record signature
  Bytes badsig = good.bytes;
  const size_t rec = eocd - 20 - 56;
  badsig[rec] ^= 0xFF;
  NPZ_EXPECT_CODE(index_of(badsig), Code::NpzCorrupt);
  // entries on disk != total
  Bytes disk = good.bytes;
  disk[rec + 24] ^= 1;
  NPZ_EXPECT_CODE(index_of(disk), Code::NpzCorrupt);
  // disk number != 0 in the locator
  Bytes ldisk = good.bytes;
  ldisk[eocd - 20 + 4] = 1;
  NPZ_EXPECT_CODE(index_of(ldisk), Code::NpzCorrupt);
}

NPZ_TEST(zip_row2_classic_disk_numbers) {
  auto good = ztest::build_zip({mem("a.npy")});
  Bytes b = good.bytes;
  b[b.size() - 22 + 4] = 1;
  NPZ_EXPECT_CODE(index_of(b), Code::NpzCorrupt);
}

// Row 3
NPZ_TEST(zip_row3_central_directory) {
  ztest::Options o;
  o.cd_offset_delta = 1;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy")}, o).bytes), Code::NpzCorrupt);
  ztest::Options cnt;
  cnt.eocd_entries = 3;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy"), mem("b.npy")}, cnt).bytes),
                  Code::NpzCorrupt);
  ztest::Options fewer;
  fewer.eocd_entries = 1;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy"), mem("b.npy")}, fewer).bytes),
                  Code::NpzCorrupt);
  ztest::Options sig;
  sig.bad_cd_sig = true;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy")}, sig).bytes), Code::NpzCorrupt);
  // Data prepended to an archive (offsets not shifted): Python's zipfile tolerates it, we don't.
  Bytes shifted(64, 0x20);
  ztest::append(shifted, ztest::build_zip({mem("a.npy")}).bytes);
  NPZ_EXPECT_CODE(index_of(shifted), Code::NpzCorrupt);
  // Leading bytes that the offsets do account for are just a gap before the first member.
  ztest::Options pre;
  pre.prefix = Bytes(64, 0x20);
  NPZ_EXPECT(index_of(ztest::build_zip({mem("a.npy")}, pre).bytes).size() == 1);
}

// Row 4
NPZ_TEST(zip_row4_zip64_extra) {
  auto m = mem("a.npy");
  m.cd_zip64 = true;
  auto es = index_of(ztest::build_zip({m, mem("b.npy")}).bytes);
  NPZ_EXPECT(es.size() == 2 && es[0].usize == 100 && es[0].lfh_offset == 0);
  auto missing = mem("a.npy");
  missing.cd_zip64_missing = true;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({missing}).bytes), Code::NpzCorrupt);
  // extra shorter than the fields it must hold
  auto built = ztest::build_zip({m});
  Bytes b = built.bytes;
  const size_t cd = built.cd_offset;
  const size_t extra = cd + 46 + 5;
  b[extra + 2] = 16;  // claims 16 bytes (needs 24); the rest becomes a second bogus block
  NPZ_EXPECT_CODE(index_of(b), Code::NpzCorrupt);
}

// Row 5
NPZ_TEST(zip_row5_local_header_cross_check) {
  auto sig = mem("a.npy");
  sig.local_sig = 0x04034b51;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({sig}).bytes), Code::NpzCorrupt);
  auto name = mem("a.npy");
  name.local_name = "b.npy";
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({name}).bytes), Code::NpzCorrupt);
  auto namelen = mem("a.npy");
  namelen.local_name = "ab.npy";
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({namelen}).bytes), Code::NpzCorrupt);
  auto method = mem("a.npy");
  method.local_method = 8;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({method}).bytes), Code::NpzCorrupt);
  auto off = mem("b.npy");
  off.cd_offset_override = 7;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy"), off}).bytes), Code::NpzCorrupt);
}

// Row 6
NPZ_TEST(zip_row6_data_range) {
  auto m = mem("a.npy", 100, 8);
  m.cd_csize = 5000;  // runs into the central directory
  m.cd_usize = 100;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({m}).bytes), Code::NpzCorrupt);
  auto huge = mem("a.npy", 100, 8);
  huge.cd_zip64 = true;
  huge.cd_csize = ~uint64_t{0} - 10;  // overflows when added to the data offset
  huge.cd_usize = 100;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({huge}).bytes), Code::NpzCorrupt);
  auto past = mem("a.npy");
  past.cd_offset_override = 1u << 30;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({past}).bytes), Code::NpzCorrupt);
}

// Row 7
NPZ_TEST(zip_row7_overlap) {
  // Member "a" (stored) carries a complete local header + data of "b" inside its own data;
  // the central directory points "b" into the middle of "a" (quoted-overlap zip bomb).
  auto inner = ztest::build_zip({mem("b.npy", 40)});
  const size_t inner_len = static_cast<size_t>(inner.cd_offset);
  ztest::Member a = mem("a.npy", 0);
  a.data.assign(inner.bytes.begin(), inner.bytes.begin() + static_cast<long>(inner_len));
  ztest::Member b = mem("b.npy", 40);
  b.cd_offset_override = 30 + 5 + 20;  // a's data offset
  // b's own local copy is written too (after a), but the CD points inside a.
  auto built = ztest::build_zip({a, b});
  NPZ_EXPECT_CODE(index_of(built.bytes), Code::NpzOverlap);
  // Same LFH referenced twice under one name is a duplicate first.
  ztest::Member b2 = mem("c.npy", 40);
  b2.cd_offset_override = 0;
  b2.local_name = "a.npy";
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy"), b2}).bytes), Code::NpzCorrupt);
}

// Row 8
NPZ_TEST(zip_row8_duplicates) {
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("x.npy"), mem("x.npy")}).bytes),
                  Code::NpzDuplicateMember);
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("x"), mem("x.npy")}).bytes),
                  Code::NpzDuplicateMember);
  NPZ_EXPECT(index_of(ztest::build_zip({mem("x.npy"), mem("x.npy.npy")}).bytes).size() == 2);
}

// Row 9
NPZ_TEST(zip_row9_bad_names) {
  const std::vector<std::string> bad = {
      "",     "/abs.npy", "a/../b.npy", "..",          "a\\b.npy", std::string("a\0b.npy", 7),
      "dir/", ".npy",     "C:x.npy",    "\xC3\xA9.npy"};
  for (const auto& n : bad)
    NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem(n)}).bytes), Code::NpzBadName);
  auto utf8 = mem("\xC3\xA9t\xC3\xA9.npy");
  utf8.flags = 1u << 11;
  NPZ_EXPECT(index_of(ztest::build_zip({utf8}).bytes).size() == 1);
  auto badutf8 = mem("\xC3(.npy");
  badutf8.flags = 1u << 11;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({badutf8}).bytes), Code::NpzBadName);
  NPZ_EXPECT(index_of(ztest::build_zip({mem("sub/dir/a.npy"), mem("a..b.npy")}).bytes).size() == 2);
}

// Row 11
NPZ_TEST(zip_row11_encryption) {
  auto e0 = mem("a.npy");
  e0.flags = 1;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({e0}).bytes), Code::NpzEncrypted);
  auto e6 = mem("a.npy");
  e6.flags = 1u << 6;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({e6}).bytes), Code::NpzEncrypted);
}

// Row 12
NPZ_TEST(zip_row12_methods) {
  for (uint16_t method : {1, 9, 12, 14, 93, 99}) {
    auto m = mem("a.npy");
    m.method = method;
    NPZ_EXPECT_CODE(index_of(ztest::build_zip({m}).bytes), Code::NpzUnsupportedMethod);
  }
}

// Rows 13-14 (the index-level parts; inflate-time checks are in test_stream_scan.cc)
NPZ_TEST(zip_row13_14_size_claims) {
  auto s = mem("a.npy");
  s.cd_usize = 101;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({s}).bytes), Code::NpzSizeMismatch);
  auto d = mem("a.npy", 1000, 8);
  auto built = ztest::build_zip({d});
  const uint64_t cs = index_of(built.bytes)[0].csize;
  auto bomb = mem("a.npy", 1000, 8);
  bomb.cd_usize = 1032 * cs + 1025;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({bomb}).bytes), Code::NpzSizeMismatch);
  auto edge = mem("a.npy", 1000, 8);
  edge.cd_usize = 1032 * cs + 1024;  // allowed by the index (inflate will catch the lie)
  NPZ_EXPECT(index_of(ztest::build_zip({edge}).bytes).size() == 1);
}

// Row 17
NPZ_TEST(zip_row17_data_descriptors) {
  auto d1 = mem("a.npy", 300, 8);
  d1.descriptor = 1;
  auto d2 = mem("b.npy", 300, 0);
  d2.descriptor = 2;
  d2.numpy_local = false;
  auto es = index_of(ztest::build_zip({d1, d2, mem("c.npy")}).bytes);
  NPZ_EXPECT(es.size() == 3);
  if (es.size() == 3) {
    NPZ_EXPECT(es[0].has_data_descriptor && es[1].has_data_descriptor);
    NPZ_EXPECT(es[0].usize == 300 && es[1].usize == 300);
  }
  auto wrong = mem("a.npy", 300, 8);
  wrong.descriptor = 3;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({wrong, mem("c.npy")}).bytes), Code::NpzCorrupt);
}

// Row 18
NPZ_TEST(zip_row18_limits) {
  npz::ZipLimits lim;
  lim.max_entries = 2;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("a.npy"), mem("b.npy"), mem("c.npy")}).bytes, lim),
                  Code::NpzLimit);
  npz::ZipLimits nl;
  nl.max_name_len = 10;
  NPZ_EXPECT_CODE(index_of(ztest::build_zip({mem("abcdefghijk.npy")}).bytes, nl), Code::NpzLimit);
  NPZ_EXPECT(index_of(ztest::build_zip({mem("abcdef.npy")}).bytes, nl).size() == 1);
}

NPZ_TEST(zip_truncated_everywhere_never_crashes) {
  auto built = ztest::build_zip({mem("a.npy", 200, 8), mem("b.npy", 50)});
  for (size_t n = 0; n < built.bytes.size(); ++n) {
    Bytes cut(built.bytes.begin(), built.bytes.begin() + static_cast<long>(n));
    bool threw = false;
    try {
      index_of(cut);
    } catch (const npz::Error& e) {
      threw = e.code() == Code::NpzNotZip || e.code() == Code::NpzCorrupt;
    }
    NPZ_EXPECT(threw);
  }
}
