#include "gemm.h"

#include "jobbert/buffer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "thread_pool.h"

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

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
    case Isa::kAvx512: return {microKernel_avx512, 14, 32};
#endif
#ifdef JOBBERT_HAVE_AVX2
    case Isa::kAvx2: return {microKernel_avx2, 6, 16};
#endif
    default: return {microKernel_portable, 4, 8};
  }
}

namespace {

// Blocking (gemmBlocking, gemm_blocking.cpp): the micro-kernel keeps one A
// panel (MR·KC floats) in L1 and streams NR-wide B panels past it from a KC×NC
// block of packed B that stays in L2; both sizes come from this CPU's caches.
// Each k block re-reads and re-writes C once, so KC is as large as L1 allows.
constexpr int64_t kPanelsPerPackTask = 8;  // A panels packed per pool task
// Below this many flops the pool's hand-off costs more than it saves.
constexpr double kParallelFlops = 2e6;

// Packing space, kept per calling thread between calls: a fresh multi-MB
// allocation is mmap'd, and the kernel zeroing its pages cost ~5% of a
// dense-layer GEMM. Space above kKeepBytes is handed back after the call.
constexpr size_t kKeepBytes = size_t(64) << 20;
// op(A) packed whole for a small-M call's column slices, up to this size.
constexpr int64_t kWholeABytes = int64_t(64) << 20;

struct Workspace {
  FloatBuffer buffer;
  size_t floats = 0;
  bool busy = false;  // a gemm nested on this thread gets its own space
};

// Which kept workspace a Scratch uses: the packing space of one gemm() call,
// or op(A) packed whole for the column slices of a small-M call (which then
// runs a nested gemm() per slice on the same thread, holding both at once).
enum class ScratchSlot { kPacking, kWholeA };

class Scratch {
 public:
  explicit Scratch(int64_t floats, ScratchSlot slot = ScratchSlot::kPacking) {
    static thread_local Workspace caches[2];
    Workspace& cache = caches[slot == ScratchSlot::kPacking ? 0 : 1];
    ws_ = cache.busy ? &own_ : &cache;
    ws_->busy = true;
    const size_t want = static_cast<size_t>(floats);
    if (ws_->floats < want) {
      ws_->buffer = FloatBuffer();  // release the old one before asking for more
      ws_->floats = 0;
      ws_->buffer = FloatBuffer(static_cast<int64_t>(want));
      ws_->floats = want;
    }
  }
  ~Scratch() {
    if (ws_->floats * sizeof(float) > kKeepBytes) ws_->buffer = FloatBuffer(), ws_->floats = 0;
    ws_->busy = false;
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* get() const { return ws_->buffer.data(); }

 private:
  Workspace own_;
  Workspace* ws_;
};

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

namespace {

// dst[t·dstStride + i] = src[i·ld + t] for i < rows, t < len: the transposing
// copy behind packing A (not transposed) and B (transposed). It works on 4×4
// tiles; for each 64-float stretch of the source rows it walks down the rows
// four at a time, so each source line is used up while it is in L1 even when
// ld is a multiple of 4 KB (where every row maps to the same L1 set).
// kCheck: returns false when a copied value is NaN or ±Infinity (x − x is NaN
// exactly for those), a few vector ops per tile of a copy bound by memory.
template <bool kCheck>
bool transposeInto(const float* src, int64_t ld, int rows, int64_t len, float* dst, int64_t dstStride) {
  constexpr int64_t kStretch = 64;
  bool finite = true;
#if defined(__SSE__) || defined(_M_X64)
  __m128 bad = _mm_setzero_ps();
#endif
  for (int64_t t0 = 0; t0 < len; t0 += kStretch) {
    const int64_t t1 = std::min(len, t0 + kStretch);
    int i = 0;
#if defined(__SSE__) || defined(_M_X64)
    for (; i + 4 <= rows; i += 4) {
      const float* s = src + i * ld;
      // Rows of a large ld defeat the hardware prefetcher: fetch these four
      // rows' next stretch while this one is transposed.
      if (t1 < len)
        for (int q = 0; q < 4; ++q)
          for (int64_t t = t1; t < std::min(len, t1 + kStretch); t += 16)
            _mm_prefetch(reinterpret_cast<const char*>(s + q * ld + t), _MM_HINT_T0);
      int64_t t = t0;
      for (; t + 4 <= t1; t += 4) {
        __m128 r0 = _mm_loadu_ps(s + t), r1 = _mm_loadu_ps(s + ld + t);
        __m128 r2 = _mm_loadu_ps(s + 2 * ld + t), r3 = _mm_loadu_ps(s + 3 * ld + t);
        if (kCheck) {
          const __m128 d01 = _mm_add_ps(_mm_sub_ps(r0, r0), _mm_sub_ps(r1, r1));
          const __m128 d23 = _mm_add_ps(_mm_sub_ps(r2, r2), _mm_sub_ps(r3, r3));
          bad = _mm_or_ps(bad, _mm_cmpunord_ps(d01, d23));
        }
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + t * dstStride + i, r0);
        _mm_storeu_ps(dst + (t + 1) * dstStride + i, r1);
        _mm_storeu_ps(dst + (t + 2) * dstStride + i, r2);
        _mm_storeu_ps(dst + (t + 3) * dstStride + i, r3);
      }
      for (; t < t1; ++t)
        for (int q = 0; q < 4; ++q) {
          const float v = s[q * ld + t];
          if (kCheck) finite &= std::isfinite(v);
          dst[t * dstStride + i + q] = v;
        }
    }
#endif
    for (; i < rows; ++i)
      for (int64_t t = t0; t < t1; ++t) {
        const float v = src[i * ld + t];
        if (kCheck) finite &= std::isfinite(v);
        dst[t * dstStride + i] = v;
      }
  }
#if defined(__SSE__) || defined(_M_X64)
  if (kCheck) finite &= _mm_movemask_ps(bad) == 0;
#endif
  return finite;
}

bool transposeInto(const GemmParams& p, const float* src, int64_t ld, int rows, int64_t len, float* dst,
                   int64_t dstStride) {
  if (!p.nonFinite) return transposeInto<false>(src, ld, rows, len, dst, dstStride);
  return transposeInto<true>(src, ld, rows, len, dst, dstStride);
}

// memcpy that, when the call checks its inputs, also says whether every value copied is finite.
bool copyChecked(const GemmParams& p, float* dst, const float* src, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  if (!p.nonFinite) return true;
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, dst + i, 4);
    bad |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return bad == 0;
}

void flagNonFinite(const GemmParams& p, bool finite) {
  if (!finite) p.nonFinite->store(true, std::memory_order_relaxed);
}

// Zero columns [from, width) of a len×width row-major block (panel padding).
void zeroColumns(float* dst, int64_t len, int from, int width) {
  if (from >= width) return;
  for (int64_t t = 0; t < len; ++t)
    for (int j = from; j < width; ++j) dst[t * width + j] = 0.0f;
}

}  // namespace

// Packs rows [i0, i0+mc) × columns [k0, k0+kc) of op(A) into MR-row panels:
// panel r holds, for each kk, the MR values A(i0 + r·MR + 0..MR-1, k0 + kk).
void packA(const GemmParams& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* out) {
  bool finite = true;
  if (!p.transA) {
    for (int64_t r = 0; r < mc; r += mr, out += kc * mr) {
      const int rows = static_cast<int>(std::min<int64_t>(mr, mc - r));
      finite &= transposeInto(p, p.a + (i0 + r) * p.lda + k0, p.lda, rows, kc, out, mr);
      zeroColumns(out, kc, rows, mr);
    }
  } else {
    // op(A) = Aᵀ: row k0+kk of A holds the mc values every panel needs at kk,
    // so read it once, sequentially, and deal it out to the panels.
    for (int64_t kk = 0; kk < kc; ++kk) {
      const float* src = p.a + (k0 + kk) * p.lda + i0;
      for (int64_t r = 0; r < mc; r += mr) {
        const int rows = static_cast<int>(std::min<int64_t>(mr, mc - r));
        float* dst = out + r * kc + kk * mr;
        finite &= copyChecked(p, dst, src + r, rows);
        for (int i = rows; i < mr; ++i) dst[i] = 0.0f;
      }
    }
  }
  flagNonFinite(p, finite);
}

// Packs rows [k0, k0+kc) × columns [j0, j0+cols) of op(B) into one NR-column panel.
void packBPanel(const GemmParams& p, int64_t k0, int64_t kc, int64_t j0, int64_t cols, int nr, float* out) {
  bool finite = true;
  if (p.transB) {
    finite = transposeInto(p, p.b + j0 * p.ldb + k0, p.ldb, static_cast<int>(cols), kc, out, nr);
  } else {
    for (int64_t kk = 0; kk < kc; ++kk) finite &= copyChecked(p, out + kk * nr, p.b + (k0 + kk) * p.ldb + j0, cols);
  }
  flagNonFinite(p, finite);
  zeroColumns(out, kc, static_cast<int>(cols), nr);
}

namespace {

void scaleC(const GemmParams& p) {
  // k == 0 or alpha == 0: C = beta·C (beta == 0 writes zeros without reading).
  for (int64_t i = 0; i < p.m; ++i) {
    float* row = p.c + i * p.ldc;
    for (int64_t j = 0; j < p.n; ++j) row[j] = p.beta == 0.0f ? 0.0f : p.beta * row[j];
  }
}

}  // namespace

namespace {

// An epilogue of a column slice of C, forwarding to the caller's with the
// slice's first column added, so the caller sees C's own coordinates.
struct ShiftedEpilogue {
  const GemmParams* whole;
  int64_t col0;
};
void shiftedEpilogue(void* ctx, float* tile, int64_t ldc, int64_t row0, int64_t col0, int rows, int cols) {
  const auto& s = *static_cast<const ShiftedEpilogue*>(ctx);
  s.whole->epilogue(s.whole->epilogueCtx, tile, ldc, row0, s.col0 + col0, rows, cols);
}

// Columns [j0, j1) of C as a GEMM of their own, run on the calling thread.
void gemmColumns(const GemmParams& p, int64_t j0, int64_t j1) {
  GemmParams q = p;
  q.n = j1 - j0;
  q.b = p.transB ? p.b + j0 * p.ldb : p.b + j0;
  q.c = p.c + j0;
  q.maxThreads = 1;
  ShiftedEpilogue shifted{&p, j0};
  if (p.epilogue) q.epilogue = shiftedEpilogue, q.epilogueCtx = &shifted;
  gemm(q);
}

}  // namespace

void gemm(const GemmParams& p) {
  if (p.m <= 0 || p.n <= 0) return;
  if (p.k <= 0 || p.alpha == 0.0f) {
    scaleC(p);
    if (p.epilogue) p.epilogue(p.epilogueCtx, p.c, p.ldc, 0, 0, static_cast<int>(p.m), static_cast<int>(p.n));
    return;
  }
  const MicroKernel kernel = microKernel(activeIsa());
  const int mr = kernel.mr, nr = kernel.nr;
  ThreadPool& pool = ThreadPool::instance();
  int threads = p.maxThreads <= 0 ? pool.size() : std::min(p.maxThreads, pool.size());
  if (2.0 * p.m * p.n * p.k < kParallelFlops) threads = 1;

  // K and N blocks of equal size (no thin remainder block).
  const GemmBlocking blocking = gemmBlocking(mr, nr);
  const int64_t kcStep = ceilDiv(p.k, ceilDiv(p.k, blocking.kc));
  const int64_t mPanels = ceilDiv(p.m, mr), nPanels = ceilDiv(p.n, nr);
  const int64_t maxBlockPanels = std::max<int64_t>(1, blocking.bBlockBytes / (kcStep * nr * int64_t(sizeof(float))));
  const int64_t nBlocks = ceilDiv(nPanels, maxBlockPanels);
  const int64_t blockPanels = ceilDiv(nPanels, nBlocks);
  const int64_t aTasks = ceilDiv(mPanels, kPanelsPerPackTask);
  // Small M (op(A)'s k slice no larger than a B block) and enough columns:
  // give each thread its own slice of C's columns and no barrier per block.
  // op(A) is packed once, whole, by all threads (one barrier), when it fits
  // kWholeABytes; otherwise each thread packs it for itself (m·k floats of
  // duplicated work a thread, 7% of 256×1024×16384 on two threads). The
  // shared scheme below would meet at a barrier twice per KC×NC block, which
  // for 256×16384×1024 is every ~0.3 ms.
  if (threads > 1 && !p.packedA && nPanels >= 2 * threads &&
      mPanels * mr * kcStep * int64_t(sizeof(float)) <= blocking.bBlockBytes) {
    GemmParams sliced = p;
    const int64_t wholeA = mPanels * mr * p.k;
    std::unique_ptr<Scratch> whole;
    if (wholeA * int64_t(sizeof(float)) <= kWholeABytes) {
      whole = std::make_unique<Scratch>(wholeA, ScratchSlot::kWholeA);
      float* const packed = whole->get();
      const int64_t kBlocks = ceilDiv(p.k, kcStep);
      pool.run(
          kBlocks * aTasks,
          [&](int64_t t) {
            const int64_t k0 = t / aTasks * kcStep, kc = std::min(kcStep, p.k - k0);
            const int64_t i0 = t % aTasks * kPanelsPerPackTask * mr;
            packA(p, i0, std::min<int64_t>(kPanelsPerPackTask * mr, p.m - i0), k0, kc, mr,
                  packed + k0 * mPanels * mr + i0 * kc);
          },
          threads);
      sliced.packedA = packed;
    }
    pool.run(
        threads,
        [&](int64_t t) {
          const int64_t j0 = nPanels * t / threads * nr, j1 = std::min(p.n, nPanels * (t + 1) / threads * nr);
          if (j0 < j1) gemmColumns(sliced, j0, j1);
        },
        threads);
    return;
  }
  // One buffer: packed A (all of op(A) for one k block), then one B block.
  // A panel sizes are multiples of 16 floats when mr·kc is, so B stays
  // 64-byte aligned for the usual shapes; the kernels accept any alignment.
  const int64_t aFloats = p.packedA ? 0 : (mPanels * mr * kcStep + 15) / 16 * 16;
  Scratch scratch(aFloats + blockPanels * nr * kcStep);
  float* const packedB = scratch.get() + aFloats;

  for (int64_t k0 = 0; k0 < p.k; k0 += kcStep) {
    const int64_t kc = std::min(kcStep, p.k - k0);
    const float beta = k0 == 0 ? p.beta : 1.0f;
    const bool lastK = k0 + kc >= p.k;
    const float* const packedA = p.packedA ? p.packedA + k0 * mPanels * mr : scratch.get();
    for (int64_t jp0 = 0; jp0 < nPanels; jp0 += blockPanels) {
      const int64_t jpCount = std::min(blockPanels, nPanels - jp0);
      // Pack this B block and, with the first one, all of op(A)[:, k0:k0+kc]
      // (shared by every N block) in one parallel pass.
      const int64_t aPack = jp0 == 0 && !p.packedA ? aTasks : 0;
      pool.run(
          aPack + jpCount,
          [&](int64_t t) {
            if (t < aPack) {
              const int64_t i0 = t * kPanelsPerPackTask * mr;
              packA(p, i0, std::min<int64_t>(kPanelsPerPackTask * mr, p.m - i0), k0, kc, mr, scratch.get() + i0 * kc);
            } else {
              const int64_t jp = t - aPack, j = (jp0 + jp) * nr;
              packBPanel(p, k0, kc, j, std::min<int64_t>(nr, p.n - j), nr, packedB + jp * nr * kc);
            }
          },
          threads);

      // Work item: one A panel against a range of the block's B panels. Split
      // the B range only when there are too few A panels to balance threads.
      const int64_t split = threads == 1 ? 1 : std::min(jpCount, std::max<int64_t>(1, ceilDiv(16 * threads, mPanels)));
      pool.run(
          mPanels * split,
          [&](int64_t item) {
            const int64_t ir = item / split, g = item % split;
            const int rows = static_cast<int>(std::min<int64_t>(mr, p.m - ir * mr));
            const float* aPanel = packedA + ir * mr * kc;
            float* cRow = p.c + ir * mr * p.ldc;
            for (int64_t jp = jpCount * g / split; jp < jpCount * (g + 1) / split; ++jp) {
              const int64_t j = (jp0 + jp) * nr;
              const int cols = static_cast<int>(std::min<int64_t>(nr, p.n - j));
              kernel.fn(kc, aPanel, packedB + jp * nr * kc, cRow + j, p.ldc, p.alpha, beta, rows, cols);
              if (lastK && p.epilogue) p.epilogue(p.epilogueCtx, cRow + j, p.ldc, ir * mr, j, rows, cols);
            }
          },
          threads);
    }
  }
}

}  // namespace jobbert
