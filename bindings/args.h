// Argument unpacking for the N-API glue: every check a call from JavaScript
// needs before native code may touch its buffers. Failures throw
// Napi::TypeError / Napi::RangeError whose message names the argument.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jobbert/buffer.h"
#include "jobbert/cuda.h"
#include "jobbert/kernels.h"

namespace jobbert::bindings {

// Float buffer owned by native code, handed to JS without a copy when done.
using OwnedFloats = FloatBuffer;

// A matrix argument the kernel may read from any thread: either a copy of the
// caller's Float32Array (so later changes to, or the transfer of, that buffer
// cannot reach the running kernel) or a share of a ResidentMatrix's memory.
struct MatrixArg {
  std::shared_ptr<const FloatBuffer> values;
  int64_t rows = 0, cols = 0;
  ConstMatrix view() const { return {values ? values->data() : nullptr, rows, cols}; }
};
using MatrixCopy = MatrixArg;

// Reads { data: Float32Array, rows, cols } (row-major, data.length == rows·cols),
// copying it, or a ResidentMatrix, sharing it. A DeviceMatrix is refused with
// ERR_DEVICE_MISMATCH (its values live in GPU memory).
MatrixArg copyMatrix(const Napi::Value& v, const char* name, bool allowEmpty = false);

// Where a kernel call runs (the JS layer resolves 'auto' before calling).
enum class Backend { kCpu = 0, kCuda = 1 };
// Reads 'cpu' or 'cuda' (undefined: 'cpu').
Backend readBackend(const Napi::Value& v);
// Reads 'fp32', 'tf32' or 'bf16' (undefined: 'fp32').
cuda::Precision readPrecision(const Napi::Value& v);

// A matrix argument of a kernel that may run on CUDA: a host matrix (copied, or
// shared from a ResidentMatrix) or, for a CUDA call, a DeviceMatrix, shared so
// that a dispose() while the call runs cannot free memory under it.
struct OperandArg {
  MatrixArg host;
  std::shared_ptr<const cuda::DeviceMatrix> device;
  int64_t rows = 0, cols = 0;
  ConstMatrix view() const { return host.view(); }
  cuda::Operand operand() const { return cuda::Operand{host.view(), device}; }
};
// Reads a Matrix, ResidentMatrix or DeviceMatrix for a call on `backend`; a
// DeviceMatrix on the CPU is refused with ERR_DEVICE_MISMATCH, a disposed one
// with ERR_DISPOSED.
OperandArg readOperand(const Napi::Value& v, const char* name, Backend backend, bool allowEmpty = false);

// The matrix of v when v is a (live) DeviceMatrix, else null; throws
// ERR_DISPOSED naming `name` for a disposed one. Defined in device.cpp.
std::shared_ptr<const cuda::DeviceMatrix> deviceMatrixOf(const Napi::Value& v, const char* name, bool* isDevice);

// An Error with a `code` property (ERR_DISPOSED, ERR_DEVICE_MISMATCH, ...).
Napi::Error codedError(Napi::Env env, const char* code, const std::string& message);

// A matrix held in native memory across calls (kernels.resident()): copied in
// once, then shared by every kernel call that names it, without a copy.
class ResidentMatrix : public Napi::ObjectWrap<ResidentMatrix> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The wrapped instance when v is a ResidentMatrix, else null.
  static ResidentMatrix* Unwrap(const Napi::Value& v);
  // A new instance around memory native code already filled (a file read, a
  // gather): no copy. Main thread only.
  static Napi::Object Adopt(Napi::Env env, MatrixArg m);
  explicit ResidentMatrix(const Napi::CallbackInfo& info);
  ~ResidentMatrix() override;
  const MatrixArg& matrix() const { return matrix_; }

 private:
  Napi::Value Rows(const Napi::CallbackInfo& info);
  Napi::Value Cols(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  // Defined in store.cpp: writeTo(path, offset), take(rows), toFloat32Array().
  Napi::Value WriteTo(const Napi::CallbackInfo& info);
  Napi::Value Take(const Napi::CallbackInfo& info);
  Napi::Value ToFloat32Array(const Napi::CallbackInfo& info);
  // The matrix, or a JobBERT ERR_DISPOSED error naming `what`.
  const MatrixArg& live(Napi::Env env, const std::string& what) const;
  void release(Napi::Env env);

  MatrixArg matrix_;
  int64_t accounted_ = 0;  // bytes reported to V8 as external memory
};
// Reads a Float32Array of exactly `length` elements.
std::vector<float> copyVector(const Napi::Value& v, const char* name, int64_t length);
// A copy of an Int32Array argument (TypeError naming `name` otherwise).
std::vector<int32_t> copyInt32(const Napi::Value& v, const char* name);
// The largest rows or cols a matrix may have (2^31 - 1: row indices are int32).
constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;
// Reads a non-empty file path without NUL characters.
std::string readPath(const Napi::Value& v, const char* name);

// A float32 matrix stored in a file: (path, offset, rows, cols, checksum | null),
// the arguments of residentFromFile and quantizedFromFile (info[first..first+4]).
struct FileRange {
  std::string path;
  uint64_t offset = 0;
  int64_t rows = 0, cols = 0;
  bool verify = false;    // a checksum was given
  uint64_t expected = 0;  // that checksum
};
FileRange readFileRange(const Napi::CallbackInfo& info, size_t first = 0);
// Reads an integer in [min, max].
int64_t readInteger(const Napi::Value& v, const char* name, int64_t min, int64_t max);
// Reads a finite number.
double readNumber(const Napi::Value& v, const char* name);
// Reads a string that must be one of `choices`; returns its index.
int readChoice(const Napi::Value& v, const char* name, const std::vector<const char*>& choices);

// The strings of an array, their UTF-16 units one after another: string s
// is units[starts[s] .. starts[s + 1]).
struct Utf16List {
  std::vector<char16_t> units;
  std::vector<int64_t> starts;
  int64_t count() const { return int64_t(starts.size()) - 1; }
};
// Reads an array of strings (TypeError naming `name` or `name`[i]).
Utf16List readStrings(const Napi::Value& v, const char* name);

// The elements of a caller's output array `v`: a Float32Array of exactly
// `length` elements on a plain (not shared, not detached) ArrayBuffer, else a
// TypeError / RangeError naming `name`. The caller keeps a reference to v for
// as long as native code may write the memory.
float* outputFloats(const Napi::Value& v, const char* name, int64_t length);
// Allocates an uninitialised output, refusing sizes over the per-buffer cap.
OwnedFloats allocateFloats(int64_t count);
// Throws a Napi::RangeError naming `what` when count floats exceed the cap
// (main thread, before any work is queued).
void checkOutputSize(Napi::Env env, int64_t count, const char* what);

// Wraps native memory in a typed array without copying (ownership moves to JS,
// and the bytes are reported to V8 so its GC sees the pressure).
Napi::Float32Array toFloat32Array(Napi::Env env, OwnedFloats&& floats);
Napi::Int32Array toInt32Array(Napi::Env env, std::unique_ptr<int32_t[]>&& data, int64_t size);

// Per-addon-instance state (worker threads may load the addon more than once).
struct AddonData {
  Napi::FunctionReference residentMatrix;
  // Set by ResidentMatrix::Adopt for the duration of its constructor call: the
  // constructor takes this matrix when handed an External pointing at it (JS
  // cannot make such an External, so it cannot forge an adoption).
  MatrixArg* adopting = nullptr;
  // The same for DeviceMatrix (bindings/device.cpp), which JS cannot construct.
  Napi::FunctionReference deviceMatrix;
  std::shared_ptr<const cuda::DeviceMatrix>* adoptingDevice = nullptr;
};

// Builds the JS error for a failed Status: TypeError, RangeError or an Error
// with a `code` (ERR_OUT_OF_MEMORY, ERR_UNAVAILABLE, ERR_IO, ERR_CORRUPT,
// ERR_INTERNAL). kUnavailable takes `unavailableCode` (ERR_CUDA_UNAVAILABLE for
// the cuda:: entry points).
Napi::Error toError(Napi::Env env, const Status& status, const char* unavailableCode = "ERR_UNAVAILABLE");

}  // namespace jobbert::bindings
