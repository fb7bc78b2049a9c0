// GEMM into a buffer (with split-k for long, narrow products) and transposes:
// the building blocks dense's backward pass and InfoNCE's gradients share.
#include <cuda_runtime.h>

#include "common.cuh"
#include "gemm.cuh"
#include "launch.cuh"

namespace jobbert::cuda {
namespace {

constexpr int kTargetBlocks = 264;  // two waves of an H100's 132 SMs

// out = alpha·v (+ out).
struct StoreEpilogue {
  float* out;
  int64_t ld;
  float alpha;
  bool accumulate;
  __device__ void operator()(int r, int c, float v) const {
    float* p = out + int64_t(r) * ld + c;
    *p = accumulate ? *p + alpha * v : alpha * v;
  }
};

// partials[z][r][c] = v for split z = blockIdx.z.
struct PartialEpilogue {
  float* partials;
  int n;
  int64_t stride;
  __device__ void operator()(int r, int c, float v) const { partials[blockIdx.z * stride + int64_t(r) * n + c] = v; }
};

// out = alpha·Σ_z partials[z] (+ out), summed in z order.
__global__ void sumSplits(const float* partials, int splits, int m, int n, int64_t stride, float* out, int64_t ld,
                          float alpha, bool accumulate) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= stride) return;
  float sum = 0.f;
  for (int z = 0; z < splits; ++z) sum += partials[z * stride + i];
  float* p = out + (i / n) * ld + i % n;
  *p = accumulate ? *p + alpha * sum : alpha * sum;
}

__global__ void transposeKernel(const float* src, int rows, int cols, float* dst, int64_t ldDst) {
  __shared__ float tile[32][33];
  const int c0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = src[int64_t(r) * cols + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int c = c0 + i, r = r0 + threadIdx.x;
    if (r < rows && c < cols) dst[int64_t(c) * ldDst + r] = tile[threadIdx.x][i];
  }
}

}  // namespace

Status gemmInto(Call& call, Precision precision, const GemmOperands& g, float* out, int64_t ld, float alpha,
                bool accumulate) {
  if (g.m == 0 || g.n == 0) return Status::Ok();
  const int64_t tiles = int64_t((g.m + kTileM - 1) / kTileM) * ((g.n + kTileN - 1) / kTileN);
  int splits = 1;
  if (tiles < kTargetBlocks && g.k >= 2048) {
    splits = int((kTargetBlocks + tiles - 1) / tiles);
    if (splits > g.k / 512) splits = g.k / 512;
  }
  if (splits <= 1) return gemm(call, precision, g, StoreEpilogue{out, ld, alpha, accumulate});
  const int kChunk = ((g.k + splits - 1) / splits + 31) / 32 * 32;
  splits = (g.k + kChunk - 1) / kChunk;
  const int64_t stride = int64_t(g.m) * g.n;
  float* partials = nullptr;
  JOBBERT_TRY(call.alloc(&partials, stride * splits, "split-k partial products"));
  JOBBERT_TRY(gemm(call, precision, g, PartialEpilogue{partials, g.n, stride}, splits, kChunk));
  const int threads = 256;
  JOBBERT_CUDA_TRY(launch(sumSplits, dim3(unsigned((stride + threads - 1) / threads)), dim3(threads), 0, call.stream(),
                          partials, splits, g.m, g.n, stride, out, ld, alpha, accumulate),
                   "sumSplits");
  return Status::Ok();
}

Status transpose(Call& call, const float* src, int rows, int cols, float* dst, int64_t ldDst) {
  if (rows == 0 || cols == 0) return Status::Ok();
  const dim3 grid((cols + 31) / 32, (rows + 31) / 32);
  if (grid.y > 65535) return Status::Range("too many rows to transpose on CUDA");
  JOBBERT_CUDA_TRY(
      launch(transposeKernel, grid, dim3(32, 8), 0, call.stream(), src, rows, cols, dst, ldDst ? ldDst : int64_t(rows)),
      "transpose");
  return Status::Ok();
}

}  // namespace jobbert::cuda
