// scanInt8 (jobbert/quantized.h): for each query, the `pool` best rows of a
// packed int8 corpus by the approximate score, ties to the lower row. Cost:
// Q·N·d int8 multiply-adds (the register kernels of int8_scan.h: 64 a VNNI
// instruction), Q·N float compares against each query's running threshold
// (inside the kernel) and O(pool · log(N/pool) · log pool) heap inserts per
// query; bytes: the corpus (N·d, a quarter of float32) once per call.
//
// Blocking: the corpus is split into chunks (two per thread) and each chunk
// into blocks of row groups sized for L2; for each block every query panel
// (8 queries, L1) runs against its groups 48 rows at a time, so the corpus
// is read from memory once and each query panel once per block.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "checks.h"
#include "guard.h"
#include "int8_scan.h"
#include "jobbert/quantized.h"
#include "thread_pool.h"

namespace jobbert {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kGroupRows = 16;
constexpr int64_t kBlockBytes = int64_t(256) << 10;  // corpus bytes per block (L2)

// Portable kernel: the same integer dots as the SIMD kernels, in plain C++.
uint32_t int8Tile_portable(const Int8Tile& t, int nq) {
  uint32_t hits = 0;
  for (int i = 0; i < nq; ++i) {
    const int8_t* q = t.queries + i * t.depth;
    bool above = false;
    for (int g = 0; g < t.groupCount; ++g) {
      const uint8_t* group = t.groups + g * t.groupStride;
      int32_t dot[kGroupRows] = {};
      for (int64_t p = 0; p < t.depth; p += 4)
        for (int lane = 0; lane < kGroupRows; ++lane)
          for (int b = 0; b < 4; ++b) dot[lane] += int32_t(q[p + b]) * (int32_t(group[p * 16 + lane * 4 + b]) - 128);
      for (int lane = 0; lane < kGroupRows; ++lane) {
        const float s = float(dot[lane]) * t.rowFactors[16 * g + lane];
        t.scores[i * kInt8TileRows + 16 * g + lane] = s;
        above = above || s > t.thresholds[i];
      }
    }
    if (above) hits |= 1u << i;
  }
  return hits;
}

#if defined(__x86_64__) || defined(__i386__)
bool cpuHasVnni() {
  static const bool has = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
  return has;
}
#endif

struct Kernel {
  Int8TileFn fn;
  const char* name;
};

Kernel kernelFor(Isa isa) {
#ifdef JOBBERT_INT8_AVX512
  if (isa == Isa::kAvx512 && cpuHasVnni()) return {int8Tile_avx512vnni, "avx512-vnni"};
#endif
#ifdef JOBBERT_INT8_AVX2
  if (isa == Isa::kAvx512 || isa == Isa::kAvx2) return {int8Tile_avx2, "avx2"};
#endif
  return {int8Tile_portable, "portable"};
}

struct Candidate {
  float score;
  int32_t index;
};

// Higher score first, equal scores by lower index (scores are never NaN here).
inline bool better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

// Per query, the `pool` best candidates a chunk has seen: a heap with the
// worst at the root. A chunk offers rows in increasing index order, so a
// candidate that only equals the root loses the tie, and the kernels' test
// `score > threshold` is exact. thresholds() stays -inf until a heap is full.
class Selection {
 public:
  Selection(int64_t queries, int64_t pool)
      : pool_(pool),
        heaps_(static_cast<size_t>(queries * pool)),
        counts_(static_cast<size_t>(queries), 0),
        thresholds_(static_cast<size_t>(queries), kNegInf) {}

  const float* thresholds() const { return thresholds_.data(); }
  const Candidate* candidates(int64_t q) const { return heaps_.data() + q * pool_; }
  int64_t count(int64_t q) const { return counts_[q]; }

  void offer(int64_t q, float score, int32_t index) {
    Candidate* heap = heaps_.data() + q * pool_;
    int64_t& count = counts_[q];
    const Candidate c{score, index};
    if (count < pool_) {
      int64_t i = count++;
      while (i > 0) {
        const int64_t parent = (i - 1) / 2;
        if (!better(heap[parent], c)) break;
        heap[i] = heap[parent];
        i = parent;
      }
      heap[i] = c;
    } else {
      if (!better(c, heap[0])) return;
      int64_t i = 0;
      for (;;) {
        int64_t child = 2 * i + 1;
        if (child >= pool_) break;
        if (child + 1 < pool_ && better(heap[child], heap[child + 1])) ++child;
        if (!better(c, heap[child])) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = c;
    }
    if (count == pool_) thresholds_[q] = heap[0].score;
  }

 private:
  int64_t pool_;
  std::vector<Candidate> heaps_;
  std::vector<int64_t> counts_;
  std::vector<float> thresholds_;
};

}  // namespace

const char* int8ScanKernel() { return kernelFor(activeIsa()).name; }

int64_t packedDepth(int64_t cols) { return (cols + 3) / 4 * 4; }

int64_t packedBytes(int64_t rows, int64_t cols) {
  return (rows + kGroupRows - 1) / kGroupRows * kGroupRows * packedDepth(cols);
}

void packRow(const int8_t* codes, int64_t row, int64_t cols, uint8_t* packed) {
  const int64_t depth = packedDepth(cols);
  uint8_t* base = packed + (row / kGroupRows) * kGroupRows * depth + (row % kGroupRows) * 4;
  for (int64_t p = 0; p < depth; p += 4) {
    uint8_t word[4];
    for (int b = 0; b < 4; ++b) word[b] = uint8_t((p + b < cols ? int(codes[p + b]) : 0) + 128);
    std::memcpy(base + p * 16, word, 4);
  }
}

void unpackRow(const uint8_t* packed, int64_t row, int64_t cols, int8_t* codes) {
  const int64_t depth = packedDepth(cols);
  const uint8_t* base = packed + (row / kGroupRows) * kGroupRows * depth + (row % kGroupRows) * 4;
  for (int64_t p = 0; p < cols; ++p) codes[p] = int8_t(int(base[(p & ~int64_t(3)) * 16 + (p & 3)]) - 128);
}

Status scanInt8(const ConstMatrix& queries, const PackedInt8Rows& corpus, Metric metric, int64_t pool, int32_t* indices,
                float* approx) {
  if (Status s = checkShape(queries, "queries"); !s.ok()) return s;
  if (corpus.rows < 1 || corpus.cols < 1 || !corpus.codes || !corpus.scales || !corpus.invNorms)
    return Status::Range("corpus must be a non-empty packed int8 matrix");
  if (corpus.cols != queries.cols)
    return Status::Range("corpus must have as many columns as queries (" + std::to_string(queries.cols) +
                         "); received " + std::to_string(corpus.cols));
  if (corpus.cols > kInt8MaxCols)
    return Status::Range("int8 rows may have at most " + std::to_string(kInt8MaxCols) + " columns; received " +
                         std::to_string(corpus.cols));
  if (pool < 1 || pool > corpus.rows)
    return Status::Range("pool must be between 1 and corpus.rows (" + std::to_string(corpus.rows) + "); received " +
                         std::to_string(pool));
  if (!indices || !approx) return Status::Type("indices and approx must be output buffers");
  const int64_t Q = queries.rows, n = corpus.rows, d = corpus.cols, depth = packedDepth(d);
  return guarded("the int8 scan", [&]() -> Status {
    // The queries as int8 codes (the corpus's quantisation), and what turns a
    // kernel score back into a similarity: the query's scale (and 1/‖q‖).
    std::vector<float> invQ(static_cast<size_t>(Q), 1.0f);
    if (metric == Metric::kCosine) {
      if (Status s = inverseRowNorms(queries, "queries", invQ.data()); !s.ok()) return s;
    } else if (Status s = checkFinite(queries, "queries"); !s.ok()) {
      return s;
    }
    std::vector<int8_t> codes(static_cast<size_t>(Q * depth), 0);
    std::vector<int32_t> offsets(static_cast<size_t>(Q));
    std::vector<float> queryFactor(static_cast<size_t>(Q));
    parallelRanges(Q, 64, [&](int64_t b, int64_t e) {
      for (int64_t q = b; q < e; ++q) {
        float scale;
        quantizeRow(queries.data + q * d, d, codes.data() + q * depth, &scale);
        int32_t sum = 0;
        for (int64_t p = 0; p < d; ++p) sum += codes[q * depth + p];
        offsets[q] = 128 * sum;
        queryFactor[q] = scale * invQ[q];
      }
    });

    const Kernel kernel = kernelFor(activeIsa());
    const int64_t groups = (n + kGroupRows - 1) / kGroupRows;
    const int64_t blockGroups =
        std::max<int64_t>(3, std::min<int64_t>(groups, kBlockBytes / (kGroupRows * depth)) / 3 * 3);
    const int64_t blocks = (groups + blockGroups - 1) / blockGroups;
    const int threads = ThreadPool::instance().size();
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(2 * threads, blocks));
    std::vector<std::unique_ptr<Selection>> selections(static_cast<size_t>(chunks));
    ThreadPool::instance().run(chunks, [&](int64_t c) {
      auto sel = std::make_unique<Selection>(Q, pool);
      std::vector<float> factors(static_cast<size_t>(blockGroups * kGroupRows));
      std::vector<float> scores(static_cast<size_t>(kInt8MaxQueries * kInt8TileRows));
      Int8Tile t;
      t.groupStride = kGroupRows * depth, t.depth = depth, t.scores = scores.data();
      for (int64_t b = blocks * c / chunks; b < blocks * (c + 1) / chunks; ++b) {
        const int64_t g0 = b * blockGroups, gCount = std::min(blockGroups, groups - g0), j0 = g0 * kGroupRows;
        for (int64_t r = 0; r < gCount * kGroupRows; ++r) {
          const int64_t j = j0 + r;
          factors[r] = j >= n                      ? 0.0f
                       : metric == Metric::kCosine ? corpus.scales[j] * corpus.invNorms[j]
                                                   : corpus.scales[j];
        }
        for (int64_t q0 = 0; q0 < Q; q0 += kInt8MaxQueries) {
          const int nq = static_cast<int>(std::min<int64_t>(kInt8MaxQueries, Q - q0));
          t.queries = codes.data() + q0 * depth, t.offsets = offsets.data() + q0;
          t.thresholds = sel->thresholds() + q0;
          for (int64_t g = 0; g < gCount; g += 3) {
            t.groupCount = static_cast<int>(std::min<int64_t>(3, gCount - g));
            t.groups = corpus.codes + (g0 + g) * kGroupRows * depth;
            t.rowFactors = factors.data() + g * kGroupRows;
            const int64_t first = j0 + g * kGroupRows;
            const int64_t lanes = std::min<int64_t>(t.groupCount * kGroupRows, n - first);
            for (uint32_t hits = kernel.fn(t, nq); hits; hits &= hits - 1) {
              const int i = __builtin_ctz(hits);
              const float* s = scores.data() + i * kInt8TileRows;
              for (int64_t l = 0; l < lanes; ++l)
                if (s[l] > sel->thresholds()[q0 + i]) sel->offer(q0 + i, s[l], static_cast<int32_t>(first + l));
            }
          }
        }
      }
      selections[c] = std::move(sel);
    });
    // Each query's pool: the chunks' candidates merged, best first.
    parallelRanges(Q, 16, [&](int64_t b, int64_t e) {
      std::vector<Candidate> all;
      for (int64_t q = b; q < e; ++q) {
        all.clear();
        for (const auto& s : selections) all.insert(all.end(), s->candidates(q), s->candidates(q) + s->count(q));
        std::partial_sort(all.begin(), all.begin() + pool, all.end(), better);
        for (int64_t r = 0; r < pool; ++r) {
          indices[q * pool + r] = all[r].index;
          approx[q * pool + r] = all[r].score * queryFactor[q];
        }
      }
    });
    return Status::Ok();
  });
}

}  // namespace jobbert
