// test_cuda: topK against a float64 ranking at every precision (cosine and dot,
// random and exact data, k up to kMaxTopK), and exact ties between duplicate rows.
#include "cuda_harness.h"

namespace jobbert::cudatest {
namespace {

// ---------------------------------------------------------------- float64 reference

// Every (query, corpus row) score in float64 with |t|₂ and |t|₁ of its terms
// (normalised like the score).
struct TopKRef {
  int64_t q = 0, n = 0, d = 0;
  std::vector<double> val;
  std::vector<float> l2, abs1;
};

TopKRef topKReference(const std::vector<float>& qs, const std::vector<float>& cs, int64_t q, int64_t n, int64_t d,
                      Metric metric) {
  TopKRef r;
  r.q = q, r.n = n, r.d = d;
  r.val.resize(q * n), r.l2.resize(q * n), r.abs1.resize(q * n);
  std::vector<double> qn(q, 1.0), cn(n, 1.0);
  if (metric == Metric::kCosine) {
    auto norms = [&](const std::vector<float>& x, int64_t rows, std::vector<double>& out) {
      parallelFor(rows, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          double s = 0;
          for (int64_t c = 0; c < d; ++c) s += double(x[i * d + c]) * x[i * d + c];
          out[i] = std::sqrt(s);
        }
      });
    };
    norms(qs, q, qn);
    norms(cs, n, cn);
  }
  parallelFor(
      q * n,
      [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          const int64_t i = o / n, j = o % n;
          const float* x = &qs[i * d];
          const float* y = &cs[j * d];
          double s = 0, sq = 0, ab = 0;
          for (int64_t c = 0; c < d; ++c) {
            const double t = double(x[c]) * y[c];
            s += t, sq += t * t, ab += std::fabs(t);
          }
          const double norm = qn[i] * cn[j];
          r.val[o] = s / norm;
          r.l2[o] = static_cast<float>(std::sqrt(sq) / norm);
          r.abs1[o] = static_cast<float>(ab / norm);
        }
      },
      256);
  return r;
}

// One topK result against the reference. Exact: indices in range and distinct,
// float scores non-increasing with equal scores by ascending index. Within
// tolerance: each score against the float64 score of its index, and no
// omitted row better than a returned one (near-ties around the k-th place may
// go either way). exactOrder: the float64 ranking itself, ties to the lower index.
void verifyTopK(Group& g, const std::string& what, const TopKRef& ref, Precision tolPrec, int64_t k, const TopKOut& out,
                bool exactOrder) {
  const int64_t n = ref.n;
  double worstScore = 0;
  std::string worstAt, problem;
  int problems = 0;
  auto report = [&](const std::string& m) {
    if (problems++ == 0) problem = m;
  };
  std::vector<int32_t> order(n);
  std::vector<char> seen(n);
  for (int64_t i = 0; i < ref.q; ++i) {
    const double* v = &ref.val[i * n];
    auto tolOf = [&](int64_t j) { return dotTol(v[j], ref.l2[i * n + j], ref.abs1[i * n + j], ref.d, tolPrec); };
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
    const int32_t kth = order[k - 1];
    const double kthTol = tolOf(kth);
    std::fill(seen.begin(), seen.end(), 0);
    const int32_t* gi = &out.idx[i * k];
    const float* gs = &out.sc[i * k];
    for (int64_t r = 0; r < k; ++r) {
      const int32_t j = gi[r];
      auto at = [&] { return fmt("query %lld rank %lld", (long long)i, (long long)r); };
      if (j < 0 || j >= n) {
        report(at() + fmt(": index %d out of range", j));
        continue;
      }
      if (seen[j]++) report(at() + fmt(": index %d repeated", j));
      const double tol = tolOf(j);
      double e = std::fabs(double(gs[r]) - v[j]) / std::max(tol, 1e-300);
      if (std::isnan(e)) e = INFINITY;
      if (e > worstScore)
        worstScore = e,
        worstAt = at() + fmt(": index %d score %.9g, float64 %.9g, tolerance %.3g", j, double(gs[r]), v[j], tol);
      if (v[j] < v[kth] - tol - kthTol)
        report(at() + fmt(": index %d (float64 %.9g) is worse than the true k-th best, index %d (%.9g), beyond "
                          "tolerance %.3g",
                          j, v[j], kth, v[kth], tol + kthTol));
      if (r > 0 && (gs[r] > gs[r - 1] || (gs[r] == gs[r - 1] && j < gi[r - 1])))
        report(at() + fmt(": out of order after rank %lld (%.9g, index %d then %.9g, index %d)", (long long)r - 1,
                          double(gs[r - 1]), gi[r - 1], double(gs[r]), j));
      if (exactOrder && j != order[r])
        report(at() + fmt(": index %d (float64 %.9g), the float64 ranking has %d (%.9g)%s", j, v[j], order[r],
                          v[order[r]], v[j] == v[order[r]] && v[j] == 0 ? " — a −0/+0 tie ordered as unequal?" : ""));
    }
  }
  g.expect(problems == 0, what + ": " + problem + (problems > 1 ? fmt(" (and %d more)", problems - 1) : ""));
  g.within(worstScore, [&] { return what + ": " + worstAt; });
}

// ---------------------------------------------------------------- topK

void topKChecks(std::mt19937_64& rng) {
  struct Case {
    int64_t q, n, d;
    std::vector<int64_t> ks;
  };
  std::vector<Case> cases = {{1, 1, 1, {1}},          {37, 131, 67, {10, 131}}, {5, 20, 8, {1, 20}},
                             {3, 1000, 3, {1, 1000}}, {67, 300, 17, {7, 300}},  {1, 2049, 5, {cu::kMaxTopK}},
                             {2, 64, 4, {64}},        {9, 257, 129, {1, 33}}};
  if (onGpu())
    for (Case c : {Case{130, 1000, 257, {10, 1000}}, Case{17, 4099, 96, {1024, cu::kMaxTopK}},
                   Case{1024, 5000, 32, {10}}, Case{3, 20000, 64, {10, 100}}, Case{64, 128, 128, {1, 128}}})
      cases.push_back(c);
  if (bigCases())
    for (Case c : {Case{3, 200000, 64, {10, 1000}}, Case{1, 200000, 1024, {1024}}, Case{1024, 5000, 128, {10, 64}}})
      cases.push_back(c);

  Group groups[3] = {Group("topK fp32"), Group("topK tf32"), Group("topK bf16")};
  for (const Case& c : cases)
    for (bool exact : {false, true})
      for (Metric metric : {Metric::kCosine, Metric::kDot}) {
        const std::vector<float> qs =
            exact ? exactRows(rng, c.q, c.d, metric == Metric::kDot) : randomFloats(rng, c.q * c.d);
        const std::vector<float> cs =
            exact ? exactRows(rng, c.n, c.d, metric == Metric::kDot) : randomFloats(rng, c.n * c.d);
        const TopKRef ref = topKReference(qs, cs, c.q, c.n, c.d, metric);
        for (int pi = 0; pi < 3; ++pi)
          for (int64_t k : c.ks) {
            const Precision p = kPrecisions[pi];
            const std::string what = fmt("Q=%lld N=%lld d=%lld k=%lld %s %s", (long long)c.q, (long long)c.n,
                                         (long long)c.d, (long long)k, metricName(metric), exact ? "exact" : "random");
            TopKOut out;
            if (!groups[pi].ok(runTopK(H(qs, c.q, c.d), H(cs, c.n, c.d), k, metric, p, out), what)) continue;
            verifyTopK(groups[pi], what, ref, exact ? Precision::kFp32 : p, k, out, exact && metric == Metric::kDot);
          }
      }
  for (auto& g : groups) g.done();
}

// Copies of one corpus row far apart: bit-equal scores, consecutive, in index
// order (required at fp32; at tf32/bf16 whenever their scores are bit-equal).
void tieChecks(std::mt19937_64& rng) {
  Group g("topK exact ties (duplicate rows)");
  const int64_t n = kEmu ? 600 : 5000, d = kEmu ? 16 : 64, q = 20, k = std::min<int64_t>(n, cu::kMaxTopK);
  const int64_t copies[] = {7, n / 2 + 100, n - 10};
  std::vector<float> cs = randomFloats(rng, n * d);
  for (int64_t j : {copies[1], copies[2]}) std::memcpy(&cs[j * d], &cs[7 * d], d * sizeof(float));
  std::vector<float> qs = randomFloats(rng, q * d, -0.5f, 0.5f);
  for (int64_t i = 0; i < q; ++i)
    for (int64_t c = 0; c < d; ++c) qs[i * d + c] = i == 0 ? cs[7 * d + c] : qs[i * d + c] + cs[7 * d + c];
  int unequal = 0;
  for (Metric metric : {Metric::kCosine, Metric::kDot})
    for (Precision p : kPrecisions) {
      TopKOut out;
      const std::string what = fmt("%s %s", metricName(metric), pname(p));
      if (!g.ok(runTopK(H(qs, q, d), H(cs, n, d), k, metric, p, out), what)) continue;
      for (int64_t i = 0; i < q; ++i) {
        const int32_t* row = &out.idx[i * k];
        const float* sc = &out.sc[i * k];
        const int64_t at = std::find(row, row + k, 7) - row;
        if (i == 0 && metric == Metric::kCosine)
          g.expect(at == 0, what + ": a query equal to row 7 does not rank row 7 first");
        if (at + 2 >= k) continue;  // not in the top k (or its copies fall off the end)
        const bool bitEqual = std::memcmp(&sc[at], &sc[at + 1], 4) == 0 && std::memcmp(&sc[at], &sc[at + 2], 4) == 0;
        const bool consecutive = row[at + 1] == copies[1] && row[at + 2] == copies[2];
        if (p == Precision::kFp32)
          g.expect(
              bitEqual && consecutive,
              what + fmt(": query %lld: rows 7, %lld, %lld: scores %.9g %.9g %.9g at ranks %lld.., "
                         "indices %d %d %d",
                         (long long)i, (long long)copies[1], (long long)copies[2], double(sc[at]), double(sc[at + 1]),
                         double(sc[at + 2]), (long long)at, row[at], row[at + 1], row[at + 2]));
        else if (bitEqual)
          g.expect(consecutive, what + fmt(": query %lld: bit-equal copies not consecutive in index order (%d %d %d)",
                                           (long long)i, row[at], row[at + 1], row[at + 2]));
        else ++unequal;
      }
    }
  if (unequal)
    std::printf("  note: %d tf32/bf16 results scored identical rows unequally (allowed, not bit-equal)\n", unequal);
  g.done();
}

}  // namespace

JOBBERT_CUDA_CHECK(40, topKChecks);
JOBBERT_CUDA_CHECK(50, tieChecks);

}  // namespace jobbert::cudatest
