// Row reads of one member (archive.h): rows [start, end) of the first axis (zero-copy when the
// whole-array rules allow it, else a copy; DEFLATED members inflated only up to the last row),
// the per-row profile behind the report's frame plots, and a set of listed rows in one pass.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "archive.h"
#include "archive_internal.h"
#include "byteswap.h"
#include "fortran_rows.h"
#include "member_stream.h"

namespace npz {

ArrayBytes Archive::read_rows(size_t index, uint64_t start, uint64_t end, CopyMode mode) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  if (!dt.supported || dt.is_object)
    throw Error(Code::NpyUnsupportedDtype,
                "member '" + m.key + "' has dtype '" + dt.descr + "', which cannot be read as rows",
                m.key);
  if (h.shape.empty())
    throw Error(Code::NpyRowRange, "member '" + m.key + "' is 0-dimensional: it has no rows",
                m.key);
  const bool fortran = h.fortran_order && h.shape.size() > 1;  // rows gathered: fortran_rows.h
  const uint64_t rows = h.shape[0];
  if (start > end || end > rows)
    throw Error(Code::NpyRowRange,
                "member '" + m.key + "': rows [" + std::to_string(start) + ", " +
                    std::to_string(end) + ") are outside its first axis of " +
                    std::to_string(rows) + " rows",
                m.key);
  // Bytes per row, overflow-checked: with shape[0] == 0 the header's byte_length check does not
  // bound the product of the other dimensions.
  uint64_t row_bytes = dt.itemsize;
  for (size_t d = 1; d < h.shape.size(); ++d) {
    const uint64_t dim = h.shape[d];
    if (dim != 0 && row_bytes > UINT64_MAX / dim)
      throw Error(Code::NpyLengthOverflow, "member '" + m.key + "': row size overflows", m.key);
    row_bytes *= dim;
  }
  // end <= rows, so end * row_bytes <= byte_length (checked against the member at open) unless
  // rows == 0, where end == 0.
  const uint64_t from = start * row_bytes, to = end * row_bytes;
  if (to > h.byte_length)
    throw Error(Code::NpyLengthOverflow, "member '" + m.key + "': row range beyond the data",
                m.key);
  const uint64_t len = to - from;
  if (len > SIZE_MAX) throw Error(Code::NpzLimit, "row range too large to read", m.key);
  const ZipEntry& z = m.entry;
  const uint32_t cs = dt.component_size ? dt.component_size : 1;
  ArrayBytes out;
  out.byte_length = len;
  if (len == 0) {
    out.data = out.owned.data();
    return out;
  }
  if (fortran) {
    if (mode == CopyMode::RequireZeroCopy)
      throw Error(Code::NpyFortranOrder,
                  "member '" + m.key +
                      "' is stored in Fortran order: its rows are not contiguous, so a row read "
                      "gathers them into a C-order copy",
                  m.key);
    const std::vector<RowRun> runs{{start, end - start}};
    if (z.method != 0) charge_inflate_bytes(m, fortran_gather_extent(h, runs));
    out.owned.resize(static_cast<size_t>(len));
    try {
      gather_fortran_rows(*src_, z, h, runs, out.owned.data());
    } catch (Error& e) {
      e.set_member(m.key);
      throw;
    }
    if (dt.big_endian) swap_units(out.owned.data(), out.owned.size(), cs);
    out.data = out.owned.data();
    return out;
  }
  if (map_array_bytes(m, from, len, mode, true, &out)) return out;
  const size_t n = static_cast<size_t>(len);
  try {
    if (z.method == 0) {
      out.owned.resize(n);
      for (size_t have = 0; have < n;) {
        const size_t k = std::min<size_t>(n - have, detail::kScanChunk);
        src_->read(z.data_offset + h.data_offset + from + have, out.owned.data() + have, k);
        have += k;
      }
    } else {
      charge_inflate_bytes(m, h.data_offset + to);
      MemberStream ms(*src_, z);
      ms.set_verify_crc(false);  // the CRC covers the whole member; a row read stops early
      ms.skip(h.data_offset + from);
      detail::read_growing(ms, out.owned, n);  // resident only as inflated rows arrive
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  if (dt.big_endian) swap_units(out.owned.data(), out.owned.size(), cs);
  out.data = out.owned.data();
  return out;
}

namespace {

template <class T>
T load_value(const uint8_t* p, bool swap) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

double value_at(const DType& dt, const uint8_t* p) {
  const bool sw = dt.big_endian;
  switch (dt.kind) {
    case 'b': return p[0] != 0 ? 1.0 : 0.0;
    case 'f':
      if (dt.itemsize == 4) return load_value<float>(p, sw);
      if (dt.itemsize == 8) return load_value<double>(p, sw);
      break;
    case 'i':
      switch (dt.itemsize) {
        case 1: return static_cast<int8_t>(p[0]);
        case 2: return load_value<int16_t>(p, sw);
        case 4: return load_value<int32_t>(p, sw);
        case 8: return static_cast<double>(load_value<int64_t>(p, sw));
      }
      break;
    case 'u':
      switch (dt.itemsize) {
        case 1: return p[0];
        case 2: return load_value<uint16_t>(p, sw);
        case 4: return load_value<uint32_t>(p, sw);
        case 8: return static_cast<double>(load_value<uint64_t>(p, sw));
      }
      break;
  }
  return 0;
}

bool profile_dtype(const DType& d) {
  if (!d.supported || d.is_object) return false;
  if (d.kind == 'f') return d.itemsize == 4 || d.itemsize == 8;  // f2: no
  return d.kind == 'b' || d.kind == 'i' || d.kind == 'u';
}

}  // namespace

RowProfile Archive::row_profile(size_t index, uint64_t max_rows,
                                const std::atomic<bool>* cancel) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  const DType& dt = h.dtype;
  if (!profile_dtype(dt))
    throw Error(Code::NpyUnsupportedDtype,
                "member '" + m.key + "' has dtype '" + dt.descr +
                    "': per-row totals need a real numeric dtype",
                m.key);
  if (h.shape.empty())
    throw Error(Code::NpyRowRange, "member '" + m.key + "' is 0-dimensional: it has no rows",
                m.key);
  if (h.fortran_order && h.shape.size() > 1)
    throw Error(Code::NpyFortranOrder, "member '" + m.key + "' is stored in Fortran order", m.key);
  const uint64_t rows = h.shape[0];
  if (rows > max_rows)
    throw Error(Code::NpzLimit,
                "member '" + m.key + "' has " + std::to_string(rows) +
                    " rows, over the per-row profile cap of " + std::to_string(max_rows),
                m.key);
  RowProfile out;
  out.sum.assign(static_cast<size_t>(rows), 0.0);
  out.nonfinite.assign(static_cast<size_t>(rows), 0);
  out.nonzero.assign(static_cast<size_t>(rows), 0);
  out.negative.assign(static_cast<size_t>(rows), 0);
  if (h.byte_length == 0 || rows == 0) return out;
  // byte_length = rows * per_row * itemsize (checked at open), so per_row fits and is >= 1.
  const uint64_t isz = dt.itemsize;
  const uint64_t per_row = h.count / rows;
  constexpr uint64_t kMaxPattern = uint64_t{16} << 20;
  if (per_row <= kMaxPattern) out.col_sum.assign(static_cast<size_t>(per_row), 0.0);
  const bool pattern = !out.col_sum.empty();
  const ZipEntry& z = m.entry;
  std::optional<MemberStream> ms;
  if (z.method != 0) {
    charge_inflate_bytes(m, h.data_offset + h.byte_length);
    ms.emplace(*src_, z);
    ms->set_verify_crc(false);
    ms->set_cancel(cancel);
    ms->skip(h.data_offset);
  }
  const size_t chunk = static_cast<size_t>(std::max<uint64_t>(isz, detail::kScanChunk / isz * isz));
  std::vector<uint8_t> buf(chunk);
  uint64_t elem = 0;  // elements consumed
  const bool is_float = dt.kind == 'f';
  try {
    for (uint64_t pos = 0; pos < h.byte_length;) {
      detail::check_cancel(cancel, m.key);
      const size_t k = static_cast<size_t>(std::min<uint64_t>(chunk, h.byte_length - pos));
      if (ms) ms->read_exact(buf.data(), k);
      else src_->read(z.data_offset + h.data_offset + pos, buf.data(), k);
      const size_t n = k / static_cast<size_t>(isz);  // chunk is a multiple of isz
      for (size_t i = 0; i < n; ++i, ++elem) {
        const size_t r = static_cast<size_t>(elem / per_row);
        const double v = value_at(dt, buf.data() + i * isz);
        if (is_float && !std::isfinite(v)) {
          ++out.nonfinite[r];
          ++out.nonzero[r];
          continue;
        }
        out.sum[r] += v;
        if (pattern) out.col_sum[static_cast<size_t>(elem - r * per_row)] += v;
        if (v != 0) ++out.nonzero[r];
        if (v < 0) ++out.negative[r];
      }
      pos += k;
    }
  } catch (Error& e) {
    e.set_member(m.key);
    throw;
  }
  return out;
}

ByteBuffer Archive::read_row_set(size_t index, const std::vector<uint64_t>& rows) const {
  const Member& m = npy_member(index);
  const NpyHeader& h = *m.header;
  if (h.shape.empty()) throw Error(Code::NpyRowRange, "member '" + m.key + "' has no rows", m.key);
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= h.shape[0] || (i > 0 && rows[i] <= rows[i - 1]))
      throw Error(Code::NpyRowRange,
                  "member '" + m.key + "': row list must be ascending, unique and below " +
                      std::to_string(h.shape[0]),
                  m.key);
  ByteBuffer out;
  if (rows.empty()) return out;
  if (h.fortran_order && h.shape.size() > 1) {
    read_rows(index, rows[0], rows[0], CopyMode::ForceCopy);      // the dtype checks; reads nothing
    const uint64_t rb = h.count / h.shape[0] * h.dtype.itemsize;  // rows nonempty: shape[0] > 0
    if (rb != 0 && rows.size() > SIZE_MAX / rb)
      throw Error(Code::NpzLimit, "row set too large", m.key);
    const std::vector<RowRun> runs = row_runs(rows);
    if (m.entry.method != 0) charge_inflate_bytes(m, fortran_gather_extent(h, runs));
    out.resize(static_cast<size_t>(rb * rows.size()));
    try {
      gather_fortran_rows(*src_, m.entry, h, runs, out.data());
    } catch (Error& e) {
      e.set_member(m.key);
      throw;
    }
    if (h.dtype.big_endian)
      swap_units(out.data(), out.size(), h.dtype.component_size ? h.dtype.component_size : 1);
    return out;
  }
  // One row through read_rows gives the dtype/order checks and the row size.
  if (m.entry.method == 0) {
    for (uint64_t r : rows) {
      ArrayBytes b = read_rows(index, r, r + 1, CopyMode::ForceCopy);
      out.insert(out.end(), b.data, b.data + b.byte_length);
    }
    return out;
  }
  ArrayBytes first = read_rows(index, rows[0], rows[0] + 1, CopyMode::ForceCopy);
  const uint64_t rb = first.byte_length;
  if (rb != 0 && rows.size() > SIZE_MAX / rb)
    throw Error(Code::NpzLimit, "row set too large", m.key);
  out.reserve(static_cast<size_t>(rb * rows.size()));
  out.insert(out.end(), first.data, first.data + rb);
  if (rows.size() == 1 || rb == 0) return out;
  const ZipEntry& z = m.entry;
  charge_inflate_bytes(m, h.data_offset + (rows.back() + 1) * rb);
  MemberStream ms(*src_, z);
  ms.set_verify_crc(false);
  uint64_t at = 0;  // member byte position
  for (size_t i = 1; i < rows.size(); ++i) {
    const uint64_t want = h.data_offset + rows[i] * rb;
    ms.skip(want - at);
    const size_t have = out.size();
    out.resize(have + static_cast<size_t>(rb));
    ms.read_exact(out.data() + have, static_cast<size_t>(rb));
    at = want + rb;
  }
  if (h.dtype.big_endian) {
    const uint32_t cs = h.dtype.component_size ? h.dtype.component_size : 1;
    swap_units(out.data() + rb, out.size() - static_cast<size_t>(rb),
               cs);  // first row already swapped
  }
  return out;
}

}  // namespace npz
