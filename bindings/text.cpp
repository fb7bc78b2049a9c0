// N-API glue for native/…/json_text.h:
//   assembleJson(bytes, offsets, program, strings, maxBytes) → Buffer   (sync: a batch's JSON Lines, one pass of
//   copies)
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "jobbert/json_text.h"
#include "worker.h"

namespace jobbert::bindings {
namespace {

const char* kinds(napi_typedarray_type type) {
  switch (type) {
    case napi_uint8_array: return "Uint8Array";
    case napi_uint32_array: return "Uint32Array";
    default: return "Int32Array";
  }
}

// A typed array of `type` on a plain ArrayBuffer (not shared: another thread could change it between the
// checks and the copies).
template <typename T>
T plainArray(const Napi::Value& v, napi_typedarray_type type, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, std::string(what) + " must be a " + kinds(type));
  napi_value raw = nullptr;
  bool plain = false;
  if (napi_get_typedarray_info(env, v, nullptr, nullptr, nullptr, &raw, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, raw, &plain) != napi_ok || !plain)
    throw Napi::TypeError::New(env,
                               std::string(what) + " must be on an ArrayBuffer; received one on a SharedArrayBuffer");
  return v.As<T>();  // (a detached one reads as empty)
}

// assembleJson(bytes: Uint8Array, offsets: Uint32Array, program: Int32Array, strings: string[], maxBytes) → Buffer
Napi::Value AssembleJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The strings first: reading them can run JavaScript (a getter), which could resize, detach or free the
  // typed arrays' memory; nothing runs after the pointers below are taken.
  const Utf16List list = readStrings(info[3], "strings");
  const int64_t maxBytes = readInteger(info[4], "maxBytes", 0, int64_t(1) << 53);
  auto bytes = plainArray<Napi::Uint8Array>(info[0], napi_uint8_array, "bytes");
  auto offsets = plainArray<Napi::Uint32Array>(info[1], napi_uint32_array, "offsets");
  auto program = plainArray<Napi::Int32Array>(info[2], napi_int32_array, "program");
  if (offsets.ElementLength() == 0) throw Napi::RangeError::New(env, "offsets must hold at least one entry");
  Fragments fragments{bytes.Data(), int64_t(bytes.ByteLength()), offsets.Data(), int64_t(offsets.ElementLength()) - 1};
  Utf16Strings strings{list.units.data(), list.starts.data(), list.count()};
  JsonText out;
  Status st =
      assembleJson(fragments, strings, program.Data(), int64_t(program.ElementLength()), size_t(maxBytes), &out);
  if (!st.ok()) throw toError(env, st);
  if (out.size == 0) return Napi::Buffer<char>::New(env, 0);
  char* data = out.bytes.release();
  return Napi::Buffer<char>::New(env, data, out.size, [](Napi::Env, char* d) { delete[] d; });
}

}  // namespace

void registerText(Napi::Env env, Napi::Object exports) {
  exports.Set("assembleJson", Napi::Function::New(env, Guarded<AssembleJson>, "assembleJson"));
}

}  // namespace jobbert::bindings
