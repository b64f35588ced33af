// The Node binding's module init: the only exports of the addon (open, errorCodes, buildInfo,
// flock, liveMappings) and the per-environment instance data. The binding is the only code that
// includes napi.h; it is split by job:
//   convert.{h,cc}        core values <-> JS values, coded errors, ArrayBuffer hand-over
//   archive_wrap.{h,cc}   NativeArchive, the JS object over one npz::Archive (+ _rows.cc)
//   scan_worker.{h,cc}    the async scan on the libuv pool
// Per-environment state lives in instance data, so the addon works in worker_threads; the only
// global is an atomic counter (convert.cc). Bad arguments -> TypeError / RangeError; core errors
// -> JS Error with .code (ERR_*), .member, .path.
#include "convert.h"

#include <string>
#include <vector>

#include "archive_wrap.h"
#include "cpu_count.h"
#include "crc32.h"
#include "errors.h"
#include "file_lock.h"
#include "inflate.h"

namespace npz {
namespace binding {
namespace {

struct AddonData {
  Napi::FunctionReference archive_ctor;
};

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
  o.Set("inflate", std::string(inflate_impl_name()) + ", parallel per member (npzguard)");
  o.Set("crc32", crc32_impl_name());
  const CpuBudget cpu = cpu_budget("/");
  Napi::Object t = Napi::Object::New(env);
  t.Set("cpus", cpu.cpus);
  t.Set("source", cpu.source);
  t.Set("hardware", cpu.hardware);
  t.Set("affinity", cpu.affinity);
  t.Set("quota", cpu.has_quota ? Napi::Value(Napi::Number::New(env, cpu.quota.cpus)) : env.Null());
  t.Set("quotaDir", cpu.quota.dir);
  o.Set("threads", t);
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
    throw Napi::TypeError::New(
        env, "Expected (fd: number, exclusive: boolean, wait: boolean) for flock");
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const bool exclusive = info[1].As<Napi::Boolean>().Value();
  const bool wait = info[2].As<Napi::Boolean>().Value();
  return GuardCore(env, std::string(), [&] {
    return Napi::Boolean::New(env, flock_fd(fd, exclusive, wait) == LockResult::kAcquired);
  });
}

Napi::Value JsLiveMappings(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(LiveMappings()));
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
}  // namespace binding
}  // namespace npz

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return npz::binding::Init(env, exports);
}

NODE_API_MODULE(NODE_GYP_MODULE_NAME, InitAddon)
