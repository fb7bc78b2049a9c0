#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "thread_pool.h"

namespace jobbert {

void microKernel_portable(int64_t, const float*, const float*, float*, int64_t, float, float, int, int);
#ifdef JOBBERT_HAVE_AVX2
void microKernel_avx2(int64_t, const float*, const float*, float*, int64_t, float, float, int, int);
#endif
#ifdef JOBBERT_HAVE_AVX512
void microKernel_avx512(int64_t, const float*, const float*, float*, int64_t, float, float, int, int);
#endif

MicroKernel microKernel(Isa isa) {
  switch (isa) {
#ifdef JOBBERT_HAVE_AVX512
    case Isa::kAvx512: return {microKernel_avx512, 12, 32};
#endif
#ifdef JOBBERT_HAVE_AVX2
    case Isa::kAvx2: return {microKernel_avx2, 6, 16};
#endif
    default: return {microKernel_portable, 4, 8};
  }
}

namespace {

// Blocking: a KC×NR slice of B stays in L1 across the MC/MR loop, an MC×KC
// block of A in L2, a KC×NC panel of B in L3.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 96;    // a multiple of every MR (4, 6, 12)
constexpr int64_t kNC = 3072;  // a multiple of every NR (8, 16, 32)

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer allocate(int64_t floats) {
  size_t bytes = ((static_cast<size_t>(floats) * sizeof(float)) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, std::max<size_t>(bytes, 64));
  if (!p) throw std::bad_alloc();
  return Buffer(static_cast<float*>(p));
}

}  // namespace

// Packs rows [i0, i0+mc) × columns [k0, k0+kc) of op(A) into MR-row panels:
// panel r holds, for each kk, the MR values A(i0 + r·MR + 0..MR-1, k0 + kk).
void packA(const GemmParams& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* out) {
  for (int64_t r = 0; r < mc; r += mr) {
    int64_t rows = std::min<int64_t>(mr, mc - r);
    if (!p.transA) {
      for (int64_t i = 0; i < rows; ++i) {
        const float* src = p.a + (i0 + r + i) * p.lda + k0;
        for (int64_t kk = 0; kk < kc; ++kk) out[kk * mr + i] = src[kk];
      }
    } else {
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = p.a + (k0 + kk) * p.lda + i0 + r;
        for (int64_t i = 0; i < rows; ++i) out[kk * mr + i] = src[i];
      }
    }
    for (int64_t i = rows; i < mr; ++i)
      for (int64_t kk = 0; kk < kc; ++kk) out[kk * mr + i] = 0.0f;
    out += kc * mr;
  }
}

// Packs rows [k0, k0+kc) × columns [j0, j0+nc) of op(B) into NR-column panels.
void packBPanel(const GemmParams& p, int64_t k0, int64_t kc, int64_t j0, int64_t cols, int nr,
                float* out) {
  if (!p.transB) {
    for (int64_t kk = 0; kk < kc; ++kk) {
      const float* src = p.b + (k0 + kk) * p.ldb + j0;
      float* dst = out + kk * nr;
      int64_t j = 0;
      for (; j < cols; ++j) dst[j] = src[j];
      for (; j < nr; ++j) dst[j] = 0.0f;
    }
  } else {
    for (int64_t j = 0; j < cols; ++j) {
      const float* src = p.b + (j0 + j) * p.ldb + k0;
      for (int64_t kk = 0; kk < kc; ++kk) out[kk * nr + j] = src[kk];
    }
    for (int64_t j = cols; j < nr; ++j)
      for (int64_t kk = 0; kk < kc; ++kk) out[kk * nr + j] = 0.0f;
  }
}

namespace {

void scaleC(const GemmParams& p) {
  // k == 0: C = beta·C (beta == 0 writes zeros without reading).
  for (int64_t i = 0; i < p.m; ++i) {
    float* row = p.c + i * p.ldc;
    for (int64_t j = 0; j < p.n; ++j) row[j] = p.beta == 0.0f ? 0.0f : p.beta * row[j];
  }
}

}  // namespace

void gemm(const GemmParams& p) {
  if (p.m <= 0 || p.n <= 0) return;
  if (p.k <= 0 || p.alpha == 0.0f) {
    scaleC(p);
    return;
  }
  const MicroKernel kernel = microKernel(activeIsa());
  const int mr = kernel.mr, nr = kernel.nr;
  ThreadPool& pool = ThreadPool::instance();
  int threads = p.maxThreads <= 0 ? pool.size() : std::min(p.maxThreads, pool.size());

  const int64_t mBlocks = (p.m + kMC - 1) / kMC;
  const int64_t mPadded = mBlocks * kMC;
  const int64_t kcMax = std::min(kKC, p.k);
  const int64_t ncMax = std::min<int64_t>(kNC, (p.n + nr - 1) / nr * nr);
  Buffer packedA = allocate(mPadded * kcMax);
  Buffer packedB = allocate(ncMax * kcMax);

  for (int64_t k0 = 0; k0 < p.k; k0 += kKC) {
    const int64_t kc = std::min(kKC, p.k - k0);
    const float beta = k0 == 0 ? p.beta : 1.0f;
    // All of op(A)[:, k0:k0+kc], packed once per K block and shared by every N panel.
    pool.run(mBlocks, [&](int64_t ib) {
      int64_t i0 = ib * kMC;
      packA(p, i0, std::min(kMC, p.m - i0), k0, kc, mr, packedA.get() + i0 * kc);
    }, threads);

    for (int64_t j0 = 0; j0 < p.n; j0 += kNC) {
      const int64_t nc = std::min(kNC, p.n - j0);
      const int64_t panels = (nc + nr - 1) / nr;
      pool.run(panels, [&](int64_t jp) {
        int64_t cols = std::min<int64_t>(nr, nc - jp * nr);
        packBPanel(p, k0, kc, j0 + jp * nr, cols, nr, packedB.get() + jp * nr * kc);
      }, threads);

      // Work items: (M block) × (group of B panels), enough of them to balance threads.
      int64_t groups = std::max<int64_t>(1, std::min<int64_t>(panels, (2 * threads + mBlocks - 1) / mBlocks));
      if (threads == 1) groups = 1;
      pool.run(mBlocks * groups, [&](int64_t item) {
        const int64_t ib = item / groups, g = item % groups;
        const int64_t i0 = ib * kMC, mc = std::min(kMC, p.m - i0);
        const int64_t jpBegin = panels * g / groups, jpEnd = panels * (g + 1) / groups;
        const float* aBlock = packedA.get() + i0 * kc;
        for (int64_t jp = jpBegin; jp < jpEnd; ++jp) {
          const int64_t j = j0 + jp * nr;
          const int cols = static_cast<int>(std::min<int64_t>(nr, p.n - j));
          const float* bPanel = packedB.get() + jp * nr * kc;
          for (int64_t r = 0; r < mc; r += mr) {
            const int rows = static_cast<int>(std::min<int64_t>(mr, mc - r));
            kernel.fn(kc, aBlock + r * kc, bPanel, p.c + (i0 + r) * p.ldc + j, p.ldc, p.alpha, beta,
                      rows, cols);
          }
        }
      }, threads);
    }
  }
}

}  // namespace jobbert
