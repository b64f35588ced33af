// The async worker behind NativeArchive.scan(): a streaming scan of one member on the libuv
// pool, settling a promise. Keeps the Archive alive (shared_ptr) until the promise settles,
// whatever happens to the JS wrapper meanwhile; its cancel flag lives in the wrapper's
// ScanRegistry, shared with the worker so the worker can deregister itself even after the
// wrapper is gone.
// Thread-safety: Execute() runs on a pool thread and touches only the (const, thread-safe)
// Archive and its own atomic flag; everything else runs on the JS thread.
#pragma once
#include "convert.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace npz {
namespace binding {

// Running scans of one archive, by id. Touched only on the JS thread.
using ScanRegistry = std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>>;

class ScanWorker final : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, std::shared_ptr<ScanRegistry> registry,
             std::shared_ptr<const Archive> archive, std::string path, size_t index, bool crc,
             bool stats, uint64_t id, std::shared_ptr<std::atomic<bool>> cancel);

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override;
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

}  // namespace binding
}  // namespace npz
