// Argument unpacking for the N-API glue: every check a call from JavaScript
// needs before native code may touch its buffers. Failures throw
// Napi::TypeError / Napi::RangeError whose message names the argument.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jobbert/kernels.h"

namespace jobbert::bindings {

// Float buffer owned by native code, handed to JS without a copy when done.
struct OwnedFloats {
  std::unique_ptr<float[]> data;
  int64_t size = 0;
};

// A matrix argument copied out of JS memory, so later changes to (or the
// transfer of) the caller's buffer cannot reach the running kernel.
struct MatrixCopy {
  std::vector<float> values;
  int64_t rows = 0, cols = 0;
  ConstMatrix view() const { return {values.data(), rows, cols}; }
};

// Reads { data: Float32Array, rows, cols } (row-major, data.length == rows·cols).
MatrixCopy copyMatrix(const Napi::Value& v, const char* name, bool allowEmpty = false);
// Reads a Float32Array of exactly `length` elements.
std::vector<float> copyVector(const Napi::Value& v, const char* name, int64_t length);
// Reads an integer in [min, max].
int64_t readInteger(const Napi::Value& v, const char* name, int64_t min, int64_t max);
// Reads a finite number.
double readNumber(const Napi::Value& v, const char* name);
// Reads a string that must be one of `choices`; returns its index.
int readChoice(const Napi::Value& v, const char* name, const std::vector<const char*>& choices);

// Allocates an uninitialised output, refusing sizes over the per-buffer cap.
OwnedFloats allocateFloats(int64_t count);
// Throws a Napi::RangeError naming `what` when count floats exceed the cap
// (main thread, before any work is queued).
void checkOutputSize(Napi::Env env, int64_t count, const char* what);

// Wraps native memory in a Float32Array without copying (ownership moves to JS).
Napi::Float32Array toFloat32Array(Napi::Env env, OwnedFloats&& floats);
Napi::Int32Array toInt32Array(Napi::Env env, std::unique_ptr<int32_t[]>&& data, int64_t size);

// Builds the JS error for a failed Status: TypeError, RangeError or an Error
// with a `code` (ERR_OUT_OF_MEMORY, ERR_UNAVAILABLE, ERR_INTERNAL).
Napi::Error toError(Napi::Env env, const Status& status);

}  // namespace jobbert::bindings
