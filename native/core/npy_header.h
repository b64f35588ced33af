// NPY header parsing (npy-npz-format.md §1-4): magic, version, the header dict parsed by a
// small tokenizer (never evaluated), the descr grammar and the dtype table.
// Pure functions, thread-safe. Raises ERR_NPY_BAD_MAGIC, ERR_NPY_BAD_VERSION,
// ERR_NPY_BAD_HEADER, ERR_NPY_HEADER_TOO_LARGE, ERR_NPY_TRUNCATED, ERR_NPY_LENGTH_OVERFLOW.
// An unsupported dtype is NOT an exception here: DType::supported is false with a reason, so a
// member with e.g. a structured dtype can still be listed; readers raise
// ERR_NPY_UNSUPPORTED_DTYPE when asked for its values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace npz {

constexpr uint32_t kDefaultMaxHeaderLen = 10000;
constexpr uint32_t kHardMaxHeaderLen = 1u << 20;
constexpr size_t kMaxNdim = 64;

struct DType {
  std::string descr;            // exactly as stored, e.g. "<f4", ">i8", "|b1", "<U5", "|S3", "|O"
  char byteorder = '|';         // '<', '>', '|'
  char kind = 0;                // 'b','i','u','f','c','U','S','O','V','M','m' ; 0 for structured
  uint32_t itemsize = 0;        // bytes per element (0 for O; 8 on disk is irrelevant for O)
  uint32_t component_size = 0;  // itemsize for scalars; itemsize/2 for complex; 4 for U; 1 for S
  bool supported = false;       // readable as values (numeric, U, S)
  bool is_object = false;       // "|O": pickle payload
  bool big_endian = false;      // multi-byte component in big-endian order
  std::string reason;           // why unsupported ("structured dtype", "datetime64", ...)
  std::string numpy_name;  // str(dtype) on a little-endian host: float32, complex64, >f4, <U8 ...
};

// Parses a descr string (§3). Never throws for well-formed-but-unsupported descrs.
DType parse_descr(std::string_view descr);

struct NpyHeader {
  uint8_t major = 1, minor = 0;
  uint32_t prefix = 10;      // 10 (v1) or 12 (v2/v3)
  uint32_t header_len = 0;   // HEADER_LEN field
  uint64_t data_offset = 0;  // prefix + header_len, relative to the start of the .npy bytes
  std::string header_text;   // the dict literal as stored (for reporting)
  DType dtype;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  uint64_t count = 0;        // product of shape (1 for 0-d), overflow-checked
  uint64_t byte_length = 0;  // count * itemsize, overflow-checked (0 for object arrays)
};

struct NpyLimits {
  uint32_t max_header_len = kDefaultMaxHeaderLen;
};

// Needs at least 12 bytes (or fewer if that's all there is: then ERR_NPY_BAD_MAGIC /
// ERR_NPY_TRUNCATED). Returns prefix + HEADER_LEN: how many bytes parse_npy_header needs.
// Enforces the version and the header-size cap.
uint64_t npy_header_total_length(const uint8_t* p, size_t n, const NpyLimits& limits);

// Parses the complete header; n must be >= npy_header_total_length(). Throws as above.
// Does not check the data length against a member size: callers do (ERR_NPY_TRUNCATED).
NpyHeader parse_npy_header(const uint8_t* p, size_t n, const NpyLimits& limits);

}  // namespace npz
