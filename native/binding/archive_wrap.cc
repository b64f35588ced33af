// NativeArchive (archive_wrap.h): construction, members, whole-array and string reads, scans,
// cancel and close. Row reads are in archive_wrap_rows.cc.
#include "archive_wrap.h"

#include <algorithm>
#include <utility>

#include "memory_ceiling.h"
#include "source.h"

namespace npz {
namespace binding {

Napi::Function ArchiveWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeArchive",
                     {
                         InstanceAccessor<&ArchiveWrap::JsKind>("kind"),
                         InstanceAccessor<&ArchiveWrap::JsFileSize>("fileSize"),
                         InstanceAccessor<&ArchiveWrap::JsThreads>("threads"),
                         InstanceAccessor<&ArchiveWrap::JsInode>("inode"),
                         InstanceAccessor<&ArchiveWrap::JsMtimeMs>("mtimeMs"),
                         InstanceAccessor<&ArchiveWrap::JsClosed>("closed"),
                         InstanceMethod<&ArchiveWrap::JsMembers>("members"),
                         InstanceMethod<&ArchiveWrap::JsReadArray>("readArray"),
                         InstanceMethod<&ArchiveWrap::JsReadStrings>("readStrings"),
                         InstanceMethod<&ArchiveWrap::JsReadValue>("readValue"),
                         InstanceMethod<&ArchiveWrap::JsReadRows>("readRows"),
                         InstanceMethod<&ArchiveWrap::JsRowProfile>("rowProfile"),
                         InstanceMethod<&ArchiveWrap::JsReadRowSet>("readRowSet"),
                         InstanceMethod<&ArchiveWrap::JsScan>("scan"),
                         InstanceMethod<&ArchiveWrap::JsCancel>("cancel"),
                         InstanceMethod<&ArchiveWrap::JsClose>("close"),
                     });
}

ArchiveWrap::ArchiveWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ArchiveWrap>(info) {
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
    if (OptionalUint(env, o, "threads", 1024, &v)) opts.threads = static_cast<unsigned>(v);
  }
  archive_ = GuardCore(env, path_, [&]() -> std::shared_ptr<const Archive> {
    return std::shared_ptr<const Archive>(Archive::open(path_, opts));
  });
  kind_ = archive_->kind() == Archive::Kind::Npy ? "npy" : "npz";
  file_size_ = archive_->file_size();
  threads_ = archive_->threads();
  // Archive::open always reads through a FileSource. static_cast, not dynamic_cast: node-gyp
  // builds with -fno-rtti, so the fallback build must not need RTTI.
  const auto& fs = static_cast<const FileSource&>(archive_->source());
  inode_ = fs.inode();
  mtime_ms_ = fs.mtime_ms();
}

Napi::Value ArchiveWrap::JsKind(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), kind_);
}
Napi::Value ArchiveWrap::JsFileSize(const Napi::CallbackInfo& info) {
  return U64(info.Env(), file_size_);
}
Napi::Value ArchiveWrap::JsThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), threads_);
}
Napi::Value ArchiveWrap::JsInode(const Napi::CallbackInfo& info) { return U64(info.Env(), inode_); }
Napi::Value ArchiveWrap::JsMtimeMs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), mtime_ms_);
}
Napi::Value ArchiveWrap::JsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !archive_);
}

const Archive& ArchiveWrap::Open(Napi::Env env) const {
  if (!archive_) throw MakeCodedError(env, Code::NpzClosed, "archive is closed", path_);
  return *archive_;
}

size_t ArchiveWrap::MemberIndex(const Napi::CallbackInfo& info, const Archive& a) const {
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

Napi::Value ArchiveWrap::JsMembers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const auto& ms = a.members();
  Napi::Array out = Napi::Array::New(env, ms.size());
  for (size_t i = 0; i < ms.size(); ++i)
    out.Set(static_cast<uint32_t>(i), MemberObject(env, ms[i]));
  return out;
}

Napi::Object ArchiveWrap::ArrayResult(Napi::Env env, HandedBuffer&& handed, bool crc_verified) {
  Track(handed.buffer, handed.owned, handed.mapping);
  Napi::Object out = Napi::Object::New(env);
  out.Set("buffer", handed.buffer);
  out.Set("zeroCopy", Napi::Boolean::New(env, handed.zero_copy));
  out.Set("crcVerified", Napi::Boolean::New(env, crc_verified));
  return out;
}

// A copy larger than the external-buffer cap cannot be handed over as an external buffer, so
// read_array()'s vector would have to be copied a second time into a V8-owned buffer (twice the
// memory at peak). Such members are decoded straight into the V8 buffer instead: one copy.
static bool NeedsLargeCopy(const Member& m) {
  return !m.error && m.header && m.header->dtype.supported && !m.header->dtype.is_object &&
         m.header->byte_length > kMaxExternalBuffer;
}

Napi::Value ArchiveWrap::JsReadArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const size_t index = MemberIndex(info, a);
  const CopyMode mode = CopyModeArg(info, 1);
  const std::string& key = a.members()[index].key;
  if (mode != CopyMode::RequireZeroCopy && NeedsLargeCopy(a.members()[index])) {
    return LargeCopyResult(env, a, index);
  }
  ArrayBytes bytes = GuardMember(env, path_, key, [&] { return a.read_array(index, mode); });
  if (bytes.byte_length > kMaxSafeInteger) {
    throw MakeCodedError(env, Code::NpyLengthOverflow, "array too large for JavaScript", path_,
                         key);
  }
  if (bytes.zero_copy && bytes.byte_length > kMaxExternalBuffer) {
    throw MakeCodedError(
        env, Code::NpzLimit,
        "zero-copy view of " + std::to_string(bytes.byte_length) +
            " bytes exceeds the 4 GiB external-buffer cap; read with { copy: true }",
        path_, key);
  }
  const bool crc_verified = bytes.crc_verified;
  return ArrayResult(env, HandOver(env, std::move(bytes)), crc_verified);
}

Napi::Value ArchiveWrap::LargeCopyResult(Napi::Env env, const Archive& a, size_t index) {
  const Member& m = a.members()[index];
  const NpyHeader& h = *m.header;
  if (h.byte_length > kMaxSafeInteger || h.byte_length > SIZE_MAX) {
    throw MakeCodedError(env, Code::NpyLengthOverflow, "array too large for JavaScript", path_,
                         m.key);
  }
  const size_t n = static_cast<size_t>(h.byte_length);
  // Allocated through the JS constructor: napi_create_arraybuffer (v8::ArrayBuffer::New) is a
  // fatal out-of-memory abort when the allocation fails, `new ArrayBuffer(n)` a RangeError.
  // Larger than RAM + swap (or the cgroup limit): refused before asking V8, which under
  // vm.overcommit_memory=1 would hand out the address space and die filling it.
  if (n > memory_ceiling()) {
    throw MakeCodedError(env, Code::NpzLimit,
                         "member '" + m.key + "': a copy of " + std::to_string(n) +
                             " bytes is more than this machine's memory (" +
                             std::to_string(memory_ceiling()) +
                             " bytes of RAM + swap or cgroup limit)",
                         path_, m.key);
  }
  Napi::ArrayBuffer buffer;
  bool allocated = false;
  try {
    Napi::Value ctor = env.Global().Get("ArrayBuffer");
    if (ctor.IsFunction()) {
      Napi::Value v =
          ctor.As<Napi::Function>().New({Napi::Number::New(env, static_cast<double>(n))});
      if (v.IsArrayBuffer() && v.As<Napi::ArrayBuffer>().ByteLength() == n) {
        buffer = v.As<Napi::ArrayBuffer>();
        allocated = true;
      }
    }
  } catch (const Napi::Error&) { allocated = false; }
  if (!allocated) {
    throw MakeCodedError(env, Code::NpzLimit,
                         "member '" + m.key + "': cannot allocate " + std::to_string(n) +
                             " bytes for a copy of the array",
                         path_, m.key);
  }
  GuardMember(env, path_, m.key,
              [&] { a.read_array_into(index, static_cast<uint8_t*>(buffer.Data()), n); });
  HandedBuffer handed;
  handed.buffer = buffer;
  return ArrayResult(env, std::move(handed), a.kind() == Archive::Kind::Npz);
}

Napi::Value ArchiveWrap::JsReadStrings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const size_t index = MemberIndex(info, a);
  const std::string& key = a.members()[index].key;
  ObjectStrings s = GuardMember(env, path_, key, [&] { return a.read_strings(index); });
  return StringsObject(env, s);
}

Napi::Value ArchiveWrap::JsReadValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Archive& a = Open(env);
  const size_t index = MemberIndex(info, a);
  PlainValue v = GuardCore(env, path_, [&] { return a.read_plain_value(index); });
  return PlainToJs(env, v);
}

Napi::Value ArchiveWrap::JsScan(const Napi::CallbackInfo& info) {
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
Napi::Value ArchiveWrap::JsCancel(const Napi::CallbackInfo& info) {
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
Napi::Value ArchiveWrap::JsClose(const Napi::CallbackInfo& info) {
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
            ByteBuffer().swap(*t.owned);
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

void ArchiveWrap::Track(const Napi::ArrayBuffer& buffer, ByteBuffer* owned,
                        std::shared_ptr<Mapping>* mapping) {
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

uint64_t ArchiveWrap::NextId() {
  while (scans_->count(next_id_)) ++next_id_;
  return next_id_++;
}

}  // namespace binding
}  // namespace npz
