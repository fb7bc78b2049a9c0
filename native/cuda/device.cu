// Device discovery and a launch self-test: the smallest CUDA translation unit
// that proves .cu files compile, link (static cudart) and run.
#include <cuda_runtime.h>

#include <cstdio>

#include "device.h"

namespace jobbert::cuda {
namespace {

__global__ void iotaKernel(int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i * 3 + 1;
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

bool selfTest(std::string* error) {
  constexpr int n = 1000;
  int* device = nullptr;
  int host[n];
  auto fail = [&](cudaError_t err) {
    if (error) *error = cudaGetErrorString(err);
    if (device) cudaFree(device);
    return false;
  };
  if (cudaError_t err = cudaMalloc(&device, n * sizeof(int)); err != cudaSuccess) return fail(err);
  iotaKernel<<<(n + 255) / 256, 256>>>(device, n);
  if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) return fail(err);
  if (cudaError_t err = cudaMemcpy(host, device, sizeof host, cudaMemcpyDeviceToHost); err != cudaSuccess)
    return fail(err);
  cudaFree(device);
  for (int i = 0; i < n; ++i) {
    if (host[i] != i * 3 + 1) {
      if (error) *error = "kernel wrote wrong values";
      return false;
    }
  }
  return true;
}

}  // namespace jobbert::cuda
