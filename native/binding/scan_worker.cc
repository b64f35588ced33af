// NativeArchive.scan()'s async worker (scan_worker.h).
#include "scan_worker.h"

#include <utility>

namespace npz {
namespace binding {

ScanWorker::ScanWorker(Napi::Env env, std::shared_ptr<ScanRegistry> registry,
                       std::shared_ptr<const Archive> archive, std::string path, size_t index,
                       bool crc, bool stats, uint64_t id, std::shared_ptr<std::atomic<bool>> cancel)
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

void ScanWorker::Execute() {
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
  } catch (const Napi::Error&) {}
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
  } catch (const Napi::Error&) {}
}

}  // namespace binding
}  // namespace npz
