// Streaming scan of one member (Archive::scan, archive.h): CRC-32 and value statistics in one
// bounded-memory pass. STORED members go through stored_io (pread in 32 MiB blocks spread over the
// threads, partial results merged); DEFLATED ones through a MemberStream.
#include <algorithm>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "archive.h"
#include "archive_internal.h"
#include "crc32.h"
#include "member_stream.h"
#include "parallel_member.h"
#include "stored_io.h"

namespace npz {

namespace {

void merge_component(ComponentStats& a, const ComponentStats& b) {
  if (b.finite) {
    if (a.finite == 0) {
      a.min = b.min;
      a.max = b.max;
    } else {
      a.min = std::min(a.min, b.min);
      a.max = std::max(a.max, b.max);
    }
  }
  a.count += b.count;
  a.nan += b.nan;
  a.pos_inf += b.pos_inf;
  a.neg_inf += b.neg_inf;
  a.negative += b.negative;
  a.zero += b.zero;
  a.finite += b.finite;
  a.sum += b.sum;
  a.sum_sq += b.sum_sq;
}

void merge_stats(ScanStats& a, const ScanStats& b) {
  for (size_t c = 0; c < a.components.size() && c < b.components.size(); ++c)
    merge_component(a.components[c], b.components[c]);
  a.sum_abs2 += b.sum_abs2;
  a.bad_bool += b.bad_bool;
  a.elements += b.elements;
  if (a.rows && b.rows) merge_row_tallies(*a.rows, *b.rows);
}

bool stats_dtype(const DType& d) {
  if (!d.supported || d.is_object) return false;
  switch (d.kind) {
    case 'b':
    case 'i':
    case 'u':
    case 'f':
    case 'c': return true;
    default: return false;
  }
}

}  // namespace

ScanResult Archive::scan(size_t index, const ScanOptions& opts) const {
  const Member& m = member_at(index);
  // A member without NPY magic still has a CRC that numpy's loader verifies: scan its raw bytes
  // (CRC only, no stats) instead of refusing, so corruption there is found too.
  const bool raw_member = kind_ == Kind::Npz && !m.npy_magic;
  if (m.error && !raw_member) throw *m.error;
  if (!m.header && !raw_member) throw Error(Code::NpyBadMagic, "member has no NPY header", m.key);
  static const NpyHeader kNoHeader{};
  const NpyHeader& h = raw_member ? kNoHeader : *m.header;
  const ZipEntry& z = m.entry;
  const bool want_stats = !raw_member && opts.stats && stats_dtype(h.dtype);
  const bool want_crc = opts.verify_crc && kind_ == Kind::Npz;
  const uint64_t arr_begin = raw_member ? 0 : h.data_offset;
  const uint64_t arr_end =
      (raw_member || h.dtype.is_object) ? arr_begin : arr_begin + h.byte_length;
  const uint64_t row_len = want_stats ? row_tally_elements(h) : 0;  // per-row tallies (frames)
  ScanResult res;
  try {
    if (file_ && file_->current_size() < file_->size())
      throw Error(Code::NpzCorrupt, "file changed or truncated since it was opened");
    if (z.method == 0) {
      const DType* dt = want_stats ? &h.dtype : nullptr;
      // Fixed blocks of the member (kScanBlock bytes, cut at the next element boundary inside
      // the array), each scanned with a scanner of its own and merged in block order (CRC-32s
      // with crc32_combine, statistics with merge_stats). The blocks do not depend on the thread
      // count, only their spread over threads does (OpenOptions::threads: contiguous runs of
      // blocks, one run per thread), so the floating-point sums come out bit-identical at any
      // thread count.
      const uint64_t isz = h.dtype.itemsize ? h.dtype.itemsize : 1;
      // Blocks end on an element boundary, and on a row boundary when rows are tallied (each
      // row's tally then comes from one block).
      const uint64_t cut_unit = row_len ? row_len * isz : isz;
      std::vector<uint64_t> cut{0};
      for (uint64_t b = detail::kScanBlock; b < z.usize; b += detail::kScanBlock) {
        uint64_t c = b;
        if (c > arr_begin && c < arr_end)
          c = arr_begin + (c - arr_begin + cut_unit - 1) / cut_unit * cut_unit;
        if (c > cut.back() && c < z.usize) cut.push_back(c);
      }
      cut.push_back(z.usize);
      const size_t blocks = cut.size() - 1;
      const unsigned parts =
          static_cast<unsigned>(std::min<size_t>(std::max(1u, opts_.threads), blocks));
      std::vector<detail::RangeResult> r(blocks);
      detail::ScanCost cost;
      detail::run_parts(parts, [&](unsigned p) {
        for (size_t i = blocks * p / parts; i < blocks * (p + 1) / parts; ++i)
          r[i] = detail::scan_stored_range(*src_, file_, z, cut[i], cut[i + 1], arr_begin, arr_end,
                                           dt, row_len, want_crc, opts.cancel, m.key, parts, cost);
      });
      uint32_t crc = r[0].crc;
      for (size_t i = 1; i < blocks; ++i) {
        crc = crc32_combine(crc, r[i].crc, cut[i + 1] - cut[i]);
        if (r[0].stats) merge_stats(*r[0].stats, *r[i].stats);
      }
      if (want_crc) res.crc_ok = crc == z.crc32;
      res.stats = std::move(r[0].stats);
      res.bytes_read = z.usize;
    } else {
      charge_inflate(m);
      const unsigned threads = inflate_threads(opts_.threads);
      uint32_t pcrc = 0;
      if (threads >= 2 && worth_parallel(z) &&
          scan_deflated_parallel(*src_, z, threads, want_stats ? &h.dtype : nullptr, row_len,
                                 arr_begin, arr_end, detail::kScanChunk, opts.cancel, &res.stats,
                                 &pcrc)) {
        // Decoded in parallel and the CRC matches the central directory.
        res.crc_ok = want_crc;
        res.bytes_read = z.usize;
        res.crc_checked = want_crc;
        return res;
      }
      MemberStream ms(*src_, z);
      ms.set_verify_crc(false);  // compared below: a mismatch is a result, not an exception
      ms.set_cancel(opts.cancel);
      std::optional<Scanner> sc;
      if (want_stats) sc.emplace(h.dtype, row_len);
      std::vector<uint8_t> buf(
          static_cast<size_t>(std::min<uint64_t>(detail::kScanChunk, z.usize)));
      for (;;) {
        // Whole pieces (the parallel path feeds the same ones: bit-identical statistics).
        const uint64_t pos = ms.position();
        size_t k = 0;
        if (buf.empty()) {
          ms.read(nullptr, 0);
        } else {
          while (k < buf.size()) {
            const size_t got = ms.read(buf.data() + k, buf.size() - k);
            if (got == 0) break;
            k += got;
          }
        }
        if (k == 0) break;
        if (sc) {
          const uint64_t a = std::max(pos, arr_begin), b = std::min(pos + k, arr_end);
          if (a < b) sc->feed(buf.data() + (a - pos), static_cast<size_t>(b - a));
        }
      }
      if (!ms.finished()) throw Error(Code::NpzSizeMismatch, "member stream did not finish");
      if (want_crc) res.crc_ok = ms.crc() == z.crc32;
      if (sc) res.stats = sc->finish();
      res.bytes_read = ms.position();
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  res.crc_checked = want_crc;
  return res;
}

}  // namespace npz
