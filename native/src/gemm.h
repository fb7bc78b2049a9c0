// Single-precision GEMM for the CPU kernels: C = alpha·op(A)·op(B) + beta·C.
//
// Row-major, op(X) = X or Xᵀ. Cost: 2·m·n·k flops; packed BLIS-style blocking
// (KC×NC panels of B, MC×KC blocks of A) around an MR×NR register micro-kernel
// chosen at run time for the CPU (AVX-512, AVX2+FMA, or portable C++).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "jobbert/kernels.h"

namespace jobbert {

struct GemmParams {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // op(A) is m×k: A is m×k (lda >= k) or, transposed, k×m (lda >= m)
  int64_t lda = 0;
  bool transA = false;
  const float* b = nullptr;  // op(B) is k×n: B is k×n (ldb >= n) or, transposed, n×k (ldb >= k)
  int64_t ldb = 0;
  bool transB = false;
  float* c = nullptr;  // m×n, ldc >= n; with beta == 0 its old contents are never read
  int64_t ldc = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  int maxThreads = 0;  // 0: the whole pool; 1: the calling thread only
  // Optional: called on each finished tile of C while it is still in cache
  // (after the last K block): fn(ctx, c + row0·ldc + col0, ldc, row0, col0, rows, cols).
  void (*epilogue)(void* ctx, float* tile, int64_t ldc, int64_t row0, int64_t col0, int rows, int cols) = nullptr;
  void* epilogueCtx = nullptr;
  // Optional: set (never cleared) when op(A) or op(B) holds NaN or ±Infinity.
  // The packing reads every element once anyway, so this check costs no extra
  // pass over the inputs; the product is still computed in full.
  std::atomic<bool>* nonFinite = nullptr;
  // Internal (gemm() sets it for its own column slices): op(A) already packed
  // for every K block, as gemm() packs it, block k0 at packedA + k0·⌈m/MR⌉·MR.
  const float* packedA = nullptr;
};

// Per-core data cache sizes in bytes (CPUID; JOBBERT_GEMM_L1 / _L2 override).
struct CacheSizes {
  int64_t l1 = 0, l2 = 0, l3 = 0;
  bool detected = false;  // read from CPUID
  bool fromEnv = false;   // overridden by the environment
};
const CacheSizes& cacheSizes();

// The blocking gemm() uses for an MR×NR micro-kernel on this CPU: KC, the
// depth of a packed panel (an MR×KC A panel stays in L1), and the bytes of the
// KC×NC block of packed B that stays in L2.
struct GemmBlocking {
  int64_t kc = 0;
  int64_t bBlockBytes = 0;
};
GemmBlocking gemmBlocking(int mr, int nr);
// One line for benchmarks and logs: the micro-kernel, KC, the B block and the caches they came from.
std::string describeGemmBlocking(int mr, int nr);

// Throws std::bad_alloc when its packing buffers cannot be allocated.
void gemm(const GemmParams& p);

// Lower-level pieces for kernels that fuse their own loops around the GEMM
// (topK, infoNCE): the register micro-kernel of an instruction set and the
// packing routines whose layout it reads.
//
// microKernel: C[0..mr)×[0..nr) = alpha·(Ap·Bp) + beta·C (beta == 0: C is not
// read), Ap an MR-row panel and Bp an NR-column panel, both kc deep.
using MicroKernelFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                               float beta, int mr, int nr);
struct MicroKernel {
  MicroKernelFn fn;
  int mr, nr;
};
MicroKernel microKernel(Isa isa);

// Packs rows [i0, i0+mc) × columns [k0, k0+kc) of op(A) (p.a, p.lda, p.transA)
// into ceil(mc/mr) panels of mr·kc floats each, zero-padding the last panel.
// With p.nonFinite set, a NaN or ±Infinity among the values read sets it.
void packA(const GemmParams& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* out);
// Packs rows [k0, k0+kc) × columns [j0, j0+cols) of op(B) (p.b, p.ldb,
// p.transB), cols <= nr, into one panel of nr·kc floats, zero-padded.
void packBPanel(const GemmParams& p, int64_t k0, int64_t kc, int64_t j0, int64_t cols, int nr, float* out);

}  // namespace jobbert
