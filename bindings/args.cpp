#include "args.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "jobbert/store.h"

namespace jobbert::bindings {
namespace {

// One output buffer may not exceed 8 GiB: past that a request is a mistake, and
// an overcommitted allocation would only fail later, as an OOM kill.
constexpr int64_t kMaxOutputFloats = int64_t(1) << 31;

std::string typeName(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint8_array: return "Uint8Array";
      default: return "a typed array of another type";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsBoolean()) return "a boolean";
  if (v.IsFunction()) return "a function";
  return "an object";
}

[[noreturn]] void throwType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void throwRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

// The Float32Array's elements, or a TypeError; a detached buffer reads as null.
const float* floatData(const Napi::Value& v, const std::string& name, int64_t* length) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throwType(env, name + " must be a Float32Array; received " + typeName(v));
  auto array = v.As<Napi::Float32Array>();
  *length = static_cast<int64_t>(array.ElementLength());
  // Napi's ArrayBuffer() throws a bare "Invalid argument" for a SharedArrayBuffer: say what is wrong.
  napi_value raw = nullptr;
  bool plain = false;
  if (napi_get_typedarray_info(env, array, nullptr, nullptr, nullptr, &raw, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, raw, &plain) != napi_ok || !plain)
    throwType(env, name + " must be a Float32Array on an ArrayBuffer; received one on a SharedArrayBuffer");
  Napi::ArrayBuffer buffer = array.ArrayBuffer();
  if (*length > 0 && buffer.Data() == nullptr) throwType(env, name + " is detached");
  return *length > 0 ? array.Data() : nullptr;
}

}  // namespace

int64_t readInteger(const Napi::Value& v, const char* name, int64_t min, int64_t max) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) throwType(env, std::string(name) + " must be an integer; received " + typeName(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < double(min) || d > double(max))
    throwRange(env, std::string(name) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                        "]; received " + v.ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

std::string readPath(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsString()) throwType(env, std::string(name) + " must be a file path string; received " + typeName(v));
  std::string path = v.As<Napi::String>().Utf8Value();
  if (path.empty()) throwRange(env, std::string(name) + " must be a non-empty file path; received ''");
  if (path.find('\0') != std::string::npos) throwRange(env, std::string(name) + " must not contain NUL characters");
  return path;
}

double readNumber(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) throwType(env, std::string(name) + " must be a number; received " + typeName(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throwRange(env, std::string(name) + " must be finite; received " + v.ToString().Utf8Value());
  return d;
}

int readChoice(const Napi::Value& v, const char* name, const std::vector<const char*>& choices) {
  std::string expected;
  for (const char* c : choices) expected += (expected.empty() ? "'" : ", '") + std::string(c) + "'";
  if (!v.IsString())
    throwType(v.Env(), std::string(name) + " must be one of " + expected + "; received " + typeName(v));
  std::string s = v.As<Napi::String>().Utf8Value();
  for (size_t i = 0; i < choices.size(); ++i)
    if (s == choices[i]) return static_cast<int>(i);
  throwRange(v.Env(), std::string(name) + " must be one of " + expected + "; received '" + s + "'");
}

Napi::Error codedError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

MatrixArg copyMatrix(const Napi::Value& v, const char* name, bool allowEmpty) {
  Napi::Env env = v.Env();
  if (ResidentMatrix* resident = ResidentMatrix::Unwrap(v)) {
    if (!resident->matrix().values)
      throw codedError(env, "ERR_DISPOSED", std::string(name) + " is a ResidentMatrix that was disposed");
    return resident->matrix();
  }
  bool isDevice = false;
  deviceMatrixOf(v, name, &isDevice);
  if (isDevice)
    throw codedError(env, "ERR_DEVICE_MISMATCH",
                     std::string(name) + " is a DeviceMatrix (GPU memory) but this call runs on the CPU; pass device " +
                         "'cuda' or 'auto', or call toMatrix() to copy it back");
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray())
    throwType(env, std::string(name) + " must be a Matrix { data, rows, cols }; received " + typeName(v));
  Napi::Object obj = v.As<Napi::Object>();
  std::string n(name);
  MatrixArg m;
  m.rows = readInteger(obj.Get("rows"), (n + ".rows").c_str(), allowEmpty ? 0 : 1, kMaxDim);
  m.cols = readInteger(obj.Get("cols"), (n + ".cols").c_str(), 1, kMaxDim);
  int64_t length = 0;
  const float* data = floatData(obj.Get("data"), n + ".data", &length);
  if (length != m.rows * m.cols)
    throwRange(env, n + ".data must hold rows × cols = " + std::to_string(m.rows * m.cols) + " elements; received " +
                        std::to_string(length));
  auto copy = std::make_shared<FloatBuffer>(length);
  if (length > 0) std::memcpy(copy->data(), data, static_cast<size_t>(length) * sizeof(float));
  m.values = std::move(copy);
  return m;
}

Backend readBackend(const Napi::Value& v) {
  if (v.IsUndefined()) return Backend::kCpu;
  return readChoice(v, "backend", {"cpu", "cuda"}) == 1 ? Backend::kCuda : Backend::kCpu;
}

cuda::Precision readPrecision(const Napi::Value& v) {
  if (v.IsUndefined()) return cuda::Precision::kFp32;
  return static_cast<cuda::Precision>(readChoice(v, "precision", {"fp32", "tf32", "bf16"}));
}

OperandArg readOperand(const Napi::Value& v, const char* name, Backend backend, bool allowEmpty) {
  OperandArg out;
  if (backend == Backend::kCuda) {
    bool isDevice = false;
    out.device = deviceMatrixOf(v, name, &isDevice);
    if (isDevice) {
      out.rows = out.device->rows(), out.cols = out.device->cols();
      return out;
    }
  }
  out.host = copyMatrix(v, name, allowEmpty);  // refuses a DeviceMatrix on the CPU
  out.rows = out.host.rows, out.cols = out.host.cols;
  return out;
}

std::vector<int32_t> copyInt32(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  std::vector<int32_t> out(a.ElementLength());
  if (!out.empty()) {
    if (!a.Data()) throw Napi::TypeError::New(v.Env(), std::string(name) + " is detached");
    std::memcpy(out.data(), a.Data(), out.size() * sizeof(int32_t));
  }
  return out;
}

std::vector<float> copyVector(const Napi::Value& v, const char* name, int64_t length) {
  int64_t actual = 0;
  const float* data = floatData(v, name, &actual);
  if (actual != length)
    throwRange(v.Env(), std::string(name) + " must hold " + std::to_string(length) + " elements; received " +
                            std::to_string(actual));
  return std::vector<float>(data, data + length);
}

float* outputFloats(const Napi::Value& v, const char* name, int64_t length) {
  Napi::Env env = v.Env();
  int64_t actual = 0;
  // floatData refuses a SharedArrayBuffer, which other threads could use while the kernel writes it.
  float* data = const_cast<float*>(floatData(v, name, &actual));
  if (actual != length)
    throwRange(env, std::string(name) + " must hold " + std::to_string(length) + " elements; received " +
                        std::to_string(actual));
  return data;
}

static std::string tooLarge(int64_t count, const char* what) {
  return std::string(what) + " would need " + std::to_string(count) +
         " elements, more than the limit of 2^31 per buffer";
}

void checkOutputSize(Napi::Env env, int64_t count, const char* what) {
  if (count < 0 || count > kMaxOutputFloats) throwRange(env, tooLarge(count, what));
}

OwnedFloats allocateFloats(int64_t count) {
  // Worker thread: length_error becomes a RangeError through the worker's Status.
  if (count < 0 || count > kMaxOutputFloats) throw std::length_error(tooLarge(count, "an output"));
  return FloatBuffer(count);
}

Napi::Float32Array toFloat32Array(Napi::Env env, OwnedFloats&& floats) {
  size_t size = static_cast<size_t>(floats.size());
  int64_t bytes = static_cast<int64_t>(size * sizeof(float));
  float* raw = floats.release();
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  auto buffer = Napi::ArrayBuffer::New(
      env, raw, size * sizeof(float),
      [](Napi::Env env, void* p, int64_t* hint) {
        FloatBuffer::free(static_cast<float*>(p));
        Napi::MemoryManagement::AdjustExternalMemory(env, -*hint);
        delete hint;
      },
      new int64_t(bytes));
  return Napi::Float32Array::New(env, size, buffer, 0);
}

Napi::Int32Array toInt32Array(Napi::Env env, std::unique_ptr<int32_t[]>&& data, int64_t size) {
  int32_t* raw = data.release();
  int64_t bytes = size * static_cast<int64_t>(sizeof(int32_t));
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  auto buffer = Napi::ArrayBuffer::New(
      env, raw, static_cast<size_t>(bytes),
      [](Napi::Env env, void* p, int64_t* hint) {
        delete[] static_cast<int32_t*>(p);
        Napi::MemoryManagement::AdjustExternalMemory(env, -*hint);
        delete hint;
      },
      new int64_t(bytes));
  return Napi::Int32Array::New(env, static_cast<size_t>(size), buffer, 0);
}

// ---------------------------------------------------------------- ResidentMatrix

Napi::Function ResidentMatrix::Define(Napi::Env env) {
  return DefineClass(
      env, "ResidentMatrix",
      {InstanceAccessor<&ResidentMatrix::Rows>("rows"), InstanceAccessor<&ResidentMatrix::Cols>("cols"),
       InstanceAccessor<&ResidentMatrix::Disposed>("disposed"), InstanceMethod<&ResidentMatrix::Dispose>("dispose"),
       InstanceMethod<&ResidentMatrix::WriteTo>("writeTo"), InstanceMethod<&ResidentMatrix::Take>("take"),
       InstanceMethod<&ResidentMatrix::ToFloat32Array>("toFloat32Array")});
}

Napi::Object ResidentMatrix::Adopt(Napi::Env env, MatrixArg m) {
  AddonData* data = env.GetInstanceData<AddonData>();
  data->adopting = &m;
  try {
    Napi::Object out = data->residentMatrix.New({Napi::External<MatrixArg>::New(env, &m)});
    data->adopting = nullptr;
    return out;
  } catch (...) {
    data->adopting = nullptr;
    throw;
  }
}

const MatrixArg& ResidentMatrix::live(Napi::Env env, const std::string& what) const {
  if (!matrix_.values) throw codedError(env, "ERR_DISPOSED", what + " is a ResidentMatrix that was disposed");
  return matrix_;
}

ResidentMatrix* ResidentMatrix::Unwrap(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  AddonData* data = v.Env().GetInstanceData<AddonData>();
  if (!data || data->residentMatrix.IsEmpty()) return nullptr;
  if (!v.As<Napi::Object>().InstanceOf(data->residentMatrix.Value())) return nullptr;
  return Napi::ObjectWrap<ResidentMatrix>::Unwrap(v.As<Napi::Object>());
}

// new ResidentMatrix({ data, rows, cols }): one copy into native memory (or,
// from Adopt, none).
ResidentMatrix::ResidentMatrix(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ResidentMatrix>(info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (data && data->adopting && info[0].IsExternal() &&
      info[0].As<Napi::External<MatrixArg>>().Data() == data->adopting) {
    matrix_ = std::move(*data->adopting);
  } else {
    try {
      matrix_ = copyMatrix(info[0], "matrix");
    } catch (const std::bad_alloc&) {  // the ObjectWrap trampoline lets only Napi::Error through
      throw toError(info.Env(), Status::OutOfMemory("out of memory while copying the matrix into native memory"));
    }
  }
  accounted_ = matrix_.rows * matrix_.cols * static_cast<int64_t>(sizeof(float));
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), accounted_);
}

ResidentMatrix::~ResidentMatrix() { release(Env()); }

void ResidentMatrix::release(Napi::Env env) {
  // Calls still running keep their share of the memory until they finish.
  matrix_.values.reset();
  if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
  accounted_ = 0;
}

Napi::Value ResidentMatrix::Rows(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(matrix_.rows));
}
Napi::Value ResidentMatrix::Cols(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(matrix_.cols));
}
Napi::Value ResidentMatrix::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !matrix_.values);
}
Napi::Value ResidentMatrix::Dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Error toError(Napi::Env env, const Status& status, const char* unavailableCode) {
  switch (status.code) {
    case StatusCode::kTypeError: return Napi::TypeError::New(env, status.message);
    case StatusCode::kRangeError: return Napi::RangeError::New(env, status.message);
    default: break;
  }
  Napi::Error error = Napi::Error::New(env, status.message);
  const char* code = status.code == StatusCode::kOutOfMemory   ? "ERR_OUT_OF_MEMORY"
                     : status.code == StatusCode::kUnavailable ? unavailableCode
                     : status.code == StatusCode::kIoError     ? "ERR_IO"
                     : status.code == StatusCode::kCorrupt     ? "ERR_CORRUPT"
                                                               : "ERR_INTERNAL";
  error.Set("code", Napi::String::New(env, code));
  return error;
}

FileRange readFileRange(const Napi::CallbackInfo& info, size_t first) {
  Napi::Env env = info.Env();
  FileRange r;
  r.path = readPath(info[first], "path");
  r.offset = static_cast<uint64_t>(readInteger(info[first + 1], "offset", 0, (int64_t(1) << 53) - 1));
  r.rows = readInteger(info[first + 2], "rows", 1, kMaxDim);
  r.cols = readInteger(info[first + 3], "cols", 1, kMaxDim);
  const Napi::Value sum = info[first + 4];
  if (!sum.IsNull() && !sum.IsUndefined()) {
    if (!sum.IsString()) throw Napi::TypeError::New(env, "checksum must be a string of 16 hex digits or null");
    std::string hex = sum.As<Napi::String>().Utf8Value();
    if (!parseChecksumHex(hex, &r.expected))
      throw Napi::RangeError::New(env, "checksum must be 16 hex digits; received '" + hex.substr(0, 40) + "'");
    r.verify = true;
  }
  return r;
}

Utf16List readStrings(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(name) + " must be an array of strings");
  napi_value list = v;
  uint32_t count = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_array_length(env, list, &count), Utf16List());
  Utf16List out;
  out.starts.assign(size_t(count) + 1, 0);
  // Each copy writes a NUL, which the next string overwrites.
  std::vector<char16_t>& units = out.units;
  units.resize(size_t(count) * 64 + 1);
  for (uint32_t s = 0; s < count; s++) {
    napi_value item;
    NAPI_THROW_IF_FAILED(env, napi_get_element(env, list, s, &item), Utf16List());
    const size_t at = size_t(out.starts[s]);
    if (units.size() - at < 256) units.resize(2 * units.size() + 256);
    // One call for most strings: copied up to the room left (keeping a unit for the NUL); a string that may
    // not have fitted is measured and copied again.
    size_t copied = 0;
    napi_status st = napi_get_value_string_utf16(env, item, units.data() + at, units.size() - at, &copied);
    if (st == napi_string_expected)
      throw Napi::TypeError::New(env, std::string(name) + "[" + std::to_string(s) + "] must be a string");
    NAPI_THROW_IF_FAILED(env, st, Utf16List());
    if (copied + 1 == units.size() - at) {
      size_t length = 0;
      NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf16(env, item, nullptr, 0, &length), Utf16List());
      if (units.size() < at + length + 1) units.resize(std::max(at + length + 1, 2 * units.size()));
      NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf16(env, item, units.data() + at, length + 1, &copied),
                           Utf16List());
    }
    out.starts[s + 1] = int64_t(at + copied);
  }
  return out;
}

}  // namespace jobbert::bindings
