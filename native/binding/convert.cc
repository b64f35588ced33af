// Conversions between core values and JavaScript values (convert.h).
#include "convert.h"

#include <atomic>
#include <cstring>
#include <utility>

namespace npz {
namespace binding {

namespace {
// The only global of the addon: counts zero-copy views whose finalizer has not run yet.
std::atomic<int64_t> g_live_mappings{0};
}  // namespace

int64_t LiveMappings() { return g_live_mappings.load(); }

Napi::Error MakeCoreError(Napi::Env env, const Error& e, const std::string& path) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, code_name(e.code())));
  if (!e.member().empty()) err.Set("member", Napi::String::New(env, e.member()));
  if (!path.empty()) err.Set("path", Napi::String::New(env, path));
  return err;
}

Napi::Error MakeCodedError(Napi::Env env, Code code, const std::string& message,
                           const std::string& path, const std::string& member) {
  return MakeCoreError(env, Error(code, message, member), path);
}

Napi::Value U64(Napi::Env env, uint64_t v) {
  return Napi::Number::New(env, static_cast<double>(v));
}

Napi::Value PlainToJs(Napi::Env env, const PlainValue& v) {
  using T = PlainValue::Type;
  switch (v.type) {
    case T::None: return env.Null();
    case T::Bool: return Napi::Boolean::New(env, v.boolean);
    case T::Int:
      if (v.magnitude.empty()) return Napi::BigInt::New(env, int64_t{0});
      return Napi::BigInt::New(env, v.negative ? 1 : 0, v.magnitude.size(), v.magnitude.data());
    case T::Float: return Napi::Number::New(env, v.number);
    case T::Str: return Napi::String::New(env, v.text);
    case T::List:
    case T::Tuple: {
      Napi::Array a = Napi::Array::New(env, v.items.size());
      for (size_t i = 0; i < v.items.size(); ++i)
        a.Set(static_cast<uint32_t>(i), PlainToJs(env, v.items[i]));
      return a;
    }
    case T::Dict: {
      Napi::Array entries = Napi::Array::New(env, v.items.size() / 2);
      for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
        Napi::Array kv = Napi::Array::New(env, 2);
        kv.Set(uint32_t{0}, PlainToJs(env, v.items[i]));
        kv.Set(uint32_t{1}, PlainToJs(env, v.items[i + 1]));
        entries.Set(static_cast<uint32_t>(i / 2), kv);
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("entries", entries);
      return o;
    }
  }
  return env.Null();
}

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

static Napi::Object ComponentObject(Napi::Env env, const ComponentStats& c) {
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

static Napi::Object RowTallyObject(Napi::Env env, const RowTally& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rows", U64(env, t.rows));
  o.Set("values", U64(env, t.values));
  Napi::Array first = Napi::Array::New(env, t.first.size());
  Napi::Array counts = Napi::Array::New(env, t.first.size());
  for (size_t i = 0; i < t.first.size(); ++i) {
    first.Set(static_cast<uint32_t>(i), U64(env, t.first[i].first));
    counts.Set(static_cast<uint32_t>(i), U64(env, t.first[i].second));
  }
  o.Set("first", first);
  o.Set("counts", counts);
  return o;
}

static Napi::Object RowTalliesObject(Napi::Env env, const RowTallies& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rowElements", U64(env, t.row_elements));
  o.Set("rows", U64(env, t.rows));
  o.Set("zero", RowTallyObject(env, t.zero));
  o.Set("nonfinite", RowTallyObject(env, t.nonfinite));
  o.Set("negative", RowTallyObject(env, t.negative));
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
    if (r.stats->rows) s.Set("rows", RowTalliesObject(env, *r.stats->rows));
    o.Set("stats", s);
  } else {
    o.Set("stats", env.Null());
  }
  return o;
}

Napi::Object StringsObject(Napi::Env env, const ObjectStrings& s) {
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

Napi::Object RowProfileObject(Napi::Env env, const RowProfile& p) {
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

// Reads an optional non-negative integer property; TypeError/RangeError when malformed.
bool OptionalUint(Napi::Env env, const Napi::Object& opts, const char* name, uint64_t max,
                  uint64_t* out) {
  Napi::Value v = opts.Get(name);
  if (v.IsUndefined()) return false;
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(env, std::string("Expected an integer for ") + name);
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) ||
      d > static_cast<double>(max)) {
    throw Napi::RangeError::New(
        env, std::string("Expected an integer in [0, ") + std::to_string(max) + "] for " + name);
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

uint64_t SafeIntegerArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(env, std::string("Expected an integer for ") + name);
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > static_cast<double>(kMaxSafeInteger) ||
      d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(env,
                                std::string("Expected a non-negative safe integer for ") + name);
  return static_cast<uint64_t>(d);
}

CopyMode CopyModeArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || info[i].IsUndefined()) return CopyMode::Auto;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "Expected 0, 1 or 2 for mode");
  const int32_t m = info[i].As<Napi::Number>().Int32Value();
  if (m == 0) return CopyMode::Auto;
  if (m == 1) return CopyMode::ForceCopy;
  if (m == 2) return CopyMode::RequireZeroCopy;
  throw Napi::RangeError::New(env, "Expected 0, 1 or 2 for mode");
}

HandedBuffer HandOver(Napi::Env env, ArrayBytes&& bytes) {
  HandedBuffer out;
  out.zero_copy = bytes.zero_copy && bytes.mapping && bytes.byte_length > 0;
  if (bytes.byte_length == 0) {
    out.buffer = Napi::ArrayBuffer::New(env, 0);
  } else if (out.zero_copy) {
    auto* hint = new std::shared_ptr<Mapping>(std::move(bytes.mapping));
    out.mapping = hint;
    g_live_mappings.fetch_add(1);
    out.buffer = Napi::ArrayBuffer::New(
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
    auto* vec = new ByteBuffer(std::move(bytes.owned));
    out.owned = vec;
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(vec->size()));
    out.buffer = Napi::ArrayBuffer::New(
        env, vec->data(), vec->size(),
        [](Napi::Env fin_env, void*, ByteBuffer* v) {
          const int64_t n = static_cast<int64_t>(v->size());
          delete v;
          try {
            Napi::MemoryManagement::AdjustExternalMemory(fin_env, -n);
          } catch (const Napi::Error&) {
            // environment teardown: nothing left to account to
          }
        },
        vec);
  } else {
    out.buffer = Napi::ArrayBuffer::New(env, static_cast<size_t>(bytes.byte_length));
    std::memcpy(out.buffer.Data(), bytes.data, static_cast<size_t>(bytes.byte_length));
  }
  return out;
}

}  // namespace binding
}  // namespace npz
