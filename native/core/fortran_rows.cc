// Gather of Fortran-order rows into C order (see fortran_rows.h for the layout argument).
#include "fortran_rows.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"
#include "member_stream.h"

namespace npz {

namespace {

constexpr size_t kWindow = 1u << 20;  // staging buffer / pread window

// Array-data bytes served at non-decreasing offsets (relative to the start of the array data).
class ForwardReader {
 public:
  virtual ~ForwardReader() = default;
  // n bytes at array offset off; valid until the next call.
  virtual const uint8_t* at(uint64_t off, size_t n) = 0;
};

// STORED: preads. When columns lie closer than a window apart, one window serves several of
// them; otherwise each run is read on its own (no bytes between columns are read).
class StoredReader final : public ForwardReader {
 public:
  StoredReader(const Source& src, uint64_t base, uint64_t len, uint64_t column_stride)
      : src_(src), base_(base), len_(len), windowed_(column_stride < kWindow) {}
  const uint8_t* at(uint64_t off, size_t n) override {
    if (have_ && off >= win_off_ && off - win_off_ + n <= win_len_)
      return buf_.data() + (off - win_off_);
    size_t k = n;
    if (windowed_ && n < kWindow) k = static_cast<size_t>(std::min<uint64_t>(kWindow, len_ - off));
    if (buf_.size() < k) buf_.resize(k);
    src_.read(base_ + off, buf_.data(), k);
    have_ = true;
    win_off_ = off;
    win_len_ = k;
    return buf_.data();
  }

 private:
  const Source& src_;
  uint64_t base_, len_;
  bool windowed_;
  bool have_ = false;
  uint64_t win_off_ = 0, win_len_ = 0;
  std::vector<uint8_t> buf_;
};

// DEFLATE: one forward pass; the bytes between runs are inflated and dropped (skip).
class StreamReader final : public ForwardReader {
 public:
  StreamReader(MemberStream& ms, uint64_t data_offset) : ms_(ms), data_offset_(data_offset) {}
  const uint8_t* at(uint64_t off, size_t n) override {
    const uint64_t want = data_offset_ + off;
    if (want < ms_.position()) throw Error(Code::NpzCorrupt, "row gather went backwards");
    ms_.skip(want - ms_.position());
    if (buf_.size() < n) buf_.resize(n);
    ms_.read_exact(buf_.data(), n);
    return buf_.data();
  }

 private:
  MemberStream& ms_;
  uint64_t data_offset_;
  std::vector<uint8_t> buf_;
};

// m elements of S bytes from p (contiguous) to dst, dst_stride bytes apart.
template <size_t S>
void scatter_fixed(const uint8_t* p, size_t m, uint8_t* dst, uint64_t dst_stride) {
  for (size_t i = 0; i < m; ++i) std::memcpy(dst + i * dst_stride, p + i * S, S);
}

void scatter(const uint8_t* p, size_t m, size_t isz, uint8_t* dst, uint64_t dst_stride) {
  switch (isz) {
    case 1: scatter_fixed<1>(p, m, dst, dst_stride); return;
    case 2: scatter_fixed<2>(p, m, dst, dst_stride); return;
    case 4: scatter_fixed<4>(p, m, dst, dst_stride); return;
    case 8: scatter_fixed<8>(p, m, dst, dst_stride); return;
    case 16: scatter_fixed<16>(p, m, dst, dst_stride); return;
    default:
      for (size_t i = 0; i < m; ++i) std::memcpy(dst + i * dst_stride, p + i * isz, isz);
  }
}

// Elements per column position (product of shape[1:]); the header's count is overflow-checked.
uint64_t columns_of(const NpyHeader& h) {
  if (h.shape[0] != 0) return h.count / h.shape[0];
  uint64_t p = 1;
  for (size_t d = 1; d < h.shape.size(); ++d) {
    if (h.shape[d] == 0) return 0;
    if (p > UINT64_MAX / h.shape[d]) throw Error(Code::NpyLengthOverflow, "row size overflows");
    p *= h.shape[d];
  }
  return p;
}

void gather(ForwardReader& rd, const NpyHeader& h, const std::vector<RowRun>& runs, uint8_t* out,
            const std::atomic<bool>* cancel) {
  const uint64_t d0 = h.shape[0];
  const size_t isz = h.dtype.itemsize;
  const uint64_t cols = columns_of(h);
  const uint64_t out_row = cols * isz;  // bytes of one C-order output row
  // Walk the columns in Fortran order (axis 1 fastest) keeping their C-order index c.
  const size_t nt = h.shape.size() - 1;
  std::vector<uint64_t> dims(h.shape.begin() + 1, h.shape.end()), idx(nt, 0), cstride(nt, 1);
  for (size_t j = nt - 1; j > 0; --j) cstride[j - 1] = cstride[j] * dims[j];
  const size_t per_piece = std::max<size_t>(1, kWindow / isz);
  uint64_t c = 0;
  for (uint64_t f = 0; f < cols; ++f) {
    if (cancel && (f & 1023) == 0 && cancel->load(std::memory_order_relaxed))
      throw Error(Code::NpzAborted, "operation aborted");
    // Every write below lands in out: c < cols (the carry keeps it there) and k0 + r < total rows.
    if (c >= cols) throw Error(Code::NpzCorrupt, "row gather: column index out of range");
    uint64_t k0 = 0;  // output row of the run's first row
    for (const RowRun& run : runs) {
      const uint64_t off = (f * d0 + run.first) * isz;
      for (uint64_t r = 0; r < run.count;) {
        const size_t m = static_cast<size_t>(std::min<uint64_t>(per_piece, run.count - r));
        const uint8_t* p = rd.at(off + r * isz, m * isz);
        scatter(p, m, isz, out + ((k0 + r) * cols + c) * isz, out_row);
        r += m;
      }
      k0 += run.count;
    }
    // Next column: increment the Fortran multi-index, carrying into slower axes.
    size_t j = 0;
    ++idx[0];
    c += cstride[0];
    while (idx[j] == dims[j] && j + 1 < nt) {
      c -= dims[j] * cstride[j];
      idx[j] = 0;
      ++j;
      ++idx[j];
      c += cstride[j];
    }
  }
}

}  // namespace

std::vector<RowRun> row_runs(const std::vector<uint64_t>& rows) {
  std::vector<RowRun> runs;
  for (uint64_t r : rows) {
    if (!runs.empty() && runs.back().first + runs.back().count == r) ++runs.back().count;
    else runs.push_back({r, 1});
  }
  return runs;
}

uint64_t fortran_gather_extent(const NpyHeader& h, const std::vector<RowRun>& runs) {
  if (runs.empty() || h.shape.size() < 2 || h.dtype.itemsize == 0) return 0;
  const uint64_t cols = columns_of(h);
  if (cols == 0) return 0;
  const RowRun& last = runs.back();
  return h.data_offset + ((cols - 1) * h.shape[0] + last.first + last.count) * h.dtype.itemsize;
}

void gather_fortran_rows(const Source& src, const ZipEntry& z, const NpyHeader& h,
                         const std::vector<RowRun>& runs, uint8_t* out,
                         const std::atomic<bool>* cancel) {
  if (fortran_gather_extent(h, runs) == 0) return;  // nothing to read
  for (const RowRun& r : runs)
    if (r.first > h.shape[0] || r.count > h.shape[0] - r.first)
      throw Error(Code::NpyRowRange, "rows [" + std::to_string(r.first) + ", " +
                                         std::to_string(r.first + r.count) + ") outside " +
                                         std::to_string(h.shape[0]) + " rows");
  if (z.method == 0) {
    StoredReader rd(src, z.data_offset + h.data_offset, h.byte_length,
                    h.shape[0] * h.dtype.itemsize);
    gather(rd, h, runs, out, cancel);
  } else {
    MemberStream ms(src, z);
    ms.set_verify_crc(false);  // the CRC covers the whole member; the gather may stop early
    ms.set_cancel(cancel);
    StreamReader rd(ms, h.data_offset);
    gather(rd, h, runs, out, cancel);
  }
}

}  // namespace npz
