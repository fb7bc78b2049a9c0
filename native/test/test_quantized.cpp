// Int8 storage (jobbert/quantized.h): quantisation error bounds on both
// instruction-set paths, the int8 scan (scanInt8's VNNI/AVX2/portable
// kernels against an integer reference, equal on every instruction set), streaming from a file with its checksum, rows
// in memory, exact re-scoring (bit-identical to topK, cosine and dot, ties to the lower row), a file changed after
// loading, and bad inputs.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "harness.h"
#include "jobbert/quantized.h"
#include "jobbert/store.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

std::string tempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/jobbert-quantized-" + std::to_string(::getpid()) + "-" + name;
}

// Writes `pad` junk bytes and then the floats; returns their checksum64.
uint64_t writeFile(const std::string& path, const std::vector<float>& v, size_t pad) {
  FILE* f = std::fopen(path.c_str(), "wb");
  std::vector<char> junk(pad, 'x');
  std::fwrite(junk.data(), 1, pad, f);
  std::fwrite(v.data(), 4, v.size(), f);
  std::fclose(f);
  return checksum64(v.data(), v.size() * 4);
}

void testQuantizeRow(std::mt19937_64& rng) {
  for (int64_t d : {1, 7, 16, 33, 1024}) {
    for (float range : {1e-3f, 1.0f, 300.0f}) {
      std::vector<float> x = randomFloats(rng, d, -range, range);
      std::vector<int8_t> codes(d), codes2(d);
      float scale = 0, scale2 = 0;
      std::vector<Isa> isas = availableIsas();
      setIsa(isas.front());
      const double sum = quantizeRow(x.data(), d, codes.data(), &scale);
      setIsa(isas.back());
      const double sum2 = quantizeRow(x.data(), d, codes2.data(), &scale2);
      check(scale == scale2 && codes == codes2, "quantizeRow: the portable and " + std::string(isaName(isas.back())) +
                                                    " paths agree (d = " + std::to_string(d) + ")");
      check(std::fabs(sum - sum2) <= 1e-12 * sum, "quantizeRow: Σx² agrees across paths");
      double worst = 0;
      int top = 0;
      for (int64_t p = 0; p < d; ++p) {
        worst = std::max(worst, std::fabs(double(x[p]) - double(codes[p]) * scale));
        top = std::max(top, std::abs(int(codes[p])));
      }
      check(worst <= scale * 0.5 * (1 + 1e-5),
            "quantizeRow: |x - code·scale| <= scale/2 (d = " + std::to_string(d) + ")");
      check(top == 127, "quantizeRow: the largest |x| maps to ±127");
    }
  }
  std::vector<float> zero(20, 0.0f);
  std::vector<int8_t> codes(20, 5);
  float scale = -1;
  check(quantizeRow(zero.data(), 20, codes.data(), &scale) == 0.0 && scale == 0.0f &&
            std::all_of(codes.begin(), codes.end(), [](int8_t c) { return c == 0; }),
        "quantizeRow: a zero row has scale 0 and zero codes");
}

void testFileAndSearch(std::mt19937_64& rng) {
  // 4,000-byte rows straddle the 8 MiB chunks; the data starts at an odd offset.
  const int64_t n = 5000, d = 1000;
  const size_t pad = 4 * 37;
  std::vector<float> v = randomFloats(rng, n * d);
  const std::string path = tempPath("a.bin");
  const uint64_t sum = writeFile(path, v, pad);
  std::shared_ptr<QuantizedMatrix> m;
  Status s = QuantizedMatrix::fromFile(path, pad, n, d, &sum, &m);
  check(s.ok() && m, "fromFile loads and verifies: " + s.message);
  if (!m) return;
  check(m->bytes() == packedBytes(n, d) + n * 12, "bytes(): packed codes + scales, norms and quantisation errors");
  PackedInt8Rows view = m->packed();
  bool same = true;
  std::vector<int8_t> codes(d), held(d);
  for (int64_t r = 0; r < n && same; ++r) {
    float scale;
    quantizeRow(v.data() + r * d, d, codes.data(), &scale);
    m->rowCodes(r, held.data());
    same = scale == view.scales[r] && codes == held;
  }
  check(same, "fromFile: every row's codes and scale equal quantizeRow's");

  // Exact search: bit-identical to topK over the float32 rows.
  const int64_t q = 7, k = 10;
  std::vector<float> queries = randomFloats(rng, q * d);
  std::vector<int32_t> wantIdx(q * k), gotIdx(q * k);
  std::vector<float> want(q * k), got(q * k);
  TopKParams p;
  p.queries = {queries.data(), q, d}, p.corpus = {v.data(), n, d}, p.k = k;
  p.indices = wantIdx.data(), p.scores = want.data();
  topK(p);
  for (int64_t pool : {n, int64_t(74), k}) {
    poison(got.data(), q * k);
    s = m->search({queries.data(), q, d}, k, pool, Metric::kCosine, gotIdx.data(), got.data());
    check(s.ok(), "search runs: " + s.message);
    int64_t agree = 0;
    bool bits = true;
    for (int64_t i = 0; i < q * k; ++i) {
      // Any row found has the exact score topK gives it.
      const int64_t row = gotIdx[i], qi = i / k;
      std::vector<float> one(1);
      std::vector<int32_t> oneIdx(1);
      TopKParams single;
      single.queries = {queries.data() + qi * d, 1, d}, single.corpus = {v.data() + row * d, 1, d}, single.k = 1;
      single.indices = oneIdx.data(), single.scores = one.data();
      topK(single);
      bits = bits && std::memcmp(&one[0], &got[i], 4) == 0;
      agree += gotIdx[i] == wantIdx[i];
    }
    check(bits, "search: every score is bit-identical to topK's for that row (pool " + std::to_string(pool) + ")");
    std::printf("search, pool %lld: %lld/%lld of the exact top-%lld at the same rank\n", (long long)pool,
                (long long)agree, (long long)(q * k), (long long)k);
    if (pool >= 74)
      check(gotIdx == wantIdx && std::memcmp(got.data(), want.data(), q * k * 4) == 0,
            "search with a big pool returns exactly topK's rows and scores");
  }

  // Replacing the path (what an atomic save does) leaves the loaded matrix intact.
  const std::string other = tempPath("b.bin");
  writeFile(other, randomFloats(rng, n * d), pad);
  std::rename(other.c_str(), path.c_str());
  s = m->search({queries.data(), q, d}, k, 74, Metric::kCosine, gotIdx.data(), got.data());
  check(s.ok() && gotIdx == wantIdx, "search after the path was replaced still reads the loaded file");

  // Changing the file in place is detected.
  std::shared_ptr<QuantizedMatrix> m2;
  const uint64_t sum2 = writeFile(path, v, pad);
  check(QuantizedMatrix::fromFile(path, pad, n, d, &sum2, &m2).ok(), "reload");
  FILE* f = std::fopen(path.c_str(), "r+b");
  std::fseek(f, long(pad + size_t(wantIdx[0]) * d * 4), SEEK_SET);
  std::vector<float> other2 = randomFloats(rng, d);
  std::fwrite(other2.data(), 4, d, f);
  std::fclose(f);
  s = m2->search({queries.data(), q, d}, k, 74, Metric::kCosine, gotIdx.data(), got.data());
  check(s.code == StatusCode::kCorrupt, "search after an in-place change is kCorrupt: " + s.message);
  std::remove(path.c_str());
}

void testBadInputs(std::mt19937_64& rng) {
  const int64_t n = 300, d = 16;
  std::vector<float> v = randomFloats(rng, n * d);
  const std::string path = tempPath("c.bin");
  uint64_t sum = writeFile(path, v, 64);
  std::shared_ptr<QuantizedMatrix> m;
  uint64_t wrong = sum ^ 1;
  check(QuantizedMatrix::fromFile(path, 64, n, d, &wrong, &m).code == StatusCode::kCorrupt,
        "a checksum mismatch is kCorrupt");
  check(QuantizedMatrix::fromFile(path, 64, n + 1, d, &sum, &m).code == StatusCode::kCorrupt,
        "a short file is kCorrupt");
  check(QuantizedMatrix::fromFile(path + ".missing", 0, n, d, nullptr, &m).code == StatusCode::kIoError,
        "a missing file is kIoError");
  check(QuantizedMatrix::fromFile(path, 0, 0, d, nullptr, &m).code == StatusCode::kRangeError, "rows 0 is kRangeError");
  check(QuantizedMatrix::fromFile(path, UINT64_MAX - 8, n, d, nullptr, &m).code == StatusCode::kRangeError,
        "an overflowing offset is kRangeError");
  check(!m, "no matrix after failures");
  check(QuantizedMatrix::fromFile(path, 64, n, d, &sum, &m).ok(), "loads");
  std::vector<float> query = randomFloats(rng, d);
  std::vector<int32_t> idx(n);
  std::vector<float> sc(n);
  check(m->search({query.data(), 1, d}, 5, 4, Metric::kCosine, idx.data(), sc.data()).code == StatusCode::kRangeError,
        "pool < k is kRangeError");
  check(
      m->search({query.data(), 1, d}, 5, n + 1, Metric::kCosine, idx.data(), sc.data()).code == StatusCode::kRangeError,
      "pool > rows is kRangeError");
  check(m->search({query.data(), 1, d - 1}, 5, 10, Metric::kCosine, idx.data(), sc.data()).code ==
            StatusCode::kRangeError,
        "wrong width is kRangeError");
  std::vector<float> zeroQuery(d, 0.0f);
  check(m->search({zeroQuery.data(), 1, d}, 5, 10, Metric::kCosine, idx.data(), sc.data()).code ==
            StatusCode::kRangeError,
        "a zero query is kRangeError");
  int32_t bad = n;
  check(m->readRows(&bad, 1, sc.data()).code == StatusCode::kRangeError,
        "readRows: an index out of range is kRangeError");
  // A zero row loads but is refused by search, as topK refuses it.
  std::fill(v.begin() + 5 * d, v.begin() + 6 * d, 0.0f);
  sum = writeFile(path, v, 64);
  check(QuantizedMatrix::fromFile(path, 64, n, d, &sum, &m).ok(), "a zero row loads");
  Status s = m->search({query.data(), 1, d}, 5, 10, Metric::kCosine, idx.data(), sc.data());
  check(s.code == StatusCode::kRangeError && s.message.find("row 5") != std::string::npos,
        "search refuses a zero row: " + s.message);
  std::remove(path.c_str());
}

// scanInt8 against an integer reference: each query's pool is exactly the
// `pool` best rows by float(Σ q·c) · factor (ties to the lower row), the same
// on every instruction set, whatever the batch; shapes with odd widths, a last
// row group short of rows, more queries than a kernel panel.
void testPackedScan(std::mt19937_64& rng) {
  struct Shape {
    int64_t n, d, q, pool;
  };
  for (const Shape sh : {Shape{1, 1, 1, 1}, Shape{37, 7, 3, 5}, Shape{1000, 96, 19, 40}, Shape{2053, 129, 9, 74},
                         Shape{300, 1024, 2, 300}, Shape{40, 2501, 3, 10}}) {
    const int64_t n = sh.n, d = sh.d, q = sh.q, pool = sh.pool;
    std::vector<float> corpus = randomLengthRows(rng, n, d);
    // Duplicate rows tie: the lower one must come first.
    if (n > 10) std::copy(corpus.begin() + 3 * d, corpus.begin() + 4 * d, corpus.begin() + 9 * d);
    auto values = std::make_shared<FloatBuffer>(n * d);
    std::copy(corpus.begin(), corpus.end(), values->data());
    std::shared_ptr<QuantizedMatrix> m;
    Status s = QuantizedMatrix::fromMemory(values, n, d, &m);
    check(s.ok(), "fromMemory: " + s.message);
    if (!m) return;
    std::vector<float> queries = randomLengthRows(rng, q, d);
    if (n > 10) std::copy(corpus.begin() + 3 * d, corpus.begin() + 4 * d, queries.begin());
    for (Metric metric : {Metric::kCosine, Metric::kDot}) {
      const char* mname = metric == Metric::kCosine ? "cosine" : "dot";
      // The reference: integer dots of the codes, scaled as documented.
      std::vector<int32_t> wantIdx(q * pool);
      std::vector<float> wantScore(q * pool);
      std::vector<int8_t> qc(d), rc(d);
      for (int64_t i = 0; i < q; ++i) {
        float qs;
        quantizeRow(queries.data() + i * d, d, qc.data(), &qs);
        double qq = 0;
        for (int64_t p = 0; p < d; ++p) qq += double(queries[i * d + p]) * queries[i * d + p];
        const float invQ = metric == Metric::kCosine ? float(1.0 / std::sqrt(qq)) : 1.0f;
        std::vector<std::pair<float, int32_t>> all;
        for (int64_t r = 0; r < n; ++r) {
          m->rowCodes(r, rc.data());
          int64_t dot = 0;
          for (int64_t p = 0; p < d; ++p) dot += int64_t(qc[p]) * rc[p];
          const PackedInt8Rows v = m->packed();
          const float factor = metric == Metric::kCosine ? v.scales[r] * v.invNorms[r] : v.scales[r];
          all.push_back({float(dot) * factor, int32_t(r)});
        }
        std::stable_sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first; });
        for (int64_t j = 0; j < pool; ++j) {
          wantIdx[i * pool + j] = all[j].second;
          wantScore[i * pool + j] = all[j].first * (qs * invQ);
        }
      }
      // Every instruction set, and (where AVX512-VNNI runs) the AVX-VNNI kernel's code in EVEX encoding.
      std::vector<std::pair<Isa, bool>> runs;
      for (Isa isa : availableIsas()) runs.push_back({isa, false});
      if (int8ScanUseVnni256(false)) runs.push_back({Isa::kAvx512, true});
      for (const auto& [isa, vnni256] : runs) {
        setIsa(isa);
        int8ScanUseVnni256(vnni256);
        if (n == 1000 && metric == Metric::kCosine)
          std::printf("scanInt8 on %s: kernel %s\n", isaName(isa), int8ScanKernel());
        std::vector<int32_t> idx(q * pool);
        std::vector<float> sc(q * pool);
        poison(sc.data(), q * pool);
        s = scanInt8({queries.data(), q, d}, m->packed(), metric, pool, idx.data(), sc.data());
        check(s.ok(), "scanInt8 runs: " + s.message);
        const std::string what = std::string(" (") + isaName(isa) + ", kernel " + int8ScanKernel() + ", " + mname +
                                 ", n " + std::to_string(n) + ", d " + std::to_string(d) + ")";
        check(idx == wantIdx, "scanInt8: pools equal the integer reference, ties to the lower row" + what);
        check(std::memcmp(sc.data(), wantScore.data(), sc.size() * 4) == 0,
              "scanInt8: approximate scores equal the reference bit for bit" + what);
        std::vector<int32_t> one(pool);
        std::vector<float> oneScore(pool);
        scanInt8({queries.data() + (q - 1) * d, 1, d}, m->packed(), metric, pool, one.data(), oneScore.data());
        check(std::equal(one.begin(), one.end(), idx.begin() + (q - 1) * pool),
              "scanInt8: a query's pool does not depend on the batch" + what);

        int8ScanUseVnni256(false);
      }
      setIsa(availableIsas().back());
    }
    // Exact re-scoring from memory: topK's rows and scores, bit for bit, when the pool holds them.
    for (Metric metric : {Metric::kCosine, Metric::kDot}) {
      const int64_t k = std::min<int64_t>(n, 5);
      std::vector<int32_t> wantIdx(q * k), gotIdx(q * k);
      std::vector<float> want(q * k), got(q * k);
      TopKParams p;
      p.queries = {queries.data(), q, d}, p.corpus = {corpus.data(), n, d}, p.k = k, p.metric = metric;
      p.indices = wantIdx.data(), p.scores = want.data();
      check(topK(p).ok(), "topK reference");
      poison(got.data(), q * k);
      s = m->search({queries.data(), q, d}, k, std::min<int64_t>(n, 4 * k + 64), metric, gotIdx.data(), got.data());
      check(s.ok(), "search from memory: " + s.message);
      check(gotIdx == wantIdx && std::memcmp(got.data(), want.data(), q * k * 4) == 0,
            std::string("search from memory equals topK's rows and scores (") +
                (metric == Metric::kCosine ? "cosine" : "dot") + ", n " + std::to_string(n) + ")");
    }
  }
}

// Every row of v (d wide) in topK's order for each of the rowsQ queries: the
// reference the group searches are checked against.
void referenceOrder(const float* queries, int64_t rowsQ, const std::vector<float>& v, int64_t d, Metric metric,
                    std::vector<int32_t>* all, std::vector<float>* exact, const std::string& what) {
  const int64_t n = int64_t(v.size()) / d;
  all->resize(static_cast<size_t>(rowsQ * n)), exact->resize(static_cast<size_t>(rowsQ * n));
  TopKParams p;
  p.queries = {queries, rowsQ, d}, p.corpus = {v.data(), n, d}, p.k = n, p.metric = metric;
  p.indices = all->data(), p.scores = exact->data();
  check(topK(p).ok(), what + ": the reference topK");
}

// searchGroups against the exact answer: every row above the floor listed, in
// topK's order with its scores, and the k best groups among them. Groups are
// tight clusters (members within ~1e-3 of each other, below the int8 error,
// so the int8 order near the k-th group's score is often wrong), with exact
// duplicates across groups; in memory and from a file, cosine and dot.
void testSearchGroups(std::mt19937_64& rng) {
  const int64_t groups = 150, per = 12, n = groups * per, d = 24, q = 41;  // q: more query panels than threads
  std::vector<float> v(n * d);
  std::vector<int32_t> groupOf(n);
  std::uniform_real_distribution<float> jitter(-1e-3f, 1e-3f);
  for (int64_t g = 0; g < groups; ++g) {
    std::vector<float> centre = randomFloats(rng, d);
    for (int64_t j = 0; j < per; ++j) {
      const int64_t r = g * per + j;
      groupOf[r] = int32_t(g * 7 % groups);  // groups named out of row order
      for (int64_t p = 0; p < d; ++p) v[r * d + p] = centre[p] + jitter(rng);
    }
  }
  for (int64_t i = 0; i < n / 20; ++i) {  // the same vector under two groups
    const int64_t from = int64_t(rng() % n), to = int64_t(rng() % n);
    std::copy(v.begin() + from * d, v.begin() + (from + 1) * d, v.begin() + to * d);
  }
  auto values = std::make_shared<FloatBuffer>(n * d);
  std::copy(v.begin(), v.end(), values->data());
  std::shared_ptr<QuantizedMatrix> inMemory, fromFile;
  check(QuantizedMatrix::fromMemory(values, n, d, &inMemory).ok(), "searchGroups: fromMemory");
  const std::string path = tempPath("groups.bin");
  const uint64_t sum = writeFile(path, v, 0);
  check(QuantizedMatrix::fromFile(path, 0, n, d, &sum, &fromFile).ok(), "searchGroups: fromFile");
  // Queries near group centres (so the top groups are close), one at random, one zero.
  std::vector<float> queries(q * d);
  for (int64_t i = 0; i < q - 2; ++i)
    for (int64_t p = 0; p < d; ++p) queries[i * d + p] = v[(i * 131 % n) * d + p] + 0.05f * jitter(rng) * 1000;
  std::vector<float> random = randomFloats(rng, d);
  std::copy(random.begin(), random.end(), queries.begin() + (q - 2) * d);
  for (int combo = 0; combo < int(availableIsas().size()) * 2; ++combo) {
    const Isa isa = availableIsas()[combo / 2];
    const Metric metric = combo % 2 ? Metric::kDot : Metric::kCosine;
    setIsa(isa);
    const int64_t rowsQ = metric == Metric::kDot ? q : q - 1;  // a zero query only under dot
    std::vector<int32_t> all;
    std::vector<float> exact;
    referenceOrder(queries.data(), rowsQ, v, d, metric, &all, &exact, "searchGroups");
    for (const auto& m : {inMemory, fromFile}) {
      for (int64_t k : {int64_t(1), int64_t(5), int64_t(40), groups + 1}) {
        QuantizedMatrix::GroupHits hits;
        Status s = m->searchGroups({queries.data(), rowsQ, d}, groupOf.data(), k, metric, &hits);
        check(s.ok(), "searchGroups runs: " + s.message);
        if (!s.ok()) return;
        const std::string what = std::string(isaName(isa)) + (metric == Metric::kDot ? ", dot" : ", cosine") +
                                 (m->inMemory() ? ", memory" : ", file") + ", k " + std::to_string(k);
        bool listed = true, decided = true, floors = true;
        int64_t kept = 0;
        for (int64_t i = 0; i < rowsQ; ++i) {
          const double floor = hits.floors[i];
          // The reference rows above the floor, in order: exactly the rows listed.
          std::vector<int32_t> want;
          std::vector<float> wantScores;
          for (int64_t j = 0; j<n&& double(exact[i * n + j])> floor; ++j)
            want.push_back(all[i * n + j]), wantScores.push_back(exact[i * n + j]);
          const int64_t b = hits.offsets[i], e = hits.offsets[i + 1];
          listed = listed && std::vector<int32_t>(hits.rows.begin() + b, hits.rows.begin() + e) == want &&
                   std::memcmp(hits.scores.data() + b, wantScores.data(), want.size() * 4) == 0;
          kept += e - b;
          // The k best groups (by the reference walk) have their best rows listed.
          std::set<int32_t> seen;
          for (int64_t j = 0; j < n && int64_t(seen.size()) < k; ++j) {
            if (!seen.insert(groupOf[all[i * n + j]]).second) continue;
            decided = decided && double(exact[i * n + j]) > floor;
          }
          const bool zero = metric == Metric::kDot && i == q - 1;
          floors = floors && ((k > groups || zero) == (floor == -std::numeric_limits<double>::infinity()));
        }
        check(listed,
              "searchGroups lists exactly the rows above the floor, with topK's order and scores (" + what + ")");
        check(decided, "searchGroups: the k best groups' best rows are above the floor (" + what + ")");
        check(floors, "searchGroups: the floor is -inf exactly for fewer than k groups or a zero query (" + what + ")");
        if (k == 5 && m == inMemory)
          std::printf("searchGroups %s: %.1f rows kept a query of %lld\n", what.c_str(), double(kept) / rowsQ,
                      (long long)n);
      }
    }
  }
  QuantizedMatrix::GroupHits hits;
  check(inMemory->searchGroups({queries.data(), 1, d}, groupOf.data(), 0, Metric::kDot, &hits).code ==
            StatusCode::kRangeError,
        "searchGroups: k 0 is kRangeError");
  check(inMemory->searchGroups({queries.data(), 1, d - 1}, groupOf.data(), 3, Metric::kDot, &hits).code ==
            StatusCode::kRangeError,
        "searchGroups: queries of the wrong width is kRangeError");
  check(inMemory->searchGroups({queries.data(), 1, d}, nullptr, 3, Metric::kDot, &hits).code == StatusCode::kTypeError,
        "searchGroups: no groups is kTypeError");
  setIsa(availableIsas().back());
  std::remove(path.c_str());
}

// searchGroups with a probe: with every list probed, the exhaustive answer
// bit for bit; with a few, rows of the probed lists only, each with topK's
// score, best first, spanning k groups. groupInt8 places every row once, a
// list's rows all of one group. Groups of 1 to 70 rows, so some are split.
void testProbeGroups(std::mt19937_64& rng) {
  const int64_t groups = 60, d = 24, q = 37;
  std::vector<float> v;
  std::vector<int32_t> groupOf;
  std::uniform_real_distribution<float> jitter(-0.3f, 0.3f);
  for (int64_t g = 0; g < groups; ++g) {
    std::vector<float> centre = randomFloats(rng, d);
    const int64_t rows = 1 + (g * 37) % 70;
    for (int64_t j = 0; j < rows; ++j) {
      groupOf.push_back(int32_t(1000 - g * 3));  // ids out of row order, negative ones too
      for (int64_t p = 0; p < d; ++p) v.push_back(centre[p] + jitter(rng));
    }
  }
  const int64_t n = int64_t(groupOf.size());
  auto values = std::make_shared<FloatBuffer>(n * d);
  std::copy(v.begin(), v.end(), values->data());
  std::shared_ptr<QuantizedMatrix> m;
  check(QuantizedMatrix::fromMemory(values, n, d, &m).ok(), "probe: fromMemory");
  GroupedInt8 grouped;
  check(groupInt8(m->packed(), groupOf.data(), &grouped).ok(), "probe: groupInt8 runs");
  std::vector<int> placed(static_cast<size_t>(n), 0);
  bool oneGroup = true;
  int64_t rowsListed = 0;
  for (int64_t l = 0; l < grouped.lists; ++l) {
    rowsListed += grouped.counts[l];
    for (int64_t i = 0; i < grouped.counts[l]; ++i) {
      const int32_t row = grouped.rowAt[grouped.firstBlock[l] * 16 + i];
      ++placed[row];
      oneGroup = oneGroup && groupOf[row] == groupOf[grouped.rowAt[grouped.firstBlock[l] * 16]];
    }
  }
  check(rowsListed == n && std::all_of(placed.begin(), placed.end(), [](int c) { return c == 1; }),
        "probe: groupInt8 places every row in exactly one list");
  check(oneGroup && grouped.groups == groups && grouped.lists > groups,
        "probe: a list holds one group; large groups split");
  std::vector<float> queries(q * d);
  for (int64_t i = 0; i < q - 1; ++i)
    for (int64_t p = 0; p < d; ++p) queries[i * d + p] = v[(i * 97 % n) * d + p] + jitter(rng);
  for (const Isa isa : availableIsas()) {
    setIsa(isa);
    for (const Metric metric : {Metric::kCosine, Metric::kDot}) {
      const int64_t rowsQ = metric == Metric::kDot ? q : q - 1;  // the last (zero) query only under dot
      std::vector<int32_t> all;
      std::vector<float> exact;
      referenceOrder(queries.data(), rowsQ, v, d, metric, &all, &exact, "probe");
      const std::string what = std::string(isaName(isa)) + (metric == Metric::kDot ? ", dot" : ", cosine");
      for (int64_t k : {int64_t(1), int64_t(5), groups + 1}) {
        QuantizedMatrix::GroupHits full, every, few;
        check(m->searchGroups({queries.data(), rowsQ, d}, groupOf.data(), k, metric, &full).ok() &&
                  m->searchGroups({queries.data(), rowsQ, d}, groupOf.data(), k, metric, &every, grouped.lists).ok() &&
                  m->searchGroups({queries.data(), rowsQ, d}, groupOf.data(), k, metric, &few, 3).ok(),
              "probe: searchGroups runs (" + what + ")");
        check(full.offsets == every.offsets && full.rows == every.rows && full.scores == every.scores &&
                  full.floors == every.floors,
              "probe: every list probed is the exhaustive answer bit for bit (" + what + ", k " + std::to_string(k) +
                  ")");
        bool scored = true, ordered = true, spans = true;
        for (int64_t i = 0; i < rowsQ; ++i) {
          std::vector<float> scoreOf(static_cast<size_t>(n));
          for (int64_t j = 0; j < n; ++j) scoreOf[all[i * n + j]] = exact[i * n + j];
          std::set<int32_t> seen;
          for (int64_t j = few.offsets[i]; j < few.offsets[i + 1]; ++j) {
            scored = scored && few.scores[j] == scoreOf[few.rows[j]];
            if (j > few.offsets[i])
              ordered = ordered && (few.scores[j - 1] > few.scores[j] ||
                                    (few.scores[j - 1] == few.scores[j] && few.rows[j - 1] < few.rows[j]));
            if (few.scores[j] > few.floors[i]) seen.insert(groupOf[few.rows[j]]);
          }
          spans = spans && int64_t(seen.size()) >= std::min(k, groups);
        }
        check(scored && ordered && spans,
              "probe 3: rows with topK's scores, best first, spanning k groups above the floor (" + what + ", k " +
                  std::to_string(k) + ")");
        const bool partial = std::max<int64_t>(3, k) < grouped.lists;
        check(!partial || std::all_of(few.floors.begin(), few.floors.end(),
                                      [](double f) { return f == -std::numeric_limits<double>::infinity(); }),
              "probe 3: a probe that leaves lists out certifies nothing (floors -inf) (" + what + ")");
      }
    }
  }
  GroupCandidates cand;
  const double margin = 0;
  check(probeInt8Groups({queries.data(), 1, d}, grouped, Metric::kDot, 5, 0, &margin, &cand).code ==
            StatusCode::kRangeError,
        "probe: a probe of 0 is kRangeError");
  check(probeInt8Groups({queries.data(), 1, d - 1}, grouped, Metric::kDot, 5, 3, &margin, &cand).code ==
            StatusCode::kRangeError,
        "probe: queries of the wrong width is kRangeError");
  setIsa(availableIsas().back());
}

void testMemoryBadInputs(std::mt19937_64& rng) {
  const int64_t n = 50, d = 8;
  std::vector<float> v = randomFloats(rng, n * d);
  auto values = std::make_shared<FloatBuffer>(n * d);
  std::copy(v.begin(), v.end(), values->data());
  values->data()[7 * d + 3] = std::nanf("");
  std::shared_ptr<QuantizedMatrix> m;
  Status s = QuantizedMatrix::fromMemory(values, n, d, &m);
  check(s.code == StatusCode::kRangeError && s.message.find("row 7") != std::string::npos && !m,
        "fromMemory refuses a NaN, naming its row: " + s.message);
  values->data()[7 * d + 3] = 0.5f;
  std::fill(values->data() + 4 * d, values->data() + 5 * d, 0.0f);
  check(QuantizedMatrix::fromMemory(values, n, d, &m).ok() && m, "fromMemory takes a zero row");
  std::vector<float> query = randomFloats(rng, d);
  std::vector<int32_t> idx(5);
  std::vector<float> sc(5);
  s = m->search({query.data(), 1, d}, 5, 10, Metric::kCosine, idx.data(), sc.data());
  check(s.code == StatusCode::kRangeError && s.message.find("row 4") != std::string::npos,
        "cosine search refuses a zero row: " + s.message);
  check(m->search({query.data(), 1, d}, 5, 10, Metric::kDot, idx.data(), sc.data()).ok(),
        "dot search takes a zero row");
  std::shared_ptr<QuantizedMatrix> wide;
  auto big = std::make_shared<FloatBuffer>(kInt8MaxCols + 1);
  std::fill(big->data(), big->data() + kInt8MaxCols + 1, 1.0f);
  check(QuantizedMatrix::fromMemory(big, 1, kInt8MaxCols + 1, &wide).code == StatusCode::kRangeError,
        "more than kInt8MaxCols columns is kRangeError");
  check(QuantizedMatrix::fromMemory(values, n + 1, d, &wide).code == StatusCode::kRangeError,
        "more rows than the values hold is kRangeError");
  std::vector<float> inf(d, 1.0f);
  inf[2] = INFINITY;
  check(m->search({inf.data(), 1, d}, 5, 10, Metric::kDot, idx.data(), sc.data()).code == StatusCode::kRangeError,
        "a non-finite query is kRangeError");
}

}  // namespace

int main() {
  std::mt19937_64 rng(seed());
  testQuantizeRow(rng);
  testFileAndSearch(rng);
  testBadInputs(rng);
  testPackedScan(rng);
  testMemoryBadInputs(rng);
  testSearchGroups(rng);
  testProbeGroups(rng);
  return finish("test_quantized");
}
