// Row reads of Fortran-order arrays of rank >= 2 (issue 13): the rows asked for, gathered into
// C order, equal to numpy's a[start:end] (or a[[r0, r1, ...]]) made C-contiguous.
//
// In Fortran order the first axis varies fastest, so the file holds, for each position of the
// other axes (a "column", taken in Fortran order), all of its d0 rows one after another. Rows
// [s, e) are therefore a run of (e - s) elements in every column, one column stride (d0 elements)
// apart. The gather walks the columns in file order and scatters each run into the output with a
// stride of one C-order row, so a STORED member is read with strided preads (one window of up to
// 1 MiB serves several columns when they are that close, else one pread per run) and a DEFLATE
// member in one forward streaming pass that stops after the last run of the last column, in
// bounded memory (the stream's buffers and a 1 MiB staging buffer besides the output).
//
// Pure functions over a Source; thread-safe for distinct outputs. Errors: ERR_NPZ_CORRUPT /
// ERR_NPY_TRUNCATED from the source or the stream, ERR_NPZ_ABORTED via cancel.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "npy_header.h"
#include "source.h"
#include "zip_index.h"

namespace npz {

// Rows [first, first + count) of the first axis.
struct RowRun {
  uint64_t first = 0;
  uint64_t count = 0;
};

// Consecutive rows of an ascending, unique list joined into runs.
std::vector<RowRun> row_runs(const std::vector<uint64_t>& rows);

// Member bytes (from the member's start, NPY header included) a gather of these runs reads up to:
// the end of the last run in the last column. 0 when there is nothing to read.
uint64_t fortran_gather_extent(const NpyHeader& h, const std::vector<RowRun>& runs);

// Writes the rows of runs (in order) as a C-order block of shape (sum of counts, d1, ..., dk-1)
// to out, which must hold that many elements of h.dtype.itemsize bytes. Bytes stay in the file's
// byte order (the caller swaps big-endian data). h: a Fortran-order header of rank >= 2 whose
// runs lie within shape[0] (checked by the caller). z: the member (method 0 or 8).
void gather_fortran_rows(const Source& src, const ZipEntry& z, const NpyHeader& h,
                         const std::vector<RowRun>& runs, uint8_t* out,
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace npz
