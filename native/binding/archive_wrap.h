// NativeArchive: the JS object wrapping one npz::Archive (archive.h), whose raw shape is declared
// in src/native.ts; TypeScript (src/npz.ts) adds argument checking and the friendly API.
// Ownership: the wrapper holds a shared_ptr<const npz::Archive>; a running scan (ScanWorker)
// holds another, so close() during a scan never frees what the scan reads. Zero-copy
// ArrayBuffers own a shared_ptr<npz::Mapping> through their finalizer; copies own their vector.
// The wrapper keeps weak references (refcount 0) to every ArrayBuffer it handed out so close()
// can detach the ones still alive: views become length 0, never dangling.
// Thread-safety: every method runs on the environment's thread.
// Methods are defined in archive_wrap.cc, the row reads in archive_wrap_rows.cc.
#pragma once
#include "convert.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scan_worker.h"

namespace npz {
namespace binding {

class ArchiveWrap final : public Napi::ObjectWrap<ArchiveWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Constructed only from open(): new NativeArchive(path, options).
  explicit ArchiveWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JsKind(const Napi::CallbackInfo& info);
  Napi::Value JsFileSize(const Napi::CallbackInfo& info);
  Napi::Value JsThreads(const Napi::CallbackInfo& info);
  Napi::Value JsInode(const Napi::CallbackInfo& info);
  Napi::Value JsMtimeMs(const Napi::CallbackInfo& info);
  Napi::Value JsClosed(const Napi::CallbackInfo& info);
  Napi::Value JsMembers(const Napi::CallbackInfo& info);
  Napi::Value JsReadArray(const Napi::CallbackInfo& info);
  Napi::Value JsReadStrings(const Napi::CallbackInfo& info);
  Napi::Value JsReadValue(const Napi::CallbackInfo& info);
  Napi::Value JsReadRows(const Napi::CallbackInfo& info);
  Napi::Value JsRowProfile(const Napi::CallbackInfo& info);
  Napi::Value JsReadRowSet(const Napi::CallbackInfo& info);
  Napi::Value JsScan(const Napi::CallbackInfo& info);
  Napi::Value JsCancel(const Napi::CallbackInfo& info);
  Napi::Value JsClose(const Napi::CallbackInfo& info);

  // The open archive, or ERR_NPZ_CLOSED.
  const Archive& Open(Napi::Env env) const;
  // info[0] as a member index of a; TypeError/RangeError otherwise.
  size_t MemberIndex(const Napi::CallbackInfo& info, const Archive& a) const;
  // {buffer, zeroCopy, crcVerified}, tracking the buffer for close().
  Napi::Object ArrayResult(Napi::Env env, HandedBuffer&& handed, bool crc_verified);
  // A copy larger than the external-buffer cap, decoded straight into engine memory.
  Napi::Value LargeCopyResult(Napi::Env env, const Archive& a, size_t index);

  // Every ArrayBuffer handed out, with what backs it when it is external: close() detaches the
  // live ones and frees that memory at once (N-API finalizers of external buffers run only
  // after a later GC, so a loop of open/array/close would otherwise hold every copy until then).
  struct Tracked {
    Napi::Reference<Napi::ArrayBuffer> ref;
    ByteBuffer* owned = nullptr;  // a copy (finalizer deletes the, then empty, vector)
    std::shared_ptr<Mapping>* mapping = nullptr;  // a zero-copy view (finalizer deletes the holder)
  };
  void Track(const Napi::ArrayBuffer& buffer, ByteBuffer* owned = nullptr,
             std::shared_ptr<Mapping>* mapping = nullptr);
  uint64_t NextId();

  std::string path_;
  std::shared_ptr<const Archive> archive_;
  std::string kind_;
  uint64_t file_size_ = 0;
  unsigned threads_ = 1;
  uint64_t inode_ = 0;
  double mtime_ms_ = 0;
  std::vector<Tracked> buffers_;
  size_t prune_at_ = 64;
  std::shared_ptr<ScanRegistry> scans_ = std::make_shared<ScanRegistry>();
  uint64_t next_id_ = uint64_t{1} << 40;  // auto ids stay clear of small caller-chosen ids
};

}  // namespace binding
}  // namespace npz
