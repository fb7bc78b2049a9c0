// The int8 scan's AVX2 kernel (CPUs without VNNI): 4 queries × 16 corpus rows
// (8 ymm accumulators). AVX2 has no u8×s8 dot into int32, so each step turns
// the u8 storage back into s8 codes c and multiplies |c| by q·sign(c) with
// vpmaddubsw (pairs of products into int16: |c|, |q| <= 127 cannot saturate),
// widened and summed by vpmaddwd — 32 multiply-adds in 2 multiply
// instructions, against 8 per float32 FMA, and a quarter of the bytes read.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "int8_scan.h"

namespace jobbert {
namespace {

template <int NQ>
void groupDots(const Int8Tile& t, const int8_t* const* q, const uint8_t* group, __m256i (&acc)[NQ][2]) {
  for (int i = 0; i < NQ; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t p = 0; p < t.depth; p += 4) {
    const __m256i c0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + p * 16)), flip);
    const __m256i c1 =
        _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + p * 16 + 32)), flip);
    const __m256i a0 = _mm256_abs_epi8(c0), a1 = _mm256_abs_epi8(c1);
    for (int i = 0; i < NQ; ++i) {
      int32_t word;
      std::memcpy(&word, q[i] + p, 4);
      const __m256i b = _mm256_set1_epi32(word);
      acc[i][0] =
          _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(b, c0)), ones));
      acc[i][1] =
          _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(b, c1)), ones));
    }
  }
}

template <int NQ>
bool tile(const Int8Tile& t, int q0, uint64_t* above) {
  const int8_t* q[NQ];
  for (int i = 0; i < NQ; ++i) q[i] = t.queries + (q0 + i) * t.depth;
  uint64_t any = 0;
  for (int i = 0; i < NQ; ++i) above[q0 + i] = 0;
  for (int g = 0; g < t.groupCount; ++g) {
    __m256i acc[NQ][2];
    groupDots<NQ>(t, q, t.groups + g * t.groupStride, acc);
    const __m256 f0 = _mm256_loadu_ps(t.rowFactors + 16 * g), f1 = _mm256_loadu_ps(t.rowFactors + 16 * g + 8);
    for (int i = 0; i < NQ; ++i) {
      const __m256 s0 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][0]), f0);
      const __m256 s1 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][1]), f1);
      float* out = t.scores + (q0 + i) * kInt8TileRows + 16 * g;
      _mm256_storeu_ps(out, s0);
      _mm256_storeu_ps(out + 8, s1);
      const __m256 threshold = _mm256_set1_ps(t.thresholds[q0 + i]);
      const uint64_t lanes = uint64_t(_mm256_movemask_ps(_mm256_cmp_ps(s0, threshold, _CMP_GT_OQ))) |
                             uint64_t(_mm256_movemask_ps(_mm256_cmp_ps(s1, threshold, _CMP_GT_OQ))) << 8;
      above[q0 + i] |= lanes << (16 * g);
      any |= lanes;
    }
  }
  return any != 0;
}

}  // namespace

bool int8Tile_avx2(const Int8Tile& t, int nq, uint64_t* above) {
  bool hits = false;
  for (int q0 = 0; q0 < nq; q0 += 4) {
    switch (nq - q0) {
      case 1: hits |= tile<1>(t, q0, above); break;
      case 2: hits |= tile<2>(t, q0, above); break;
      case 3: hits |= tile<3>(t, q0, above); break;
      default: hits |= tile<4>(t, q0, above); break;
    }
  }
  return hits;
}

}  // namespace jobbert
