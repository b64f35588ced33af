// NativeArchive row reads (archive_wrap.h; issue 13): readRows, rowProfile, readRowSet over the
// core's Archive::read_rows / row_profile / read_row_set.
#include <cstring>
#include <utility>
#include <vector>

#include "archive_wrap.h"

namespace npz {
namespace binding {

// readRows(index, start, end, mode): rows [start, end) of the first axis (Archive::read_rows).
// Same result shape and ownership rules as readArray; start/end are safe integers (the core
// checks them against the shape, ERR_NPY_ROW_RANGE).
Napi::Value ArchiveWrap::JsReadRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const size_t index = MemberIndex(info, a);
  const uint64_t start = SafeIntegerArg(info, 1, "start");
  const uint64_t end = SafeIntegerArg(info, 2, "end");
  const CopyMode mode = CopyModeArg(info, 3);
  const std::string& key = a.members()[index].key;
  ArrayBytes bytes =
      GuardMember(env, path_, key, [&] { return a.read_rows(index, start, end, mode); });
  if (bytes.byte_length > kMaxExternalBuffer) {
    throw MakeCodedError(env, Code::NpzLimit,
                         "row range of " + std::to_string(bytes.byte_length) +
                             " bytes exceeds the 4 GiB cap of one buffer; read fewer rows",
                         path_, key);
  }
  return ArrayResult(env, HandOver(env, std::move(bytes)), false);
}

// rowProfile(index, maxRows): per-row sum / non-finite / non-zero / negative counts
// (Archive::row_profile), as Float64Arrays. Synchronous (the report runs it file by file).
Napi::Value ArchiveWrap::JsRowProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const size_t index = MemberIndex(info, a);
  const uint64_t max_rows = SafeIntegerArg(info, 1, "maxRows");
  const std::string& key = a.members()[index].key;
  RowProfile p =
      GuardMember(env, path_, key, [&] { return a.row_profile(index, max_rows, nullptr); });
  return RowProfileObject(env, p);
}

// readRowSet(index, rows: number[]): the listed rows (ascending) concatenated, as a copy.
Napi::Value ArchiveWrap::JsReadRowSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const size_t index = MemberIndex(info, a);
  if (info.Length() < 2 || !info[1].IsArray())
    throw Napi::TypeError::New(env, "Expected an array for rows");
  Napi::Array arr = info[1].As<Napi::Array>();
  if (arr.Length() > (1u << 16)) throw Napi::RangeError::New(env, "Expected at most 65536 rows");
  std::vector<uint64_t> rows;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d > static_cast<double>(kMaxSafeInteger) ||
        d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(env, "Expected non-negative safe integers in rows");
    rows.push_back(static_cast<uint64_t>(d));
  }
  const std::string& key = a.members()[index].key;
  ByteBuffer bytes = GuardMember(env, path_, key, [&] { return a.read_row_set(index, rows); });
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(buffer.Data(), bytes.data(), bytes.size());
  return buffer;
}

}  // namespace binding
}  // namespace npz
