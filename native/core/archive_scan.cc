// Streaming scan of one member (Archive::scan, archive.h): CRC-32 and value statistics in one
// bounded-memory pass. STORED members go through stored_io (guarded mapping windows, split over
// two threads above 64 MiB, partial results merged); DEFLATED ones through a MemberStream.
#include <algorithm>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "archive.h"
#include "archive_internal.h"
#include "crc32.h"
#include "member_stream.h"
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
      const unsigned threads = detail::io_threads();
      const uint64_t isz = h.dtype.itemsize ? h.dtype.itemsize : 1;
      const uint64_t nelem = (arr_end - arr_begin) / isz;
      const uint64_t unit = row_len ? row_len : 1;  // split at a row boundary when rows are tallied
      if (threads >= 2 && z.usize > detail::kParallelScanMin && nelem / unit >= 2) {
        const uint64_t split = arr_begin + (nelem / unit / 2) * unit * isz;
        detail::RangeResult r1;
        std::exception_ptr err;
        std::thread t([&] {
          try {
            r1 = detail::scan_stored_range(*src_, file_, z, split, z.usize, arr_begin, arr_end, dt,
                                           row_len, want_crc, opts.cancel, m.key);
          } catch (...) { err = std::current_exception(); }
        });
        detail::RangeResult r0;
        try {
          r0 = detail::scan_stored_range(*src_, file_, z, 0, split, arr_begin, arr_end, dt, row_len,
                                         want_crc, opts.cancel, m.key);
        } catch (...) {
          t.join();
          throw;
        }
        t.join();
        if (err) std::rethrow_exception(err);
        if (want_crc) res.crc_ok = crc32_combine(r0.crc, r1.crc, z.usize - split) == z.crc32;
        if (r0.stats) {
          merge_stats(*r0.stats, *r1.stats);
          res.stats = std::move(r0.stats);
        }
      } else {
        detail::RangeResult r =
            detail::scan_stored_range(*src_, file_, z, 0, z.usize, arr_begin, arr_end, dt, row_len,
                                      want_crc, opts.cancel, m.key);
        if (want_crc) res.crc_ok = r.crc == z.crc32;
        res.stats = std::move(r.stats);
      }
      res.bytes_read = z.usize;
    } else {
      charge_inflate(m);
      MemberStream ms(*src_, z);
      ms.set_verify_crc(false);  // compared below: a mismatch is a result, not an exception
      ms.set_cancel(opts.cancel);
      std::optional<Scanner> sc;
      if (want_stats) sc.emplace(h.dtype, row_len);
      std::vector<uint8_t> buf(
          static_cast<size_t>(std::min<uint64_t>(detail::kScanChunk, z.usize)));
      for (;;) {
        const uint64_t pos = ms.position();
        const size_t k = buf.empty() ? ms.read(nullptr, 0) : ms.read(buf.data(), buf.size());
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
