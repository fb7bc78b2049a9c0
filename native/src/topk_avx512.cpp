// AVX-512 pieces of topK (see topk.h, and the direct path's notes in
// topk.cpp): the direct path's kernel, 16 corpus rows per vector, each lane a
// sequential chain of fused multiply-adds per KC block in the AVX-512
// micro-kernel's order; and a corpus row's sum of squares in double. Compiled
// with the AVX-512 flags (CMakeLists.txt); called only when the active
// instruction set is AVX-512.
#include "topk.h"

#ifdef JOBBERT_TOPK_AVX512
#include <immintrin.h>

#include <algorithm>

namespace jobbert {
// Everything but the entry points is in an anonymous namespace: an inline
// function with external linkage compiled here with AVX-512 flags could be
// the copy the linker keeps for callers in other files.
namespace {

#define JB_ALWAYS_INLINE __attribute__((always_inline)) inline

// In-register transpose of 16 rows × 16 floats (64 shuffles). (The all-lanes
// masked forms: the plain ones start from _mm512_undefined_ps, which GCC 12
// reports as maybe uninitialized.)
JB_ALWAYS_INLINE void transpose16(__m512 r[16]) {
  constexpr __mmask16 kAll = 0xffff;
  __m512 t[16], u[16];
  for (int a = 0; a < 8; ++a) {
    t[2 * a] = _mm512_maskz_unpacklo_ps(kAll, r[2 * a], r[2 * a + 1]);
    t[2 * a + 1] = _mm512_maskz_unpackhi_ps(kAll, r[2 * a], r[2 * a + 1]);
  }
  // u[4b + c], 128-bit lane l: column 4l + c of rows 4b..4b+3.
  for (int b = 0; b < 4; ++b) {
    u[4 * b + 0] = _mm512_shuffle_ps(t[4 * b], t[4 * b + 2], 0x44);
    u[4 * b + 1] = _mm512_shuffle_ps(t[4 * b], t[4 * b + 2], 0xEE);
    u[4 * b + 2] = _mm512_shuffle_ps(t[4 * b + 1], t[4 * b + 3], 0x44);
    u[4 * b + 3] = _mm512_shuffle_ps(t[4 * b + 1], t[4 * b + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_maskz_shuffle_f32x4(kAll, u[c], u[4 + c], 0x44),
                 v1 = _mm512_maskz_shuffle_f32x4(kAll, u[c], u[4 + c], 0xEE);
    const __m512 v2 = _mm512_maskz_shuffle_f32x4(kAll, u[8 + c], u[12 + c], 0x44),
                 v3 = _mm512_maskz_shuffle_f32x4(kAll, u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_maskz_shuffle_f32x4(kAll, v0, v2, 0x88);
    r[4 + c] = _mm512_maskz_shuffle_f32x4(kAll, v0, v2, 0xDD);
    r[8 + c] = _mm512_maskz_shuffle_f32x4(kAll, v1, v3, 0x88);
    r[12 + c] = _mm512_maskz_shuffle_f32x4(kAll, v1, v3, 0xDD);
  }
}

template <int NQ, int G>
struct DirectAvx512 {
  static void run(const float* const* q, const float* const* rows, int64_t d, float* out, int64_t ldo) {
    __m512 total[G][NQ];
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) total[g][i] = _mm512_setzero_ps();
    const int64_t kKC = topKBlockDepth();
    for (int64_t k0 = 0; k0 < d; k0 += kKC) {
      const int64_t kEnd = std::min(d, k0 + kKC);
      __m512 acc[G][NQ];
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) acc[g][i] = _mm512_setzero_ps();
      int64_t p = k0;
      for (; p + 16 <= kEnd; p += 16)
        for (int g = 0; g < G; ++g) {
          __m512 t[16];
          for (int r = 0; r < 16; ++r) t[r] = _mm512_loadu_ps(rows[16 * g + r] + p);
          transpose16(t);
          for (int s = 0; s < 16; ++s)
            for (int i = 0; i < NQ; ++i) acc[g][i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      if (p < kEnd) {
        const int rem = static_cast<int>(kEnd - p);
        const __mmask16 mask = static_cast<__mmask16>((1u << rem) - 1);
        for (int g = 0; g < G; ++g) {
          __m512 t[16];
          for (int r = 0; r < 16; ++r) t[r] = _mm512_maskz_loadu_ps(mask, rows[16 * g + r] + p);
          transpose16(t);
          for (int s = 0; s < rem; ++s)
            for (int i = 0; i < NQ; ++i) acc[g][i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      }
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) total[g][i] = k0 == 0 ? acc[g][i] : _mm512_add_ps(total[g][i], acc[g][i]);
    }
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) _mm512_storeu_ps(out + i * ldo + 16 * g, total[g][i]);
  }
};

typedef float Float8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef double Double8 __attribute__((vector_size(64)));

}  // namespace

void topkDirect_avx512(const float* const* q, int nq, const float* const* rows, int64_t d, float* out, int64_t ldo) {
  dispatchQueries<DirectAvx512>(q, nq, rows, d, out, ldo);
}

// The same sum as topk.cpp's rowSumSquares, 8 doubles a step.
double rowSumSquares_avx512(const float* row, int64_t d) {
  Double8 acc0 = {}, acc1 = {};
  int64_t p = 0;
  for (; p + 16 <= d; p += 16) {
    const Double8 v0 = __builtin_convertvector(*reinterpret_cast<const Float8*>(row + p), Double8);
    const Double8 v1 = __builtin_convertvector(*reinterpret_cast<const Float8*>(row + p + 8), Double8);
    acc0 += v0 * v0;
    acc1 += v1 * v1;
  }
  const Double8 acc = acc0 + acc1;
  double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; p < d; ++p) sum += double(row[p]) * double(row[p]);
  return sum;
}

}  // namespace jobbert
#endif
