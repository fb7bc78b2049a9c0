// topK: for each query row, the k best corpus rows by cosine or dot, best first,
// ties to the lower index. Cost: 2·Q·N·d flops (the score GEMM, fused with the
// selection so no Q×N score matrix ever exists) plus Q·N compares and rare
// O(log k) heap inserts; bytes: the corpus is read once (once per query group
// when k is so large that the selection state must be split).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "checks.h"
#include "gemm.h"
#include "guard.h"
#include "jobbert/buffer.h"
#include "jobbert/kernels.h"
#include "jobbert/quantized.h"
#include "thread_pool.h"

namespace jobbert {
namespace {

// Blocking of the fused GEMM (tuned on Sapphire Rapids: 48 KB L1, 2 MB L2).
// One MR×KC query panel stays in L1 while the NR-column panels of a packed
// corpus block (kNB rows × d, packed once) stream past it from L2; the
// score tile (kMB queries × kNB rows) is scanned while it is still hot.
constexpr int64_t kKC = 384;
constexpr int64_t kNB = 256;  // corpus rows per block, a multiple of every NR (8, 16, 32)
constexpr int64_t kMB = 112;  // queries per tile (rounded down to whole MR panels)
constexpr int64_t kPackedBlockFloats = int64_t(1) << 18;  // 1 MB: caps kNB for very wide rows
// At most this many queries take the direct path (dot products straight from
// the rows, no packing): a GEMM tile would be mostly padding for them.
constexpr int64_t kDirectMaxQueries = 4;
// Bound on the per-chunk selection state (chunks × queries × k candidates);
// beyond it the queries are processed in groups, each a full pass over the corpus.
constexpr int64_t kSelectionBudgetBytes = int64_t(256) << 20;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Candidate {
  float score;
  int32_t index;
};

// The output order: higher score first, equal scores by lower index. NaN (only
// reachable through float overflow of finite inputs) ranks below every number,
// so the order stays a strict weak order whatever the scores are.
inline bool better(const Candidate& a, const Candidate& b) {
  if (a.score > b.score) return true;
  if (a.score < b.score) return false;
  const bool aNan = a.score != a.score, bNan = b.score != b.score;
  if (aNan != bNan) return bNan;
  return a.index < b.index;
}

using Buffer = FloatBuffer;

Buffer allocate(int64_t floats) { return FloatBuffer(std::max<int64_t>(floats, 1)); }

// The k best candidates seen so far by one corpus chunk, for each query of a
// group: a heap per query with the worst candidate at the root. Candidates of
// a chunk arrive in increasing index order, so one whose score merely equals
// the root's loses the tie: the cheap test `score > threshold(q)` is exact.
class ChunkSelection {
 public:
  ChunkSelection(int64_t queries, int64_t k)
      : k_(k),
        heaps_(static_cast<size_t>(queries * k)),
        counts_(static_cast<size_t>(queries), 0),
        thresholds_(static_cast<size_t>(queries), kNegInf),
        settled_(static_cast<size_t>(queries), 0) {}

  // True once query q's heap is full with a numeric worst score: from then on
  // only a candidate scoring above threshold(q) can enter.
  bool settled(int64_t q) const { return settled_[q] != 0; }
  float threshold(int64_t q) const { return thresholds_[q]; }

  void offer(int64_t q, float score, int32_t index) {
    Candidate* heap = heaps_.data() + q * k_;
    int64_t& count = counts_[q];
    const Candidate c{score, index};
    if (count < k_) {
      int64_t i = count++;
      while (i > 0) {  // sift up: parents are worse than their children
        int64_t parent = (i - 1) / 2;
        if (!better(heap[parent], c)) break;
        heap[i] = heap[parent];
        i = parent;
      }
      heap[i] = c;
    } else {
      if (!better(c, heap[0])) return;
      int64_t i = 0;
      for (;;) {  // sift down from the root
        int64_t child = 2 * i + 1;
        if (child >= k_) break;
        if (child + 1 < k_ && better(heap[child], heap[child + 1])) ++child;
        if (!better(c, heap[child])) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = c;
    }
    if (count == k_) {
      const float worst = heap[0].score;
      settled_[q] = worst == worst;
      thresholds_[q] = worst == worst ? worst : kNegInf;
    }
  }

  const Candidate* candidates(int64_t q) const { return heaps_.data() + q * k_; }
  int64_t count(int64_t q) const { return counts_[q]; }

 private:
  int64_t k_;
  std::vector<Candidate> heaps_;
  std::vector<int64_t> counts_;
  std::vector<float> thresholds_;
  std::vector<char> settled_;
};

// Offers one query's scores for corpus rows [j0, j0 + cols) to the selection.
// raw holds the dot products; cosine scales them by invQ·invNorm(row), in
// that order, in every path, so a score is the same float wherever computed.
template <bool kCosine>
void scanRow(ChunkSelection& sel, int64_t q, const float* raw, int64_t cols, int64_t j0, float invQ,
             const float* invCorpus) {
  const float* invRow = kCosine ? invCorpus + j0 : nullptr;
  int64_t j = 0;
#if defined(__SSE2__)
  if (sel.settled(q)) {
    // 16 scores at a time against the k-th best so far; once the heap has
    // filled, a group holding a candidate is rare and only its hits are offered.
    float threshold = sel.threshold(q);
    const __m128 scale = _mm_set1_ps(invQ);
    alignas(16) float group[16];
    for (; j + 16 <= cols; j += 16) {
      __m128 s[4];
      for (int v = 0; v < 4; ++v) {
        s[v] = _mm_loadu_ps(raw + j + 4 * v);
        if (kCosine) s[v] = _mm_mul_ps(_mm_mul_ps(s[v], scale), _mm_loadu_ps(invRow + j + 4 * v));
      }
      const __m128 t = _mm_set1_ps(threshold);
      unsigned hits = 0;
      for (int v = 0; v < 4; ++v) hits |= unsigned(_mm_movemask_ps(_mm_cmpgt_ps(s[v], t))) << (4 * v);
      if (!hits) continue;
      for (int v = 0; v < 4; ++v) _mm_store_ps(group + 4 * v, s[v]);
      for (; hits; hits &= hits - 1) {
        const int l = __builtin_ctz(hits);
        if (group[l] > threshold) {  // the threshold rises as candidates enter
          sel.offer(q, group[l], static_cast<int32_t>(j0 + j + l));
          threshold = sel.threshold(q);
        }
      }
    }
  }
#endif
  for (; j < cols; ++j) {
    const float s = kCosine ? raw[j] * invQ * invRow[j] : raw[j];
    if (!sel.settled(q) || s > sel.threshold(q)) sel.offer(q, s, static_cast<int32_t>(j0 + j));
  }
}

struct Problem {
  const float* queries;     // the group's first query row
  int64_t queryCount;       // queries in the group
  const float* invQueries;  // cosine: 1/‖q‖ for the group's queries; null for dot
  ConstMatrix corpus;
  float* invCorpus;  // cosine: 1/‖c‖ per corpus row, filled block by block; null for dot
  int64_t k;
  Isa isa;      // the active instruction set
  bool avx512;  // isa is AVX-512
  std::atomic<bool>* corpusBad;  // set when a corpus row is non-finite (or zero under cosine)
  // When set, the corpus rows are these int8 rows (corpus.data is null): each
  // block is dequantised into a float32 buffer just before it is scored.
  const Int8Rows* int8 = nullptr;
};

// Corpus rows [j0, j0 + rows) as float32: in place, or dequantised into scratch.
const float* corpusBlock(const Problem& pr, int64_t j0, int64_t rows, float* scratch) {
  if (!pr.int8) return pr.corpus.data + j0 * pr.corpus.cols;
  dequantizeRows(*pr.int8, j0, rows, scratch);
  return scratch;
}

// Σ c_p² of one row in double: finite exactly when every element is.
double rowSumSquares(const float* row, int64_t d) {
  int64_t p = 0;
  double sum = 0.0;
#if defined(__SSE2__)
  __m128d acc[4] = {_mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd()};
  for (; p + 8 <= d; p += 8) {
    const __m128 x0 = _mm_loadu_ps(row + p), x1 = _mm_loadu_ps(row + p + 4);
    const __m128d v[4] = {_mm_cvtps_pd(x0), _mm_cvtps_pd(_mm_movehl_ps(x0, x0)), _mm_cvtps_pd(x1),
                          _mm_cvtps_pd(_mm_movehl_ps(x1, x1))};
    for (int i = 0; i < 4; ++i) acc[i] = _mm_add_pd(acc[i], _mm_mul_pd(v[i], v[i]));
  }
  alignas(16) double lanes[2];
  _mm_store_pd(lanes, _mm_add_pd(_mm_add_pd(acc[0], acc[1]), _mm_add_pd(acc[2], acc[3])));
  sum = lanes[0] + lanes[1];
#endif
  for (; p < d; ++p) sum += double(row[p]) * double(row[p]);
  return sum;
}

#if defined(JOBBERT_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_TOPK_AVX512 1
// The same sum with 512-bit vectors (8 doubles a step); only called when the
// active instruction set is AVX-512, so the CPU has it.
typedef float Float8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef double Double8 __attribute__((vector_size(64)));
__attribute__((target("avx512f"))) double rowSumSquaresAvx512(const float* row, int64_t d) {
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
#endif

// Checks corpus rows [j0, j0 + rows) and, under cosine, stores their inverse
// norms. Done block by block right before the block is used, while its rows
// are in cache, so the corpus is read from memory once. False on a bad row.
bool prepareCorpusRows(const Problem& pr, int64_t j0, int64_t rows) {
  const int64_t d = pr.corpus.cols;
  if (pr.int8) {  // checked and normed when quantised
    std::copy(pr.int8->invNorms + j0, pr.int8->invNorms + j0 + rows, pr.invCorpus + j0);
    return true;
  }
  for (int64_t j = j0; j < j0 + rows; ++j) {
#if defined(__SSE2__)
    // Two rows ahead: the rows come from memory and this loop is short.
    if (j + 2 < pr.corpus.rows) {
      const char* ahead = reinterpret_cast<const char*>(pr.corpus.data + (j + 2) * d);
      for (int64_t b = 0; b < d * 4; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T0);
    }
#endif
#ifdef JOBBERT_TOPK_AVX512
    const double sum = pr.avx512 ? rowSumSquaresAvx512(pr.corpus.data + j * d, d)
                                 : rowSumSquares(pr.corpus.data + j * d, d);
#else
    const double sum = rowSumSquares(pr.corpus.data + j * d, d);
#endif
    if (!std::isfinite(sum) || (pr.invCorpus && !(sum > 0.0))) {
      pr.corpusBad->store(true, std::memory_order_relaxed);
      return false;
    }
    if (pr.invCorpus) pr.invCorpus[j] = static_cast<float>(1.0 / std::sqrt(sum));
  }
  return true;
}

void scanTile(const Problem& pr, ChunkSelection& sel, int64_t q0, int64_t rows, const float* tile,
              int64_t ldt, int64_t j0, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t q = q0 + r;
    if (pr.invCorpus)
      scanRow<true>(sel, q, tile + r * ldt, cols, j0, pr.invQueries[q], pr.invCorpus);
    else
      scanRow<false>(sel, q, tile + r * ldt, cols, j0, 1.0f, nullptr);
  }
}

// ---------------------------------------------------------------- direct path
//
// A score must not depend on the other queries of the call (the service
// batches concurrent requests and promises the unbatched results), so the
// direct path computes each dot product in exactly the order of the tiled
// path's micro-kernel for the active instruction set: per KC block along d (the
// gemmChunk blocks), an accumulator starting at +0 updated once per element in
// order (a fused multiply-add for AVX2 and AVX-512, which is what the kernels
// do; for the portable kernel the same `acc += a * b` on a 4-float vector as
// gemm_kernel.inc, compiled with the same flags, so it contracts, or not,
// alike), and the blocks added in order (the kernel's store with alpha = 1,
// beta = 1 is round(C + acc)). The AVX2 and portable kernels broadcast a query
// value as `0 + a`, which turns -0 into +0; their direct versions read query
// copies normalised the same way (directChunk prepares them). The cosine
// scaling is scanRow's, shared by both paths.
//
// To keep each lane a sequential chain the direct kernels vectorise across
// corpus rows: a group of LANES rows is transposed LANES elements at a time in
// registers and each query's value is broadcast against the transposed columns.
// A direct kernel: out[i·ldo + r] = q[i] · rows[r] for i < nq (1..4) and
// r < rowsPerCall(nq) = LANES · G(nq): with one or two queries it runs G
// independent row groups side by side, so the FMA chains' latency is hidden.
using DirectFn = void (*)(const float* const* q, int nq, const float* const* rows, int64_t d, float* out,
                          int64_t ldo);
struct DirectKernel {
  DirectFn fn;
  int lanes;
  bool positiveZero;  // the matching micro-kernel broadcasts a query value as 0 + a
  int queryCopies;    // the kernel reads each query value this many times in a row (pre-broadcast)
  int rowsPerCall(int nq) const { return lanes * groupsFor(nq); }
  static constexpr int groupsFor(int nq) { return nq == 1 ? 4 : nq == 2 ? 2 : 1; }
};
constexpr int kMaxDirectRows = 64;  // the most rows one call scores (AVX-512, one query: 16 · 4)

template <template <int, int> class Impl>
void dispatchQueries(const float* const* q, int nq, const float* const* rows, int64_t d, float* out, int64_t ldo) {
  switch (nq) {
    case 1: Impl<1, DirectKernel::groupsFor(1)>::run(q, rows, d, out, ldo); break;
    case 2: Impl<2, DirectKernel::groupsFor(2)>::run(q, rows, d, out, ldo); break;
    case 3: Impl<3, DirectKernel::groupsFor(3)>::run(q, rows, d, out, ldo); break;
    default: Impl<4, DirectKernel::groupsFor(4)>::run(q, rows, d, out, ldo); break;
  }
}

// Portable: 4 rows per vector, `acc += a * b` exactly as gemm_kernel.inc writes
// it. Its queries come broadcast (DirectKernel::queryCopies = 4): q[i][4p..4p+3]
// hold 0 + (element p), the kernel's `V{} + ap[i]`.
typedef float Vec4 __attribute__((vector_size(16), aligned(4), may_alias));

inline void transpose4(Vec4 t[4]) {
#if defined(__SSE2__)
  __m128 r0 = t[0], r1 = t[1], r2 = t[2], r3 = t[3];
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  t[0] = r0, t[1] = r1, t[2] = r2, t[3] = r3;
#else
  Vec4 o[4];
  for (int c = 0; c < 4; ++c) o[c] = Vec4{t[0][c], t[1][c], t[2][c], t[3][c]};
  for (int c = 0; c < 4; ++c) t[c] = o[c];
#endif
}

template <int NQ, int G>
struct DirectPortable {
  static void run(const float* const* q, const float* const* rows, int64_t d, float* out, int64_t ldo) {
    Vec4 total[G][NQ] = {};
    for (int64_t k0 = 0; k0 < d; k0 += kKC) {
      const int64_t kEnd = std::min(d, k0 + kKC);
      Vec4 acc[G][NQ] = {};
      int64_t p = k0;
      for (; p + 4 <= kEnd; p += 4)
        for (int g = 0; g < G; ++g) {
          Vec4 t[4];
          for (int r = 0; r < 4; ++r) t[r] = *reinterpret_cast<const Vec4*>(rows[4 * g + r] + p);
          transpose4(t);
          for (int s = 0; s < 4; ++s)
            for (int i = 0; i < NQ; ++i) {
              const Vec4 a = *reinterpret_cast<const Vec4*>(q[i] + 4 * (p + s));
              acc[g][i] += a * t[s];
            }
        }
      for (; p < kEnd; ++p)
        for (int g = 0; g < G; ++g) {
          const float* const* rg = rows + 4 * g;
          const Vec4 b = {rg[0][p], rg[1][p], rg[2][p], rg[3][p]};
          for (int i = 0; i < NQ; ++i) {
            const Vec4 a = *reinterpret_cast<const Vec4*>(q[i] + 4 * p);
            acc[g][i] += a * b;
          }
        }
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) total[g][i] = k0 == 0 ? acc[g][i] : acc[g][i] + total[g][i];
    }
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i)
        for (int r = 0; r < 4; ++r) out[i * ldo + 4 * g + r] = total[g][i][r];
  }
};

#if defined(JOBBERT_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
#define JOBBERT_TOPK_AVX2 1
#define JB_TARGET_AVX2 __attribute__((target("avx2,fma"), always_inline)) inline

// Within each 128-bit lane, the 4×4 transpose of t[0..3] (lane l of t[r] holds
// 4 floats of some row r + 4l): afterwards t[c] lane l holds column c of rows
// 4l..4l+3.
JB_TARGET_AVX2 void transposeLanes4(__m256 t[4]) {
  const __m256 a = _mm256_unpacklo_ps(t[0], t[1]), b = _mm256_unpackhi_ps(t[0], t[1]);
  const __m256 c = _mm256_unpacklo_ps(t[2], t[3]), e = _mm256_unpackhi_ps(t[2], t[3]);
  t[0] = _mm256_shuffle_ps(a, c, 0x44);
  t[1] = _mm256_shuffle_ps(a, c, 0xEE);
  t[2] = _mm256_shuffle_ps(b, e, 0x44);
  t[3] = _mm256_shuffle_ps(b, e, 0xEE);
}

// Columns p..p+7 of 8 rows as 8 vectors of the rows' values; the 128-bit
// halves are loaded straight into place, so only 16 shuffles remain.
JB_TARGET_AVX2 void loadColumns8(const float* const* rows, int64_t p, __m256 t[8]) {
  for (int h = 0; h < 2; ++h)
    for (int r = 0; r < 4; ++r)
      t[4 * h + r] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(rows[r] + p + 4 * h)),
                                          _mm_loadu_ps(rows[r + 4] + p + 4 * h), 1);
  transposeLanes4(t);
  transposeLanes4(t + 4);
}

// The same for the last rem < 8 columns of a block (masked loads read nothing beyond).
JB_TARGET_AVX2 void loadColumnsPartial8(const float* const* rows, int64_t p, int rem, __m256 t[8]) {
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
  __attribute__((target("avx2,fma"))) static void run(const float* const* q, const float* const* rows, int64_t d,
                                                      float* out, int64_t ldo) {
    __m256 total[G][NQ];
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) total[g][i] = _mm256_setzero_ps();
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
            for (int i = 0; i < NQ; ++i)
              acc[g][i] = _mm256_fmadd_ps(_mm256_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      if (p < kEnd) {
        const int rem = static_cast<int>(kEnd - p);
        for (int g = 0; g < G; ++g) {
          __m256 t[8];
          loadColumnsPartial8(rows + 8 * g, p, rem, t);
          for (int s = 0; s < rem; ++s)
            for (int i = 0; i < NQ; ++i)
              acc[g][i] = _mm256_fmadd_ps(_mm256_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      }
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) total[g][i] = k0 == 0 ? acc[g][i] : _mm256_add_ps(total[g][i], acc[g][i]);
    }
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) _mm256_storeu_ps(out + i * ldo + 8 * g, total[g][i]);
  }
};
#endif

#ifdef JOBBERT_TOPK_AVX512
#define JB_TARGET_AVX512 __attribute__((target("avx512f"), always_inline)) inline

// In-register transpose of 16 rows × 16 floats (64 shuffles). (The all-lanes
// masked forms: the plain ones start from _mm512_undefined_ps, which GCC 12
// reports as maybe uninitialized.)
JB_TARGET_AVX512 void transpose16(__m512 r[16]) {
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
  __attribute__((target("avx512f"))) static void run(const float* const* q, const float* const* rows, int64_t d,
                                                     float* out, int64_t ldo) {
    __m512 total[G][NQ];
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) total[g][i] = _mm512_setzero_ps();
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
            for (int i = 0; i < NQ; ++i)
              acc[g][i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      if (p < kEnd) {
        const int rem = static_cast<int>(kEnd - p);
        const __mmask16 mask = static_cast<__mmask16>((1u << rem) - 1);
        for (int g = 0; g < G; ++g) {
          __m512 t[16];
          for (int r = 0; r < 16; ++r) t[r] = _mm512_maskz_loadu_ps(mask, rows[16 * g + r] + p);
          transpose16(t);
          for (int s = 0; s < rem; ++s)
            for (int i = 0; i < NQ; ++i)
              acc[g][i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][p + s]), t[s], acc[g][i]);
        }
      }
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < NQ; ++i) total[g][i] = k0 == 0 ? acc[g][i] : _mm512_add_ps(total[g][i], acc[g][i]);
    }
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < NQ; ++i) _mm512_storeu_ps(out + i * ldo + 16 * g, total[g][i]);
  }
};
#endif

DirectKernel directKernel(Isa isa) {
  switch (isa) {
#ifdef JOBBERT_TOPK_AVX512
    case Isa::kAvx512: return {dispatchQueries<DirectAvx512>, 16, false, 1};
#endif
#ifdef JOBBERT_TOPK_AVX2
    case Isa::kAvx2: return {dispatchQueries<DirectAvx2>, 8, true, 1};
#endif
    default: return {dispatchQueries<DirectPortable>, 4, true, 4};
  }
}

// Few queries: stream the corpus rows of the chunk once and score each group
// of LANES rows against every query of the group.
void directChunk(const Problem& pr, ChunkSelection& sel, int64_t begin, int64_t end) {
  const int64_t d = pr.corpus.cols;
  const DirectKernel kernel = directKernel(pr.isa);
  // Rows per block (a multiple of every call's rows): checked, then scored
  // while in L2, so fewer for very wide rows.
  const int64_t blockRows =
      std::max<int64_t>(kMaxDirectRows, std::min<int64_t>(128, (int64_t(512) << 10) / (4 * d) / 64 * 64));
  std::vector<float> raw(static_cast<size_t>(4 * blockRows));
  // The queries as the kernel reads them: -0 as +0 where it broadcasts 0 + a,
  // each value repeated queryCopies times.
  const int64_t copies = kernel.queryCopies, qd = d * copies;
  std::vector<float> prepared;
  if (kernel.positiveZero || copies > 1) {
    prepared.resize(static_cast<size_t>(pr.queryCount * qd));
    for (int64_t t = 0; t < pr.queryCount * d; ++t) {
      const float v = kernel.positiveZero ? 0.0f + pr.queries[t] : pr.queries[t];
      for (int64_t c = 0; c < copies; ++c) prepared[t * copies + c] = v;
    }
  }
  const float* queries = prepared.empty() ? pr.queries : prepared.data();
  std::vector<float> scratch(static_cast<size_t>(pr.int8 ? blockRows * d : 0));
  for (int64_t j0 = begin; j0 < end; j0 += blockRows) {
    const int64_t cols = std::min(blockRows, end - j0);
    if (pr.corpusBad->load(std::memory_order_relaxed) || !prepareCorpusRows(pr, j0, cols)) return;
    const float* block = corpusBlock(pr, j0, cols, scratch.data());
    for (int64_t q0 = 0; q0 < pr.queryCount; q0 += 4) {
      const int nq = static_cast<int>(std::min<int64_t>(4, pr.queryCount - q0));
      const float* q[4];
      for (int i = 0; i < nq; ++i) q[i] = queries + (q0 + i) * qd;
      const int step = kernel.rowsPerCall(nq);
      for (int64_t g = 0; g < cols; g += step) {
        // A last call short of rows repeats its last row in the spare lanes.
        const float* rows[kMaxDirectRows];
        const int64_t count = std::min<int64_t>(step, cols - g);
        for (int r = 0; r < step; ++r) rows[r] = block + (g + std::min<int64_t>(r, count - 1)) * d;
        kernel.fn(q, nq, rows, d, raw.data() + g, blockRows);
      }
      scanTile(pr, sel, q0, nq, raw.data(), blockRows, j0, cols);
    }
  }
}

// Many queries: the queries are packed once (packedA, all of d, panel by KC
// block); each corpus block of the chunk is packed once and multiplied
// against every query tile with the register micro-kernel, and each tile is
// scanned into the selection right after.
void gemmChunk(const Problem& pr, ChunkSelection& sel, const MicroKernel& kernel, const float* packedA,
               int64_t begin, int64_t end) {
  const int64_t d = pr.corpus.cols;
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t queryPanels = (pr.queryCount + mr - 1) / mr;
  const int64_t tilePanels = std::max<int64_t>(1, kMB / mr);
  // Corpus rows per block: kNB, fewer for very wide rows so the packed block stays L2-sized.
  const int64_t blockRows = std::max<int64_t>(nr, std::min(kNB, kPackedBlockFloats / d / nr * nr));
  GemmParams corpusView;
  corpusView.ldb = d, corpusView.transB = true;
  Buffer packedB = allocate(blockRows * d);
  Buffer tile = allocate(tilePanels * mr * blockRows);
  Buffer scratch = allocate(pr.int8 ? blockRows * d : 0);

  for (int64_t j0 = begin; j0 < end; j0 += blockRows) {
    const int64_t cols = std::min(blockRows, end - j0);
    const int64_t panels = (cols + nr - 1) / nr;
    if (pr.corpusBad->load(std::memory_order_relaxed) || !prepareCorpusRows(pr, j0, cols)) return;
    corpusView.b = corpusBlock(pr, j0, cols, scratch.data());  // row j0
    // Block layout: the KC slice at k0 starts at k0·blockRows and holds NR-column panels of nr·kc floats.
    for (int64_t k0 = 0; k0 < d; k0 += kKC) {
      const int64_t kc = std::min(kKC, d - k0);
      for (int64_t jp = 0; jp < panels; ++jp)
        packBPanel(corpusView, k0, kc, jp * nr, std::min<int64_t>(nr, cols - jp * nr), nr,
                   packedB.data() + k0 * blockRows + jp * nr * kc);
    }
    for (int64_t qp = 0; qp < queryPanels; qp += tilePanels) {
      const int64_t pc = std::min(tilePanels, queryPanels - qp);
      const int64_t q0 = qp * mr, rows = std::min(pc * mr, pr.queryCount - q0);
      for (int64_t k0 = 0; k0 < d; k0 += kKC) {
        const int64_t kc = std::min(kKC, d - k0);
        const float beta = k0 == 0 ? 0.0f : 1.0f;
        const float* aSlice = packedA + k0 * queryPanels * mr + qp * mr * kc;
        const float* bSlice = packedB.data() + k0 * blockRows;
        // One query panel (L1) against the block's corpus panels streaming from L2.
        for (int64_t r = 0; r < pc; ++r) {
          const int panelRows = static_cast<int>(std::min<int64_t>(mr, rows - r * mr));
          for (int64_t jp = 0; jp < panels; ++jp)
            // Full nr columns: the corpus padding is zeros and lands in the tile's padding.
            kernel.fn(kc, aSlice + r * mr * kc, bSlice + jp * nr * kc, tile.data() + r * mr * blockRows + jp * nr,
                      blockRows, 1.0f, beta, panelRows, nr);
        }
      }
      scanTile(pr, sel, q0, rows, tile.data(), blockRows, j0, cols);
    }
  }
}

// Merges the chunks' candidates of each query into its k best, in output order.
void mergeChunks(const std::vector<std::unique_ptr<ChunkSelection>>& chunks, int64_t queries, int64_t k,
                 int32_t* indices, float* scores) {
  parallelRanges(queries, std::max<int64_t>(1, 4096 / (k * static_cast<int64_t>(chunks.size()))),
                 [&](int64_t begin, int64_t end) {
                   std::vector<Candidate> all;
                   for (int64_t q = begin; q < end; ++q) {
                     all.clear();
                     for (const auto& c : chunks)
                       all.insert(all.end(), c->candidates(q), c->candidates(q) + c->count(q));
                     const int64_t take = std::min<int64_t>(k, static_cast<int64_t>(all.size()));
                     std::partial_sort(all.begin(), all.begin() + take, all.end(), better);
                     for (int64_t r = 0; r < take; ++r) {
                       indices[q * k + r] = all[r].index;
                       scores[q * k + r] = all[r].score;
                     }
                   }
                 });
}

Status runTopK(const TopKParams& p, const float* invQueries, float* invCorpus, const Int8Rows* int8 = nullptr) {
  const int64_t queries = p.queries.rows, n = p.corpus.rows, d = p.corpus.cols, k = p.k;
  const int threads = ThreadPool::instance().size();
  const bool direct = queries <= kDirectMaxQueries;
  const MicroKernel kernel = microKernel(activeIsa());

  // Chunks: two per thread, so a thread slowed by other work does not hold up
  // the rest (more chunks mean more heap inserts), each at least a corpus
  // block, within the selection budget.
  const int64_t perQuery = k * static_cast<int64_t>(sizeof(Candidate) + 1);
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(2 * threads, (n + kNB - 1) / kNB));
  while (chunks > threads && chunks * queries * perQuery > kSelectionBudgetBytes) --chunks;
  int64_t group = queries;
  if (chunks * queries * perQuery > kSelectionBudgetBytes) {
    group = std::max<int64_t>(1, kSelectionBudgetBytes / (chunks * perQuery));
    if (!direct) group = std::max<int64_t>(kMB, group / kMB * kMB);
  }

  std::atomic<bool> corpusBad{false};
  for (int64_t g0 = 0; g0 < queries; g0 += group) {
    Problem pr;
    pr.queries = p.queries.data + g0 * d;
    pr.queryCount = std::min(group, queries - g0);
    pr.invQueries = invQueries ? invQueries + g0 : nullptr;
    pr.corpus = p.corpus;
    pr.invCorpus = invCorpus;
    pr.k = k;
    pr.corpusBad = &corpusBad;
    pr.isa = activeIsa();
    pr.avx512 = pr.isa == Isa::kAvx512;
    pr.int8 = int8;

    Buffer packedA;
    if (!direct) {
      const int mr = kernel.mr;
      const int64_t queryPanels = (pr.queryCount + mr - 1) / mr;
      packedA = allocate(queryPanels * mr * d);
      GemmParams queryView;
      queryView.a = pr.queries, queryView.lda = d;
      ThreadPool::instance().run((d + kKC - 1) / kKC, [&](int64_t kb) {
        const int64_t k0 = kb * kKC, kc = std::min(kKC, d - k0);
        packA(queryView, 0, pr.queryCount, k0, kc, mr, packedA.data() + k0 * queryPanels * mr);
      });
    }

    std::vector<std::unique_ptr<ChunkSelection>> selections(static_cast<size_t>(chunks));
    ThreadPool::instance().run(chunks, [&](int64_t c) {
      // Chunk boundaries on corpus blocks keep every block but the last full.
      const int64_t blocks = (n + kNB - 1) / kNB;
      const int64_t begin = std::min(n, blocks * c / chunks * kNB);
      const int64_t end = std::min(n, blocks * (c + 1) / chunks * kNB);
      selections[c] = std::make_unique<ChunkSelection>(pr.queryCount, k);
      if (begin >= end) return;
      if (direct)
        directChunk(pr, *selections[c], begin, end);
      else
        gemmChunk(pr, *selections[c], kernel, packedA.data(), begin, end);
    });
    if (corpusBad.load()) {
      // Name the first bad value or row precisely (a second scan, on the error path only).
      std::vector<float> scratch(static_cast<size_t>(n));
      Status s = invCorpus ? inverseRowNorms(p.corpus, "corpus", scratch.data()) : checkFinite(p.corpus, "corpus");
      return s.ok() ? Status::Range("corpus must hold only finite numbers") : s;
    }
    mergeChunks(selections, pr.queryCount, k, p.indices + g0 * k, p.scores + g0 * k);
  }
  return Status::Ok();
}

}  // namespace

Status topKInt8(const ConstMatrix& queries, const Int8Rows& corpus, int64_t k, int32_t* indices, float* scores) {
  if (Status s = checkShape(queries, "queries"); !s.ok()) return s;
  if (corpus.rows < 1 || corpus.cols < 1 || !corpus.codes || !corpus.scales || !corpus.invNorms)
    return Status::Range("corpus must be a non-empty int8 matrix");
  if (corpus.cols != queries.cols)
    return Status::Range("corpus must have as many columns as queries (" + std::to_string(queries.cols) +
                         "); received " + std::to_string(corpus.cols));
  if (k < 1 || k > corpus.rows)
    return Status::Range("k must be between 1 and corpus.rows (" + std::to_string(corpus.rows) + "); received " +
                         std::to_string(k));
  if (!indices || !scores) return Status::Type("indices and scores must be output buffers");
  return guarded("topKInt8", [&]() -> Status {
    TopKParams p;
    p.queries = queries, p.corpus = {nullptr, corpus.rows, corpus.cols};
    p.k = k, p.metric = Metric::kCosine, p.indices = indices, p.scores = scores;
    std::vector<float> invQueries(static_cast<size_t>(queries.rows));
    std::vector<float> invCorpus(static_cast<size_t>(corpus.rows));
    if (Status s = inverseRowNorms(queries, "queries", invQueries.data()); !s.ok()) return s;
    return runTopK(p, invQueries.data(), invCorpus.data(), &corpus);
  });
}

Status topK(const TopKParams& p) {
  if (Status s = checkShape(p.queries, "queries"); !s.ok()) return s;
  if (Status s = checkShape(p.corpus, "corpus"); !s.ok()) return s;
  if (p.corpus.cols != p.queries.cols)
    return Status::Range("corpus must have as many columns as queries (" + std::to_string(p.queries.cols) +
                         "); received " + std::to_string(p.corpus.cols));
  if (p.k < 1 || p.k > p.corpus.rows)
    return Status::Range("k must be between 1 and corpus.rows (" + std::to_string(p.corpus.rows) +
                         "); received " + std::to_string(p.k));
  if (!p.indices || !p.scores) return Status::Type("indices and scores must be output buffers");
  return guarded("topK", [&]() -> Status {
    // The queries are checked up front; each corpus row is checked (and its
    // inverse norm taken) inside the pass, right before its block is scored.
    if (p.metric == Metric::kCosine) {
      std::vector<float> invQueries(static_cast<size_t>(p.queries.rows));
      std::vector<float> invCorpus(static_cast<size_t>(p.corpus.rows));
      if (Status s = inverseRowNorms(p.queries, "queries", invQueries.data()); !s.ok()) return s;
      return runTopK(p, invQueries.data(), invCorpus.data());
    }
    if (Status s = checkFinite(p.queries, "queries"); !s.ok()) return s;
    return runTopK(p, nullptr, nullptr);
  });
}

}  // namespace jobbert
