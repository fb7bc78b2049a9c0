// topK's direct path (few queries: dot products straight from the corpus rows,
// no packing) per instruction set. The portable kernel is in topk.cpp; the
// AVX2 and AVX-512 kernels are each their own translation unit with its own
// flags (topk_avx2.cpp, topk_avx512.cpp, as gemm_*.cpp for the GEMM), and
// topk.cpp picks one for the active instruction set at run time.
#pragma once

#include <cstdint>

namespace jobbert {

// KC, the blocking along d of topk.cpp's tiled path, which every direct kernel
// follows so a score is the same float whichever path computed it. Derived
// once per process from this CPU's L1 (gemmBlocking for the AVX-512 panel, so
// every instruction set blocks d alike): 384 with a 48 KB L1, 256 with 32 KB.
int64_t topKBlockDepth();

// A direct kernel: out[i·ldo + r] = q[i] · rows[r] for i < nq (1..4) and
// r < rowsPerCall(nq) = LANES · G(nq): with one or two queries it runs G
// independent row groups side by side, so the FMA chains' latency is hidden.
using DirectFn = void (*)(const float* const* q, int nq, const float* const* rows, int64_t d, float* out, int64_t ldo);
struct DirectKernel {
  DirectFn fn;
  int lanes;
  bool positiveZero;  // the matching micro-kernel broadcasts a query value as 0 + a
  int queryCopies;    // the kernel reads each query value this many times in a row (pre-broadcast)
  int rowsPerCall(int nq) const { return lanes * groupsFor(nq); }
  static constexpr int groupsFor(int nq) { return nq == 1 ? 4 : nq == 2 ? 2 : 1; }
};

template <template <int, int> class Impl>
inline void dispatchQueries(const float* const* q, int nq, const float* const* rows, int64_t d, float* out,
                            int64_t ldo) {
  switch (nq) {
    case 1: Impl<1, DirectKernel::groupsFor(1)>::run(q, rows, d, out, ldo); break;
    case 2: Impl<2, DirectKernel::groupsFor(2)>::run(q, rows, d, out, ldo); break;
    case 3: Impl<3, DirectKernel::groupsFor(3)>::run(q, rows, d, out, ldo); break;
    default: Impl<4, DirectKernel::groupsFor(4)>::run(q, rows, d, out, ldo); break;
  }
}

#if defined(JOBBERT_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_TOPK_AVX2 1
// topk_avx2.cpp: 8 rows per vector, fused multiply-adds (the AVX2 micro-kernel's order).
void topkDirect_avx2(const float* const* q, int nq, const float* const* rows, int64_t d, float* out, int64_t ldo);
#endif

#if defined(JOBBERT_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_TOPK_AVX512 1
// topk_avx512.cpp: 16 rows per vector, fused multiply-adds (the AVX-512 micro-kernel's order).
void topkDirect_avx512(const float* const* q, int nq, const float* const* rows, int64_t d, float* out, int64_t ldo);
// Σ c_p² of one row in double with 512-bit vectors (8 doubles a step); only
// called when the active instruction set is AVX-512, so the CPU has it.
double rowSumSquares_avx512(const float* row, int64_t d);
#endif

}  // namespace jobbert
