// A native object handed to JS as a type-tagged External holding a
// shared_ptr: a call running on a worker keeps its own shared_ptr, so the
// object outlives a dispose() that lands meanwhile. Its bytes are reported to
// V8 as external memory while JS holds it, so the GC sees the pressure.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace jobbert::bindings {

template <typename T>
struct SharedHandle {
  std::shared_ptr<const T> object;  // null once released
  int64_t accounted = 0;            // bytes reported to V8 as external memory

  // Drops the object (running calls keep their own references). Idempotent.
  void release(Napi::Env env) {
    object.reset();
    if (accounted) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted);
    accounted = 0;
  }

  // A new External tagged `tag`, holding `object` and accounting `bytes`.
  static Napi::Value wrap(Napi::Env env, std::shared_ptr<const T> object, int64_t bytes, const napi_type_tag& tag) {
    auto* handle = new SharedHandle{std::move(object), bytes};
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
    auto external = Napi::External<SharedHandle>::New(env, handle, [](Napi::Env env, SharedHandle* h) {
      h->release(env);
      delete h;
    });
    external.TypeTag(&tag);
    return external;
  }

  // Whether `v` is an External tagged `tag`.
  static bool is(const Napi::Value& v, const napi_type_tag& tag) {
    return v.IsExternal() && v.As<Napi::External<SharedHandle>>().CheckTypeTag(&tag);
  }

  // The handle behind `v`; a TypeError "`what`" when `v` is not one tagged `tag`.
  static SharedHandle* unwrap(const Napi::Value& v, const napi_type_tag& tag, const std::string& what) {
    if (!is(v, tag)) throw Napi::TypeError::New(v.Env(), what);
    return v.As<Napi::External<SharedHandle>>().Data();
  }
};

}  // namespace jobbert::bindings
