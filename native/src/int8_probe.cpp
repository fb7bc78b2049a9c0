// probeInt8Groups (jobbert/quantized.h): the group scan over only the lists
// of rows whose prototypes score best, for a search that trades a certified
// answer for time. Three steps per call:
//
// 1. The prototypes (one a list) scored with the tile kernel: each query's
//    best lists, about `probe` (more where they span fewer than k groups).
// 2. List by list, the queries that probe it scored against its rows with
//    the same register kernels (8-query tiles, so each load of the list's
//    codes serves 8 queries): per (query, probed list) its best int8 score.
// 3. Per query, the k-th best group's score (a group: its best probed list)
//    is t_k; each probed list whose best scores above t = t_k − margin is
//    scored again for that query alone and its rows above t kept: the rows
//    scanInt8Groups would keep were the corpus only the probed lists, with
//    the same scores.
//
// The scores are the same floats the full scan computes (the same integer
// dots times the same row and query factors), so where the probed lists hold
// the rows that decide a query's k best groups the answer is the exhaustive
// one bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "checks.h"
#include "guard.h"
#include "int8_scan.h"
#include "jobbert/quantized.h"
#include "thread_pool.h"

namespace jobbert {
namespace {

constexpr int64_t kGroupRows = 16;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int kMeansRounds = 6;

// The kernel over one list's rows for nq queries: calls it on 3 row groups
// (48 slots) at a time and hands each call's first slot, number of real
// (unpadded) lanes and `above` bits to take().
template <class Take>
void scoreList(const GroupedInt8& grouped, int64_t l, const float* factors, Int8Tile& t, int nq, Int8TileFn kernel,
               Take take) {
  const int64_t depth = packedDepth(grouped.cols);
  const int64_t b0 = grouped.firstBlock[l], b1 = grouped.firstBlock[l + 1];
  uint64_t above[kInt8MaxQueries];
  for (int64_t b = b0; b < b1; b += 3) {
    t.groupCount = static_cast<int>(std::min<int64_t>(3, b1 - b));
    t.groups = grouped.codes.data() + b * kGroupRows * depth;
    t.rowFactors = factors + b * kGroupRows;
    const int64_t lanes = std::min<int64_t>(t.groupCount * kGroupRows, grouped.counts[l] - (b - b0) * kGroupRows);
    kernel(t, nq, above);
    take(b * kGroupRows, lanes, above);
  }
}

// A query's codes into a tile's panel: a call of the library's memmove cost
// more than the copy for the usual depths, which are inlined here.
inline void copyCodes(const int8_t* from, int64_t depth, int8_t* to) {
  switch (depth) {
    case 64: std::memcpy(to, from, 64); return;
    case 96: std::memcpy(to, from, 96); return;
    case 128: std::memcpy(to, from, 128); return;
    default: std::memcpy(to, from, size_t(depth));
  }
}

// The r-th largest of v[0 .. n) (1 <= r <= n); for small r, one pass keeping the r best in order.
float rankth(const float* v, int64_t n, int64_t r) {
  float best[64];
  if (r > 64) {
    std::vector<float> copy(v, v + n);
    std::nth_element(copy.begin(), copy.begin() + (r - 1), copy.end(), std::greater<float>());
    return copy[r - 1];
  }
  int64_t held = 0;
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t j1 = std::min(n, j0 + 16);
    if (held == r) {  // most blocks hold nothing above the r-th so far: one vectorisable test
      bool any = false;
      for (int64_t j = j0; j < j1; ++j) any |= v[j] > best[r - 1];
      if (!any) continue;
    }
    for (int64_t j = j0; j < j1; ++j) {
      const float x = v[j];
      if (held == r && !(x > best[r - 1])) continue;
      int64_t i = held < r ? held++ : r - 1;
      for (; i > 0 && best[i - 1] < x; --i) best[i] = best[i - 1];
      best[i] = x;
    }
  }
  return best[r - 1];
}

// Groups seen, by stamp: a per-thread array of the groups' last stamps.
class GroupStamps {
 public:
  explicit GroupStamps(int64_t groups) : stamps_(static_cast<size_t>(groups), 0) {}
  void next() {
    if (++now_ == 0) std::fill(stamps_.begin(), stamps_.end(), 0), now_ = 1;
  }
  // Whether g is new since next().
  bool add(int32_t g) { return stamps_[g] != now_ ? (stamps_[g] = now_, true) : false; }

 private:
  std::vector<uint32_t> stamps_;
  uint32_t now_ = 0;
};

// The lists of `kept` (candidates): all of them where there are at most
// `most`, else the `most` best; then more, best first, until they span k
// groups. Into `out`; false when all of `kept` span fewer than k.
bool choose(std::vector<Candidate>& kept, int64_t most, int64_t k, const GroupedInt8& grouped, GroupStamps& seen,
            std::vector<int32_t>& out) {
  out.clear();
  seen.next();
  int64_t distinct = 0;
  const int64_t m = std::min<int64_t>(most, int64_t(kept.size()));
  if (m == 0) return false;
  if (m < int64_t(kept.size()))
    std::nth_element(kept.begin(), kept.begin() + (m - 1), kept.end(), std::greater<Candidate>());
  out.resize(size_t(m));
  for (int64_t j = 0; j < m; ++j) {
    out[j] = rowOf(kept[j]);
    if (distinct < k) distinct += seen.add(grouped.groupOf[out[j]]);  // (past k, no need to know)
  }
  if (distinct >= k) return true;
  std::sort(kept.begin() + m, kept.end(), std::greater<Candidate>());
  for (size_t j = size_t(m); j < kept.size() && distinct < k; ++j) {
    out.push_back(rowOf(kept[j]));
    distinct += seen.add(grouped.groupOf[out.back()]);
  }
  return distinct >= k;
}

// Per query, about M lists, those whose prototypes score best, and more
// where they span fewer than k groups, in no particular order. Per 8-query
// panel, two kernel passes: the first 24 row groups of prototypes (384) give
// each query a threshold, the r-th best score among them, r = ⌈M·384/L⌉, so
// that about M of the L prototypes score above it; the second scores every
// prototype against it, and the kernel's own comparison picks those above.
// A query keeps them all when they number M/2 to 2M (the 2M best of more);
// with fewer than M/2 (or fewer than k groups), it runs again below the
// sample's 4r-th score, keeping the M best, and failing that below nothing.
// So the selection costs two passes over the prototypes and no sort.
void topPrototypes(const Int8Queries& pq, const GroupedInt8& grouped, Metric metric, int64_t M, int64_t k,
                   std::vector<std::vector<int32_t>>* probed) {
  constexpr int64_t kSampleGroups = 24;
  const int64_t Q = pq.count, L = grouped.lists, depth = pq.depth;
  const PackedInt8Rows protos = grouped.prototypes();
  const int64_t rowGroups = (L + kGroupRows - 1) / kGroupRows;
  std::vector<float> factors(static_cast<size_t>(rowGroups * kGroupRows), 0.0f);
  for (int64_t l = 0; l < L; ++l)
    factors[l] = metric == Metric::kCosine ? protos.scales[l] * protos.invNorms[l] : protos.scales[l];
  const Int8TileFn kernel = int8TileKernel();
  const int64_t panels = (Q + kInt8MaxQueries - 1) / kInt8MaxQueries;
  const int64_t sampleGroups = std::min(rowGroups, kSampleGroups);
  const int64_t sampleSize = std::min(L, sampleGroups * kGroupRows);
  const int64_t rank =
      std::min(sampleSize, std::max<int64_t>(1, int64_t(std::ceil(double(M) * double(sampleSize) / double(L)))));
  parallelRanges(panels, 4, [&](int64_t b, int64_t e) {
    std::vector<float> scores(static_cast<size_t>(kInt8MaxQueries * kInt8TileRows));
    // The sample's scores, per query: sampleSize of them, copied from the kernel's output a call at a time.
    std::vector<float> sample(static_cast<size_t>(kInt8MaxQueries * sampleSize));
    std::vector<Candidate> kept[kInt8MaxQueries];
    GroupStamps seen(grouped.groups);
    float thresholds[kInt8MaxQueries];
    uint64_t above[kInt8MaxQueries];
    Int8Tile t;
    t.thresholds = thresholds;
    t.groupStride = kGroupRows * depth, t.depth = depth, t.scores = scores.data();
    // The kernel over prototype row groups [from, to), 3 at a time, for the
    // panel's first nq queries; after each call, each(first row group, real
    // lanes, whether any score is above its query's threshold).
    auto calls = [&](int nq, int64_t from, int64_t to, auto each) {
      for (int64_t rg = from; rg < to; rg += 3) {
        t.groupCount = static_cast<int>(std::min<int64_t>(3, to - rg));
        t.groups = protos.codes + rg * kGroupRows * depth;
        t.rowFactors = factors.data() + rg * kGroupRows;
        const bool any = kernel(t, nq, above);
        each(rg, std::min<int64_t>(t.groupCount * kGroupRows, L - rg * kGroupRows), any);
      }
    };
    // take(i, list, score) for each score above query i's threshold.
    auto pass = [&](int nq, int64_t from, int64_t to, auto take) {
      calls(nq, from, to, [&](int64_t rg, int64_t lanes, bool any) {
        if (!any) return;
        const uint64_t valid = lanes >= 64 ? ~uint64_t(0) : (uint64_t(1) << lanes) - 1;
        for (int i = 0; i < nq; ++i)
          for (uint64_t bits = above[i] & valid; bits; bits &= bits - 1) {
            const int l = __builtin_ctzll(bits);
            take(i, rg * kGroupRows + l, scores[i * kInt8TileRows + l]);
          }
      });
    };
    for (int64_t panel = b; panel < e; ++panel) {
      const int64_t q0 = panel * kInt8MaxQueries;
      const int nq = static_cast<int>(std::min<int64_t>(kInt8MaxQueries, Q - q0));
      t.queries = pq.codes.data() + q0 * depth, t.offsets = pq.offsets.data() + q0;
      for (int i = 0; i < nq; ++i) kept[i].clear();
      std::fill(thresholds, thresholds + kInt8MaxQueries, kNegInf);
      calls(nq, 0, sampleGroups, [&](int64_t rg, int64_t lanes, bool) {
        for (int i = 0; i < nq; ++i)
          std::memcpy(sample.data() + i * sampleSize + rg * kGroupRows, scores.data() + i * kInt8TileRows,
                      size_t(lanes) * sizeof(float));
      });
      const auto sampleOf = [&](int i) { return sample.data() + i * sampleSize; };
      for (int i = 0; i < nq; ++i) thresholds[i] = std::nextafter(rankth(sampleOf(i), sampleSize, rank), kNegInf);
      pass(nq, 0, rowGroups, [&](int i, int64_t l, float score) { kept[i].push_back(candidate(score, int32_t(l))); });
      const int8_t* codes = t.queries;
      const int32_t* offsets = t.offsets;
      for (int i = 0; i < nq; ++i) {
        std::vector<int32_t>& out = (*probed)[q0 + i];
        if (2 * int64_t(kept[i].size()) >= M && choose(kept[i], 2 * M, k, grouped, seen, out)) continue;
        // The sample misled (or the lists above it span fewer than k groups):
        // again below four times its rank, then below nothing.
        t.queries = codes + i * depth, t.offsets = offsets + i;
        for (const int64_t r : {std::min(sampleSize, 4 * rank), int64_t(0)}) {
          kept[i].clear();
          thresholds[0] = r == 0 ? kNegInf : std::nextafter(rankth(sampleOf(i), sampleSize, r), kNegInf);
          pass(1, 0, rowGroups, [&](int, int64_t l, float score) { kept[i].push_back(candidate(score, int32_t(l))); });
          if ((int64_t(kept[i].size()) >= M && choose(kept[i], M, k, grouped, seen, out)) || r == 0) break;
        }
        t.queries = codes, t.offsets = offsets;
      }
    }
  });
}

// Splits a group's rows (their unit directions, n × d) into c lists by
// spherical k-means (seeded with evenly spaced rows; ties to the lower list):
// list[i] for row i.
std::vector<int32_t> splitGroup(const std::vector<float>& dirs, int64_t n, int64_t d, int64_t c) {
  std::vector<int32_t> list(static_cast<size_t>(n), 0);
  if (c <= 1) return list;
  std::vector<float> centers(static_cast<size_t>(c * d));
  for (int64_t j = 0; j < c; ++j) std::copy_n(dirs.begin() + (j * n / c) * d, d, centers.begin() + j * d);
  std::vector<double> sums(static_cast<size_t>(c * d));
  for (int round = 0; round < kMeansRounds; ++round) {
    for (int64_t i = 0; i < n; ++i) {
      float best = kNegInf;
      for (int64_t j = 0; j < c; ++j) {
        float dot = 0;
        for (int64_t p = 0; p < d; ++p) dot += dirs[i * d + p] * centers[j * d + p];
        if (dot > best) best = dot, list[i] = int32_t(j);
      }
    }
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t p = 0; p < d; ++p) sums[list[i] * d + p] += dirs[i * d + p];
    for (int64_t j = 0; j < c; ++j) {
      double norm = 0;
      for (int64_t p = 0; p < d; ++p) norm += sums[j * d + p] * sums[j * d + p];
      if (norm == 0) continue;  // empty: keeps its centre
      for (int64_t p = 0; p < d; ++p) centers[j * d + p] = float(sums[j * d + p] / std::sqrt(norm));
    }
  }
  return list;
}

}  // namespace

int64_t GroupedInt8::bytes() const {
  return int64_t(codes.size() + prototypeCodes.size()) +
         4 * int64_t(groupOf.size() + counts.size() + rowAt.size() + scales.size() + cosineFactors.size() +
                     prototypeScales.size() + prototypeInvNorms.size()) +
         8 * int64_t(firstBlock.size());
}

Status groupInt8(const PackedInt8Rows& corpus, const int32_t* groupOf, GroupedInt8* out) {
  if (corpus.rows < 1 || corpus.cols < 1 || !corpus.codes || !corpus.scales || !corpus.invNorms)
    return Status::Range("corpus must be a non-empty packed int8 matrix");
  if (!groupOf || !out) return Status::Type("groupOf and out must be given");
  const int64_t n = corpus.rows, d = corpus.cols;
  return guarded("grouping the int8 rows", [&]() -> Status {
    // Rows by (group, row): each group's rows ascending.
    std::vector<int32_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return groupOf[a] < groupOf[b]; });
    // Row r's unit direction (its codes / ‖codes‖; zero for a zero row) into `to`.
    auto direction = [&](int32_t r, float* to, int8_t* codes) {
      unpackRow(corpus.codes, r, d, codes);
      double norm = 0;
      for (int64_t p = 0; p < d; ++p) norm += double(codes[p]) * double(codes[p]);
      const double inv = norm == 0 ? 0.0 : 1.0 / std::sqrt(norm);
      for (int64_t p = 0; p < d; ++p) to[p] = float(double(codes[p]) * inv);
    };
    // The groups: [bounds[g], bounds[g + 1]) of `order`.
    std::vector<int64_t> bounds{0};
    for (int64_t i = 0; i < n;) {
      int64_t j = i;
      while (j < n && groupOf[order[j]] == groupOf[order[i]]) ++j;
      bounds.push_back(j);
      i = j;
    }
    const int64_t groups = int64_t(bounds.size()) - 1;
    // Each group's split (k-means, the groups in parallel), then its lists' rows (corpus rows,
    // ascending), group by group.
    std::vector<std::vector<int32_t>> split(static_cast<size_t>(groups));
    parallelRanges(groups, 16, [&](int64_t b, int64_t e) {
      std::vector<float> dirs;
      std::vector<int8_t> codes(static_cast<size_t>(d));
      for (int64_t g = b; g < e; ++g) {
        const int64_t i = bounds[g], m = bounds[g + 1] - i;
        dirs.resize(static_cast<size_t>(m * d));
        for (int64_t r = 0; r < m; ++r) direction(order[i + r], dirs.data() + r * d, codes.data());
        split[g] = splitGroup(dirs, m, d, (m + kInt8ListRows - 1) / kInt8ListRows);
      }
    });
    std::vector<std::vector<int32_t>> lists;
    std::vector<int32_t> listGroup;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t i = bounds[g], m = bounds[g + 1] - i, c = (m + kInt8ListRows - 1) / kInt8ListRows;
      const size_t first = lists.size();
      lists.resize(first + size_t(c));
      for (int64_t r = 0; r < m; ++r) lists[first + size_t(split[g][r])].push_back(order[i + r]);
      for (int64_t l = 0; l < c; ++l) listGroup.push_back(int32_t(g));
    }
    std::vector<int8_t> codes(static_cast<size_t>(d));
    GroupedInt8& o = *out;
    o = GroupedInt8{};
    o.cols = d, o.groups = groups;
    o.firstBlock.push_back(0);
    for (size_t l = 0; l < lists.size(); ++l) {
      if (lists[l].empty()) continue;  // a k-means centre that lost every row
      o.groupOf.push_back(listGroup[l]);
      o.counts.push_back(int32_t(lists[l].size()));
      o.firstBlock.push_back(o.firstBlock.back() + (int64_t(lists[l].size()) + kGroupRows - 1) / kGroupRows);
    }
    o.lists = int64_t(o.groupOf.size());
    const int64_t slots = o.firstBlock.back() * kGroupRows;
    o.rowAt.assign(static_cast<size_t>(slots), -1);
    o.codes.assign(static_cast<size_t>(packedBytes(slots, d)), uint8_t(128));  // code 0
    o.scales.assign(static_cast<size_t>(slots), 0.0f);
    o.cosineFactors.assign(static_cast<size_t>(slots), 0.0f);
    o.prototypeCodes.assign(static_cast<size_t>(packedBytes(o.lists, d)), uint8_t(128));
    o.prototypeScales.assign(static_cast<size_t>(o.lists), 0.0f);
    o.prototypeInvNorms.assign(static_cast<size_t>(o.lists), 0.0f);
    std::vector<double> mean(static_cast<size_t>(d));
    std::vector<float> prototype(static_cast<size_t>(d));
    int64_t l = 0;
    for (const std::vector<int32_t>& rows : lists) {
      if (rows.empty()) continue;
      std::fill(mean.begin(), mean.end(), 0.0);
      for (size_t i = 0; i < rows.size(); ++i) {
        const int32_t row = rows[i];
        const int64_t slot = o.firstBlock[l] * kGroupRows + int64_t(i);
        unpackRow(corpus.codes, row, d, codes.data());
        packRow(codes.data(), slot, d, o.codes.data());
        o.rowAt[slot] = row;
        o.scales[slot] = corpus.scales[row];
        o.cosineFactors[slot] = corpus.scales[row] * corpus.invNorms[row];
        direction(row, prototype.data(), codes.data());
        for (int64_t p = 0; p < d; ++p) mean[p] += prototype[p];
      }
      double norm = 0;
      for (int64_t p = 0; p < d; ++p) norm += mean[p] * mean[p];
      if (norm > 0) {  // else a list of zero rows: a zero prototype (scale 0) scores 0
        const double inv = 1.0 / std::sqrt(norm);
        for (int64_t p = 0; p < d; ++p) prototype[p] = float(mean[p] * inv);
        float scale;
        const double sq = quantizeRow(prototype.data(), d, codes.data(), &scale);
        packRow(codes.data(), l, d, o.prototypeCodes.data());
        o.prototypeScales[l] = scale;
        o.prototypeInvNorms[l] = float(1.0 / std::sqrt(sq));
      }
      ++l;
    }
    return Status::Ok();
  });
}

Status probeInt8Groups(const ConstMatrix& queries, const GroupedInt8& grouped, Metric metric, int64_t k, int64_t probe,
                       const double* margins, GroupCandidates* out) {
  if (Status s = checkShape(queries, "queries"); !s.ok()) return s;
  if (queries.cols != grouped.cols)
    return Status::Range("queries must have " + std::to_string(grouped.cols) + " columns; received " +
                         std::to_string(queries.cols));
  if (grouped.lists < 1) return Status::Range("the grouped rows are empty");
  if (k < 1) return Status::Range("k must be >= 1; received " + std::to_string(k));
  if (probe < 1) return Status::Range("probe must be >= 1; received " + std::to_string(probe));
  if (!margins || !out) return Status::Type("margins and out must be given");
  const int64_t Q = queries.rows, L = grouped.lists, d = grouped.cols, depth = packedDepth(d);
  const int64_t M = std::min(L, std::max(probe, k));
  return guarded("the int8 group probe", [&]() -> Status {
    Int8Queries pq;
    if (Status s = prepareInt8Queries(queries, metric, &pq); !s.ok()) return s;
    // 1. Each query's probed lists.
    std::vector<std::vector<int32_t>> probed(static_cast<size_t>(Q));
    if (M < L) {
      topPrototypes(pq, grouped, metric, M, k, &probed);
    } else {
      for (auto& p : probed) p.resize(static_cast<size_t>(L)), std::iota(p.begin(), p.end(), 0);
    }
    const std::vector<float> kernelMargins = int8KernelMargins(pq, margins);
    const std::vector<float>& factors = metric == Metric::kCosine ? grouped.cosineFactors : grouped.scales;
    // 2. The (query, probed list) pairs by list, queries ascending; pair p is
    // query pairQuery[p]'s probed[q][p − first[q]].
    std::vector<int64_t> first(static_cast<size_t>(Q + 1), 0);
    for (int64_t q = 0; q < Q; ++q) first[q + 1] = first[q] + int64_t(probed[q].size());
    const int64_t P = first[Q];
    std::vector<int32_t> pairQuery(static_cast<size_t>(P));
    std::vector<int64_t> start(static_cast<size_t>(L + 1), 0);
    for (int64_t q = 0; q < Q; ++q)
      for (int32_t l : probed[q]) ++start[l + 1];
    for (int64_t l = 0; l < L; ++l) start[l + 1] += start[l];
    std::vector<int64_t> pairs(static_cast<size_t>(P));
    {
      std::vector<int64_t> fill(start.begin(), start.end() - 1);
      for (int64_t q = 0; q < Q; ++q)
        for (size_t j = 0; j < probed[q].size(); ++j) {
          const int64_t p = first[q] + int64_t(j);
          pairQuery[p] = int32_t(q);
          pairs[fill[probed[q][j]]++] = p;
        }
    }
    std::vector<float> best(static_cast<size_t>(P), kNegInf);
    const Int8TileFn kernel = int8TileKernel();
    // Tasks of about equal work (pairs · the list's row groups).
    std::vector<int64_t> bounds{0};
    {
      const int64_t tasks = 4 * ThreadPool::instance().size();
      auto work = [&](int64_t l) {
        return double(start[l + 1] - start[l]) * double(grouped.firstBlock[l + 1] - grouped.firstBlock[l]);
      };
      double total = 0, acc = 0;
      for (int64_t l = 0; l < L; ++l) total += work(l);
      for (int64_t l = 0; l < L; ++l) {
        acc += work(l);
        if (acc >= total * double(bounds.size()) / double(tasks) && l + 1 < L) bounds.push_back(l + 1);
      }
      bounds.push_back(L);
    }
    ThreadPool::instance().run(int64_t(bounds.size()) - 1, [&](int64_t task) {
      std::vector<int8_t> codes(static_cast<size_t>(kInt8MaxQueries * depth));
      int32_t offsets[kInt8MaxQueries];
      float thresholds[kInt8MaxQueries];
      std::fill(thresholds, thresholds + kInt8MaxQueries, std::numeric_limits<float>::infinity());
      std::vector<float> scores(static_cast<size_t>(kInt8MaxQueries * kInt8TileRows));
      Int8Tile t;
      t.queries = codes.data(), t.offsets = offsets, t.thresholds = thresholds;
      t.groupStride = kGroupRows * depth, t.depth = depth, t.scores = scores.data();
      for (int64_t l = bounds[task]; l < bounds[task + 1]; ++l) {
        for (int64_t p0 = start[l]; p0 < start[l + 1]; p0 += kInt8MaxQueries) {
          const int nq = static_cast<int>(std::min<int64_t>(kInt8MaxQueries, start[l + 1] - p0));
          for (int i = 0; i < nq; ++i) {
            const int64_t q = pairQuery[pairs[p0 + i]];
            copyCodes(pq.codes.data() + q * depth, depth, codes.data() + i * depth);
            offsets[i] = pq.offsets[q];
          }
          scoreList(grouped, l, factors.data(), t, nq, kernel, [&](int64_t, int64_t lanes, const uint64_t*) {
            for (int i = 0; i < nq; ++i) {
              float& b = best[pairs[p0 + i]];
              const float* s = scores.data() + i * kInt8TileRows;
              for (int64_t j = 0; j < lanes; ++j) b = std::max(b, s[j]);
            }
          });
        }
      }
    });
    // 3. Per query: the rows of its probed lists above t.
    std::vector<std::vector<Candidate>> kept(static_cast<size_t>(Q));
    std::vector<float> thresholds(static_cast<size_t>(Q));
    parallelRanges(Q, 16, [&](int64_t b, int64_t e) {
      std::vector<float> scores(static_cast<size_t>(kInt8TileRows));
      std::vector<GroupScore> top(static_cast<size_t>(k));  // the k best groups so far, best first (enterGroup)
      float threshold;
      Int8Tile t;
      t.thresholds = &threshold;
      t.groupStride = kGroupRows * depth, t.depth = depth, t.scores = scores.data();
      for (int64_t q = b; q < e; ++q) {
        int64_t held = 0;
        for (int64_t p = first[q]; p < first[q + 1]; ++p)
          enterGroup(top.data(), &held, k, best[p], grouped.groupOf[probed[q][p - first[q]]]);
        const float tq = held < k ? kNegInf : int8Below(top[k - 1].score, kernelMargins[q]);
        threshold = tq;
        thresholds[q] = tq;
        t.queries = pq.codes.data() + q * depth, t.offsets = pq.offsets.data() + q;
        for (int64_t p = first[q]; p < first[q + 1]; ++p) {
          if (tq != kNegInf && !(best[p] > tq)) continue;
          scoreList(grouped, probed[q][p - first[q]], factors.data(), t, 1, kernel,
                    [&](int64_t slot, int64_t lanes, const uint64_t* above) {
                      const uint64_t valid = lanes >= 64 ? ~uint64_t(0) : (uint64_t(1) << lanes) - 1;
                      // No threshold: every lane, also scores that overflowed to -inf.
                      for (uint64_t bits = (tq == kNegInf ? ~uint64_t(0) : above[0]) & valid; bits; bits &= bits - 1) {
                        const int j = __builtin_ctzll(bits);
                        kept[q].push_back(candidate(scores[j], grouped.rowAt[slot + j]));
                      }
                    });
        }
        std::sort(kept[q].begin(), kept[q].end(), std::greater<Candidate>());
      }
    });
    fillGroupCandidates(kept, thresholds, pq, out);
    return Status::Ok();
  });
}

}  // namespace jobbert
