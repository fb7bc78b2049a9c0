// The int8 scan's AVX-512 VNNI kernel: 8 queries × 48 corpus rows (24 zmm
// accumulators of 16 int32), one vpdpbusd per query per 16 rows per 4
// columns — 64 multiply-adds an instruction, 4× a float32 FMA's 16. Each
// 4-column step loads 3 corpus vectors (the 48 rows' 4 bytes each, packed so)
// and broadcasts 4 code bytes of each query; the u8 storage (code + 128) adds
// 128 · Σq to every dot, taken off once at the end.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "int8_scan.h"

namespace jobbert {
namespace {

// (The all-lanes masked conversion: the plain one starts from
// _mm512_undefined_ps, which GCC 12 reports as maybe uninitialized.)
constexpr __mmask16 kAll = 0xffff;

// acc += Σ of 4 u8(c)·s8(b) products per int32 lane. Inline assembly: GCC 12
// shuffles and spills the accumulators of the _mm512_dpbusd_epi32 builtin
// (the instruction overwrites its accumulator) on every step.
inline __m512i dpbusd(__m512i acc, __m512i c, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(c), "v"(b));
  return acc;
}

template <int NQ, int NG>
bool tile(const Int8Tile& t, uint64_t* above) {
  // (Every loop over NQ and NG is unrolled so the accumulators stay in
  // registers: GCC otherwise keeps the arrays on the stack.)
  __m512i acc[NQ][NG];
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i)
#pragma GCC unroll 3
    for (int g = 0; g < NG; ++g) acc[i][g] = _mm512_setzero_si512();
  const uint8_t* group = t.groups;
  const int64_t stride = t.groupStride;
  const int8_t* q = t.queries;
  const int64_t depth = t.depth;
  for (int64_t p = 0; p < depth; p += 4) {
    __m512i c[NG];
#pragma GCC unroll 3
    for (int g = 0; g < NG; ++g) c[g] = _mm512_loadu_si512(group + g * stride + p * 16);
#pragma GCC unroll 8
    for (int i = 0; i < NQ; ++i) {
      int32_t word;
      std::memcpy(&word, q + i * depth + p, 4);
      const __m512i b = _mm512_set1_epi32(word);
#pragma GCC unroll 3
      for (int g = 0; g < NG; ++g) acc[i][g] = dpbusd(acc[i][g], c[g], b);
    }
  }
  uint64_t any = 0;
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) {
    const __m512i offset = _mm512_set1_epi32(t.offsets[i]);
    const __m512 threshold = _mm512_set1_ps(t.thresholds[i]);
    uint64_t lanes = 0;
#pragma GCC unroll 3
    for (int g = 0; g < NG; ++g) {
      const __m512 s = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(kAll, _mm512_sub_epi32(acc[i][g], offset)),
                                     _mm512_loadu_ps(t.rowFactors + 16 * g));
      _mm512_storeu_ps(t.scores + i * kInt8TileRows + 16 * g, s);
      lanes |= uint64_t(_mm512_cmp_ps_mask(s, threshold, _CMP_GT_OQ)) << (16 * g);
    }
    above[i] = lanes;
    any |= lanes;
  }
  return any != 0;
}

template <int NQ>
bool forGroups(const Int8Tile& t, uint64_t* above) {
  switch (t.groupCount) {
    case 1: return tile<NQ, 1>(t, above);
    case 2: return tile<NQ, 2>(t, above);
    default: return tile<NQ, 3>(t, above);
  }
}

}  // namespace

bool int8Tile_avx512vnni(const Int8Tile& t, int nq, uint64_t* above) {
  switch (nq) {
    case 1: return forGroups<1>(t, above);
    case 2: return forGroups<2>(t, above);
    case 3: return forGroups<3>(t, above);
    case 4: return forGroups<4>(t, above);
    case 5: return forGroups<5>(t, above);
    case 6: return forGroups<6>(t, above);
    case 7: return forGroups<7>(t, above);
    default: return forGroups<8>(t, above);
  }
}

}  // namespace jobbert
