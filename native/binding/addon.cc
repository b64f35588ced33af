// The Node binding: the only file that includes napi.h. Wraps npz::Archive (archive.h) as a JS
// object whose raw shape is declared in src/native.ts; TypeScript (src/npz.ts) adds argument
// checking and the friendly API.
//
// Ownership: an ArchiveWrap holds a shared_ptr<npz::Archive>; a running scan (AsyncWorker on the
// libuv pool) holds another, so close() during a scan never frees what the scan reads. Zero-copy
// ArrayBuffers own a shared_ptr<npz::Mapping> through their finalizer; copies own their vector.
// The wrap keeps weak references (refcount 0) to every ArrayBuffer it handed out so close() can
// detach the ones still alive: views become length 0, never dangling.
// Thread-safety: all JS-facing methods run on the environment's thread; workers only touch the
// (const, thread-safe) Archive and their own atomic cancel flag. Per-environment state lives in
// instance data, so the addon works in worker_threads; the only global is an atomic counter.
// Errors: npz::Error -> JS Error with .code (ERR_*), .member, .path; bad arguments -> TypeError /
// RangeError.
// A JS exception that cannot be thrown (environment shutting down) must not abort the process.
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "byteswap.h"
#include "archive.h"
#include "crc32.h"
#include "errors.h"
#include "file_lock.h"
#include "inflate.h"
#include "member_stream.h"
#include "source.h"

namespace npz {
namespace {

// Node 20 builds external ArrayBuffers through node::Buffer, capped at 2^32 bytes; a larger one
// aborts the process (the finalizer runs twice). Never ask for one.
constexpr uint64_t kMaxExternalBuffer = uint64_t{1} << 32;
// Largest integer a JS number holds exactly.
constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

std::atomic<int64_t> g_live_mappings{0};

// Running scans of one archive, by id; shared by the wrapper and its workers so a worker can
// deregister itself even after the wrapper is gone. Touched only on the JS thread.
using ScanRegistry = std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>>;

struct AddonData {
  Napi::FunctionReference archive_ctor;
};

Napi::Error MakeCoreError(Napi::Env env, const Error& e, const std::string& path) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, code_name(e.code())));
  if (!e.member().empty()) err.Set("member", Napi::String::New(env, e.member()));
  if (!path.empty()) err.Set("path", Napi::String::New(env, path));
  return err;
}

Napi::Error MakeCodedError(Napi::Env env, Code code, const std::string& message,
                           const std::string& path, const std::string& member = {}) {
  return MakeCoreError(env, Error(code, message, member), path);
}

// Runs fn, turning core and standard exceptions into JS exceptions.
template <typename Fn>
auto GuardCore(Napi::Env env, const std::string& path, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw MakeCoreError(env, e, path);
  } catch (const std::bad_alloc&) {
    throw MakeCodedError(env, Code::NpzLimit, "out of memory", path);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("npzguard internal error: ") + e.what());
  }
}


Napi::Value U64(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

Napi::Array ShapeArray(Napi::Env env, const std::vector<uint64_t>& shape) {
  Napi::Array a = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) a.Set(static_cast<uint32_t>(i), U64(env, shape[i]));
  return a;
}

Napi::Object HeaderObject(Napi::Env env, const NpyHeader& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", std::to_string(h.major) + "." + std::to_string(h.minor));
  o.Set("headerLength", U64(env, h.header_len));
  o.Set("dataOffset", U64(env, h.data_offset));
  o.Set("descr", h.dtype.descr);
  o.Set("numpyName", h.dtype.numpy_name);
  o.Set("kind", h.dtype.kind ? std::string(1, h.dtype.kind) : std::string());
  o.Set("itemsize", U64(env, h.dtype.itemsize));
  o.Set("componentSize", U64(env, h.dtype.component_size));
  o.Set("bigEndian", h.dtype.big_endian);
  o.Set("supported", h.dtype.supported);
  o.Set("isObject", h.dtype.is_object);
  o.Set("unsupportedReason", h.dtype.reason);
  o.Set("shape", ShapeArray(env, h.shape));
  o.Set("fortranOrder", h.fortran_order);
  o.Set("count", U64(env, h.count));
  o.Set("byteLength", U64(env, h.byte_length));
  return o;
}

Napi::Object MemberObject(Napi::Env env, const Member& m) {
  Napi::Object o = Napi::Object::New(env);
  const ZipEntry& e = m.entry;
  o.Set("name", e.name);
  o.Set("key", m.key);
  o.Set("compression", e.method == 8 ? "deflated" : "stored");
  o.Set("method", U64(env, e.method));
  o.Set("crc32", U64(env, e.crc32));
  o.Set("compressedSize", U64(env, e.csize));
  o.Set("uncompressedSize", U64(env, e.usize));
  o.Set("lfhOffset", U64(env, e.lfh_offset));
  o.Set("memberOffset", U64(env, e.data_offset));
  if (m.header && e.method == 0) {
    o.Set("arrayOffset", U64(env, m.array_offset));
  } else {
    o.Set("arrayOffset", env.Null());
  }
  o.Set("hasDataDescriptor", e.has_data_descriptor);
  o.Set("npyMagic", m.npy_magic);
  o.Set("trailingBytes", Napi::Number::New(env, static_cast<double>(m.trailing_bytes)));
  if (m.header) {
    o.Set("header", HeaderObject(env, *m.header));
  } else {
    o.Set("header", env.Null());
  }
  if (m.error) {
    Napi::Object err = Napi::Object::New(env);
    err.Set("code", code_name(m.error->code()));
    err.Set("message", m.error->what());
    err.Set("member", m.error->member().empty() ? m.key : m.error->member());
    o.Set("error", err);
  } else {
    o.Set("error", env.Null());
  }
  return o;
}

Napi::Object ComponentObject(Napi::Env env, const ComponentStats& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", U64(env, c.count));
  o.Set("nan", U64(env, c.nan));
  o.Set("posInf", U64(env, c.pos_inf));
  o.Set("negInf", U64(env, c.neg_inf));
  o.Set("negative", U64(env, c.negative));
  o.Set("zero", U64(env, c.zero));
  o.Set("finite", U64(env, c.finite));
  if (c.finite > 0) {
    o.Set("min", Napi::Number::New(env, c.min));
    o.Set("max", Napi::Number::New(env, c.max));
  } else {
    o.Set("min", env.Null());
    o.Set("max", env.Null());
  }
  o.Set("sum", Napi::Number::New(env, c.sum));
  o.Set("sumSq", Napi::Number::New(env, c.sum_sq));
  return o;
}

Napi::Object ScanResultObject(Napi::Env env, const ScanResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("crcChecked", r.crc_checked);
  o.Set("crcOk", r.crc_ok);
  o.Set("bytesRead", U64(env, r.bytes_read));
  if (r.stats) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("elements", U64(env, r.stats->elements));
    Napi::Array comps = Napi::Array::New(env, r.stats->components.size());
    for (size_t i = 0; i < r.stats->components.size(); ++i) {
      comps.Set(static_cast<uint32_t>(i), ComponentObject(env, r.stats->components[i]));
    }
    s.Set("components", comps);
    s.Set("sumAbs2", Napi::Number::New(env, r.stats->sum_abs2));
    s.Set("badBool", U64(env, r.stats->bad_bool));
    o.Set("stats", s);
  } else {
    o.Set("stats", env.Null());
  }
  return o;
}

// Reads an optional non-negative integer property; TypeError/RangeError when malformed.
bool OptionalUint(Napi::Env env, const Napi::Object& opts, const char* name, uint64_t max,
                  uint64_t* out) {
  Napi::Value v = opts.Get(name);
  if (v.IsUndefined()) return false;
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(env, std::string("Expected an integer for ") + name);
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) || d > static_cast<double>(max)) {
    throw Napi::RangeError::New(env, std::string("Expected an integer in [0, ") + std::to_string(max) +
                                         "] for " + name);
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

// A streaming scan of one member on the libuv pool. Keeps the Archive alive (shared_ptr) until
// the promise settles, whatever happens to the JS wrapper meanwhile.
class ScanWorker final : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, std::shared_ptr<ScanRegistry> registry, std::shared_ptr<const Archive> archive,
             std::string path, size_t index, bool crc, bool stats, uint64_t id,
             std::shared_ptr<std::atomic<bool>> cancel)
      : Napi::AsyncWorker(env, "npzguard:scan"),
        deferred_(Napi::Promise::Deferred::New(env)),
        registry_(std::move(registry)),
        archive_(std::move(archive)),
        path_(std::move(path)),
        index_(index),
        crc_(crc),
        stats_(stats),
        id_(id),
        cancel_(std::move(cancel)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      ScanOptions opts;
      opts.verify_crc = crc_;
      opts.stats = stats_;
      opts.cancel = cancel_.get();
      if (cancel_->load()) throw Error(Code::NpzAborted, "scan aborted");
      result_ = archive_->scan(index_, opts);
    } catch (const Error& e) {
      core_error_ = std::make_unique<Error>(e);
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      core_error_ = std::make_unique<Error>(Code::NpzLimit, "out of memory during scan");
      SetError("out of memory during scan");
    } catch (const std::exception& e) {
      SetError(std::string("npzguard internal error: ") + e.what());
    }
  }

  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  void Finish();
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<ScanRegistry> registry_;
  std::shared_ptr<const Archive> archive_;
  std::string path_;
  size_t index_;
  bool crc_, stats_;
  uint64_t id_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  ScanResult result_;
  std::unique_ptr<Error> core_error_;
};

class ArchiveWrap final : public Napi::ObjectWrap<ArchiveWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeArchive",
                       {
                           InstanceAccessor<&ArchiveWrap::JsKind>("kind"),
                           InstanceAccessor<&ArchiveWrap::JsFileSize>("fileSize"),
                           InstanceAccessor<&ArchiveWrap::JsInode>("inode"),
                           InstanceAccessor<&ArchiveWrap::JsMtimeMs>("mtimeMs"),
                           InstanceAccessor<&ArchiveWrap::JsClosed>("closed"),
                           InstanceMethod<&ArchiveWrap::JsMembers>("members"),
                           InstanceMethod<&ArchiveWrap::JsReadArray>("readArray"),
                           InstanceMethod<&ArchiveWrap::JsReadStrings>("readStrings"),
                           InstanceMethod<&ArchiveWrap::JsReadRows>("readRows"),
                           InstanceMethod<&ArchiveWrap::JsRowProfile>("rowProfile"),
                           InstanceMethod<&ArchiveWrap::JsReadRowSet>("readRowSet"),
                           InstanceMethod<&ArchiveWrap::JsScan>("scan"),
                           InstanceMethod<&ArchiveWrap::JsCancel>("cancel"),
                           InstanceMethod<&ArchiveWrap::JsClose>("close"),
                       });
  }

  // Constructed only from open(): new NativeArchive(path, options).
  explicit ArchiveWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ArchiveWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      throw Napi::TypeError::New(env, "Expected a string for path");
    }
    path_ = info[0].As<Napi::String>().Utf8Value();
    if (path_.find('\0') != std::string::npos) {
      throw Napi::TypeError::New(env, "Expected a path without NUL bytes for path");
    }
    OpenOptions opts;
    if (info.Length() >= 2 && !info[1].IsUndefined() && !info[1].IsNull()) {
      if (!info[1].IsObject()) throw Napi::TypeError::New(env, "Expected an object for options");
      Napi::Object o = info[1].As<Napi::Object>();
      uint64_t v = 0;
      if (OptionalUint(env, o, "maxHeaderSize", kHardMaxHeaderLen, &v)) {
        opts.npy.max_header_len = static_cast<uint32_t>(v);
      }
      if (OptionalUint(env, o, "maxEntries", kMaxSafeInteger, &v)) opts.zip.max_entries = v;
      if (OptionalUint(env, o, "maxInflateBytes", kMaxSafeInteger, &v)) opts.max_inflate_total = v;
    }
    archive_ = GuardCore(env, path_, [&]() -> std::shared_ptr<const Archive> {
      return std::shared_ptr<const Archive>(Archive::open(path_, opts));
    });
    kind_ = archive_->kind() == Archive::Kind::Npy ? "npy" : "npz";
    file_size_ = archive_->file_size();
    // Archive::open always reads through a FileSource. static_cast, not dynamic_cast: node-gyp
    // builds with -fno-rtti, so the fallback build must not need RTTI.
    const auto& fs = static_cast<const FileSource&>(archive_->source());
    inode_ = fs.inode();
    mtime_ms_ = fs.mtime_ms();
  }

 private:
  Napi::Value JsKind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kind_); }
  Napi::Value JsFileSize(const Napi::CallbackInfo& info) { return U64(info.Env(), file_size_); }
  Napi::Value JsInode(const Napi::CallbackInfo& info) { return U64(info.Env(), inode_); }
  Napi::Value JsMtimeMs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mtime_ms_); }
  Napi::Value JsClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !archive_); }

  const Archive& Open(Napi::Env env) const {
    if (!archive_) throw MakeCodedError(env, Code::NpzClosed, "archive is closed", path_);
    return *archive_;
  }

  size_t MemberIndex(const Napi::CallbackInfo& info, const Archive& a) const {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      throw Napi::TypeError::New(env, "Expected an integer for index");
    }
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d >= static_cast<double>(a.members().size()) ||
        d != static_cast<double>(static_cast<size_t>(d))) {
      throw Napi::RangeError::New(env, "Expected a member index in [0, " +
                                           std::to_string(a.members().size()) + ") for index");
    }
    return static_cast<size_t>(d);
  }

  Napi::Value JsMembers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    const auto& ms = a.members();
    Napi::Array out = Napi::Array::New(env, ms.size());
    for (size_t i = 0; i < ms.size(); ++i) out.Set(static_cast<uint32_t>(i), MemberObject(env, ms[i]));
    return out;
  }

  Napi::Value JsReadArray(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    size_t index = MemberIndex(info, a);
    CopyMode mode = CopyMode::Auto;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "Expected 0, 1 or 2 for mode");
      int32_t m = info[1].As<Napi::Number>().Int32Value();
      if (m == 1) {
        mode = CopyMode::ForceCopy;
      } else if (m == 2) {
        mode = CopyMode::RequireZeroCopy;
      } else if (m != 0) {
        throw Napi::RangeError::New(env, "Expected 0, 1 or 2 for mode");
      }
    }
    const std::string& key = a.members()[index].key;
    if (mode != CopyMode::RequireZeroCopy && NeedsLargeCopy(a.members()[index])) {
      return LargeCopyResult(env, a, index);
    }
    ArrayBytes bytes = GuardCore(env, path_, [&] {
      try {
        return a.read_array(index, mode);
      } catch (Error& e) {
        e.set_member(key);
        throw;
      }
    });
    if (bytes.byte_length > kMaxSafeInteger) {
      throw MakeCodedError(env, Code::NpyLengthOverflow, "array too large for JavaScript", path_, key);
    }
    Napi::ArrayBuffer buffer;
    npz::ByteBuffer* owned_copy = nullptr;
    std::shared_ptr<Mapping>* mapping_hold = nullptr;
    bool zero_copy = bytes.zero_copy && bytes.mapping && bytes.byte_length > 0;
    if (bytes.byte_length == 0) {
      buffer = Napi::ArrayBuffer::New(env, 0);
    } else if (zero_copy) {
      if (bytes.byte_length > kMaxExternalBuffer) {
        throw MakeCodedError(env, Code::NpzLimit,
                             "zero-copy view of " + std::to_string(bytes.byte_length) +
                                 " bytes exceeds the 4 GiB external-buffer cap; read with { copy: true }",
                             path_, key);
      }
      auto* hint = new std::shared_ptr<Mapping>(std::move(bytes.mapping));
      mapping_hold = hint;
      g_live_mappings.fetch_add(1);
      buffer = Napi::ArrayBuffer::New(
          env, const_cast<uint8_t*>(bytes.data), static_cast<size_t>(bytes.byte_length),
          [](Napi::Env, void*, std::shared_ptr<Mapping>* h) {
            delete h;
            g_live_mappings.fetch_sub(1);
          },
          hint);
    } else if (bytes.byte_length <= kMaxExternalBuffer && !bytes.owned.empty() &&
               bytes.data == bytes.owned.data() && bytes.owned.size() == bytes.byte_length) {
      // Hand the vector over instead of copying it again; tell V8 about the memory so GC
      // pressure reflects it.
      auto* vec = new npz::ByteBuffer(std::move(bytes.owned));
      owned_copy = vec;
      int64_t size = static_cast<int64_t>(vec->size());
      Napi::MemoryManagement::AdjustExternalMemory(env, size);
      buffer = Napi::ArrayBuffer::New(
          env, vec->data(), vec->size(),
          [](Napi::Env fin_env, void*, npz::ByteBuffer* v) {
            int64_t n = static_cast<int64_t>(v->size());
            delete v;
            try {
              Napi::MemoryManagement::AdjustExternalMemory(fin_env, -n);
            } catch (const Napi::Error&) {
              // environment teardown: nothing left to account to
            }
          },
          vec);
    } else {
      buffer = Napi::ArrayBuffer::New(env, static_cast<size_t>(bytes.byte_length));
      std::memcpy(buffer.Data(), bytes.data, static_cast<size_t>(bytes.byte_length));
      zero_copy = false;
    }
    Track(buffer, owned_copy, mapping_hold);
    Napi::Object out = Napi::Object::New(env);
    out.Set("buffer", buffer);
    out.Set("zeroCopy", Napi::Boolean::New(env, zero_copy));
    out.Set("crcVerified", Napi::Boolean::New(env, bytes.crc_verified));
    return out;
  }

  // ---- Row reads (issue 13) ----------------------------------------------------------------
  // readRows(index, start, end, mode): rows [start, end) of the first axis (Archive::read_rows).
  // Same result shape and ownership rules as readArray; start/end are safe integers (the core
  // checks them against the shape, ERR_NPY_ROW_RANGE).
  static uint64_t RowArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
    Napi::Env env = info.Env();
    if (info.Length() <= i || !info[i].IsNumber())
      throw Napi::TypeError::New(env, std::string("Expected an integer for ") + name);
    const double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d > static_cast<double>(kMaxSafeInteger) || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(env, std::string("Expected a non-negative safe integer for ") + name);
    return static_cast<uint64_t>(d);
  }

  Napi::Value JsReadRows(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    const size_t index = MemberIndex(info, a);
    const uint64_t start = RowArg(info, 1, "start");
    const uint64_t end = RowArg(info, 2, "end");
    CopyMode mode = CopyMode::Auto;
    if (info.Length() >= 4 && !info[3].IsUndefined()) {
      if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "Expected 0, 1 or 2 for mode");
      const int32_t m = info[3].As<Napi::Number>().Int32Value();
      if (m == 1) mode = CopyMode::ForceCopy;
      else if (m == 2) mode = CopyMode::RequireZeroCopy;
      else if (m != 0) throw Napi::RangeError::New(env, "Expected 0, 1 or 2 for mode");
    }
    const std::string& key = a.members()[index].key;
    ArrayBytes bytes = GuardCore(env, path_, [&] {
      try {
        return a.read_rows(index, start, end, mode);
      } catch (Error& e) {
        e.set_member(key);
        throw;
      }
    });
    if (bytes.byte_length > kMaxExternalBuffer) {
      throw MakeCodedError(env, Code::NpzLimit,
                           "row range of " + std::to_string(bytes.byte_length) +
                               " bytes exceeds the 4 GiB cap of one buffer; read fewer rows",
                           path_, key);
    }
    Napi::ArrayBuffer buffer;
    npz::ByteBuffer* owned_copy = nullptr;
    std::shared_ptr<Mapping>* mapping_hold = nullptr;
    const bool zero_copy = bytes.zero_copy && bytes.mapping && bytes.byte_length > 0;
    if (bytes.byte_length == 0) {
      buffer = Napi::ArrayBuffer::New(env, 0);
    } else if (zero_copy) {
      auto* hint = new std::shared_ptr<Mapping>(std::move(bytes.mapping));
      mapping_hold = hint;
      g_live_mappings.fetch_add(1);
      buffer = Napi::ArrayBuffer::New(
          env, const_cast<uint8_t*>(bytes.data), static_cast<size_t>(bytes.byte_length),
          [](Napi::Env, void*, std::shared_ptr<Mapping>* h) {
            delete h;
            g_live_mappings.fetch_sub(1);
          },
          hint);
    } else {
      auto* vec = new npz::ByteBuffer(std::move(bytes.owned));
      owned_copy = vec;
      Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(vec->size()));
      buffer = Napi::ArrayBuffer::New(
          env, vec->data(), vec->size(),
          [](Napi::Env fin_env, void*, npz::ByteBuffer* v) {
            const int64_t n = static_cast<int64_t>(v->size());
            delete v;
            try {
              Napi::MemoryManagement::AdjustExternalMemory(fin_env, -n);
            } catch (const Napi::Error&) {
            }
          },
          vec);
    }
    Track(buffer, owned_copy, mapping_hold);
    Napi::Object out = Napi::Object::New(env);
    out.Set("buffer", buffer);
    out.Set("zeroCopy", Napi::Boolean::New(env, zero_copy));
    out.Set("crcVerified", Napi::Boolean::New(env, false));
    return out;
  }
  // rowProfile(index, maxRows): per-row sum / non-finite / non-zero / negative counts
  // (Archive::row_profile), as Float64Arrays. Synchronous (the report runs it file by file).
  Napi::Value JsRowProfile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    const size_t index = MemberIndex(info, a);
    const uint64_t max_rows = RowArg(info, 1, "maxRows");
    const std::string& key = a.members()[index].key;
    RowProfile p = GuardCore(env, path_, [&] {
      try {
        return a.row_profile(index, max_rows, nullptr);
      } catch (Error& e) {
        e.set_member(key);
        throw;
      }
    });
    auto f64 = [&](auto const& v) {
      Napi::Float64Array arr = Napi::Float64Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); ++i) arr[i] = static_cast<double>(v[i]);
      return arr;
    };
    Napi::Object out = Napi::Object::New(env);
    out.Set("sum", f64(p.sum));
    out.Set("nonfinite", f64(p.nonfinite));
    out.Set("nonzero", f64(p.nonzero));
    out.Set("negative", f64(p.negative));
    out.Set("colSum", f64(p.col_sum));
    return out;
  }
  // readRowSet(index, rows: number[]): the listed rows (ascending) concatenated, as a copy.
  Napi::Value JsReadRowSet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    const size_t index = MemberIndex(info, a);
    if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "Expected an array for rows");
    Napi::Array arr = info[1].As<Napi::Array>();
    if (arr.Length() > (1u << 16)) throw Napi::RangeError::New(env, "Expected at most 65536 rows");
    std::vector<uint64_t> rows;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0) || d > static_cast<double>(kMaxSafeInteger) || d != static_cast<double>(static_cast<uint64_t>(d)))
        throw Napi::RangeError::New(env, "Expected non-negative safe integers in rows");
      rows.push_back(static_cast<uint64_t>(d));
    }
    const std::string& key = a.members()[index].key;
    npz::ByteBuffer bytes = GuardCore(env, path_, [&] {
      try {
        return a.read_row_set(index, rows);
      } catch (Error& e) {
        e.set_member(key);
        throw;
      }
    });
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes.size());
    if (!bytes.empty()) std::memcpy(buffer.Data(), bytes.data(), bytes.size());
    return buffer;
  }
  // ---- end of row reads ---------------------------------------------------------------------

  // A copy larger than the external-buffer cap cannot be handed over as an external buffer, so
  // read_array()'s vector would have to be copied a second time into a V8-owned buffer (twice the
  // memory at peak). Such members are streamed straight into the V8 buffer instead: one copy.
  static bool NeedsLargeCopy(const Member& m) {
    return !m.error && m.header && m.header->dtype.supported && !m.header->dtype.is_object &&
           m.header->byte_length > kMaxExternalBuffer;
  }

  Napi::Value LargeCopyResult(Napi::Env env, const Archive& a, size_t index) {
    const Member& m = a.members()[index];
    const NpyHeader& h = *m.header;
    if (h.byte_length > kMaxSafeInteger || h.byte_length > SIZE_MAX) {
      throw MakeCodedError(env, Code::NpyLengthOverflow, "array too large for JavaScript", path_, m.key);
    }
    const size_t n = static_cast<size_t>(h.byte_length);
    // Allocated through the JS constructor: napi_create_arraybuffer (v8::ArrayBuffer::New) is a
    // fatal out-of-memory abort when the allocation fails, `new ArrayBuffer(n)` a RangeError.
    Napi::ArrayBuffer buffer;
    bool allocated = false;
    try {
      Napi::Value ctor = env.Global().Get("ArrayBuffer");
      if (ctor.IsFunction()) {
        Napi::Value v = ctor.As<Napi::Function>().New({Napi::Number::New(env, static_cast<double>(n))});
        if (v.IsArrayBuffer() && v.As<Napi::ArrayBuffer>().ByteLength() == n) {
          buffer = v.As<Napi::ArrayBuffer>();
          allocated = true;
        }
      }
    } catch (const Napi::Error&) {
      allocated = false;
    }
    if (!allocated) {
      throw MakeCodedError(env, Code::NpzLimit,
                           "member '" + m.key + "': cannot allocate " + std::to_string(n) +
                               " bytes for a copy of the array",
                           path_, m.key);
    }
    const bool verify_crc = a.kind() == Archive::Kind::Npz;
    GuardCore(env, path_, [&] {
      try {
        auto* dst = static_cast<uint8_t*>(buffer.Data());
        a.charge_inflate(m);
        MemberStream ms(a.source(), m.entry);
        ms.set_verify_crc(verify_crc);
        ms.skip(h.data_offset);
        ms.read_exact(dst, n);
        uint8_t rest[4096];
        while (ms.read(rest, sizeof rest) != 0) {
        }
        const uint32_t unit = h.dtype.component_size ? h.dtype.component_size : 1;
        if (h.dtype.big_endian && unit > 1) npz::swap_units(dst, n, unit);
      } catch (Error& e) {
        e.set_member(m.key);
        throw;
      }
    });
    Track(buffer);
    Napi::Object out = Napi::Object::New(env);
    out.Set("buffer", buffer);
    out.Set("zeroCopy", Napi::Boolean::New(env, false));
    out.Set("crcVerified", Napi::Boolean::New(env, verify_crc));
    return out;
  }

  Napi::Value JsReadStrings(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    size_t index = MemberIndex(info, a);
    const std::string& key = a.members()[index].key;
    ObjectStrings s = GuardCore(env, path_, [&] {
      try {
        return a.read_strings(index);
      } catch (Error& e) {
        e.set_member(key);
        throw;
      }
    });
    Napi::Object out = Napi::Object::New(env);
    out.Set("shape", ShapeArray(env, s.shape));
    out.Set("fortranOrder", s.fortran_order);
    Napi::Array items = Napi::Array::New(env, s.items.size());
    for (size_t i = 0; i < s.items.size(); ++i) {
      if (s.items[i]) {
        items.Set(static_cast<uint32_t>(i), Napi::String::New(env, *s.items[i]));
      } else {
        items.Set(static_cast<uint32_t>(i), env.Null());
      }
    }
    out.Set("items", items);
    return out;
  }

  Napi::Value JsScan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Archive& a = Open(env);
    size_t index = MemberIndex(info, a);
    bool crc = true, stats = true;
    uint64_t id = 0;
    bool have_id = false;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      if (!info[1].IsObject()) throw Napi::TypeError::New(env, "Expected an object for options");
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Value c = o.Get("crc"), s = o.Get("stats");
      if (!c.IsUndefined()) {
        if (!c.IsBoolean()) throw Napi::TypeError::New(env, "Expected a boolean for crc");
        crc = c.As<Napi::Boolean>().Value();
      }
      if (!s.IsUndefined()) {
        if (!s.IsBoolean()) throw Napi::TypeError::New(env, "Expected a boolean for stats");
        stats = s.As<Napi::Boolean>().Value();
      }
      have_id = OptionalUint(env, o, "id", kMaxSafeInteger, &id);
    }
    if (!have_id || scans_->count(id)) id = NextId();
    auto flag = std::make_shared<std::atomic<bool>>(false);
    (*scans_)[id] = flag;
    auto* worker = new ScanWorker(env, scans_, archive_, path_, index, crc, stats, id, flag);
    Napi::Promise p = worker->Promise();
    worker->Queue();
    return p;
  }

  // cancel(): every running scan; cancel(id): the scan started with that id.
  Napi::Value JsCancel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() >= 1 && !info[0].IsUndefined()) {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "Expected an integer for id");
      double d = info[0].As<Napi::Number>().DoubleValue();
      for (auto& kv : *scans_) {
        if (static_cast<double>(kv.first) == d) kv.second->store(true);
      }
    } else {
      for (auto& kv : *scans_) kv.second->store(true);
    }
    return env.Undefined();
  }

  // close(detach = true): releases this wrapper's hold on the file (running scans keep their own
  // until they settle) and, unless detach is false, detaches every ArrayBuffer handed out.
  Napi::Value JsClose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool detach = true;
    if (info.Length() >= 1 && !info[0].IsUndefined()) {
      if (!info[0].IsBoolean()) throw Napi::TypeError::New(env, "Expected a boolean for detach");
      detach = info[0].As<Napi::Boolean>().Value();
    }
    archive_.reset();
    for (auto& t : buffers_) {
      if (detach && !t.ref.IsEmpty()) {
        // A live object means its finalizer has not run: owned/mapping are still valid.
        Napi::Value v = t.ref.Value();
        if (!v.IsEmpty() && v.IsArrayBuffer()) {
          Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
          if (!ab.IsDetached()) {
            ab.Detach();  // JS can no longer reach the bytes: release them now
            if (t.owned) {
              const int64_t n = static_cast<int64_t>(t.owned->size());
              npz::ByteBuffer().swap(*t.owned);
              Napi::MemoryManagement::AdjustExternalMemory(env, -n);
            }
            if (t.mapping) t.mapping->reset();  // unmaps the file window
          }
        }
      }
      t.ref.Reset();
    }
    buffers_.clear();
    return env.Undefined();
  }

  // Every ArrayBuffer handed out, with what backs it when it is external: close() detaches the
  // live ones and frees that memory at once (N-API finalizers of external buffers run only
  // after a later GC, so a loop of open/array/close would otherwise hold every copy until then).
  struct Tracked {
    Napi::Reference<Napi::ArrayBuffer> ref;
    npz::ByteBuffer* owned = nullptr;           // a copy (finalizer deletes the, then empty, vector)
    std::shared_ptr<Mapping>* mapping = nullptr;  // a zero-copy view (finalizer deletes the holder)
  };

  void Track(const Napi::ArrayBuffer& buffer, npz::ByteBuffer* owned = nullptr,
             std::shared_ptr<Mapping>* mapping = nullptr) {
    // Drop references whose buffers were collected, so a long-lived archive that hands out many
    // arrays does not grow this list without bound.
    if (buffers_.size() >= prune_at_) {
      std::vector<Tracked> alive;
      alive.reserve(buffers_.size());
      for (auto& t : buffers_) {
        Napi::Value v = t.ref.Value();
        if (!v.IsEmpty()) alive.push_back(std::move(t));
      }
      buffers_ = std::move(alive);
      prune_at_ = std::max<size_t>(64, buffers_.size() * 2);
    }
    buffers_.push_back(Tracked{Napi::Reference<Napi::ArrayBuffer>::New(buffer, 0), owned, mapping});
  }

  uint64_t NextId() {
    while (scans_->count(next_id_)) ++next_id_;
    return next_id_++;
  }

  std::string path_;
  std::shared_ptr<const Archive> archive_;
  std::string kind_;
  uint64_t file_size_ = 0;
  uint64_t inode_ = 0;
  double mtime_ms_ = 0;
  std::vector<Tracked> buffers_;
  size_t prune_at_ = 64;
  std::shared_ptr<ScanRegistry> scans_ = std::make_shared<ScanRegistry>();
  uint64_t next_id_ = uint64_t{1} << 40;  // auto ids stay clear of small caller-chosen ids
};

void ScanWorker::Finish() {
  registry_->erase(id_);
  archive_.reset();  // the last holder after close() releases the file here
}

// Settling may fail while the environment shuts down (a worker thread terminated mid-scan);
// nothing can observe the promise then, so the failure is dropped instead of escaping into libuv.
void ScanWorker::OnOK() {
  Napi::Env env = Env();
  Finish();
  try {
    Napi::HandleScope scope(env);
    deferred_.Resolve(ScanResultObject(env, result_));
  } catch (const Napi::Error&) {
  }
}

void ScanWorker::OnError(const Napi::Error& e) {
  Napi::Env env = Env();
  std::shared_ptr<const Archive> archive = archive_;
  Finish();
  try {
    Napi::HandleScope scope(env);
    if (core_error_) {
      const auto& members = archive->members();
      if (index_ < members.size()) core_error_->set_member(members[index_].key);
      deferred_.Reject(MakeCoreError(env, *core_error_, path_).Value());
    } else {
      deferred_.Reject(e.Value());
    }
  } catch (const Napi::Error&) {
  }
}

Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  std::vector<napi_value> args;
  for (size_t i = 0; i < info.Length() && i < 2; ++i) args.push_back(info[i]);
  if (args.empty()) throw Napi::TypeError::New(env, "Expected a string for path");
  return data->archive_ctor.New(args);
}

Napi::Value JsErrorCodes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t n = static_cast<size_t>(Code::kCount_);
  Napi::Array out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) out.Set(static_cast<uint32_t>(i), code_name(static_cast<Code>(i)));
  return out;
}

Napi::Value JsBuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("inflate", inflate_impl_name());
  o.Set("crc32", crc32_impl_name());
#if defined(__clang__)
  o.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", std::string("gcc ") + __VERSION__);
#else
  o.Set("compiler", "unknown");
#endif
#if defined(NPZ_SANITIZED) || defined(__SANITIZE_ADDRESS__)
  o.Set("sanitizers", true);
#else
  o.Set("sanitizers", false);
#endif
  return o;
}

// flock(fd, exclusive, wait) -> true when granted, false when another descriptor holds it.
Napi::Value JsFlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBoolean() || !info[2].IsBoolean()) {
    throw Napi::TypeError::New(env, "Expected (fd: number, exclusive: boolean, wait: boolean) for flock");
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const bool exclusive = info[1].As<Napi::Boolean>().Value();
  const bool wait = info[2].As<Napi::Boolean>().Value();
  return GuardCore(env, std::string(), [&] {
    return Napi::Boolean::New(env, flock_fd(fd, exclusive, wait) == LockResult::kAcquired);
  });
}

Napi::Value JsLiveMappings(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_live_mappings.load()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->archive_ctor = Napi::Persistent(ArchiveWrap::Define(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("open", Napi::Function::New<JsOpen>(env, "open"));
  exports.Set("errorCodes", Napi::Function::New<JsErrorCodes>(env, "errorCodes"));
  exports.Set("buildInfo", Napi::Function::New<JsBuildInfo>(env, "buildInfo"));
  exports.Set("flock", Napi::Function::New<JsFlock>(env, "flock"));
  exports.Set("liveMappings", Napi::Function::New<JsLiveMappings>(env, "liveMappings"));
  return exports;
}

}  // namespace
}  // namespace npz

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return npz::Init(env, exports); }

NODE_API_MODULE(NODE_GYP_MODULE_NAME, InitAddon)
