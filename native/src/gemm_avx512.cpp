// AVX-512 micro-kernel: 14×32, written with intrinsics.
//
// Why 14×32: 28 zmm accumulators + 2 B vectors + 1–2 broadcasts fill the 32
// registers. Each k step is 28 FMAs (14 cycles on two FMA ports) against 2
// vector loads of B and 14 broadcasts of A, so the loads never limit it and
// the packed data read per FMA is lower than for 12×32 or 8×48. The driver
// keeps the A panel (14·kc floats) in L1 and streams B panels from L2.
//
// A last panel with fewer rows runs a kernel instantiated for that many rows
// (the packed A stride stays 14), so a 256-row problem wastes no FMAs on the
// zero padding; narrow columns use masked loads and stores.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

namespace jobbert {
namespace {

constexpr int kMR = 14, kNR = 32;

template <int ROWS>
void kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* __restrict c, int64_t ldc,
            float alpha, float beta, int nr) {
  __m512 acc0[ROWS], acc1[ROWS];
  for (int i = 0; i < ROWS; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  // The C tile is written at the end; fetch it now so the stores do not stall.
  for (int i = 0; i < ROWS; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
    // B streams from L2: ask for it 8 steps (1 KB) ahead.
    _mm_prefetch(reinterpret_cast<const char*>(bp + 8 * kNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 8 * kNR + 16), _MM_HINT_T0);
    for (int i = 0; i < ROWS; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc0[i] = _mm512_fmadd_ps(a, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(a, b1, acc1[i]);
    }
    ap += kMR;
    bp += kNR;
  }
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int i = 0; i < ROWS; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(acc0[i], va), r1 = _mm512_mul_ps(acc1[i], va);
    if (beta != 0.0f) {  // beta == 0: C may hold garbage (NaN) and is not read
      r0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, row), vb, r0);
      r1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, row + 16), vb, r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

using KernelFn = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float, int);
template <int... R>
constexpr auto table(std::integer_sequence<int, R...>) {
  return std::array<KernelFn, sizeof...(R)>{kernel<R + 1>...};
}

}  // namespace

// C[0..mr)×[0..nr) = alpha·(Ap·Bp) + beta·C   (beta == 0: C is not read)
void microKernel_avx512(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta,
                        int mr, int nr) {
  static constexpr auto kernels = table(std::make_integer_sequence<int, kMR>{});
  kernels[mr - 1](kc, ap, bp, c, ldc, alpha, beta, nr);
}

}  // namespace jobbert
