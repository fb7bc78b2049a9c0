// The block-level GEMM tile every CUDA kernel is built on: one thread block
// computes a 128×128 tile of A·Bᵀ (A [m×k], B [n×k], both row-major, k
// contiguous — the layout of queries·corpusᵀ and x·weightᵀ) and leaves it in
// shared memory for the kernel's own epilogue (bias+tanh, top-k selection,
// log-sum-exp, softmax gradients).
//
// Three tiles, one per Precision: SimtTile multiplies in fp32 on the CUDA
// cores (8×8 outputs per thread, k-step 8); WmmaTile<float> rounds operands to
// tf32 and WmmaTile<__nv_bfloat16> to bf16 on their way into shared memory and
// multiplies on the tensor cores (8 warps of 64×32, k-step 32), accumulating in
// fp32. The next k-slab is fetched into registers while the current one is
// multiplied. Rows/columns past m/n and k past k read as zeros.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "common.cuh"
#include "launch.cuh"

namespace jobbert::cuda {

constexpr int kTileM = 128;          // rows of A per block
constexpr int kTileN = 128;          // rows of B per block
constexpr int kTileThreads = 256;    // threads per block
constexpr int kTileLd = kTileN + 4;  // leading dimension of the staged tile
constexpr size_t kStagedBytes = size_t(kTileM) * kTileLd * sizeof(float);

// The operands of C = A·Bᵀ. vec: both matrices allow aligned float4 loads
// (k and both leading dimensions multiples of 4, 16-byte aligned bases).
struct GemmOperands {
  const float* a = nullptr;
  int64_t lda = 0;
  int m = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  int n = 0;
  int k = 0;
  bool vec = false;
};

inline GemmOperands gemmOperands(const float* a, int64_t lda, int m, const float* b, int64_t ldb, int n, int k) {
  auto aligned = [](const float* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  return {a, lda, m, b, ldb, n, k, k % 4 == 0 && lda % 4 == 0 && ldb % 4 == 0 && aligned(a) && aligned(b)};
}

// Four consecutive elements of row r from column c, zeros outside [rows)×[cols).
__device__ __forceinline__ float4 loadFour(const float* p, int64_t ld, int rows, int cols, int r, int c, bool vec) {
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (r >= rows || c >= cols) return v;
  const float* q = p + int64_t(r) * ld + c;
  if (vec) return *reinterpret_cast<const float4*>(q);
  v.x = q[0];
  if (c + 1 < cols) v.y = q[1];
  if (c + 2 < cols) v.z = q[2];
  if (c + 3 < cols) v.w = q[3];
  return v;
}

// ---------------------------------------------------------------- fp32, CUDA cores
struct SimtTile {
  static constexpr int kK = 8;            // k per slab
  static constexpr int kLd = kTileM + 4;  // padded: the transposed stores hit distinct banks
  static constexpr size_t kOperandBytes = 2 * size_t(kK) * kLd * sizeof(float);
  static constexpr size_t kSharedBytes = kOperandBytes > kStagedBytes ? kOperandBytes : kStagedBytes;

  // Computes the tile at (row0, col0) and stages it in smem as float[kTileM][kTileLd].
  __device__ static void run(const GemmOperands& g, int row0, int col0, unsigned char* smem) {
    float* As = reinterpret_cast<float*>(smem);  // [kK][kLd], k-major
    float* Bs = As + kK * kLd;
    const int t = threadIdx.x;
    const int lr = t >> 1, lk = (t & 1) * 4;  // this thread's slab loads: row lr, k lk..lk+3
    const int ty = t >> 4, tx = t & 15;       // its 8×8 outputs: rows ty*4 (+64), cols tx*4 (+64)
    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

    float4 ra = loadFour(g.a, g.lda, g.m, g.k, row0 + lr, lk, g.vec);
    float4 rb = loadFour(g.b, g.ldb, g.n, g.k, col0 + lr, lk, g.vec);
    for (int k0 = 0; k0 < g.k; k0 += kK) {
      __syncthreads();
      As[(lk + 0) * kLd + lr] = ra.x, As[(lk + 1) * kLd + lr] = ra.y;
      As[(lk + 2) * kLd + lr] = ra.z, As[(lk + 3) * kLd + lr] = ra.w;
      Bs[(lk + 0) * kLd + lr] = rb.x, Bs[(lk + 1) * kLd + lr] = rb.y;
      Bs[(lk + 2) * kLd + lr] = rb.z, Bs[(lk + 3) * kLd + lr] = rb.w;
      __syncthreads();
      if (k0 + kK < g.k) {
        ra = loadFour(g.a, g.lda, g.m, g.k, row0 + lr, k0 + kK + lk, g.vec);
        rb = loadFour(g.b, g.ldb, g.n, g.k, col0 + lr, k0 + kK + lk, g.vec);
      }
#pragma unroll
      for (int kk = 0; kk < kK; ++kk) {
        const float4 a0 = *reinterpret_cast<const float4*>(As + kk * kLd + ty * 4);
        const float4 a1 = *reinterpret_cast<const float4*>(As + kk * kLd + 64 + ty * 4);
        const float4 b0 = *reinterpret_cast<const float4*>(Bs + kk * kLd + tx * 4);
        const float4 b1 = *reinterpret_cast<const float4*>(Bs + kk * kLd + 64 + tx * 4);
        const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }
    __syncthreads();  // the slabs are dead: stage the tile over them
    float* C = reinterpret_cast<float*>(smem);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int r = (i < 4 ? 0 : 64) + ty * 4 + (i & 3);
      *reinterpret_cast<float4*>(C + r * kTileLd + tx * 4) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      *reinterpret_cast<float4*>(C + r * kTileLd + 64 + tx * 4) =
          make_float4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]);
    }
    __syncthreads();
  }
};

// ---------------------------------------------------------------- tf32 / bf16, tensor cores
template <class T>
struct WmmaTraits;
template <>
struct WmmaTraits<float> {  // tf32
  using Element = nvcuda::wmma::precision::tf32;
  static constexpr int kStep = 8;
  static constexpr int kPad = 4;
  __device__ static float round(float x) { return nvcuda::wmma::__float_to_tf32(x); }
};
template <>
struct WmmaTraits<__nv_bfloat16> {
  using Element = __nv_bfloat16;
  static constexpr int kStep = 16;
  static constexpr int kPad = 8;
  __device__ static __nv_bfloat16 round(float x) { return __float2bfloat16(x); }
};

template <class T>
struct WmmaTile {
  using Traits = WmmaTraits<T>;
  static constexpr int kK = 32;                  // k per slab
  static constexpr int kLd = kK + Traits::kPad;  // padded row of a slab
  static constexpr size_t kOperandBytes = size_t(kTileM + kTileN) * kLd * sizeof(T);
  static constexpr size_t kSharedBytes = kOperandBytes > kStagedBytes ? kOperandBytes : kStagedBytes;
  static constexpr int kLoads = kTileM * kK / 4 / kTileThreads;  // float4 loads per thread per operand

  __device__ static void run(const GemmOperands& g, int row0, int col0, unsigned char* smem) {
    using namespace nvcuda;
    T* As = reinterpret_cast<T*>(smem);  // [kTileM][kLd], row-major
    T* Bs = As + kTileM * kLd;           // [kTileN][kLd]: Bᵀ column-major
    const int t = threadIdx.x;
    const int warp = t >> 5;
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;  // this warp's 64×32 piece

    wmma::fragment<wmma::accumulator, 16, 16, Traits::kStep, float> acc[4][2];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    float4 ra[kLoads], rb[kLoads];
    auto fetch = [&](int k0) {
#pragma unroll
      for (int l = 0; l < kLoads; ++l) {
        const int f = t + l * kTileThreads, r = f / (kK / 4), c = (f % (kK / 4)) * 4;
        ra[l] = loadFour(g.a, g.lda, g.m, g.k, row0 + r, k0 + c, g.vec);
        rb[l] = loadFour(g.b, g.ldb, g.n, g.k, col0 + r, k0 + c, g.vec);
      }
    };
    fetch(0);
    for (int k0 = 0; k0 < g.k; k0 += kK) {
      __syncthreads();
#pragma unroll
      for (int l = 0; l < kLoads; ++l) {
        const int f = t + l * kTileThreads, r = f / (kK / 4), c = (f % (kK / 4)) * 4;
        T* pa = As + r * kLd + c;
        T* pb = Bs + r * kLd + c;
        pa[0] = Traits::round(ra[l].x), pa[1] = Traits::round(ra[l].y);
        pa[2] = Traits::round(ra[l].z), pa[3] = Traits::round(ra[l].w);
        pb[0] = Traits::round(rb[l].x), pb[1] = Traits::round(rb[l].y);
        pb[2] = Traits::round(rb[l].z), pb[3] = Traits::round(rb[l].w);
      }
      __syncthreads();
      if (k0 + kK < g.k) fetch(k0 + kK);
#pragma unroll
      for (int kk = 0; kk < kK; kk += Traits::kStep) {
        wmma::fragment<wmma::matrix_a, 16, 16, Traits::kStep, typename Traits::Element, wmma::row_major> fa[4];
        wmma::fragment<wmma::matrix_b, 16, 16, Traits::kStep, typename Traits::Element, wmma::col_major> fb[2];
#pragma unroll
        for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(fa[i], As + (wm + i * 16) * kLd + kk, kLd);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], Bs + (wn + j * 16) * kLd + kk, kLd);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
      }
    }
    __syncthreads();
    float* C = reinterpret_cast<float*>(smem);
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j)
        wmma::store_matrix_sync(C + (wm + i * 16) * kTileLd + wn + j * 16, acc[i][j], kTileLd, wmma::mem_row_major);
    __syncthreads();
  }
};

// Calls body(Tile{}) with the tile of `precision` (a generic lambda takes
// the type back with decltype).
template <class Body>
Status withTile(Precision precision, Body&& body) {
  switch (precision) {
    case Precision::kFp32: return body(SimtTile{});
    case Precision::kTf32: return body(WmmaTile<float>{});
    case Precision::kBf16: return body(WmmaTile<__nv_bfloat16>{});
  }
  return Status::Range("precision must be fp32, tf32 or bf16");
}

// Lets `kernel` use the tile's shared memory (over the 48 KiB default).
template <class Kernel>
Status allowShared(Kernel kernel, size_t bytes) {
  JOBBERT_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
                   "raising a kernel's shared memory limit");
  return Status::Ok();
}

// ---------------------------------------------------------------- plain GEMM + element-wise epilogue
// One block per 128×128 tile of C; epilogue(row, col, value) for each element inside [m)×[n).
// With gridDim.z > 1 (split k), block z multiplies k in [z·kChunk, (z+1)·kChunk).
template <class Tile, class Epilogue>
__global__ void __launch_bounds__(kTileThreads) gemmKernel(GemmOperands g, int kChunk, Epilogue epilogue) {
  JOBBERT_DYNAMIC_SHARED(unsigned char, smem);
  const int row0 = blockIdx.y * kTileM, col0 = blockIdx.x * kTileN;
  if (gridDim.z > 1) {
    const int k0 = blockIdx.z * kChunk;
    g.a += k0, g.b += k0, g.k = g.k - k0 < kChunk ? g.k - k0 : kChunk;
  }
  Tile::run(g, row0, col0, smem);
  const float* C = reinterpret_cast<const float*>(smem);
  for (int i = threadIdx.x; i < kTileM * kTileN; i += kTileThreads) {
    const int r = i / kTileN, c = i % kTileN;
    if (row0 + r < g.m && col0 + c < g.n) epilogue(row0 + r, col0 + c, C[r * kTileLd + c]);
  }
}

// epilogue(row, col, value) over C = A·Bᵀ; splits > 1 splits k across
// blockIdx.z in chunks of kChunk (a multiple of 32, keeping float4 alignment).
template <class Epilogue>
Status gemm(Call& call, Precision precision, const GemmOperands& g, const Epilogue& epilogue, int splits = 1,
            int kChunk = 0) {
  if (g.m == 0 || g.n == 0) return Status::Ok();
  if ((g.m + kTileM - 1) / kTileM > 65535) return Status::Range("too many rows for one CUDA GEMM (over 8,388,480)");
  return withTile(precision, [&](auto tile) -> Status {
    using Tile = decltype(tile);
    auto kernel = gemmKernel<Tile, Epilogue>;
    JOBBERT_TRY(allowShared(kernel, Tile::kSharedBytes));
    const dim3 grid((g.n + kTileN - 1) / kTileN, (g.m + kTileM - 1) / kTileM, splits);
    JOBBERT_CUDA_TRY(launch(kernel, grid, dim3(kTileThreads), Tile::kSharedBytes, call.stream(), g, kChunk, epilogue),
                     "gemm");
    return Status::Ok();
  });
}

// out [m × n, leading dimension ld] = alpha·A·Bᵀ (+ out when accumulate). Small
// outputs with a long k are split along k across more blocks, the partial
// products summed in a fixed order afterwards (deterministic).
Status gemmInto(Call& call, Precision precision, const GemmOperands& g, float* out, int64_t ld, float alpha,
                bool accumulate);

// dst [cols × rows, leading dimension ldDst (0: rows)] = srcᵀ, src [rows × cols] row-major.
Status transpose(Call& call, const float* src, int rows, int cols, float* dst, int64_t ldDst = 0);

}  // namespace jobbert::cuda
