// Kernel launches and dynamic shared memory written once for both builds:
// nvcc (real GPU) and the CPU emulator (native/cuda/emu, JOBBERT_CUDA_EMU),
// which compiles these same .cu files as C++ so CI can run every kernel.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#ifdef JOBBERT_CUDA_EMU
#define JOBBERT_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(::emu::dynamicShared())
#else
#define JOBBERT_DYNAMIC_SHARED(type, name)                   \
  extern __shared__ __align__(16) unsigned char name##Raw[]; \
  type* name = reinterpret_cast<type*>(name##Raw)
#endif

namespace jobbert::cuda {

// kernel<<<grid, block, sharedBytes, stream>>>(args...), then the launch's error.
template <class... Params, class... Args>
cudaError_t launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream,
                   Args&&... args) {
#ifdef JOBBERT_CUDA_EMU
  return ::emu::launchKernel(kernel, grid, block, sharedBytes, stream, std::forward<Args>(args)...);
#else
  kernel<<<grid, block, sharedBytes, stream>>>(std::forward<Args>(args)...);
  return cudaGetLastError();
#endif
}

}  // namespace jobbert::cuda
