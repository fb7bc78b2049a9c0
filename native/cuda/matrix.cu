// Device memory for the CUDA kernels: per-call streams and buffers (Call),
// operands staged on the device (stage), and resident matrices (DeviceMatrix).
// Argument checks run on the host with the CPU core's own checks, so both
// backends refuse the same inputs with the same messages.
#include <cuda_runtime.h>

#include <cmath>
#include <string>

#include "checks.h"
#include "common.cuh"
#include "guard.h"

namespace jobbert::cuda {

Status cudaStatus(cudaError_t err, const char* what) {
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so later calls proceed
    return Status::OutOfMemory(std::string("GPU out of memory while allocating ") + what);
  }
  return Status::Internal(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(err) + ": " +
                          cudaGetErrorString(err));
}

Call::~Call() {
  // Stream-ordered frees run after any work still queued (an early return on
  // an error); the one sync then leaves nothing of this call on the device.
  for (void* p : buffers_) cudaFreeAsync(p, stream_);
  if (stream_) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

Status Call::begin() {
  JOBBERT_TRY(available());
  JOBBERT_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
  return Status::Ok();
}

Status Call::allocBytes(void** out, size_t bytes, const char* what) {
  *out = nullptr;
  if (bytes == 0) bytes = 16;  // a valid pointer for empty operands
  cudaError_t err = cudaMallocAsync(out, bytes, stream_);
  if (err != cudaSuccess) {
    *out = nullptr;
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return Status::OutOfMemory("GPU out of memory: " + std::string(what) + " needs " + std::to_string(bytes) +
                                 " bytes");
    }
    return cudaStatus(err, what);
  }
  buffers_.push_back(*out);
  return Status::Ok();
}

Status Call::download(void* host, const void* device, size_t bytes, const char* what) {
  if (bytes) JOBBERT_CUDA_TRY(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_), what);
  return finish(what);
}

Status Call::finish(const char* what) {
  JOBBERT_CUDA_TRY(cudaStreamSynchronize(stream_), what);
  return Status::Ok();
}

namespace {

Status zeroRow(const char* name, int64_t row) {
  return Status::Range(std::string(name) + " row " + std::to_string(row) + kZeroVector);
}

}  // namespace

Status stage(Call& call, const Operand& op, const char* name, bool withNorms, DeviceView* out, int64_t minRows) {
  if (op.device) {
    const DeviceMatrix& m = *op.device;
    if (m.rows() < minRows)
      return Status::Range(std::string(name) + " must have at least " + std::to_string(minRows) + " row(s); received " +
                           std::to_string(m.rows()));
    int current = 0;
    JOBBERT_CUDA_TRY(cudaGetDevice(&current), "cudaGetDevice");
    if (m.device() != current)
      return Status::Range(std::string(name) + " lives on CUDA device " + std::to_string(m.device()) +
                           " but this call runs on device " + std::to_string(current));
    if (withNorms && m.firstZeroRow() >= 0) return zeroRow(name, m.firstZeroRow());
    *out = {m.data(), withNorms ? m.inverseNorms() : nullptr, int(m.rows()), int(m.cols())};
    return Status::Ok();
  }
  const ConstMatrix& h = op.host;
  JOBBERT_TRY(checkShape(h, name, minRows));
  if (h.rows > kMaxRows) return Status::Range(std::string(name) + " must have at most 2^30 rows on CUDA");
  return guarded("staging an operand", [&]() -> Status {
    DeviceView v{nullptr, nullptr, int(h.rows), int(h.cols)};
    if (withNorms) {
      std::vector<float> inv(static_cast<size_t>(h.rows));
      JOBBERT_TRY(inverseRowNorms(h, name, inv.data()));
      float* norms = nullptr;
      // A copy from pageable memory has read `inv` into staging memory by the
      // time cudaMemcpyAsync returns, so it may go out of scope without a sync.
      JOBBERT_TRY(call.upload(&norms, inv.data(), h.rows, name));
      v.inverseNorms = norms;
    } else {
      JOBBERT_TRY(checkFinite(h, name));
    }
    float* data = nullptr;
    JOBBERT_TRY(call.upload(&data, h.data, h.rows * h.cols, name));
    v.data = data;
    *out = v;
    return Status::Ok();
  });
}

Status DeviceMatrix::upload(const ConstMatrix& host, const char* name, std::shared_ptr<DeviceMatrix>* out) {
  if (!out) return Status::Type("upload needs an output");
  out->reset();
  JOBBERT_TRY(available());
  JOBBERT_TRY(checkShape(host, name, 1));
  if (host.rows > kMaxRows) return Status::Range(std::string(name) + " must have at most 2^30 rows on CUDA");
  return guarded("DeviceMatrix::upload", [&]() -> Status {
    // One pass for the norms; only when it finds a bad row is it told apart:
    // a non-finite value (refused) or a zero row (allowed, remembered).
    std::vector<float> inv(static_cast<size_t>(host.rows));
    int64_t firstZero = -1;
    if (!inverseRowNorms(host, name, inv.data()).ok()) {
      JOBBERT_TRY(checkFinite(host, name));
      for (int64_t r = 0; r < host.rows && firstZero < 0; ++r)
        if (inv[r] == 0.0f) firstZero = r;
    }
    std::shared_ptr<DeviceMatrix> m(new DeviceMatrix());
    m->rows_ = host.rows, m->cols_ = host.cols, m->firstZeroRow_ = firstZero;
    JOBBERT_CUDA_TRY(cudaGetDevice(&m->device_), "cudaGetDevice");
    const size_t bytes = static_cast<size_t>(host.rows * host.cols) * sizeof(float);
    cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&m->data_), bytes);
    if (err == cudaSuccess) err = cudaMalloc(reinterpret_cast<void**>(&m->inverseNorms_), inv.size() * sizeof(float));
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return Status::OutOfMemory("GPU out of memory: " + std::string(name) + " needs " + std::to_string(bytes) +
                                 " bytes on the device");
    }
    JOBBERT_CUDA_TRY(err, "allocating a device matrix");
    JOBBERT_CUDA_TRY(cudaMemcpy(m->data_, host.data, bytes, cudaMemcpyHostToDevice), "uploading a matrix");
    JOBBERT_CUDA_TRY(cudaMemcpy(m->inverseNorms_, inv.data(), inv.size() * sizeof(float), cudaMemcpyHostToDevice),
                     "uploading a matrix");
    *out = std::move(m);
    return Status::Ok();
  });
}

DeviceMatrix::~DeviceMatrix() {
  if (data_) cudaFree(data_);
  if (inverseNorms_) cudaFree(inverseNorms_);
}

Status DeviceMatrix::download(float* host) const {
  if (!host) return Status::Type("download needs an output buffer");
  JOBBERT_CUDA_TRY(cudaMemcpy(host, data_, static_cast<size_t>(rows_ * cols_) * sizeof(float), cudaMemcpyDeviceToHost),
                   "downloading a matrix");
  return Status::Ok();
}

}  // namespace jobbert::cuda
