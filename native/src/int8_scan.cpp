// scanInt8 (jobbert/quantized.h): for each query, the `pool` best rows of a
// packed int8 corpus by the approximate score, ties to the lower row. Cost:
// Q·N·d int8 multiply-adds (the register kernels of int8_scan.h: 64 a VNNI
// instruction), Q·N float compares against each query's running threshold
// (inside the kernel) and O(pool · log(N/pool)) candidates appended per query
// (amortised O(1) each); bytes: the corpus (N·d, a quarter of float32) once
// per call when it is larger than the last-level cache.
//
// scanInt8Groups runs the same tasks and kernels with another selection: per
// query, the k best groups seen so far (O(k) an offer) and every candidate
// above the k-th group's score less a margin (the threshold the kernel
// compares with), so it keeps the rows that can decide the k best groups —
// ~40 of 65,246 for the Normalizer at k = 5 — with no pool size to guess.
//
// Blocking: the corpus is split into chunks (two per thread) and each chunk
// into blocks of row groups sized for L2; for each block every query panel
// (8 queries, L1) runs against its groups 48 rows at a time, so the corpus
// is read from memory once and each query panel once per block.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <unordered_set>
#include <vector>

#include "checks.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include "guard.h"
#include "int8_scan.h"
#include "jobbert/quantized.h"
#include "thread_pool.h"

namespace jobbert {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kGroupRows = 16;
constexpr int64_t kBlockBytes = int64_t(256) << 10;  // corpus bytes per block (L2)
// Packed corpora up to this size are shared by query ranges rather than split (they stay in L3).
constexpr int64_t kCachedCorpusBytes = int64_t(32) << 20;

// Portable kernel: the same integer dots as the SIMD kernels, in plain C++
// that compilers vectorise with baseline instructions (SSE2 has no 32-bit
// integer multiply): the codes as floats, which hold every product and every
// sum of up to 1,024 of them (127²·1024 < 2²⁴) exactly, so the dot is summed
// in float over 1,024-column blocks and the exact block sums in int32.
bool int8Tile_portable(const Int8Tile& t, int nq, uint64_t* above) {
  constexpr int64_t kExactBlock = 1024;
  bool any = false;
  for (int i = 0; i < nq; ++i) above[i] = 0;
  for (int g = 0; g < t.groupCount; ++g) {
    const uint8_t* group = t.groups + g * t.groupStride;
    int32_t dot[kInt8MaxQueries][kGroupRows] = {};
    for (int64_t p0 = 0; p0 < t.depth; p0 += kExactBlock) {
      float acc[kInt8MaxQueries][kGroupRows] = {};
      for (int64_t p = p0; p < std::min(t.depth, p0 + kExactBlock); p += 4) {
        float c[4][kGroupRows];  // c[b][lane]: column p + b of row `lane`
        for (int lane = 0; lane < kGroupRows; ++lane)
          for (int b = 0; b < 4; ++b) c[b][lane] = float(int(group[p * 16 + lane * 4 + b]) - 128);
        for (int i = 0; i < nq; ++i) {
          const int8_t* q = t.queries + i * t.depth + p;
          const float q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
          for (int lane = 0; lane < kGroupRows; ++lane)
            acc[i][lane] += q0 * c[0][lane] + q1 * c[1][lane] + q2 * c[2][lane] + q3 * c[3][lane];
        }
      }
      for (int i = 0; i < nq; ++i)
        for (int lane = 0; lane < kGroupRows; ++lane) dot[i][lane] += int32_t(acc[i][lane]);
    }
    for (int i = 0; i < nq; ++i)
      for (int lane = 0; lane < kGroupRows; ++lane) {
        const float s = float(dot[i][lane]) * t.rowFactors[16 * g + lane];
        t.scores[i * kInt8TileRows + 16 * g + lane] = s;
        if (s > t.thresholds[i]) above[i] |= uint64_t(1) << (16 * g + lane);
      }
  }
  for (int i = 0; i < nq; ++i) any = any || above[i] != 0;
  return any;
}

#if defined(__x86_64__) || defined(__i386__)
bool cpuHasVnni() {
  static const bool has =
      __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return has;
}
// AVX-VNNI: CPUID leaf 7, subleaf 1, EAX bit 4 (the OS's AVX state is implied by AVX2 being usable).
bool cpuHasAvxVnni() {
  static const bool has = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
    return (eax & (1u << 4)) != 0 && __builtin_cpu_supports("avx2");
  }();
  return has;
}
#endif

std::atomic<bool> useVnni256{false};

struct Kernel {
  Int8TileFn fn;
  const char* name;
};

Kernel kernelFor(Isa isa) {
#ifdef JOBBERT_INT8_AVX512
  if (isa == Isa::kAvx512 && cpuHasVnni())
    return useVnni256.load() ? Kernel{int8Tile_vnni256evex, "vnni256"} : Kernel{int8Tile_avx512vnni, "avx512-vnni"};
#endif
#ifdef JOBBERT_INT8_AVXVNNI
  if ((isa == Isa::kAvx512 || isa == Isa::kAvx2) && cpuHasAvxVnni()) return {int8Tile_avxvnni, "avx-vnni"};
#endif
#ifdef JOBBERT_INT8_AVX2
  if (isa == Isa::kAvx512 || isa == Isa::kAvx2) return {int8Tile_avx2, "avx2"};
#endif
  return {int8Tile_portable, "portable"};
}

// Appends to `offered` (candidates of one query) every other row of the n as
// a candidate scoring -inf: the rows the scan could not offer because their
// int8 scores overflowed to -inf (magnitudes near float's limit).
void withOverflowed(std::vector<Candidate>& offered, int64_t n) {
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (Candidate c : offered) seen[size_t(rowOf(c))] = true;
  for (int64_t r = 0; r < n; ++r)
    if (!seen[size_t(r)]) offered.push_back(candidate(kNegInf, int32_t(r)));
}

// Per query, the `pool` best candidates a task has seen, in a buffer of 2·pool:
// candidates above the threshold are appended, and a full buffer is cut back
// to its best `pool` (nth_element), whose worst score becomes the threshold —
// O(1) a candidate, where a heap pays log(pool) unpredictable branches (with
// small rows that cost as much as the scan). A task offers rows in
// increasing index order, so a candidate that only equals the threshold loses
// the tie, and the kernels' test `score > threshold` is exact. thresholds()
// stays -inf until the first cut.
class Selection {
 public:
  Selection(int64_t queries, int64_t pool)
      : pool_(pool),
        buffers_(static_cast<size_t>(queries * 2 * pool)),
        counts_(static_cast<size_t>(queries), 0),
        thresholds_(static_cast<size_t>(queries), kNegInf) {}

  const float* thresholds() const { return thresholds_.data(); }
  const Candidate* candidates(int64_t q) const { return buffers_.data() + q * 2 * pool_; }
  int64_t count(int64_t q) const { return counts_[q]; }

  // Only called with score > thresholds()[q].
  void offer(int64_t q, float score, int32_t index) {
    Candidate* buffer = buffers_.data() + q * 2 * pool_;
    int64_t& count = counts_[q];
    buffer[count++] = candidate(score, index);
    if (count < 2 * pool_) return;
    std::nth_element(buffer, buffer + pool_ - 1, buffer + count, std::greater<Candidate>());
    count = pool_;
    thresholds_[q] = scoreOf(buffer[pool_ - 1]);
  }

 private:
  int64_t pool_;
  std::vector<Candidate> buffers_;
  std::vector<int64_t> counts_;
  std::vector<float> thresholds_;
};

}  // namespace

const char* int8ScanKernel() { return kernelFor(activeIsa()).name; }

Int8TileFn int8TileKernel() { return kernelFor(activeIsa()).fn; }

std::vector<float> int8KernelMargins(const Int8Queries& pq, const double* margins) {
  std::vector<float> out(static_cast<size_t>(pq.count));
  for (int64_t q = 0; q < pq.count; ++q) {
    const double m = pq.factors[q] > 0.0f ? margins[q] / double(pq.factors[q]) : 0.0;
    float f = static_cast<float>(m);
    if (double(f) < m) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    out[q] = pq.factors[q] > 0.0f ? f : std::numeric_limits<float>::infinity();
  }
  return out;
}

void fillGroupCandidates(const std::vector<std::vector<Candidate>>& kept, const std::vector<float>& thresholds,
                         const Int8Queries& pq, GroupCandidates* out) {
  const int64_t Q = pq.count;
  out->offsets.assign(static_cast<size_t>(Q + 1), 0);
  for (int64_t q = 0; q < Q; ++q) out->offsets[q + 1] = out->offsets[q] + int64_t(kept[q].size());
  out->rows.resize(static_cast<size_t>(out->offsets[Q]));
  out->approx.resize(static_cast<size_t>(out->offsets[Q]));
  out->thresholds.resize(static_cast<size_t>(Q));
  for (int64_t q = 0; q < Q; ++q) {
    for (size_t i = 0; i < kept[q].size(); ++i) {
      out->rows[out->offsets[q] + i] = rowOf(kept[q][i]);
      out->approx[out->offsets[q] + i] = scoreOf(kept[q][i]) * pq.factors[q];
    }
    out->thresholds[q] = thresholds[q] == kNegInf ? -std::numeric_limits<double>::infinity()
                                                  : double(thresholds[q]) * double(pq.factors[q]);
  }
}

float int8Below(float kth, float margin) {
  const double exact = double(kth) - double(margin);
  // Scores that overflowed (inf − inf, or an infinite k-th score) bound nothing: keep every row.
  if (!std::isfinite(exact)) return -std::numeric_limits<float>::infinity();
  float t = static_cast<float>(exact);
  if (double(t) > exact) t = std::nextafter(t, -std::numeric_limits<float>::infinity());
  return t;
}

Status prepareInt8Queries(const ConstMatrix& queries, Metric metric, Int8Queries* out) {
  const int64_t Q = queries.rows, d = queries.cols, depth = packedDepth(d);
  std::vector<float> invQ(static_cast<size_t>(Q), 1.0f);
  if (metric == Metric::kCosine) {
    if (Status s = inverseRowNorms(queries, "queries", invQ.data()); !s.ok()) return s;
  } else if (Status s = checkFinite(queries, "queries"); !s.ok()) {
    return s;
  }
  out->count = Q, out->depth = depth;
  out->codes.assign(static_cast<size_t>(Q * depth), 0);
  out->offsets.assign(static_cast<size_t>(Q), 0);
  out->factors.assign(static_cast<size_t>(Q), 0.0f);
  parallelRanges(Q, 64, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; ++q) {
      float scale;
      quantizeRow(queries.data + q * d, d, out->codes.data() + q * depth, &scale);
      int32_t sum = 0;
      for (int64_t p = 0; p < d; ++p) sum += out->codes[q * depth + p];
      out->offsets[q] = 128 * sum;
      out->factors[q] = scale * invQ[q];
    }
  });
  return Status::Ok();
}

bool int8ScanUseVnni256(bool on) {
#ifdef JOBBERT_INT8_AVX512
  if (!cpuHasVnni()) return false;
  useVnni256.store(on);
  return true;
#else
  return false;
#endif
}

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
  int64_t p = 0;
  for (; p + 4 <= cols; p += 4) {  // 4 codes at a time: u8 - 128 is u8 ^ 0x80 as s8
    uint32_t word;
    std::memcpy(&word, base + p * 16, 4);
    word ^= 0x80808080u;
    std::memcpy(codes + p, &word, 4);
  }
  for (; p < cols; ++p) codes[p] = int8_t(int(base[(p & ~int64_t(3)) * 16 + (p & 3)]) - 128);
}

namespace {

Status checkScanArgs(const ConstMatrix& queries, const PackedInt8Rows& corpus) {
  if (Status s = checkShape(queries, "queries"); !s.ok()) return s;
  if (corpus.rows < 1 || corpus.cols < 1 || !corpus.codes || !corpus.scales || !corpus.invNorms)
    return Status::Range("corpus must be a non-empty packed int8 matrix");
  if (corpus.cols != queries.cols)
    return Status::Range("corpus must have as many columns as queries (" + std::to_string(queries.cols) +
                         "); received " + std::to_string(corpus.cols));
  if (corpus.cols > kInt8MaxCols)
    return Status::Range("int8 rows may have at most " + std::to_string(kInt8MaxCols) + " columns; received " +
                         std::to_string(corpus.cols));
  return Status::Ok();
}

// How the scan is split into tasks: a range of queries against a range of
// blocks, each task with its own selection. A corpus that stays in cache is
// shared by query ranges (each query then fills one selection, not one per
// corpus range: with small rows the selection costs as much as the scan); a
// larger one is split into block ranges so it is read from memory once. Two
// tasks per thread, so a thread slowed by other work does not hold up the rest.
struct ScanPlan {
  int64_t queries = 0, panels = 0, queryParts = 1, corpusParts = 1;
  int64_t groups = 0, blockGroups = 0, blocks = 0;
  int64_t queryBegin(int64_t part) const { return std::min(queries, panels * part / queryParts * kInt8MaxQueries); }
  // The query part that holds query q.
  int64_t partOf(int64_t q) const {
    int64_t part = 0;
    while (q >= queryBegin(part + 1)) ++part;
    return part;
  }
};

ScanPlan planScan(int64_t Q, const PackedInt8Rows& corpus) {
  ScanPlan plan;
  const int64_t n = corpus.rows, depth = packedDepth(corpus.cols);
  plan.queries = Q;
  plan.groups = (n + kGroupRows - 1) / kGroupRows;
  plan.blockGroups = std::max<int64_t>(3, std::min<int64_t>(plan.groups, kBlockBytes / (kGroupRows * depth)) / 3 * 3);
  plan.blocks = (plan.groups + plan.blockGroups - 1) / plan.blockGroups;
  const int threads = ThreadPool::instance().size();
  plan.panels = (Q + kInt8MaxQueries - 1) / kInt8MaxQueries;
  plan.corpusParts = std::max<int64_t>(1, std::min<int64_t>(2 * threads, plan.blocks));
  if (packedBytes(n, corpus.cols) <= kCachedCorpusBytes && plan.panels >= 2 * threads)
    plan.queryParts = 2 * threads, plan.corpusParts = 1;
  return plan;
}

// Runs every task of `plan`: the register kernel over the corpus, each score
// above its query's running threshold offered to the task's selection
// (made by make(firstQuery, queryCount)). selections[task], task = query part
// · corpusParts + corpus part.
template <class Sel, class Make>
void scanTasks(const ScanPlan& plan, const Int8Queries& pq, const PackedInt8Rows& corpus, Metric metric, Make make,
               std::vector<std::unique_ptr<Sel>>* selections) {
  const int64_t n = corpus.rows, depth = pq.depth;
  const Kernel kernel = kernelFor(activeIsa());
  selections->resize(static_cast<size_t>(plan.queryParts * plan.corpusParts));
  ThreadPool::instance().run(plan.queryParts * plan.corpusParts, [&](int64_t task) {
    const int64_t qp = task / plan.corpusParts, cp = task % plan.corpusParts;
    const int64_t qBegin = plan.queryBegin(qp), qEnd = plan.queryBegin(qp + 1);
    std::unique_ptr<Sel> sel = make(qBegin, qEnd - qBegin);
    std::vector<float> factors(static_cast<size_t>(plan.blockGroups * kGroupRows));
    std::vector<float> scores(static_cast<size_t>(kInt8MaxQueries * kInt8TileRows));
    uint64_t above[kInt8MaxQueries];
    Int8Tile t;
    t.groupStride = kGroupRows * depth, t.depth = depth, t.scores = scores.data();
    for (int64_t b = plan.blocks * cp / plan.corpusParts; b < plan.blocks * (cp + 1) / plan.corpusParts; ++b) {
      const int64_t g0 = b * plan.blockGroups, gCount = std::min(plan.blockGroups, plan.groups - g0);
      const int64_t j0 = g0 * kGroupRows;
      for (int64_t r = 0; r < gCount * kGroupRows; ++r) {
        const int64_t j = j0 + r;
        factors[r] = j >= n                      ? 0.0f
                     : metric == Metric::kCosine ? corpus.scales[j] * corpus.invNorms[j]
                                                 : corpus.scales[j];
      }
      for (int64_t q0 = qBegin; q0 < qEnd; q0 += kInt8MaxQueries) {
        const int nq = static_cast<int>(std::min<int64_t>(kInt8MaxQueries, qEnd - q0));
        const int64_t local = q0 - qBegin;
        t.queries = pq.codes.data() + q0 * depth, t.offsets = pq.offsets.data() + q0;
        t.thresholds = sel->thresholds() + local;
        for (int64_t g = 0; g < gCount; g += 3) {
          t.groupCount = static_cast<int>(std::min<int64_t>(3, gCount - g));
          t.groups = corpus.codes + (g0 + g) * kGroupRows * depth;
          t.rowFactors = factors.data() + g * kGroupRows;
          const int64_t first = j0 + g * kGroupRows;
          const int64_t lanes = std::min<int64_t>(t.groupCount * kGroupRows, n - first);
          if (!kernel.fn(t, nq, above)) continue;
          // Rare once the selections fill: only the lanes above the threshold are offered.
          const uint64_t valid = (uint64_t(1) << lanes) - 1;
          for (int i = 0; i < nq; ++i) {
            const float* s = scores.data() + i * kInt8TileRows;
            for (uint64_t bits = above[i] & valid; bits; bits &= bits - 1) {
              const int l = __builtin_ctzll(bits);
              if (s[l] > sel->thresholds()[local + i]) sel->offer(local + i, s[l], static_cast<int32_t>(first + l));
            }
          }
        }
      }
    }
    (*selections)[task] = std::move(sel);
  });
}

// Per query, every candidate whose group may still be among the k best
// groups: those above the k-th best distinct group's score less a margin.
// The k best groups so far are kept as they come (a short sorted list: a
// group's best score, and a new group enters only above the k-th), so the
// threshold rises with every offer; a full buffer drops what fell to or
// below it (no sorting) and grows to twice what is left. The threshold only
// rises, so a dropped or never-offered row scores at most the final one.
class GroupSelection {
 public:
  GroupSelection(int64_t queries, int64_t k, const int32_t* groupOf, const float* margins)
      : k_(k),
        groupOf_(groupOf),
        margins_(margins),
        buffers_(static_cast<size_t>(queries)),
        caps_(static_cast<size_t>(queries), std::max<int64_t>(64, 4 * k)),
        thresholds_(static_cast<size_t>(queries), kNegInf),
        best_(static_cast<size_t>(queries * k)),
        filled_(static_cast<size_t>(queries), 0) {}

  const float* thresholds() const { return thresholds_.data(); }
  std::vector<Candidate>& candidates(int64_t q) { return buffers_[q]; }
  float threshold(int64_t q) const { return thresholds_[q]; }
  // Raises q's threshold to t (a valid one from another task over the same query).
  void raise(int64_t q, float t) { thresholds_[q] = std::max(thresholds_[q], t); }

  // Only called with score > thresholds()[q].
  void offer(int64_t q, float score, int32_t row) {
    std::vector<Candidate>& buffer = buffers_[q];
    buffer.push_back(candidate(score, row));
    if (enterGroup(best_.data() + q * k_, &filled_[q], k_, score, groupOf_[row]))
      raise(q, below(best_[q * k_ + k_ - 1].score, q));
    if (int64_t(buffer.size()) >= caps_[q]) {
      const float t = thresholds_[q];
      buffer.erase(std::remove_if(buffer.begin(), buffer.end(), [t](Candidate c) { return !(scoreOf(c) > t); }),
                   buffer.end());
      caps_[q] = std::max<int64_t>(caps_[q], 2 * int64_t(buffer.size()));
    }
  }

  // The merged candidates of every task for query q: sorts them best first,
  // raises the threshold by their k-th best group and drops what is at or below it.
  void cut(int64_t q) {
    std::vector<Candidate>& buffer = buffers_[q];
    std::sort(buffer.begin(), buffer.end(), std::greater<Candidate>());
    const float kth = kthGroupScore(buffer);
    if (kth != kNegInf) raise(q, below(kth, q));
    if (thresholds_[q] != kNegInf) {
      // Candidates at or below the threshold: from the first whose key is at
      // most that of (threshold, row 0), the highest key at that score.
      const Candidate floor = candidate(thresholds_[q], 0);
      buffer.erase(std::lower_bound(buffer.begin(), buffer.end(), floor, std::greater<Candidate>()), buffer.end());
    }
  }

 private:
  float below(float kth, int64_t q) const { return int8Below(kth, margins_[q]); }

  // The score of the k-th distinct group in a best-first list, or -inf.
  // (Per-thread scratch: the merge cuts several queries of one selection at once.)
  float kthGroupScore(const std::vector<Candidate>& sorted) const {
    thread_local std::vector<int32_t> seen;
    thread_local std::unordered_set<int32_t> seenSet;
    seen.clear(), seenSet.clear();
    for (Candidate c : sorted) {
      const int32_t g = groupOf_[rowOf(c)];
      if (k_ <= 32) {  // a short list beats hashing
        if (std::find(seen.begin(), seen.end(), g) != seen.end()) continue;
        seen.push_back(g);
      } else if (!seenSet.insert(g).second) {
        continue;
      }
      if (int64_t(seen.size() + seenSet.size()) == k_) return scoreOf(c);
    }
    return kNegInf;
  }

  int64_t k_;
  const int32_t* groupOf_;
  const float* margins_;  // per query of this selection, in kernel units
  std::vector<std::vector<Candidate>> buffers_;
  std::vector<int64_t> caps_;
  std::vector<float> thresholds_;
  std::vector<GroupScore> best_;  // per query, its k best groups so far, best first (enterGroup)
  std::vector<int64_t> filled_;
};

}  // namespace

Status scanInt8(const ConstMatrix& queries, const PackedInt8Rows& corpus, Metric metric, int64_t pool, int32_t* indices,
                float* approx) {
  if (Status s = checkScanArgs(queries, corpus); !s.ok()) return s;
  if (pool < 1 || pool > corpus.rows)
    return Status::Range("pool must be between 1 and corpus.rows (" + std::to_string(corpus.rows) + "); received " +
                         std::to_string(pool));
  if (!indices || !approx) return Status::Type("indices and approx must be output buffers");
  const int64_t Q = queries.rows;
  return guarded("the int8 scan", [&]() -> Status {
    Int8Queries pq;
    if (Status s = prepareInt8Queries(queries, metric, &pq); !s.ok()) return s;
    const ScanPlan plan = planScan(Q, corpus);
    std::vector<std::unique_ptr<Selection>> selections;
    scanTasks(
        plan, pq, corpus, metric, [&](int64_t, int64_t count) { return std::make_unique<Selection>(count, pool); },
        &selections);
    // Each query's pool: its tasks' candidates merged, best first.
    parallelRanges(Q, 16, [&](int64_t b, int64_t e) {
      std::vector<Candidate> all;
      for (int64_t q = b; q < e; ++q) {
        const int64_t qp = plan.partOf(q), local = q - plan.queryBegin(qp);
        all.clear();
        for (int64_t cp = 0; cp < plan.corpusParts; ++cp) {
          const Selection& s = *selections[qp * plan.corpusParts + cp];
          all.insert(all.end(), s.candidates(local), s.candidates(local) + s.count(local));
        }
        // A row whose int8 score overflowed to -inf is never offered (the kernels
        // offer scores above the threshold, which starts at -inf): where fewer
        // than `pool` were, the rest are such rows, ties to the lower row.
        if (int64_t(all.size()) < pool) withOverflowed(all, corpus.rows);
        std::partial_sort(all.begin(), all.begin() + pool, all.end(), std::greater<Candidate>());
        for (int64_t r = 0; r < pool; ++r) {
          indices[q * pool + r] = rowOf(all[r]);
          approx[q * pool + r] = scoreOf(all[r]) * pq.factors[q];
        }
      }
    });
    return Status::Ok();
  });
}

Status scanInt8Groups(const ConstMatrix& queries, const PackedInt8Rows& corpus, Metric metric, const int32_t* groupOf,
                      int64_t k, const double* margins, GroupCandidates* out) {
  if (Status s = checkScanArgs(queries, corpus); !s.ok()) return s;
  if (k < 1) return Status::Range("k must be >= 1; received " + std::to_string(k));
  if (!groupOf || !margins || !out) return Status::Type("groupOf, margins and out must be given");
  const int64_t Q = queries.rows;
  return guarded("the int8 group scan", [&]() -> Status {
    Int8Queries pq;
    if (Status s = prepareInt8Queries(queries, metric, &pq); !s.ok()) return s;
    const std::vector<float> kernelMargins = int8KernelMargins(pq, margins);
    const ScanPlan plan = planScan(Q, corpus);
    std::vector<std::unique_ptr<GroupSelection>> selections;
    scanTasks(
        plan, pq, corpus, metric,
        [&](int64_t first, int64_t count) {
          return std::make_unique<GroupSelection>(count, k, groupOf, kernelMargins.data() + first);
        },
        &selections);
    // Each query's candidates: its tasks' merged and cut once more, best first.
    std::vector<std::vector<Candidate>> merged(static_cast<size_t>(Q));
    std::vector<float> thresholds(static_cast<size_t>(Q));
    parallelRanges(Q, 16, [&](int64_t b, int64_t e) {
      for (int64_t q = b; q < e; ++q) {
        const int64_t qp = plan.partOf(q), local = q - plan.queryBegin(qp);
        GroupSelection& first = *selections[qp * plan.corpusParts];
        std::vector<Candidate>& all = first.candidates(local);
        for (int64_t cp = 1; cp < plan.corpusParts; ++cp) {
          GroupSelection& s = *selections[qp * plan.corpusParts + cp];
          all.insert(all.end(), s.candidates(local).begin(), s.candidates(local).end());
          // Every task's threshold is a valid lower bound; the merged cut raises it further.
          first.raise(local, s.threshold(local));
        }
        first.cut(local);
        thresholds[q] = first.threshold(local);
        // No threshold: every row, also those whose scores overflowed to -inf (never offered).
        if (thresholds[q] == kNegInf && int64_t(all.size()) < corpus.rows) {
          withOverflowed(all, corpus.rows);
          std::sort(all.begin(), all.end(), std::greater<Candidate>());
        }
        merged[q] = std::move(all);
      }
    });
    fillGroupCandidates(merged, thresholds, pq, out);
    return Status::Ok();
  });
}

}  // namespace jobbert
