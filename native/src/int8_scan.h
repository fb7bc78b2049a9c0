// The int8 scan's register kernels, per instruction set (int8_scan.cpp is the
// driver and the portable kernel; int8_scan_avx512.cpp the AVX-512 VNNI one,
// int8_scan_avx2.cpp the AVX2 one), over the packed corpus layout of
// jobbert/quantized.h: groups of 16 rows, within a group 4 columns of each of
// the 16 rows (64 bytes) after another, codes stored as u8 = code + 128.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "jobbert/kernels.h"
#include "jobbert/quantized.h"

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

// The active instruction set's tile kernel (int8ScanKernel() names it).
Int8TileFn int8TileKernel();

// The queries as int8 codes (the corpus's quantisation), and what turns a
// kernel score back into a similarity: the query's scale (and 1/‖q‖).
struct Int8Queries {
  int64_t count = 0, depth = 0;
  std::vector<int8_t> codes;     // count rows of `depth` codes (zero-padded)
  std::vector<int32_t> offsets;  // per query 128 · Σ codes (Int8Tile::offsets)
  std::vector<float> factors;    // kernel score · factor = similarity
};
// Quantises `queries` as the scan does; refuses them as topK does (non-finite; zero under cosine).
Status prepareInt8Queries(const ConstMatrix& queries, Metric metric, Int8Queries* out);

// The group scans' margins (similarity units, per query) in kernel units
// (kernel score · factor = similarity), rounded up; +inf for a zero query
// (factor 0: it scores 0 everywhere and is never pruned).
std::vector<float> int8KernelMargins(const Int8Queries& pq, const double* margins);
// kth − margin in kernel units, rounded down so it never exceeds it; -inf
// (no bound: keep every row) where that is not finite (scores that overflowed).
float int8Below(float kth, float margin);

// A candidate as one integer whose order is the output order: the score's
// bits made order-preserving in the high half, the complement of the row in
// the low half (so, for equal scores, the lower row is the larger key).
// Selecting on plain integers is several times cheaper than on (score, row)
// pairs with a two-level comparison. Scores are never NaN here.
using Candidate = uint64_t;

inline Candidate candidate(float score, int32_t row) {
  uint32_t bits;
  std::memcpy(&bits, &score, 4);
  bits = bits & 0x80000000u ? ~bits : bits | 0x80000000u;
  return uint64_t(bits) << 32 | (0xffffffffu - uint32_t(row));
}
inline float scoreOf(Candidate c) {
  uint32_t bits = uint32_t(c >> 32);
  bits = bits & 0x80000000u ? bits & 0x7fffffffu : ~bits;
  float score;
  std::memcpy(&score, &bits, 4);
  return score;
}
inline int32_t rowOf(Candidate c) { return int32_t(0xffffffffu - uint32_t(c)); }

// A group and its best score so far.
struct GroupScore {
  float score;
  int32_t group;
};
// Keeps the k best distinct groups in best[0 .. *n) (best first; *n <= k)
// as (score, group) arrive: a group already held moves up on a better
// score, a new one enters while there is room or above the k-th. O(k) an
// offer. True when the k-th score rose (or the k-th group was first found).
inline bool enterGroup(GroupScore* best, int64_t* n, int64_t k, float score, int32_t group) {
  int64_t i = 0;
  while (i < *n && best[i].group != group) ++i;
  if (i < *n) {  // a group already held: a better score moves it up
    if (!(score > best[i].score)) return false;
    best[i].score = score;
  } else if (*n < k) {
    best[(*n)++] = {score, group};
    i = *n - 1;
  } else if (score > best[k - 1].score) {
    best[k - 1] = {score, group};
    i = k - 1;
  } else {
    return false;
  }
  for (; i > 0 && best[i - 1].score < best[i].score; --i) {
    const GroupScore held = best[i - 1];
    best[i - 1] = best[i], best[i] = held;
  }
  return *n == k;
}

// A group scan's answer from each query's kept candidates (best first) and
// its threshold t in kernel units (-inf: none), both turned into similarities.
void fillGroupCandidates(const std::vector<std::vector<Candidate>>& kept, const std::vector<float>& thresholds,
                         const Int8Queries& pq, GroupCandidates* out);

}  // namespace jobbert
