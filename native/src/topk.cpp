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
#include "jobbert/buffer.h"
#include "jobbert/kernels.h"
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
  bool avx512;  // the active instruction set is AVX-512
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

// Dot products of NQ queries with one corpus row, two vectors of four
// accumulators per query so the adds overlap.
template <int NQ>
void directDots(const float* const* q, const float* row, int64_t d, float* out) {
  int64_t p = 0;
#if defined(__SSE2__)
  __m128 acc[NQ][2];
  for (int i = 0; i < NQ; ++i) acc[i][0] = acc[i][1] = _mm_setzero_ps();
  for (; p + 8 <= d; p += 8) {
    const __m128 c0 = _mm_loadu_ps(row + p), c1 = _mm_loadu_ps(row + p + 4);
    for (int i = 0; i < NQ; ++i) {
      acc[i][0] = _mm_add_ps(acc[i][0], _mm_mul_ps(_mm_loadu_ps(q[i] + p), c0));
      acc[i][1] = _mm_add_ps(acc[i][1], _mm_mul_ps(_mm_loadu_ps(q[i] + p + 4), c1));
    }
  }
  for (int i = 0; i < NQ; ++i) {
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, _mm_add_ps(acc[i][0], acc[i][1]));
    out[i] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  }
#else
  for (int i = 0; i < NQ; ++i) out[i] = 0.0f;
#endif
  for (int i = 0; i < NQ; ++i)
    for (int64_t t = p; t < d; ++t) out[i] += q[i][t] * row[t];
}

// Few queries: stream the corpus rows of the chunk once and score each against
// every query of the group.
void directChunk(const Problem& pr, ChunkSelection& sel, int64_t begin, int64_t end) {
  const int64_t d = pr.corpus.cols;
  constexpr int64_t kBlock = 64;
  float raw[4 * kBlock];
  for (int64_t j0 = begin; j0 < end; j0 += kBlock) {
    const int64_t cols = std::min(kBlock, end - j0);
    if (pr.corpusBad->load(std::memory_order_relaxed) || !prepareCorpusRows(pr, j0, cols)) return;
    for (int64_t q0 = 0; q0 < pr.queryCount; q0 += 4) {
      const int nq = static_cast<int>(std::min<int64_t>(4, pr.queryCount - q0));
      const float* q[4];
      for (int i = 0; i < nq; ++i) q[i] = pr.queries + (q0 + i) * d;
      float dots[4];
      for (int64_t j = 0; j < cols; ++j) {
        const float* row = pr.corpus.data + (j0 + j) * d;
        switch (nq) {
          case 1: directDots<1>(q, row, d, dots); break;
          case 2: directDots<2>(q, row, d, dots); break;
          case 3: directDots<3>(q, row, d, dots); break;
          default: directDots<4>(q, row, d, dots); break;
        }
        for (int i = 0; i < nq; ++i) raw[i * kBlock + j] = dots[i];
      }
      scanTile(pr, sel, q0, nq, raw, kBlock, j0, cols);
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
  corpusView.b = pr.corpus.data, corpusView.ldb = d, corpusView.transB = true;
  Buffer packedB = allocate(blockRows * d);
  Buffer tile = allocate(tilePanels * mr * blockRows);

  for (int64_t j0 = begin; j0 < end; j0 += blockRows) {
    const int64_t cols = std::min(blockRows, end - j0);
    const int64_t panels = (cols + nr - 1) / nr;
    if (pr.corpusBad->load(std::memory_order_relaxed) || !prepareCorpusRows(pr, j0, cols)) return;
    // Block layout: the KC slice at k0 starts at k0·blockRows and holds NR-column panels of nr·kc floats.
    for (int64_t k0 = 0; k0 < d; k0 += kKC) {
      const int64_t kc = std::min(kKC, d - k0);
      for (int64_t jp = 0; jp < panels; ++jp)
        packBPanel(corpusView, k0, kc, j0 + jp * nr, std::min<int64_t>(nr, cols - jp * nr), nr,
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
    pr.avx512 = activeIsa() == Isa::kAvx512;

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
  try {
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
  } catch (const std::bad_alloc&) {
    return Status::OutOfMemory("out of memory in topK");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("topK: ") + e.what());
  } catch (...) {
    return Status::Internal("topK: unknown error");
  }
}

}  // namespace jobbert
