// Error codes of the npzguard core. Every failure the core reports is an npz::Error carrying a
// stable code (the ERR_* string exposed to JavaScript), a message naming what was expected and
// what was found, and optionally the member it concerns. Thread-safe: plain values.
#pragma once
#include <stdexcept>
#include <string>

namespace npz {

// Keep in sync with src/errors.ts (a test checks both lists agree via errorCodes()).
enum class Code {
  NpzOpen,
  NpzNotZip,
  NpzCorrupt,
  NpzOverlap,
  NpzDuplicateMember,
  NpzBadName,
  NpzEncrypted,
  NpzUnsupportedMethod,
  NpzSizeMismatch,
  NpzCrcMismatch,
  NpzLimit,
  NpzCompressedMember,
  NpzMemberNotFound,
  NpzClosed,
  NpzAborted,
  NpyBadMagic,
  NpyBadVersion,
  NpyBadHeader,
  NpyHeaderTooLarge,
  NpyUnsupportedDtype,
  NpyNonNativeEndian,
  NpyMisaligned,
  NpyTruncated,
  NpyTrailingBytes,
  NpyLengthOverflow,
  NpyPickleRefused,
  NpyRowRange,      // row read: range outside the first axis, or the array has no first axis
  NpyFortranOrder,  // row read of a Fortran-order array with more than one dimension
  kCount_
};

const char* code_name(Code c);  // "ERR_NPZ_OPEN", ...

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& message, std::string member = {})
      : std::runtime_error(message), code_(code), member_(std::move(member)) {}
  Code code() const { return code_; }
  const std::string& member() const { return member_; }
  void set_member(const std::string& m) {
    if (member_.empty()) member_ = m;
  }

 private:
  Code code_;
  std::string member_;
};

}  // namespace npz
