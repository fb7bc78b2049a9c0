// The int8 scan's register kernels, per instruction set (int8_scan.cpp is the
// driver and the portable kernel; int8_scan_avx512.cpp the AVX-512 VNNI one,
// int8_scan_avx2.cpp the AVX2 one), over the packed corpus layout of
// jobbert/quantized.h: groups of 16 rows, within a group 4 columns of each of
// the 16 rows (64 bytes) after another, codes stored as u8 = code + 128.
#pragma once

#include <cstdint>

namespace jobbert {

// One call scores up to kInt8MaxQueries queries against up to 3 row groups
// (48 rows). Every kernel computes the exact integer dot Σ q_p · c_p (codes in
// [-127, 127]) and s = float(dot) · rowFactors[lane], so a score is the same
// float whichever kernel computed it; it stores the nq × 48 scores at
// scores[i·48 + lane], sets bit `lane` of above[i] for each score above
// thresholds[i] (lanes of the groups given only), and returns whether any bit is set.
struct Int8Tile {
  const int8_t* queries = nullptr;    // nq rows of `depth` codes (zero-padded), `depth` apart
  const int32_t* offsets = nullptr;   // per query 128 · Σ q_p (what the u8 storage adds to each dot)
  const float* thresholds = nullptr;  // per query
  const uint8_t* groups = nullptr;    // the first row group; the others follow at groupStride
  int64_t groupStride = 0;            // 16 · depth
  int groupCount = 0;                 // 1..3
  const float* rowFactors = nullptr;  // 16 · groupCount
  int64_t depth = 0;                  // cols rounded up to 4
  float* scores = nullptr;            // nq × 48
};

constexpr int kInt8MaxQueries = 8;
constexpr int kInt8TileRows = 48;

using Int8TileFn = bool (*)(const Int8Tile& t, int nq, uint64_t* above);

#if defined(JOBBERT_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_INT8_AVX512 1
// 8 queries × 48 rows with vpdpbusd (u8 corpus × s8 query, the u8 offset
// subtracted at the end). Needs AVX512-VNNI and AVX512-BW.
bool int8Tile_avx512vnni(const Int8Tile& t, int nq, uint64_t* above);
#endif
#if defined(JOBBERT_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_INT8_AVXVNNI 1
// 4 queries × 16 rows with VEX vpdpbusd (int8_scan_vnni256.inc). Needs AVX-VNNI.
bool int8Tile_avxvnni(const Int8Tile& t, int nq, uint64_t* above);
#endif
#if defined(JOBBERT_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
// The same code in EVEX encoding, for checking it where AVX-VNNI is absent
// (int8ScanUseVnni256). Needs AVX512-VNNI and VL.
bool int8Tile_vnni256evex(const Int8Tile& t, int nq, uint64_t* above);
#endif
#if defined(JOBBERT_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_INT8_AVX2 1
// 4 queries × 16 rows at a time with vpmaddubsw on |c| and sign(q, c) (no
// saturation: |c|, |q| <= 127), widened by vpmaddwd.
bool int8Tile_avx2(const Int8Tile& t, int nq, uint64_t* above);
#endif

}  // namespace jobbert
