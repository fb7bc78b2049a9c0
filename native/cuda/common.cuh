// Host-side plumbing shared by the CUDA kernels: CUDA errors as Status, one
// stream and its allocations per call, and operands staged on the device.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jobbert/cuda.h"

namespace jobbert::cuda {

// A CUDA error as a Status: allocation failures are kOutOfMemory, the rest
// kInternal naming the step that failed.
Status cudaStatus(cudaError_t err, const char* what);

#define JOBBERT_CUDA_TRY(expr, what)                                      \
  do {                                                                    \
    cudaError_t jobbertErr_ = (expr);                                     \
    if (jobbertErr_ != cudaSuccess) return cudaStatus(jobbertErr_, what); \
  } while (0)

#define JOBBERT_TRY(expr)                            \
  do {                                               \
    Status jobbertStatus_ = (expr);                  \
    if (!jobbertStatus_.ok()) return jobbertStatus_; \
  } while (0)

// One kernel call: a stream of its own and the device memory it allocates,
// all released (after the stream drains) when the call goes out of scope.
class Call {
 public:
  Call() = default;
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Checks that CUDA is available and creates the stream.
  Status begin();
  cudaStream_t stream() const { return stream_; }

  // count elements of T on the device, stream-ordered; `what` names the buffer in errors.
  template <class T>
  Status alloc(T** out, int64_t count, const char* what) {
    return allocBytes(reinterpret_cast<void**>(out), static_cast<size_t>(count) * sizeof(T), what);
  }
  // Copies host → a new device buffer.
  template <class T>
  Status upload(T** out, const T* host, int64_t count, const char* what) {
    JOBBERT_TRY(alloc(out, count, what));
    JOBBERT_CUDA_TRY(
        cudaMemcpyAsync(*out, host, static_cast<size_t>(count) * sizeof(T), cudaMemcpyHostToDevice, stream_), what);
    return Status::Ok();
  }
  // Copies device → host and waits for the stream.
  Status download(void* host, const void* device, size_t bytes, const char* what);
  // Waits for the stream; reports a kernel fault.
  Status finish(const char* what);

 private:
  Status allocBytes(void** out, size_t bytes, const char* what);
  cudaStream_t stream_ = nullptr;
  std::vector<void*> buffers_;
};

// An operand on the device for one call: data plus, when asked for, the
// inverse row norms (cosine). Resident matrices are used in place.
struct DeviceView {
  const float* data = nullptr;
  const float* inverseNorms = nullptr;  // [rows] or null
  int rows = 0;
  int cols = 0;
};

// Checks an operand's shape (rows >= minRows, cols >= 1) and finiteness (host
// operands: on the host, before the copy; resident ones were checked at upload)
// and puts it on the device. withNorms: also 1/‖row‖, refusing zero rows.
Status stage(Call& call, const Operand& op, const char* name, bool withNorms, DeviceView* out, int64_t minRows = 1);

// Dimensions the kernels index with 32-bit ints.
constexpr int64_t kMaxRows = int64_t(1) << 30;

}  // namespace jobbert::cuda
