// jobbert CUDA kernels: the semantics of kernels.h (dense, denseBackward,
// infoNCE, topK) on a GPU, plus matrices kept in GPU memory across calls.
//
// Plain C++ header: callers need no CUDA headers. Every function returns a
// Status and never throws. A build without CUDA links native/cuda/unavailable.cpp, whose
// functions return StatusCode::kUnavailable, so callers need no #ifdefs.
//
// Host pointers in, host pointers out: each call copies host operands to the
// device, runs on a stream of its own, copies the results back and waits for
// that stream only. Calls are thread-safe and may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "jobbert/kernels.h"

namespace jobbert::cuda {

// Inputs and outputs are fp32 at every precision; the precision says what the
// tensor cores multiply (products accumulate in fp32 always).
//   kFp32: fp32 FMA on the CUDA cores (no tensor cores).
//   kTf32: operands rounded to tf32 (10-bit mantissa), tensor cores.
//   kBf16: operands rounded to bf16 (7-bit mantissa), tensor cores.
enum class Precision { kFp32 = 0, kTf32 = 1, kBf16 = 2 };
inline const char* precisionName(Precision precision) {
  switch (precision) {
    case Precision::kFp32: return "fp32";
    case Precision::kTf32: return "tf32";
    case Precision::kBf16: return "bf16";
  }
  return "?";
}

// Ok when this build has CUDA and a device runs kernels; otherwise
// kUnavailable with the reason ("this build has no CUDA backend", "no CUDA
// device", the driver's error text).
Status available();

// Number of usable CUDA devices; 0 without a build, driver or device.
int deviceCount();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)", or the CUDA error text.
std::string deviceDescription(int device);

// A row-major float32 matrix in GPU memory, immutable once uploaded (a search
// corpus, a layer's weights). Freed when the last shared_ptr goes.
class DeviceMatrix {
 public:
  // Copies `host` to the current device. Refuses NaN/±Infinity (kRangeError
  // naming `name`); zero rows are allowed here and refused by kernels that use
  // cosine. kOutOfMemory when the device is full.
  static Status upload(const ConstMatrix& host, const char* name, std::shared_ptr<DeviceMatrix>* out);
  ~DeviceMatrix();
  DeviceMatrix(const DeviceMatrix&) = delete;
  DeviceMatrix& operator=(const DeviceMatrix&) = delete;

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int device() const { return device_; }
  // Index of the first all-zero row, or -1.
  int64_t firstZeroRow() const { return firstZeroRow_; }
  // Copies the matrix back into `host` (rows × cols floats).
  Status download(float* host) const;

  // Device pointers, for the kernels in native/cuda.
  const float* data() const { return data_; }
  const float* inverseNorms() const { return inverseNorms_; }  // [rows]; 0 for zero rows

 private:
  DeviceMatrix() = default;
  float* data_ = nullptr;
  float* inverseNorms_ = nullptr;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int device_ = 0;
  int64_t firstZeroRow_ = -1;
};

// A kernel argument: a host matrix, copied to the device for the call, or a
// resident DeviceMatrix (used when set, and never copied).
struct Operand {
  ConstMatrix host;
  std::shared_ptr<const DeviceMatrix> device;

  int64_t rows() const { return device ? device->rows() : host.rows; }
  int64_t cols() const { return device ? device->cols() : host.cols; }
};

// y[m×out] = act(x[m×in] · weightᵀ + bias).
struct DenseParams {
  Operand x;
  Operand weight;               // [out × in]
  const float* bias = nullptr;  // host, [out] or null
  Activation activation = Activation::kIdentity;
  Precision precision = Precision::kFp32;
  float* y = nullptr;  // host, [m × out]
};
Status denseForward(const DenseParams& p);

struct DenseBackwardParams {
  Operand x;       // [m × in]
  Operand weight;  // [out × in]
  Operand y;       // [m × out], the forward output
  Operand gradY;   // [m × out]
  Activation activation = Activation::kIdentity;
  Precision precision = Precision::kFp32;
  float* gradX = nullptr;       // host, [m × in]
  float* gradWeight = nullptr;  // host, [out × in]
  float* gradBias = nullptr;    // host, [out]
};
Status denseBackward(const DenseBackwardParams& p);

// As jobbert::infoNCE: memory O((B+N)·d), logits recomputed tile by tile.
struct InfoNCEParams {
  Operand anchors;    // [B × d]
  Operand positives;  // [B × d]
  Operand negatives;  // [N × d], rows may be 0
  float scale = 20.0f;
  bool symmetric = false;
  Precision precision = Precision::kFp32;
  double* loss = nullptr;
  float* gradAnchors = nullptr;    // host, [B × d]
  float* gradPositives = nullptr;  // host, [B × d]
  float* gradNegatives = nullptr;  // host, [N × d], may be null when N == 0
};
Status infoNCE(const InfoNCEParams& p);

// As jobbert::topK: best first, ties to the lower index, k in [1, min(corpus.rows, kMaxTopK)].
constexpr int64_t kMaxTopK = 2048;
struct TopKParams {
  Operand queries;  // [Q × d]
  Operand corpus;   // [N × d]
  int64_t k = 10;
  Metric metric = Metric::kCosine;
  Precision precision = Precision::kFp32;
  int32_t* indices = nullptr;  // host, [Q × k]
  float* scores = nullptr;     // host, [Q × k]
};
Status topK(const TopKParams& p);

}  // namespace jobbert::cuda
