// Conversions between the core's C++ values and JavaScript values, for the binding only:
// npz::Error -> JS Error with .code (ERR_*), .member, .path; core structs (NPY header, member,
// scan result) -> plain JS objects; checked reads of JS arguments; and the hand-over of an
// array's bytes (mapping or owned copy) as an ArrayBuffer without a second copy.
// Every binding file includes napi.h through this header, so all agree on the macro below.
// Thread-safety: JS thread only (everything here takes a Napi::Env).
#pragma once
// A JS exception that cannot be thrown (environment shutting down) must not abort the process.
#ifndef NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#endif
#include <napi.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "archive.h"
#include "errors.h"

namespace npz {
namespace binding {

// Node 20 builds external ArrayBuffers through node::Buffer, capped at 2^32 bytes; a larger one
// aborts the process (the finalizer runs twice). Never ask for one.
constexpr uint64_t kMaxExternalBuffer = uint64_t{1} << 32;
// Largest integer a JS number holds exactly.
constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

Napi::Error MakeCoreError(Napi::Env env, const Error& e, const std::string& path);
Napi::Error MakeCodedError(Napi::Env env, Code code, const std::string& message,
                           const std::string& path, const std::string& member = {});

// Runs fn, turning core and standard exceptions into JS exceptions.
template <typename Fn>
auto GuardCore(Napi::Env env, const std::string& path, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) { throw; } catch (const Error& e) {
    throw MakeCoreError(env, e, path);
  } catch (const std::bad_alloc&) {
    throw MakeCodedError(env, Code::NpzLimit, "out of memory", path);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("npzguard internal error: ") + e.what());
  }
}

// GuardCore for a call about one member: a core error without a member names `key`.
template <typename Fn>
auto GuardMember(Napi::Env env, const std::string& path, const std::string& key, Fn&& fn)
    -> decltype(fn()) {
  return GuardCore(env, path, [&] {
    try {
      return fn();
    } catch (Error& e) {
      e.set_member(key);
      throw;
    }
  });
}

Napi::Value U64(Napi::Env env, uint64_t v);
Napi::Array ShapeArray(Napi::Env env, const std::vector<uint64_t>& shape);
Napi::Object HeaderObject(Napi::Env env, const NpyHeader& h);
Napi::Object MemberObject(Napi::Env env, const Member& m);
Napi::Object ScanResultObject(Napi::Env env, const ScanResult& r);
Napi::Object StringsObject(Napi::Env env, const ObjectStrings& s);
// A decoded plain value: None null, bool boolean, int BigInt, float number, str string,
// list/tuple Array, dict { entries: [[key, value], ...] } (keys may be non-strings; order kept).
Napi::Value PlainToJs(Napi::Env env, const PlainValue& v);
Napi::Object RowProfileObject(Napi::Env env, const RowProfile& p);

// Reads an optional non-negative integer property; TypeError/RangeError when malformed.
bool OptionalUint(Napi::Env env, const Napi::Object& opts, const char* name, uint64_t max,
                  uint64_t* out);
// info[i] as a non-negative safe integer; TypeError/RangeError naming `name` otherwise.
uint64_t SafeIntegerArg(const Napi::CallbackInfo& info, size_t i, const char* name);
// info[i] as a copy mode: undefined or 0 Auto, 1 ForceCopy, 2 RequireZeroCopy.
CopyMode CopyModeArg(const Napi::CallbackInfo& info, size_t i);

// An array's bytes as an ArrayBuffer: a zero-copy view keeps the mapping alive through its
// finalizer, an owned copy is handed over (the engine is told about the memory), anything else
// is copied once into engine memory. owned / mapping point at what backs an external buffer, so
// close() can release it early (ArchiveWrap::JsClose); both null for engine-owned memory.
// The caller has checked byte_length against kMaxExternalBuffer for mappings.
struct HandedBuffer {
  Napi::ArrayBuffer buffer;
  ByteBuffer* owned = nullptr;
  std::shared_ptr<Mapping>* mapping = nullptr;
  bool zero_copy = false;
};
HandedBuffer HandOver(Napi::Env env, ArrayBytes&& bytes);

// Zero-copy views alive in this process (tests check close() and GC release them).
int64_t LiveMappings();

}  // namespace binding
}  // namespace npz
