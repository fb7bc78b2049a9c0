// topK: results against a float64 brute force (full sort, ties to the lower
// index) for every instruction set and thread count, exact tie order across
// chunks, bitwise batch invariance (a query's result whatever else shares the
// call), error codes; then (without --quick / JOBBERT_QUICK=1) seconds and
// GFLOP/s beside OpenBLAS sgemm and our gemm() of the same product.
#include <dlfcn.h>
#include <sys/resource.h>

#include <cstring>
#include <numeric>

#include "gemm.h"
#include "harness.h"
#include "topk.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

const char* metricName(Metric m) { return m == Metric::kCosine ? "cosine" : "dot"; }

// Double-precision scores of every (query, corpus row) pair, with the scale
// Σ|q_p·c_p| (normalised like the score) that bounds float rounding.
struct Reference {
  int64_t q = 0, n = 0;
  std::vector<double> score, scale;
};

Reference reference(const std::vector<float>& qs, const std::vector<float>& cs, int64_t q, int64_t n, int64_t d,
                    Metric metric) {
  Reference ref;
  ref.q = q, ref.n = n;
  ref.score.resize(q * n), ref.scale.resize(q * n);
  std::vector<double> cNorm(n);
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t p = 0; p < d; ++p) s += double(cs[j * d + p]) * cs[j * d + p];
    cNorm[j] = std::sqrt(s);
  }
  for (int64_t i = 0; i < q; ++i) {
    const float* qi = &qs[i * d];
    double qn = 0;
    for (int64_t p = 0; p < d; ++p) qn += double(qi[p]) * qi[p];
    qn = std::sqrt(qn);
    for (int64_t j = 0; j < n; ++j) {
      const float* cj = &cs[j * d];
      double dot = 0, abs = 0;
      for (int64_t p = 0; p < d; ++p) {
        double t = double(qi[p]) * cj[p];
        dot += t;
        abs += std::fabs(t);
      }
      double norm = metric == Metric::kCosine ? qn * cNorm[j] : 1.0;
      ref.score[i * n + j] = dot / norm;
      ref.scale[i * n + j] = abs / norm;
    }
  }
  return ref;
}

struct Output {
  std::vector<int32_t> indices;
  std::vector<float> scores;
};

Status runTopK(const std::vector<float>& qs, const std::vector<float>& cs, int64_t q, int64_t n, int64_t d, int64_t k,
               Metric metric, Output& out) {
  out.indices.assign(q * k, -7);
  out.scores.resize(q * k);
  poison(out.scores.data(), q * k);
  TopKParams p;
  p.queries = {qs.data(), q, d};
  p.corpus = {cs.data(), n, d};
  p.k = k;
  p.metric = metric;
  p.indices = out.indices.data();
  p.scores = out.scores.data();
  return topK(p);
}

// Checks one run against the reference. Exact where exactness is defined:
// float scores non-increasing with equal scores by ascending index, every
// index distinct; a rank may hold another row than the reference's only when
// their float64 scores are within float rounding (1e-6 of the scale) of each
// other, and each score is within 1e-5 of the scale of its float64 value.
void verify(const Reference& ref, const Output& out, int64_t k, const std::string& what) {
  const int64_t n = ref.n;
  int reported = 0;
  auto fail = [&](const std::string& m) {
    if (reported++ < 3) check(false, what + ": " + m);
    else ++failureCount();
  };
  std::vector<int32_t> order(n);
  std::vector<char> seen(n);
  for (int64_t i = 0; i < ref.q; ++i) {
    const double* sc = &ref.score[i * n];
    const double* scale = &ref.scale[i * n];
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return sc[a] > sc[b] || (sc[a] == sc[b] && a < b); });
    std::fill(seen.begin(), seen.end(), 0);
    const int32_t* gi = &out.indices[i * k];
    const float* gs = &out.scores[i * k];
    for (int64_t r = 0; r < k; ++r) {
      const std::string at = "query " + std::to_string(i) + " rank " + std::to_string(r);
      const int32_t g = gi[r];
      if (g < 0 || g >= n) {
        fail(at + " index " + std::to_string(g) + " out of range");
        continue;
      }
      if (seen[g]++) fail(at + " index " + std::to_string(g) + " repeated");
      const double tol = 1e-5 * std::max(scale[g], 1e-3);
      if (!(std::fabs(gs[r] - sc[g]) <= tol))
        fail(at + " score " + std::to_string(gs[r]) + " vs float64 " + std::to_string(sc[g]));
      const int32_t want = order[r];
      if (g != want) {
        const double window = 1e-6 * std::max(scale[g], scale[want]);
        if (!(std::fabs(sc[g] - sc[want]) <= window))
          fail(at + " index " + std::to_string(g) + " (" + std::to_string(sc[g]) + "), expected " +
               std::to_string(want) + " (" + std::to_string(sc[want]) + ")");
      }
      if (r > 0) {
        if (gs[r] > gs[r - 1] || (gs[r] == gs[r - 1] && g < gi[r - 1]))
          fail(at + " out of order after rank " + std::to_string(r - 1));
      }
    }
  }
}

void randomCases(bool quick, std::mt19937_64& rng) {
  const int64_t qsList[] = {1, 3, 50};
  const int64_t nsList[] = {1, 2, 31, 1000, 5000};
  const int64_t dsList[] = {1, 3, 17, 64, 1024};
  int runs = 0;
  for (int64_t q : qsList)
    for (int64_t n : nsList)
      for (int64_t d : dsList) {
        if (quick && q * n * d > 50 * 1000 * 64) continue;
        std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
        for (Metric metric : {Metric::kCosine, Metric::kDot}) {
          const Reference ref = reference(qs, cs, q, n, d, metric);
          for (int64_t k0 : {int64_t(1), int64_t(10), n}) {
            const int64_t k = std::min(k0, n);
            if (k0 == n && (n == 1 || n == 10)) continue;  // same k as above
            if (k0 == 10 && n < 10) continue;
            for (Isa isa : availableIsas()) {
              setIsa(isa);
              for (int threads : {1, 2}) {
                setThreadCount(threads);
                char buf[160];
                std::snprintf(buf, sizeof buf, "%s %s t=%d Q=%lld N=%lld d=%lld k=%lld", isaName(isa),
                              metricName(metric), threads, (long long)q, (long long)n, (long long)d, (long long)k);
                Output out;
                Status s = runTopK(qs, cs, q, n, d, k, metric, out);
                ++runs;
                if (!s.ok()) {
                  check(false, std::string(buf) + ": " + s.message);
                  continue;
                }
                verify(ref, out, k, buf);
              }
            }
          }
        }
      }
  setIsa(availableIsas().back());
  setThreadCount(0);
  std::printf("random shapes: %d runs\n", runs);
}

// Rows that are exact copies score exactly alike: the lower index must come
// first, also when the copies fall in different chunks and threads.
void tieCases(std::mt19937_64& rng) {
  const int64_t n = 6000, d = 64, distinct = 7;
  std::vector<float> rows = randomFloats(rng, distinct * d);
  std::vector<float> cs(n * d);
  for (int64_t j = 0; j < n; ++j) std::memcpy(&cs[j * d], &rows[((j * 5) % distinct) * d], d * 4);
  for (int64_t q : {1, 3, 50}) {
    std::vector<float> qs = randomFloats(rng, q * d);
    for (Metric metric : {Metric::kCosine, Metric::kDot}) {
      const Reference ref = reference(qs, cs, q, n, d, metric);
      for (int64_t k : {int64_t(10), n}) {
        for (Isa isa : availableIsas()) {
          setIsa(isa);
          for (int threads : {1, 2}) {
            setThreadCount(threads);
            Output out;
            Status s = runTopK(qs, cs, q, n, d, k, metric, out);
            char buf[160];
            std::snprintf(buf, sizeof buf, "ties %s %s t=%d Q=%lld k=%lld", isaName(isa), metricName(metric), threads,
                          (long long)q, (long long)k);
            if (!s.ok()) {
              check(false, std::string(buf) + ": " + s.message);
              continue;
            }
            // Expected exactly: by the distinct row's score, then by index.
            bool exact = true;
            for (int64_t i = 0; i < q && exact; ++i) {
              std::vector<int32_t> order(n);
              std::iota(order.begin(), order.end(), 0);
              const double* sc = &ref.score[i * n];
              std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return sc[a] > sc[b]; });
              for (int64_t r = 0; r < k; ++r)
                if (out.indices[i * k + r] != order[r]) {
                  check(false, std::string(buf) + ": query " + std::to_string(i) + " rank " + std::to_string(r) +
                                   " index " + std::to_string(out.indices[i * k + r]) + ", expected " +
                                   std::to_string(order[r]));
                  exact = false;
                  break;
                }
            }
          }
        }
      }
    }
  }
  // A few copies of one row, far apart in an otherwise random corpus.
  const int64_t n2 = 5000;
  std::vector<float> cs2 = randomFloats(rng, n2 * d);
  for (int64_t j : {2600, 4990}) std::memcpy(&cs2[j * d], &cs2[7 * d], d * 4);
  std::vector<float> qs2 = randomFloats(rng, 50 * d);
  std::memcpy(&qs2[0], &cs2[7 * d], d * 4);
  for (Metric metric : {Metric::kCosine, Metric::kDot})
    for (int threads : {1, 2}) {
      setThreadCount(threads);
      Output out;
      Status s = runTopK(qs2, cs2, 50, n2, d, n2, metric, out);
      check(s.ok(), "copies: " + s.message);
      for (int64_t i = 0; i < 50 && s.ok(); ++i) {
        const int32_t* row = &out.indices[i * n2];
        int64_t at = std::find(row, row + n2, 7) - row;
        bool ok = at + 2 < n2 && row[at + 1] == 2600 && row[at + 2] == 4990;
        if (i == 0 && metric == Metric::kCosine) ok = ok && at == 0;
        check(ok, std::string("copies ") + metricName(metric) + " t=" + std::to_string(threads) + " query " +
                      std::to_string(i) + ": rows 7, 2600, 4990 not consecutive in index order");
      }
    }
  setIsa(availableIsas().back());
  setThreadCount(0);
}

// A query's result must not depend on the rest of its call (the service
// batches concurrent requests and promises the unbatched results): for each
// instruction set, the scores and indices of every query of a batch of Q are
// bitwise those of the query alone, whatever Q (the direct path for Q <= 4, the
// tiled GEMM beyond), the query's position in the batch, k and the thread
// count. Shapes around the KC = 384 blocks along d; N not a multiple of any
// row group, over several chunks.
void batchInvarianceCases(bool quick, std::mt19937_64& rng) {
  struct Shape {
    int64_t n, d;
  };
  const Shape shapes[] = {{1037, 1}, {1037, 17}, {637, 384}, {637, 385}, {637, 1024}, {637, 1500}};
  const int64_t batchSizes[] = {1, 3, 4, 5, 17, 64};
  const int64_t pool = 64;
  int runs = 0, compared = 0;
  for (const Shape& shape : shapes) {
    const int64_t n = shape.n, d = shape.d;
    if (quick && d > 400) continue;
    std::vector<float> qs = randomFloats(rng, pool * d), cs = randomFloats(rng, n * d);
    for (Isa isa : availableIsas()) {
      setIsa(isa);
      for (Metric metric : {Metric::kCosine, Metric::kDot}) {
        // Each pool query alone, one thread, full ranking (every score).
        std::vector<Output> alone(pool);
        setThreadCount(1);
        bool ok = true;
        for (int64_t i = 0; i < pool && ok; ++i) {
          std::vector<float> one(qs.begin() + i * d, qs.begin() + (i + 1) * d);
          Status s = runTopK(one, cs, 1, n, d, n, metric, alone[i]);
          ++runs;
          ok = s.ok();
          check(ok, std::string("invariance alone: ") + s.message);
        }
        if (!ok) continue;
        for (int threads : {1, 2}) {
          setThreadCount(threads);
          for (int64_t q : batchSizes) {
            // Offsets 0 and pool - 1 put query 0 first and then at position 1
            // (last, for Q = 1 the other pool end), so queries move in the batch.
            for (int64_t offset : {int64_t(0), pool - 1}) {
              std::vector<float> batch(q * d);
              for (int64_t r = 0; r < q; ++r)
                std::memcpy(&batch[r * d], &qs[((offset + r) % pool) * d], d * sizeof(float));
              for (int64_t k : {n, int64_t(7)}) {
                Output out;
                Status s = runTopK(batch, cs, q, n, d, k, metric, out);
                ++runs;
                char buf[200];
                std::snprintf(buf, sizeof buf, "invariance %s %s t=%d N=%lld d=%lld Q=%lld offset=%lld k=%lld",
                              isaName(isa), metricName(metric), threads, (long long)n, (long long)d, (long long)q,
                              (long long)offset, (long long)k);
                if (!s.ok()) {
                  check(false, std::string(buf) + ": " + s.message);
                  continue;
                }
                int bad = 0;
                for (int64_t r = 0; r < q; ++r) {
                  const Output& ref = alone[(offset + r) % pool];
                  ++compared;
                  if (std::memcmp(&out.scores[r * k], ref.scores.data(), k * sizeof(float)) != 0 ||
                      std::memcmp(&out.indices[r * k], ref.indices.data(), k * sizeof(int32_t)) != 0)
                    ++bad;
                }
                check(bad == 0, std::string(buf) + ": " + std::to_string(bad) + " of " + std::to_string(q) +
                                    " queries differ bitwise from the query alone");
              }
            }
          }
        }
      }
    }
  }
  setIsa(availableIsas().back());
  setThreadCount(0);
  std::printf("batch invariance: %d runs, %d query results compared bitwise\n", runs, compared);
}

// Signed zeros and underflow: an accumulator can reach -0 (a fused product
// too small for a denormal), and then whether a -0 query value is read as -0
// or as +0 (the AVX2 and portable kernels broadcast 0 + a) decides the sign of
// the score. The direct path must follow the tiled path there too.
void signedZeroCases() {
  const int64_t d = 3, n = 40;
  // Query: a tiny negative value, then -0 and -0.
  const std::vector<float> x = {-1e-30f, -0.0f, -0.0f};
  std::vector<float> cs(n * d);
  for (int64_t j = 0; j < n; ++j) {
    cs[j * d + 0] = 1e-30f * float(j % 3);
    cs[j * d + 1] = j % 2 ? 1.0f : -1.0f;
    cs[j * d + 2] = j % 5 ? 0.0f : 2.0f;
  }
  std::vector<float> batch(8 * d);
  for (int64_t r = 0; r < 8; ++r) std::memcpy(&batch[r * d], x.data(), d * sizeof(float));
  for (Isa isa : availableIsas()) {
    setIsa(isa);
    Output one, many;
    Status s1 = runTopK(x, cs, 1, n, d, n, Metric::kDot, one);
    Status s8 = runTopK(batch, cs, 8, n, d, n, Metric::kDot, many);
    check(s1.ok() && s8.ok(), std::string("signed zeros ") + isaName(isa) + ": " + s1.message + s8.message);
    if (!s1.ok() || !s8.ok()) continue;
    for (int64_t r = 0; r < 8; ++r)
      check(std::memcmp(&many.scores[r * n], one.scores.data(), n * sizeof(float)) == 0 &&
                std::memcmp(&many.indices[r * n], one.indices.data(), n * sizeof(int32_t)) == 0,
            std::string("signed zeros ") + isaName(isa) + ": batch row " + std::to_string(r) +
                " differs bitwise from the query alone");
  }
  setIsa(availableIsas().back());
}

// So many queries with k = N that the selection is split into query groups.
void largeKCase(std::mt19937_64& rng) {
  const int64_t q = 3000, n = 5000, d = 8;
  std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
  const Reference ref = reference(qs, cs, q, n, d, Metric::kCosine);
  Output out;
  Status s = runTopK(qs, cs, q, n, d, n, Metric::kCosine, out);
  check(s.ok(), "large k: " + s.message);
  if (s.ok()) verify(ref, out, n, "large k Q=3000 N=5000 k=5000");
}

void expectError(const std::vector<float>& qs, const std::vector<float>& cs, int64_t q, int64_t n, int64_t d, int64_t k,
                 Metric metric, const char* name, const std::string& what, int64_t cd = -1) {
  Output out;
  out.indices.assign(std::max<int64_t>(q * k, 1), -7);
  out.scores.assign(std::max<int64_t>(q * k, 1), 0.0f);
  TopKParams p;
  p.queries = {qs.data(), q, d};
  p.corpus = {cs.data(), n, cd < 0 ? d : cd};
  p.k = k;
  p.metric = metric;
  p.indices = out.indices.data();
  p.scores = out.scores.data();
  Status s = topK(p);
  check(s.code == StatusCode::kRangeError && s.message.find(name) != std::string::npos,
        "BAD CALL - " + what + " (" + metricName(metric) + "): got code " + std::to_string(int(s.code)) + " '" +
            s.message + "'");
}

void errorCases(std::mt19937_64& rng) {
  const int64_t q = 20, n = 700, d = 33;
  for (Metric metric : {Metric::kCosine, Metric::kDot}) {
    std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
    auto badQ = qs;
    badQ[5 * d + 2] = std::nanf("");
    expectError(badQ, cs, q, n, d, 5, metric, "queries", "NaN in queries");
    badQ = qs;
    badQ[19 * d + 32] = -INFINITY;
    expectError(badQ, cs, q, n, d, 5, metric, "queries", "-Infinity in queries");
    auto badC = cs;
    badC[650 * d + 1] = INFINITY;
    expectError(qs, badC, q, n, d, 5, metric, "corpus", "Infinity in corpus");
    badC = cs;
    badC[3] = std::nanf("");
    expectError(qs, badC, q, n, d, 5, metric, "corpus", "NaN in corpus");
    expectError(qs, cs, q, n, d, 0, metric, "k", "k = 0");
    expectError(qs, cs, q, n, d, n + 1, metric, "k", "k > N");
    expectError(qs, cs, q, n / 2, d, 5, metric, "corpus", "mismatched d", d - 1);

    auto zeroC = cs;
    std::fill(&zeroC[100 * d], &zeroC[101 * d], 0.0f);
    auto zeroQ = qs;
    std::fill(&zeroQ[0], &zeroQ[d], 0.0f);
    if (metric == Metric::kCosine) {
      expectError(qs, zeroC, q, n, d, 5, metric, "corpus", "zero corpus row under cosine");
      expectError(zeroQ, cs, q, n, d, 5, metric, "queries", "zero query under cosine");
    } else {
      Output out;
      Status s = runTopK(zeroQ, zeroC, q, n, d, n, metric, out);
      check(s.ok(), "zero vectors are allowed under dot: " + s.message);
      if (s.ok()) verify(reference(zeroQ, zeroC, q, n, d, metric), out, n, "zero vectors under dot");
    }
  }
}

// ---------------------------------------------------------------- timing

using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

void timing() {
  // JOBBERT_TOPK_N: a smaller corpus for a quick look on a busy machine.
  const int64_t n =
      std::getenv("JOBBERT_TOPK_N") ? std::max(4096LL, std::atoll(std::getenv("JOBBERT_TOPK_N"))) : 100000;
  const int64_t q = 1024, d = 1024, k = 10, block = 4096;
  std::mt19937_64 rng(seed() + 99);
  std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
  const double flops = 2.0 * q * n * d;
  Output out;
  out.indices.resize(q * k), out.scores.resize(q * k);
  auto runOurs = [&](Metric metric) {
    TopKParams p;
    p.queries = {qs.data(), q, d};
    p.corpus = {cs.data(), n, d};
    p.k = k, p.metric = metric;
    p.indices = out.indices.data(), p.scores = out.scores.data();
    Status s = topK(p);
    if (!s.ok()) check(false, "timing topK: " + s.message);
  };
  std::vector<float> c(q * block);
  auto runGemm = [&] {
    for (int64_t j0 = 0; j0 < n; j0 += block) {
      GemmParams g;
      g.m = q, g.n = std::min(block, n - j0), g.k = d;
      g.a = qs.data(), g.lda = d;
      g.b = cs.data() + j0 * d, g.ldb = d, g.transB = true;
      g.c = c.data(), g.ldc = g.n;
      gemm(g);
    }
  };
  // OpenBLAS's DYNAMIC_ARCH picks its kernel from CPUID, which some VMs mask
  // (it then runs the SSE3 "Prescott" kernel at a fraction of the speed): name
  // the core from what the CPU reports unless the caller chose one.
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
  else if (__builtin_cpu_supports("avx2")) setenv("OPENBLAS_CORETYPE", "Haswell", 0);
#endif
  SgemmFn sgemm = nullptr;
  const char* blasCore = "?";
  if (void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL)) {
    sgemm = reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
    if (auto core = reinterpret_cast<char* (*)()>(dlsym(lib, "openblas_get_corename"))) blasCore = core();
  }
  auto runBlas = [&] {
    for (int64_t j0 = 0; j0 < n; j0 += block) {
      int nb = static_cast<int>(std::min(block, n - j0));
      // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112
      sgemm(101, 111, 112, int(q), nb, int(d), 1.0f, qs.data(), int(d), cs.data() + j0 * d, int(d), 0.0f, c.data(), nb);
    }
  };
  std::printf("\ntiming: Q=%lld N=%lld d=%lld k=%lld, %d thread(s), isa %s; GEMM peers in %lld-row blocks\n",
              (long long)q, (long long)n, (long long)d, (long long)k, threadCount(), isaName(activeIsa()),
              (long long)block);
  if (sgemm) std::printf("OpenBLAS core: %s\n", blasCore);
  const MicroKernel mk = microKernel(activeIsa());
  std::printf("blocking: topK KC %lld; gemm %s\n", (long long)topKBlockDepth(),
              describeGemmBlocking(mk.mr, mk.nr).c_str());
  std::printf("%-26s %10s %10s %12s %12s\n", "", "seconds", "GFLOP/s", "vs OpenBLAS", "vs gemm()");
  for (int round = 0; round < 2; ++round) {
    const double tCos = timeIt([&] { runOurs(Metric::kCosine); }, 3);
    const double tDot = timeIt([&] { runOurs(Metric::kDot); }, 3);
    const double tGemm = timeIt(runGemm, 3);
    const double tBlas = sgemm ? timeIt(runBlas, 3) : 0.0;
    auto row = [&](const char* name, double t) {
      if (sgemm) std::printf("%-26s %10.3f %10.1f %12.2f %12.2f\n", name, t, flops / t * 1e-9, tBlas / t, tGemm / t);
      else std::printf("%-26s %10.3f %10.1f %12s %12.2f\n", name, t, flops / t * 1e-9, "-", tGemm / t);
    };
    std::printf("round %d\n", round + 1);
    row("topK cosine", tCos);
    row("topK dot", tDot);
    row("gemm() blocks", tGemm);
    if (sgemm) row("OpenBLAS sgemm blocks", tBlas);
    else std::printf("OpenBLAS: libopenblas.so.0 not found, skipped\n");
  }
  // Few queries: memory-bound over the corpus.
  for (int64_t fq : {int64_t(1), int64_t(4), int64_t(16)}) {
    TopKParams p;
    p.queries = {qs.data(), fq, d};
    p.corpus = {cs.data(), n, d};
    p.k = k;
    p.indices = out.indices.data(), p.scores = out.scores.data();
    const double t = timeIt([&] { topK(p); }, 5);
    std::printf("topK cosine Q=%-3lld            %10.4f %10.1f   (corpus %.1f GB/s)\n", (long long)fq, t,
                2.0 * fq * n * d / t * 1e-9, n * d * 4.0 / t * 1e-9);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS %.1f MB (corpus %.1f MB, queries %.1f MB, gemm block output %.1f MB)\n", ru.ru_maxrss / 1024.0,
              n * d * 4.0 / 1048576, q * d * 4.0 / 1048576, q * block * 4.0 / 1048576);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = std::getenv("JOBBERT_QUICK") && std::strcmp(std::getenv("JOBBERT_QUICK"), "1") == 0;
  bool timingOnly = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--timing") == 0) timingOnly = true;
  }
  std::mt19937_64 rng(seed());
  if (!timingOnly) {
    randomCases(quick, rng);
    tieCases(rng);
    batchInvarianceCases(quick, rng);
    signedZeroCases();
    largeKCase(rng);
    errorCases(rng);
  }
  if (!quick) timing();
  return finish("test_topk");
}
