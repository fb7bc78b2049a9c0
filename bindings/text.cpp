// N-API glue for native/…/json_text.h:
//   assembleJson(bytes, offsets, program, strings) → Buffer   (sync: a batch's JSON Lines, one pass of copies)
#include <napi.h>

#include <algorithm>
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
  if (!info[3].IsArray()) throw Napi::TypeError::New(env, "strings must be an array of strings");
  if (offsets.ElementLength() == 0) throw Napi::RangeError::New(env, "offsets must hold at least one entry");
  napi_value list = info[3];
  uint32_t count = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_array_length(env, list, &count), Napi::Value());
  // Every string's UTF-16 units, one after another (each copy writes a NUL the next overwrites).
  std::vector<char16_t> units;
  std::vector<int64_t> starts(size_t(count) + 1, 0);
  units.resize(size_t(count) * 64 + 1);
  for (uint32_t s = 0; s < count; s++) {
    napi_value v;
    NAPI_THROW_IF_FAILED(env, napi_get_element(env, list, s, &v), Napi::Value());
    const size_t at = size_t(starts[s]);
    if (units.size() - at < 256) units.resize(2 * units.size() + 256);
    // One call for most strings: copied up to the room left (keeping a unit for the NUL); a string that may
    // not have fitted is measured and copied again.
    size_t copied = 0;
    napi_status st = napi_get_value_string_utf16(env, v, units.data() + at, units.size() - at, &copied);
    if (st == napi_string_expected)
      throw Napi::TypeError::New(env, "strings[" + std::to_string(s) + "] must be a string");
    NAPI_THROW_IF_FAILED(env, st, Napi::Value());
    if (copied + 1 == units.size() - at) {
      size_t length = 0;
      NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf16(env, v, nullptr, 0, &length), Napi::Value());
      if (units.size() < at + length + 1) units.resize(std::max(at + length + 1, 2 * units.size()));
      NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf16(env, v, units.data() + at, length + 1, &copied),
                           Napi::Value());
    }
    starts[s + 1] = int64_t(at + copied);
  }
  Fragments fragments{bytes.Data(), int64_t(bytes.ByteLength()), offsets.Data(), int64_t(offsets.ElementLength()) - 1};
  Utf16Strings strings{units.data(), starts.data(), int64_t(count)};
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
