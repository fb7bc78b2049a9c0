// Device discovery and the availability check: which device the kernels use,
// and whether a trivial kernel really runs there (a driver can list a device
// that cannot run this build's code, e.g. an architecture it was not built for).
#include <cuda_runtime.h>

#include <cstdio>
#include <mutex>

#include "jobbert/cuda.h"
#include "launch.cuh"

namespace jobbert::cuda {
namespace {

__global__ void iotaKernel(int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i * 3 + 1;
}

// Launches iotaKernel and reads its result back.
Status selfTest() {
  constexpr int n = 1000;
  int* device = nullptr;
  int host[n];
  auto fail = [&](cudaError_t err) {
    if (device) cudaFree(device);
    cudaGetLastError();
    return Status::Unavailable(std::string("the CUDA self-test failed: ") + cudaGetErrorString(err));
  };
  if (cudaError_t err = cudaMalloc(&device, n * sizeof(int)); err != cudaSuccess) return fail(err);
  if (cudaError_t err = launch(iotaKernel, dim3((n + 255) / 256), dim3(256), 0, nullptr, device, n); err != cudaSuccess)
    return fail(err);
  if (cudaError_t err = cudaMemcpy(host, device, sizeof host, cudaMemcpyDeviceToHost); err != cudaSuccess)
    return fail(err);
  cudaFree(device);
  for (int i = 0; i < n; ++i)
    if (host[i] != i * 3 + 1) return Status::Unavailable("the CUDA self-test kernel wrote wrong values");
  return Status::Ok();
}

}  // namespace

int deviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

std::string deviceDescription(int device) {
  cudaDeviceProp prop{};
  cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) return cudaGetErrorString(err);
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                prop.totalGlobalMem / double(1 << 30));
  return buf;
}

Status available() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    if (deviceCount() == 0) {
      status = Status::Unavailable("no CUDA device is present (or no driver)");
      return;
    }
    status = selfTest();
  });
  return status;
}

}  // namespace jobbert::cuda
