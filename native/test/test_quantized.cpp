// Int8 storage (jobbert/quantized.h): quantisation error bounds on both
// instruction-set paths, the int8 scans (the dequantising topKInt8, and
// scanInt8's VNNI/AVX2/portable kernels against an integer reference, equal
// on every instruction set), streaming from a file with its checksum, rows in
// memory, exact re-scoring (bit-identical to topK, cosine and dot, ties to the
// lower row), a file changed after loading, and bad inputs.
#include <unistd.h>

#include <cstdio>
#include <cstring>
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

double cosine(const float* a, const float* b, int64_t d) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t p = 0; p < d; ++p) ab += double(a[p]) * b[p], aa += double(a[p]) * a[p], bb += double(b[p]) * b[p];
  return ab / std::sqrt(aa * bb);
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
      std::vector<float> back(d);
      Int8Rows view{codes.data(), &scale, nullptr, 1, d};
      dequantizeRows(view, 0, 1, back.data());
      for (int64_t p = 0; p < d; ++p) check(back[p] == float(codes[p]) * scale, "dequantizeRows: code·scale");
    }
  }
  std::vector<float> zero(20, 0.0f);
  std::vector<int8_t> codes(20, 5);
  float scale = -1;
  check(quantizeRow(zero.data(), 20, codes.data(), &scale) == 0.0 && scale == 0.0f &&
            std::all_of(codes.begin(), codes.end(), [](int8_t c) { return c == 0; }),
        "quantizeRow: a zero row has scale 0 and zero codes");
}

// The int8 scan's scores estimate the exact cosines, and its pool holds the exact top 10.
void testScan(std::mt19937_64& rng) {
  const int64_t n = 3000, d = 100, pool = 74;
  std::vector<float> corpus = randomFloats(rng, n * d);
  std::vector<int8_t> codes(n * d);
  std::vector<float> scales(n), invNorms(n);
  for (int64_t r = 0; r < n; ++r)
    invNorms[r] = float(1 / std::sqrt(quantizeRow(corpus.data() + r * d, d, codes.data() + r * d, &scales[r])));
  Int8Rows view{codes.data(), scales.data(), invNorms.data(), n, d};
  for (int64_t q : {1, 3, 9}) {
    std::vector<float> queries = randomFloats(rng, q * d);
    std::vector<int32_t> idx(q * pool);
    std::vector<float> sc(q * pool);
    poison(sc.data(), q * pool);
    Status s = topKInt8({queries.data(), q, d}, view, pool, idx.data(), sc.data());
    check(s.ok(), "topKInt8 runs: " + s.message);
    double worst = 0;
    int64_t found = 0;
    for (int64_t i = 0; i < q; ++i) {
      for (int64_t j = 0; j < pool; ++j)
        worst = std::max(worst, std::fabs(sc[i * pool + j] -
                                          cosine(queries.data() + i * d, corpus.data() + idx[i * pool + j] * d, d)));
      std::vector<std::pair<double, int64_t>> exact;
      for (int64_t r = 0; r < n; ++r) exact.push_back({-cosine(queries.data() + i * d, corpus.data() + r * d, d), r});
      std::sort(exact.begin(), exact.end());
      std::set<int32_t> got(idx.begin() + i * pool, idx.begin() + (i + 1) * pool);
      for (int t = 0; t < 10; ++t) found += got.count(int32_t(exact[t].second));
      // A query alone gets the same pool as in the batch.
      std::vector<int32_t> one(pool);
      std::vector<float> oneScores(pool);
      topKInt8({queries.data() + i * d, 1, d}, view, pool, one.data(), oneScores.data());
      check(std::equal(one.begin(), one.end(), idx.begin() + i * pool),
            "topKInt8: a query's pool does not depend on the batch");
    }
    std::printf("int8 scan, %lld queries: max |approx - exact cosine| = %.4f, exact top-10 in pool: %lld/%lld\n",
                (long long)q, worst, (long long)found, (long long)(10 * q));
    check(worst < 0.01, "topKInt8: approximate cosines within 0.01 of exact");
    check(found >= 10 * q * 95 / 100, "topKInt8: the pool holds >= 95% of the exact top 10");
  }
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
  testScan(rng);
  testFileAndSearch(rng);
  testBadInputs(rng);
  testPackedScan(rng);
  testMemoryBadInputs(rng);
  return finish("test_quantized");
}
