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
#include "topk.h"

namespace jobbert {
namespace {

// Blocking of the fused GEMM, from this CPU's caches. One MR×KC query panel
// stays in L1 while the NR-column panels of a packed corpus block (up to kNB
// rows × d, packed once, at most half of L2) stream past it from L2; the score
// tile (kMB queries × the block's rows) is scanned while it is still hot.
constexpr int64_t kNB = 256;  // corpus rows per block at most, a multiple of every NR (8, 16, 32)
constexpr int64_t kMB = 112;  // queries per tile (rounded down to whole MR panels)
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
  Isa isa;                       // the active instruction set
  bool avx512;                   // isa is AVX-512
  std::atomic<bool>* corpusBad;  // set when a corpus row is non-finite (or zero under cosine)
};

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

// rowSumSquares with 512-bit vectors where `avx512` (the active instruction set) says so.
double sumSquares(bool avx512, const float* row, int64_t d) {
#ifdef JOBBERT_TOPK_AVX512
  if (avx512) return rowSumSquares_avx512(row, d);
#else
  (void)avx512;
#endif
  return rowSumSquares(row, d);
}

// Checks corpus rows [j0, j0 + rows) and, under cosine, stores their inverse
// norms. Done block by block right before the block is used, while its rows
// are in cache, so the corpus is read from memory once. False on a bad row.
bool prepareCorpusRows(const Problem& pr, int64_t j0, int64_t rows) {
  const int64_t d = pr.corpus.cols;
  for (int64_t j = j0; j < j0 + rows; ++j) {
#if defined(__SSE2__)
    // Two rows ahead: the rows come from memory and this loop is short.
    if (j + 2 < pr.corpus.rows) {
      const char* ahead = reinterpret_cast<const char*>(pr.corpus.data + (j + 2) * d);
      for (int64_t b = 0; b < d * 4; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T0);
    }
#endif
    const double sum = sumSquares(pr.avx512, pr.corpus.data + j * d, d);
    if (!std::isfinite(sum) || (pr.invCorpus && !(sum >= kMinSquaredNorm))) {
      pr.corpusBad->store(true, std::memory_order_relaxed);
      return false;
    }
    if (pr.invCorpus) pr.invCorpus[j] = static_cast<float>(1.0 / std::sqrt(sum));
  }
  return true;
}

// Whether every score of a tile row is a finite float. Under cosine a finite
// input can still overflow its float32 dot product (elements beyond ~1.8e19),
// which leaves ±inf or NaN in the tile.
bool allFinite(const float* raw, int64_t cols) {
  bool bad = false;
  for (int64_t j = 0; j < cols; ++j) bad |= !(std::fabs(raw[j]) <= std::numeric_limits<float>::max());
  return !bad;
}

// The cosine of a query and a row whose float32 dot product overflowed, in double.
float overflowedCosine(const float* query, const float* row, int64_t d, float invQ, float invRow) {
  double dot = 0.0;
  for (int64_t p = 0; p < d; ++p) dot += double(query[p]) * double(row[p]);
  return static_cast<float>(dot * double(invQ) * double(invRow));
}

// scanRow<true>'s scalar loop for a row holding overflowed dot products: those
// cosines are recomputed in double from the query and corpus rows (`block`
// holds corpus row j0), so a cosine stays in [-1, 1] whatever the inputs'
// magnitude. Finite scores are scaled exactly as scanRow scales them.
void scanRowOverflowed(const Problem& pr, ChunkSelection& sel, int64_t q, const float* raw, int64_t cols, int64_t j0,
                       const float* block) {
  const int64_t d = pr.corpus.cols;
  const float* query = pr.queries + q * d;
  const float invQ = pr.invQueries[q];
  for (int64_t j = 0; j < cols; ++j) {
    float s;
    if (std::fabs(raw[j]) <= std::numeric_limits<float>::max()) s = raw[j] * invQ * pr.invCorpus[j0 + j];
    else s = overflowedCosine(query, block + j * d, d, invQ, pr.invCorpus[j0 + j]);
    if (!sel.settled(q) || s > sel.threshold(q)) sel.offer(q, s, static_cast<int32_t>(j0 + j));
  }
}

void scanTile(const Problem& pr, ChunkSelection& sel, int64_t q0, int64_t rows, const float* tile, int64_t ldt,
              int64_t j0, int64_t cols, const float* block) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t q = q0 + r;
    const float* raw = tile + r * ldt;
    if (!pr.invCorpus) scanRow<false>(sel, q, raw, cols, j0, 1.0f, nullptr);
    else if (allFinite(raw, cols)) scanRow<true>(sel, q, raw, cols, j0, pr.invQueries[q], pr.invCorpus);
    else scanRowOverflowed(pr, sel, q, raw, cols, j0, block);
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
// The kernels' interface (DirectFn, DirectKernel) and the AVX2 and AVX-512
// kernels: topk.h, topk_avx2.cpp, topk_avx512.cpp.
constexpr int kMaxDirectRows = 64;  // the most rows one call scores (AVX-512, one query: 16 · 4)

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
    const int64_t kKC = topKBlockDepth();
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

DirectKernel directKernel(Isa isa) {
  switch (isa) {
#ifdef JOBBERT_TOPK_AVX512
    case Isa::kAvx512: return {topkDirect_avx512, 16, false, 1};
#endif
#ifdef JOBBERT_TOPK_AVX2
    case Isa::kAvx2: return {topkDirect_avx2, 8, true, 1};
#endif
    default: return {dispatchQueries<DirectPortable>, 4, true, 4};
  }
}

// The queries as a direct kernel reads them: -0 as +0 where it broadcasts
// 0 + a, each value repeated queryCopies times; `queries` itself where that
// changes nothing, else a copy in *storage.
const float* directQueries(const DirectKernel& kernel, const float* queries, int64_t count, int64_t d,
                           std::vector<float>* storage) {
  const int64_t copies = kernel.queryCopies;
  if (!kernel.positiveZero && copies == 1) return queries;
  storage->resize(static_cast<size_t>(count * d * copies));
  for (int64_t t = 0; t < count * d; ++t) {
    const float v = kernel.positiveZero ? 0.0f + queries[t] : queries[t];
    for (int64_t c = 0; c < copies; ++c) (*storage)[t * copies + c] = v;
  }
  return storage->data();
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
  const int64_t qd = d * kernel.queryCopies;
  std::vector<float> prepared;
  const float* queries = directQueries(kernel, pr.queries, pr.queryCount, d, &prepared);
  for (int64_t j0 = begin; j0 < end; j0 += blockRows) {
    const int64_t cols = std::min(blockRows, end - j0);
    if (pr.corpusBad->load(std::memory_order_relaxed) || !prepareCorpusRows(pr, j0, cols)) return;
    const float* block = pr.corpus.data + j0 * d;
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
      scanTile(pr, sel, q0, nq, raw.data(), blockRows, j0, cols, block);
    }
  }
}

// Many queries: the queries are packed once (packedA, all of d, panel by KC
// block); each corpus block of the chunk is packed once and multiplied
// against every query tile with the register micro-kernel, and each tile is
// scanned into the selection right after.
void gemmChunk(const Problem& pr, ChunkSelection& sel, const MicroKernel& kernel, const float* packedA, int64_t begin,
               int64_t end) {
  const int64_t d = pr.corpus.cols;
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t queryPanels = (pr.queryCount + mr - 1) / mr;
  const int64_t tilePanels = std::max<int64_t>(1, kMB / mr);
  const int64_t kKC = topKBlockDepth();
  // Corpus rows per block: kNB, fewer for wide rows so the packed block takes at most half of L2.
  const int64_t packedBlockFloats = cacheSizes().l2 / 2 / int64_t(sizeof(float));
  const int64_t blockRows = std::max<int64_t>(nr, std::min(kNB, packedBlockFloats / d / nr * nr));
  GemmParams corpusView;
  corpusView.ldb = d, corpusView.transB = true;
  Buffer packedB = allocate(blockRows * d);
  Buffer tile = allocate(tilePanels * mr * blockRows);

  for (int64_t j0 = begin; j0 < end; j0 += blockRows) {
    const int64_t cols = std::min(blockRows, end - j0);
    const int64_t panels = (cols + nr - 1) / nr;
    if (pr.corpusBad->load(std::memory_order_relaxed) || !prepareCorpusRows(pr, j0, cols)) return;
    corpusView.b = pr.corpus.data + j0 * d;  // row j0
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
      scanTile(pr, sel, q0, rows, tile.data(), blockRows, j0, cols, corpusView.b);
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

Status runTopK(const TopKParams& p, const float* invQueries, float* invCorpus) {
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

    Buffer packedA;
    const int64_t kKC = topKBlockDepth();
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
      if (direct) directChunk(pr, *selections[c], begin, end);
      else gemmChunk(pr, *selections[c], kernel, packedA.data(), begin, end);
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

int64_t topKBlockDepth() {
  static const int64_t kc = gemmBlocking(14, 32).kc;
  return kc;
}

Status scoreRows(const float* query, const float* const* rows, int64_t m, int64_t d, Metric metric, float* out) {
  if (m < 1) return Status::Ok();
  if (d < 1) return Status::Range("rows must have at least one column");
  return guarded("scoreRows", [&]() -> Status {
    const Isa isa = activeIsa();
    const DirectKernel kernel = directKernel(isa);
    std::vector<float> prepared;
    const float* q[1] = {directQueries(kernel, query, 1, d, &prepared)};
    const int step = kernel.rowsPerCall(1);
    const float* call[kMaxDirectRows];
    for (int64_t g = 0; g < m; g += step) {
      const int64_t count = std::min<int64_t>(step, m - g);
      for (int r = 0; r < step; ++r) call[r] = rows[g + std::min<int64_t>(r, count - 1)];
      float raw[kMaxDirectRows];
      kernel.fn(q, 1, call, d, raw, kMaxDirectRows);
      std::copy_n(raw, count, out + g);
    }
    if (metric != Metric::kCosine) return Status::Ok();
    // Cosine: raw · invQ · invRow, as scanRow scales it (the norms as topK takes them).
    float invQ;
    if (Status s = inverseRowNorms({query, 1, d}, "queries", &invQ); !s.ok()) return s;
    for (int64_t j = 0; j < m; ++j) {
      const double sum = sumSquares(isa == Isa::kAvx512, rows[j], d);
      if (!std::isfinite(sum) || !(sum >= kMinSquaredNorm)) return Status::Range("rows must be finite and non-zero");
      const float invRow = static_cast<float>(1.0 / std::sqrt(sum));
      if (std::fabs(out[j]) <= std::numeric_limits<float>::max()) out[j] = out[j] * invQ * invRow;
      else out[j] = overflowedCosine(query, rows[j], d, invQ, invRow);
    }
    return Status::Ok();
  });
}

Status topK(const TopKParams& p) {
  if (Status s = checkShape(p.queries, "queries"); !s.ok()) return s;
  if (Status s = checkShape(p.corpus, "corpus"); !s.ok()) return s;
  if (p.corpus.cols != p.queries.cols)
    return Status::Range("corpus must have as many columns as queries (" + std::to_string(p.queries.cols) +
                         "); received " + std::to_string(p.corpus.cols));
  if (p.k < 1 || p.k > p.corpus.rows)
    return Status::Range("k must be between 1 and corpus.rows (" + std::to_string(p.corpus.rows) + "); received " +
                         std::to_string(p.k));
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
