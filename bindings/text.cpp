// N-API glue for native/…/json_text.h:
//   assembleJson(bytes, offsets, program, strings) → Buffer   (sync: a batch's JSON Lines, one pass of copies)
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "jobbert/json_text.h"
#include "worker.h"

namespace jobbert::bindings {
namespace {

template <typename T>
T typedArray(const Napi::Value& v, napi_typedarray_type type, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throw Napi::TypeError::New(v.Env(), what);
  return v.As<T>();
}

// assembleJson(bytes: Uint8Array, offsets: Uint32Array, program: Int32Array, strings: string[]) → Buffer
Napi::Value AssembleJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = typedArray<Napi::Uint8Array>(info[0], napi_uint8_array, "bytes must be a Uint8Array");
  auto offsets = typedArray<Napi::Uint32Array>(info[1], napi_uint32_array, "offsets must be a Uint32Array");
  auto program = typedArray<Napi::Int32Array>(info[2], napi_int32_array, "program must be an Int32Array");
  if (offsets.ElementLength() == 0) throw Napi::RangeError::New(env, "offsets must hold at least one entry");
  const Utf16List list = readStrings(info[3], "strings");
  Fragments fragments{bytes.Data(), int64_t(bytes.ByteLength()), offsets.Data(), int64_t(offsets.ElementLength()) - 1};
  Utf16Strings strings{list.units.data(), list.starts.data(), list.count()};
  JsonText out;
  Status st = assembleJson(fragments, strings, program.Data(), int64_t(program.ElementLength()), &out);
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
