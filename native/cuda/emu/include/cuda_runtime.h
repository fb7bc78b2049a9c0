// CPU emulator of the CUDA runtime (native/cuda/emu): lets the .cu files in
// native/cuda compile as plain C++ (g++ -std=c++17, JOBBERT_CUDA_EMU) and run
// on the CPU, so kernels are tested on machines without a GPU.
//
// Execution model: one OS thread. A launch runs synchronously, block after
// block; the threads of a block are cooperative fibers that switch only at
// __syncthreads and at warp collectives (shuffles, votes, __syncwarp), so the
// emulator is deterministic. Device memory is host memory with red zones and a
// NaN fill (see emu.cpp), checked after every kernel.
//
// Not emulated: inline PTX (asm), cp.async / TMA / mbarrier, cooperative
// groups, <<<>>> (use jobbert::cuda::launch), `extern __shared__` (use
// JOBBERT_DYNAMIC_SHARED), textures, graphs, dynamic parallelism; __CUDA_ARCH__
// and __CUDACC__ are not defined.
#pragma once

// Standard headers first: libstdc++ spells __attribute__((__noinline__)), which
// must be parsed before __noinline__ becomes a macro below.
#include <math.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

// ---------------------------------------------------------------- keywords
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __grid_constant__
#define __managed__
#define __constant__
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one at a time on one OS thread, so a function-local static is
// exactly one block's shared memory (it keeps the previous block's values
// instead of being undefined).
#define __shared__ static

// ---------------------------------------------------------------- vector types
#define EMU_VECTOR2(T, name, align)             \
  struct __attribute__((aligned(align))) name { \
    T x, y;                                     \
  };                                            \
  inline name make_##name(T x, T y) { return name{x, y}; }
#define EMU_VECTOR3(T, name) \
  struct name {              \
    T x, y, z;               \
  };                         \
  inline name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define EMU_VECTOR4(T, name, align)             \
  struct __attribute__((aligned(align))) name { \
    T x, y, z, w;                               \
  };                                            \
  inline name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

EMU_VECTOR2(signed char, char2, 2)
EMU_VECTOR4(signed char, char4, 4)
EMU_VECTOR2(unsigned char, uchar2, 2)
EMU_VECTOR4(unsigned char, uchar4, 4)
EMU_VECTOR2(short, short2, 4)
EMU_VECTOR4(short, short4, 8)
EMU_VECTOR2(unsigned short, ushort2, 4)
EMU_VECTOR4(unsigned short, ushort4, 8)
EMU_VECTOR2(int, int2, 8)
EMU_VECTOR3(int, int3)
EMU_VECTOR4(int, int4, 16)
EMU_VECTOR2(unsigned int, uint2, 8)
EMU_VECTOR3(unsigned int, uint3)
EMU_VECTOR4(unsigned int, uint4, 16)
EMU_VECTOR2(long long, longlong2, 16)
EMU_VECTOR2(unsigned long long, ulonglong2, 16)
EMU_VECTOR2(float, float2, 8)
EMU_VECTOR3(float, float3)
EMU_VECTOR4(float, float4, 16)
EMU_VECTOR2(double, double2, 16)
#undef EMU_VECTOR2
#undef EMU_VECTOR3
#undef EMU_VECTOR4
static_assert(sizeof(float4) == 16 && alignof(float4) == 16, "float4 as in CUDA");
static_assert(alignof(float2) == 8 && alignof(int4) == 16, "vector alignment as in CUDA");

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

// ---------------------------------------------------------------- built-in variables
// Set by the scheduler before it switches into a thread's fiber.
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
constexpr int warpSize = 32;

// ---------------------------------------------------------------- runtime API types
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidPitchValue = 12,
  cudaErrorInvalidSymbol = 13,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorUnknown = 999,
};
typedef cudaError_t cudaError;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxBlockDimX = 2,
  cudaDevAttrMaxGridDimX = 5,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrTotalConstantMemory = 9,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMaxRegistersPerBlock = 12,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrConcurrentKernels = 31,
  cudaDevAttrL2CacheSize = 38,
  cudaDevAttrMaxThreadsPerMultiProcessor = 39,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
  cudaDevAttrMaxBlocksPerMultiprocessor = 106,
  cudaDevAttrMemoryPoolsSupported = 115,
};

// The commonly used fields of the real cudaDeviceProp (same names and types).
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  size_t totalConstMem;
  int major;
  int minor;
  size_t textureAlignment;
  int multiProcessorCount;
  int integrated;
  int canMapHostMemory;
  int concurrentKernels;
  int ECCEnabled;
  int pciBusID;
  int pciDeviceID;
  int pciDomainID;
  int asyncEngineCount;
  int unifiedAddressing;
  int memoryBusWidth;
  int l2CacheSize;
  int persistingL2CacheMaxSize;
  int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  int managedMemory;
  int cooperativeLaunch;
  size_t sharedMemPerBlockOptin;
  int maxBlocksPerMultiProcessor;
  size_t reservedSharedMemPerBlock;
  int memoryPoolsSupported;
};

struct cudaFuncAttributes {
  size_t sharedSizeBytes;
  size_t constSizeBytes;
  size_t localSizeBytes;
  int maxThreadsPerBlock;
  int numRegs;
  int ptxVersion;
  int binaryVersion;
  int maxDynamicSharedSizeBytes;
};

typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
typedef void (*cudaHostFn_t)(void* userData);
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01
#define cudaHostAllocMapped 0x02
#define cudaHostAllocWriteCombined 0x04

// ---------------------------------------------------------------- runtime API
// Everything is synchronous; streams and events exist for their handles.
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();

cudaError_t cudaGetDeviceCount(int* count);  // 1; 0 and cudaErrorNoDevice when JOBBERT_EMU_DEVICES=0
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaMemGetInfo(size_t* free, size_t* total);

// Device memory: at most JOBBERT_EMU_MEMORY_MB (default 4096) in all, 256-byte
// aligned, filled with 0xFF (NaN), red zones on both sides.
cudaError_t cudaMalloc(void** devPtr, size_t size);
cudaError_t cudaMallocAsync(void** devPtr, size_t size, cudaStream_t stream);
cudaError_t cudaFree(void* devPtr);
cudaError_t cudaFreeAsync(void* devPtr, cudaStream_t stream);
cudaError_t cudaMallocHost(void** ptr, size_t size);
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int flags);
cudaError_t cudaFreeHost(void* ptr);
template <class T>
__attribute__((always_inline)) inline cudaError_t cudaMalloc(T** devPtr, size_t size) {
  return cudaMalloc(reinterpret_cast<void**>(devPtr), size);
}
template <class T>
__attribute__((always_inline)) inline cudaError_t cudaMallocAsync(T** devPtr, size_t size, cudaStream_t stream) {
  return cudaMallocAsync(reinterpret_cast<void**>(devPtr), size, stream);
}
template <class T>
inline cudaError_t cudaMallocHost(T** ptr, size_t size) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), size);
}
template <class T>
inline cudaError_t cudaHostAlloc(T** ptr, size_t size, unsigned int flags) {
  return cudaHostAlloc(reinterpret_cast<void**>(ptr), size, flags);
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind);
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemset(void* devPtr, int value, size_t count);
cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream = 0);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags = 0);
cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* userData);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);  // wall clock
cudaError_t cudaEventDestroy(cudaEvent_t event);

// Kernel attributes, keyed by the kernel's address.
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func);
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, const void* func, int blockSize,
                                                          size_t dynamicSMemSize);
template <class T>
inline cudaError_t cudaFuncSetAttribute(T* entry, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(entry), attr, value);
}
template <class T>
inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, T* entry) {
  return cudaFuncGetAttributes(attr, reinterpret_cast<const void*>(entry));
}
template <class T>
inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, T* func, int blockSize,
                                                                 size_t dynamicSMemSize) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(numBlocks, reinterpret_cast<const void*>(func), blockSize,
                                                       dynamicSMemSize);
}

// __constant__ / __device__ variables are plain globals.
template <class T>
inline cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t count, size_t offset = 0,
                                      cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  if (offset + count > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(reinterpret_cast<unsigned char*>(&symbol) + offset, src, count);
  return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t count, size_t offset = 0,
                                        cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
  if (offset + count > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(dst, reinterpret_cast<const unsigned char*>(&symbol) + offset, count);
  return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMemcpyToSymbolAsync(T& symbol, const void* src, size_t count, size_t offset = 0,
                                           cudaMemcpyKind kind = cudaMemcpyHostToDevice, cudaStream_t = 0) {
  return cudaMemcpyToSymbol(symbol, src, count, offset, kind);
}

// ---------------------------------------------------------------- emulator internals
namespace emu {
namespace detail {

using KernelBody = void (*)(void* state);
// Runs body(state) as every thread of every block after checking the
// configuration like the hardware, then checkArguments(state). `kernel` keys
// cudaFuncSetAttribute and names the kernel in messages; `signature` is
// launchKernel's __PRETTY_FUNCTION__.
cudaError_t launch(const void* kernel, const char* signature, dim3 grid, dim3 block, size_t sharedBytes,
                   cudaStream_t stream, KernelBody body, KernelBody checkArguments, void* state);

// Aborts unless p (the index-th argument, from 1) is null, in a device buffer
// or in cudaMallocHost memory.
void checkPointerArgument(const void* kernel, const char* signature, int index, const void* p);
template <class T>
inline void checkArgument(const void* kernel, const char* signature, int index, const T& value) {
  if constexpr (std::is_pointer<T>::value && !std::is_function<std::remove_pointer_t<T>>::value)
    checkPointerArgument(kernel, signature, index, const_cast<const void*>(static_cast<const volatile void*>(value)));
}

enum class Op : int {
  kSyncWarp,
  kShflIdx,
  kShflUp,
  kShflDown,
  kShflXor,
  kBallot,
  kAny,
  kAll,
  kReduceAdd,
  kReduceMin,
  kReduceMax,
  kReduceAnd,
  kReduceOr,
  kReduceXor,
  kMatchAny,
  kMatchAll,
};
// A warp collective: the calling lane waits until every lane of `mask` has
// called the same collective, then gets its result. `value` holds the lane's
// operand bits (zero-extended), `arg` the source lane / delta / lane mask.
unsigned long long warpCollective(Op op, unsigned mask, unsigned long long value, int arg = 0, int width = 32,
                                  bool isSigned = false, int* pred = nullptr);
enum class BlockOp : int { kSync, kCount, kAnd, kOr };
int blockBarrier(BlockOp op, int predicate);
unsigned activeMask();
[[noreturn]] void trap(const char* what);
long long clockNs();

template <class T>
inline unsigned long long toBits(T v) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "warp collectives move at most 8 bytes");
  unsigned long long bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
inline T fromBits(unsigned long long bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

}  // namespace detail

// Dynamic shared memory of the running block: sharedBytes bytes, 128-byte
// aligned, filled with 0xFF (NaN) at each block's start, red zones around it.
unsigned char* dynamicShared();

// kernel<<<grid, block, sharedBytes, stream>>>(args...): the arguments are
// converted to the kernel's parameter types once, and every thread gets its own
// copies. Returns the launch's error (also cudaGetLastError's). A pointer
// argument that is not device memory (nor cudaMallocHost memory) aborts.
template <class... Params, class... Args>
cudaError_t launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream,
                         Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "wrong number of kernel arguments");
  using Tuple = std::tuple<std::decay_t<Params>...>;
  struct State {
    void (*kernel)(Params...);
    const char* signature;
    Tuple args;
  } state{kernel, __PRETTY_FUNCTION__, Tuple(std::forward<Args>(args)...)};
  detail::KernelBody body = [](void* p) {
    State* s = static_cast<State*>(p);
    std::apply(s->kernel, s->args);  // copies each argument into the thread's parameters
  };
  detail::KernelBody checkArguments = [](void* p) {
    State* s = static_cast<State*>(p);
    std::apply(
        [&](const auto&... a) {
          int index = 0;
          (detail::checkArgument(reinterpret_cast<const void*>(s->kernel), s->signature, ++index, a), ...);
          (void)index;
        },
        s->args);
  };
  return detail::launch(reinterpret_cast<const void*>(kernel), state.signature, grid, block, sharedBytes, stream, body,
                        checkArguments, &state);
}

}  // namespace emu

// ---------------------------------------------------------------- synchronization
// A thread that has returned counts as arrived (as on sm_70 and later).
inline void __syncthreads() { emu::detail::blockBarrier(emu::detail::BlockOp::kSync, 0); }
inline int __syncthreads_count(int p) { return emu::detail::blockBarrier(emu::detail::BlockOp::kCount, p); }
inline int __syncthreads_and(int p) { return emu::detail::blockBarrier(emu::detail::BlockOp::kAnd, p); }
inline int __syncthreads_or(int p) { return emu::detail::blockBarrier(emu::detail::BlockOp::kOr, p); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::detail::warpCollective(emu::detail::Op::kSyncWarp, mask, 0);
}
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline void __nanosleep(unsigned) {}
inline long long clock64() { return emu::detail::clockNs(); }
[[noreturn]] inline void __trap() { emu::detail::trap("__trap()"); }

// ---------------------------------------------------------------- warp collectives
// The lanes of `mask` must call the same collective together; a lane of the
// mask that has exited aborts (undefined on hardware). Reading a lane that is
// outside the mask or beyond blockDim yields all-ones bits (NaN, -1).
// __activemask() is every lane that has not exited (divergence is not tracked).
template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize) {
  using namespace emu::detail;
  return fromBits<T>(warpCollective(Op::kShflIdx, mask, toBits(var), srcLane, width));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned int delta, int width = warpSize) {
  using namespace emu::detail;
  return fromBits<T>(warpCollective(Op::kShflUp, mask, toBits(var), int(delta), width));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned int delta, int width = warpSize) {
  using namespace emu::detail;
  return fromBits<T>(warpCollective(Op::kShflDown, mask, toBits(var), int(delta), width));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize) {
  using namespace emu::detail;
  return fromBits<T>(warpCollective(Op::kShflXor, mask, toBits(var), laneMask, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return unsigned(emu::detail::warpCollective(emu::detail::Op::kBallot, mask, predicate != 0));
}
inline int __any_sync(unsigned mask, int predicate) {
  return int(emu::detail::warpCollective(emu::detail::Op::kAny, mask, predicate != 0));
}
inline int __all_sync(unsigned mask, int predicate) {
  return int(emu::detail::warpCollective(emu::detail::Op::kAll, mask, predicate != 0));
}
inline unsigned __activemask() { return emu::detail::activeMask(); }
#define EMU_REDUCE(name, op, T, isSigned)                                                                          \
  inline T name(unsigned mask, T value) {                                                                          \
    return T(emu::detail::warpCollective(emu::detail::Op::op, mask, emu::detail::toBits(value), 0, 32, isSigned)); \
  }
EMU_REDUCE(__reduce_add_sync, kReduceAdd, unsigned, false)
EMU_REDUCE(__reduce_add_sync, kReduceAdd, int, true)
EMU_REDUCE(__reduce_min_sync, kReduceMin, unsigned, false)
EMU_REDUCE(__reduce_min_sync, kReduceMin, int, true)
EMU_REDUCE(__reduce_max_sync, kReduceMax, unsigned, false)
EMU_REDUCE(__reduce_max_sync, kReduceMax, int, true)
EMU_REDUCE(__reduce_and_sync, kReduceAnd, unsigned, false)
EMU_REDUCE(__reduce_or_sync, kReduceOr, unsigned, false)
EMU_REDUCE(__reduce_xor_sync, kReduceXor, unsigned, false)
#undef EMU_REDUCE
template <class T>
inline unsigned __match_any_sync(unsigned mask, T value) {
  return unsigned(emu::detail::warpCollective(emu::detail::Op::kMatchAny, mask, emu::detail::toBits(value)));
}
template <class T>
inline unsigned __match_all_sync(unsigned mask, T value, int* pred) {
  return unsigned(
      emu::detail::warpCollective(emu::detail::Op::kMatchAll, mask, emu::detail::toBits(value), 0, 32, false, pred));
}

// ---------------------------------------------------------------- atomics
// Fibers switch only at barriers, so a plain read-modify-write is atomic.
#define EMU_ATOMIC(name, T, expr)    \
  inline T name(T* address, T val) { \
    T old = *address;                \
    *address = (expr);               \
    return old;                      \
  }
EMU_ATOMIC(atomicAdd, int, old + val)
EMU_ATOMIC(atomicAdd, unsigned int, old + val)
EMU_ATOMIC(atomicAdd, unsigned long long, old + val)
EMU_ATOMIC(atomicAdd, float, old + val)
EMU_ATOMIC(atomicAdd, double, old + val)
EMU_ATOMIC(atomicSub, int, old - val)
EMU_ATOMIC(atomicSub, unsigned int, old - val)
EMU_ATOMIC(atomicSub, unsigned long long, old - val)
EMU_ATOMIC(atomicExch, int, val)
EMU_ATOMIC(atomicExch, unsigned int, val)
EMU_ATOMIC(atomicExch, unsigned long long, val)
EMU_ATOMIC(atomicExch, float, val)
EMU_ATOMIC(atomicMax, int, old > val ? old : val)
EMU_ATOMIC(atomicMax, unsigned int, old > val ? old : val)
EMU_ATOMIC(atomicMax, long long, old > val ? old : val)
EMU_ATOMIC(atomicMax, unsigned long long, old > val ? old : val)
EMU_ATOMIC(atomicMin, int, old < val ? old : val)
EMU_ATOMIC(atomicMin, unsigned int, old < val ? old : val)
EMU_ATOMIC(atomicMin, long long, old < val ? old : val)
EMU_ATOMIC(atomicMin, unsigned long long, old < val ? old : val)
EMU_ATOMIC(atomicOr, int, old | val)
EMU_ATOMIC(atomicOr, unsigned int, old | val)
EMU_ATOMIC(atomicOr, unsigned long long, old | val)
EMU_ATOMIC(atomicAnd, int, (old & val))
EMU_ATOMIC(atomicAnd, unsigned int, (old & val))
EMU_ATOMIC(atomicAnd, unsigned long long, (old & val))
EMU_ATOMIC(atomicXor, int, old ^ val)
EMU_ATOMIC(atomicXor, unsigned int, old ^ val)
EMU_ATOMIC(atomicXor, unsigned long long, old ^ val)
EMU_ATOMIC(atomicInc, unsigned int, old >= val ? 0u : old + 1u)
EMU_ATOMIC(atomicDec, unsigned int, (old == 0u || old > val) ? val : old - 1u)
#undef EMU_ATOMIC
#define EMU_ATOMIC_CAS(T)                            \
  inline T atomicCAS(T* address, T compare, T val) { \
    T old = *address;                                \
    if (old == compare) *address = val;              \
    return old;                                      \
  }
EMU_ATOMIC_CAS(int)
EMU_ATOMIC_CAS(unsigned int)
EMU_ATOMIC_CAS(unsigned long long)
EMU_ATOMIC_CAS(unsigned short)
#undef EMU_ATOMIC_CAS

// ---------------------------------------------------------------- intrinsics
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned long long __brevll(unsigned long long x) {
  return (static_cast<unsigned long long>(__brev(unsigned(x))) << 32) | __brev(unsigned(x >> 32));
}
inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s) {
  unsigned long long v = (static_cast<unsigned long long>(y) << 32) | x;
  unsigned int r = 0;
  for (int i = 0; i < 4; ++i) r |= unsigned((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}
inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int shift) {
  unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
  return unsigned((v << (shift & 31)) >> 32);
}
inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int shift) {
  unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
  return unsigned(v >> (shift & 31));
}
inline unsigned int __umulhi(unsigned int x, unsigned int y) { return unsigned((1ull * x * y) >> 32); }
inline int __mulhi(int x, int y) { return int((1ll * x * y) >> 32); }
inline unsigned long long __umul64hi(unsigned long long x, unsigned long long y) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(x) * y) >> 64);
}
inline long long __mul64hi(long long x, long long y) {
  return static_cast<long long>((static_cast<__int128>(x) * y) >> 64);
}
inline int __mul24(int x, int y) { return int((long long)((x << 8) >> 8) * ((y << 8) >> 8)); }

inline unsigned int __float_as_uint(float x) { return emu::detail::fromBits<unsigned int>(emu::detail::toBits(x)); }
inline float __uint_as_float(unsigned int x) { return emu::detail::fromBits<float>(x); }
inline int __float_as_int(float x) { return emu::detail::fromBits<int>(emu::detail::toBits(x)); }
inline float __int_as_float(int x) { return emu::detail::fromBits<float>(emu::detail::toBits(x)); }
inline long long __double_as_longlong(double x) { return emu::detail::fromBits<long long>(emu::detail::toBits(x)); }
inline double __longlong_as_double(long long x) { return emu::detail::fromBits<double>(emu::detail::toBits(x)); }

// Conversions saturate and map NaN to 0, as the cvt instructions do.
namespace emu::detail {
template <class I, class F>
inline I saturatingConvert(F r) {
  if (r != r) return 0;
  if (r <= F(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (r >= F(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(r);
}
}  // namespace emu::detail
inline int __float2int_rn(float x) { return emu::detail::saturatingConvert<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return emu::detail::saturatingConvert<int>(truncf(x)); }
inline int __float2int_rd(float x) { return emu::detail::saturatingConvert<int>(floorf(x)); }
inline int __float2int_ru(float x) { return emu::detail::saturatingConvert<int>(ceilf(x)); }
inline unsigned int __float2uint_rn(float x) { return emu::detail::saturatingConvert<unsigned int>(nearbyintf(x)); }
inline unsigned int __float2uint_rz(float x) { return emu::detail::saturatingConvert<unsigned int>(truncf(x)); }
inline long long __float2ll_rn(float x) { return emu::detail::saturatingConvert<long long>(nearbyintf(x)); }
inline long long __float2ll_rz(float x) { return emu::detail::saturatingConvert<long long>(truncf(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned int x) { return static_cast<float>(x); }
inline float __ll2float_rn(long long x) { return static_cast<float>(x); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }
inline int __double2int_rn(double x) { return emu::detail::saturatingConvert<int>(nearbyint(x)); }

// Fast-math intrinsics compute the exact function (the GPU's are approximate).
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) {
  *s = sinf(x);
  *c = cosf(x);
}
inline float __tanhf(float x) { return tanhf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline double __dadd_rn(double x, double y) { return x + y; }
inline double __dmul_rn(double x, double y) { return x * y; }
inline double __fma_rn(double x, double y, double z) { return fma(x, y, z); }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }  // NaN -> 0
using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;

// CUDA's global min/max overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline unsigned int min(int a, unsigned int b) { return min(unsigned(a), b); }
inline unsigned int max(int a, unsigned int b) { return max(unsigned(a), b); }
inline unsigned int min(unsigned int a, int b) { return min(a, unsigned(b)); }
inline unsigned int max(unsigned int a, int b) { return max(a, unsigned(b)); }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

// Cache-hinted loads and stores are plain accesses.
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
template <class T>
inline T __ldca(const T* p) {
  return *p;
}
template <class T>
inline T __ldcg(const T* p) {
  return *p;
}
template <class T>
inline T __ldcs(const T* p) {
  return *p;
}
template <class T>
inline T __ldlu(const T* p) {
  return *p;
}
template <class T>
inline T __ldcv(const T* p) {
  return *p;
}
template <class T>
inline void __stwb(T* p, T v) {
  *p = v;
}
template <class T>
inline void __stcg(T* p, T v) {
  *p = v;
}
template <class T>
inline void __stcs(T* p, T v) {
  *p = v;
}
template <class T>
inline void __stwt(T* p, T v) {
  *p = v;
}
