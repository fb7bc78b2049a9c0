// AVX2 + FMA kernel of topK's direct path (see topk.h, and the direct path's
// notes in topk.cpp): 8 corpus rows per vector, each lane a sequential chain
// of fused multiply-adds per KC block, in the AVX2 micro-kernel's order.
// Compiled with -mavx2 -mfma (CMakeLists.txt); called only when the active
// instruction set is AVX2.
#include "topk.h"

#ifdef JOBBERT_TOPK_AVX2
#include <immintrin.h>

#include <algorithm>

namespace jobbert {
// Everything but the entry points is in an anonymous namespace: an inline
// function with external linkage compiled here with AVX2 flags could be
// the copy the linker keeps for callers in other files.
namespace {

#define JB_ALWAYS_INLINE __attribute__((always_inline)) inline

// Within each 128-bit lane, the 4×4 transpose of t[0..3] (lane l of t[r] holds
// 4 floats of some row r + 4l): afterwards t[c] lane l holds column c of rows
// 4l..4l+3.
JB_ALWAYS_INLINE void transposeLanes4(__m256 t[4]) {
  const __m256 a = _mm256_unpacklo_ps(t[0], t[1]), b = _mm256_unpackhi_ps(t[0], t[1]);
  const __m256 c = _mm256_unpacklo_ps(t[2], t[3]), e = _mm256_unpackhi_ps(t[2], t[3]);
  t[0] = _mm256_shuffle_ps(a, c, 0x44);
  t[1] = _mm256_shuffle_ps(a, c, 0xEE);
  t[2] = _mm256_shuffle_ps(b, e, 0x44);
  t[3] = _mm256_shuffle_ps(b, e, 0xEE);
}

// Columns p..p+7 of 8 rows as 8 vectors of the rows' values; the 128-bit
// halves are loaded straight into place, so only 16 shuffles remain.
JB_ALWAYS_INLINE void loadColumns8(const float* const* rows, int64_t p, __m256 t[8]) {
  for (int h = 0; h < 2; ++h)
    for (int r = 0; r < 4; ++r)
      t[4 * h + r] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(rows[r] + p + 4 * h)),
                                          _mm_loadu_ps(rows[r + 4] + p + 4 * h), 1);
  transposeLanes4(t);
  transposeLanes4(t + 4);
}

// The same for the last rem < 8 columns of a block (masked loads read nothing beyond).
JB_ALWAYS_INLINE void loadColumnsPartial8(const float* const* rows, int64_t p, int rem, __m256 t[8]) {
  for (int h = 0; h < 2; ++h) {
    const int n = std::max(0, std::min(4, rem - 4 * h));
    const __m128i mask = _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
    for (int r = 0; r < 4; ++r)
      t[4 * h + r] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_maskload_ps(rows[r] + p + 4 * h, mask)),
                                          _mm_maskload_ps(rows[r + 4] + p + 4 * h, mask), 1);
  }
  transposeLanes4(t);
  transposeLanes4(t + 4);
}

template <int NQ, int G>
struct DirectAvx2 {
  static void run(const float* const* q, const float* const* rows, int64_t d, float* out, int64_t ldo) {
    __m256 total[G][NQ];
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) total[g][i] = _mm256_setzero_ps();
    const int64_t kKC = topKBlockDepth();
    for (int64_t k0 = 0; k0 < d; k0 += kKC) {
      const int64_t kEnd = std::min(d, k0 + kKC);
      __m256 acc[G][NQ];
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) acc[g][i] = _mm256_setzero_ps();
      int64_t p = k0;
      for (; p + 8 <= kEnd; p += 8)
        for (int g = 0; g < G; ++g) {
          __m256 t[8];
          loadColumns8(rows + 8 * g, p, t);
          for (int s = 0; s < 8; ++s)
            for (int i = 0; i < NQ; ++i) acc[g][i] = _mm256_fmadd_ps(_mm256_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      if (p < kEnd) {
        const int rem = static_cast<int>(kEnd - p);
        for (int g = 0; g < G; ++g) {
          __m256 t[8];
          loadColumnsPartial8(rows + 8 * g, p, rem, t);
          for (int s = 0; s < rem; ++s)
            for (int i = 0; i < NQ; ++i) acc[g][i] = _mm256_fmadd_ps(_mm256_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      }
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) total[g][i] = k0 == 0 ? acc[g][i] : _mm256_add_ps(total[g][i], acc[g][i]);
    }
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) _mm256_storeu_ps(out + i * ldo + 8 * g, total[g][i]);
  }
};

}  // namespace

void topkDirect_avx2(const float* const* q, int nq, const float* const* rows, int64_t d, float* out, int64_t ldo) {
  dispatchQueries<DirectAvx2>(q, nq, rows, d, out, ldo);
}

}  // namespace jobbert
#endif
