// Stable ERR_* names for npz::Code. Order must follow the enum (and src/errors.ts).
#include "errors.h"

namespace npz {

namespace {
constexpr const char* kCodeNames[] = {
    "ERR_NPZ_OPEN",
    "ERR_NPZ_NOT_ZIP",
    "ERR_NPZ_CORRUPT",
    "ERR_NPZ_OVERLAP",
    "ERR_NPZ_DUPLICATE_MEMBER",
    "ERR_NPZ_BAD_NAME",
    "ERR_NPZ_ENCRYPTED",
    "ERR_NPZ_UNSUPPORTED_METHOD",
    "ERR_NPZ_SIZE_MISMATCH",
    "ERR_NPZ_CRC_MISMATCH",
    "ERR_NPZ_LIMIT",
    "ERR_NPZ_COMPRESSED_MEMBER",
    "ERR_NPZ_MEMBER_NOT_FOUND",
    "ERR_NPZ_CLOSED",
    "ERR_NPZ_ABORTED",
    "ERR_NPY_BAD_MAGIC",
    "ERR_NPY_BAD_VERSION",
    "ERR_NPY_BAD_HEADER",
    "ERR_NPY_HEADER_TOO_LARGE",
    "ERR_NPY_UNSUPPORTED_DTYPE",
    "ERR_NPY_NON_NATIVE_ENDIAN",
    "ERR_NPY_MISALIGNED",
    "ERR_NPY_TRUNCATED",
    "ERR_NPY_TRAILING_BYTES",
    "ERR_NPY_LENGTH_OVERFLOW",
    "ERR_NPY_PICKLE_REFUSED",
    "ERR_NPY_ROW_RANGE",
    "ERR_NPY_FORTRAN_ORDER",
};
static_assert(sizeof(kCodeNames) / sizeof(kCodeNames[0]) == static_cast<size_t>(Code::kCount_),
              "code_name table out of sync with npz::Code");
}  // namespace

const char* code_name(Code c) {
  const auto i = static_cast<size_t>(c);
  if (i >= static_cast<size_t>(Code::kCount_)) return "ERR_NPZ_UNKNOWN";
  return kCodeNames[i];
}

}  // namespace npz
