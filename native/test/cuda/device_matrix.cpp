// test_cuda: DeviceMatrix and the device as a whole: resident operands give the
// bits of host ones, concurrent calls the bits of sequential ones, and an
// upload beyond the device's memory fails cleanly and leaves the device usable.
#include <sys/mman.h>

#include "cuda_harness.h"

namespace jobbert::cudatest {
namespace {

// ---------------------------------------------------------------- resident operands

// A resident DeviceMatrix gives bit-identical results to the same host matrix;
// and a call repeated gives the same bits (a mismatch is reported as such).
void residentChecks(std::mt19937_64& rng) {
  Group g("resident operands = host (bitwise)");
  // DeviceMatrix basics.
  {
    const int64_t r = 37, c = 67;
    std::vector<float> v = randomFloats(rng, r * c);
    std::fill(v.begin() + 5 * c, v.begin() + 6 * c, 0.0f);
    std::fill(v.begin() + 9 * c, v.begin() + 10 * c, 0.0f);
    if (auto m = upload(g, v, r, c, "matrix")) {
      g.expect(m->rows() == r && m->cols() == c,
               fmt("rows()×cols() %lld×%lld", (long long)m->rows(), (long long)m->cols()));
      g.expect(m->firstZeroRow() == 5, fmt("firstZeroRow() %lld, expected 5", (long long)m->firstZeroRow()));
      std::vector<float> back(r * c, kNaN);
      g.ok(m->download(back.data()), "download");
      g.expect(sameBits(back, v), "download differs from what was uploaded");
    }
    v[5 * c] = 1.0f, v[9 * c + 3] = -1.0f;
    if (auto m = upload(g, v, r, c, "matrix"))
      g.expect(m->firstZeroRow() == -1, fmt("firstZeroRow() %lld, expected -1", (long long)m->firstZeroRow()));
  }
  auto deterministic = [&](bool same, const std::string& what, const std::function<bool()>& hostAgain) {
    if (same) return g.expect(true, what);
    return g.expect(false, what + (hostAgain() ? ": resident result differs bitwise from host"
                                               : ": two host runs already differ (nondeterministic kernel)"));
  };
  // topK: every mix of host and resident queries/corpus.
  {
    const int64_t q = 37, n = kEmu ? 300 : 3000, d = 67, k = 10;
    const std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
    auto dq = upload(g, qs, q, d, "queries"), dc = upload(g, cs, n, d, "corpus");
    if (dq && dc)
      for (Metric metric : {Metric::kCosine, Metric::kDot})
        for (Precision p : kPrecisions) {
          TopKOut host, other;
          if (!g.ok(runTopK(H(qs, q, d), H(cs, n, d), k, metric, p, host), "topK host")) continue;
          const cu::Operand qo[] = {H(qs, q, d), D(dq), D(dq)}, co[] = {D(dc), H(cs, n, d), D(dc)};
          const char* names[] = {"resident corpus", "resident queries", "both resident"};
          for (int v = 0; v < 3; ++v) {
            const std::string what = fmt("topK %s %s %s", metricName(metric), pname(p), names[v]);
            if (!g.ok(runTopK(qo[v], co[v], k, metric, p, other), what)) continue;
            deterministic(sameBits(host.idx, other.idx) && sameBits(host.sc, other.sc), what, [&] {
              TopKOut again;
              runTopK(H(qs, q, d), H(cs, n, d), k, metric, p, again);
              return sameBits(host.idx, again.idx) && sameBits(host.sc, again.sc);
            });
          }
        }
  }
  // dense forward and backward.
  {
    const int64_t m = 37, in = 131, out = 67;
    const std::vector<float> x = randomFloats(rng, m * in), w = randomFloats(rng, out * in, -0.2f, 0.2f);
    const std::vector<float> bias = randomFloats(rng, out), gy = randomFloats(rng, m * out);
    auto dx = upload(g, x, m, in, "x"), dw = upload(g, w, out, in, "weight"), dgy = upload(g, gy, m, out, "gradY");
    for (Precision p : kPrecisions) {
      std::vector<float> y, y2;
      if (!dx || !dw || !dgy || !g.ok(runDense(H(x, m, in), H(w, out, in), bias.data(), true, p, y), "dense host"))
        continue;
      const cu::Operand xo[] = {D(dx), H(x, m, in)}, wo[] = {D(dw), D(dw)};
      for (int v = 0; v < 2; ++v) {
        const std::string what = fmt("dense %s %s", pname(p), v ? "resident weight" : "resident x and weight");
        if (!g.ok(runDense(xo[v], wo[v], bias.data(), true, p, y2), what)) continue;
        deterministic(sameBits(y, y2), what, [&] {
          std::vector<float> again;
          runDense(H(x, m, in), H(w, out, in), bias.data(), true, p, again);
          return sameBits(y, again);
        });
      }
      auto dy = upload(g, y, m, out, "y");
      DenseGrads host, res;
      const std::string what = fmt("denseBackward %s all resident", pname(p));
      if (!dy ||
          !g.ok(runDenseBackward(H(x, m, in), H(w, out, in), H(y, m, out), H(gy, m, out), true, p, host),
                "denseBackward host") ||
          !g.ok(runDenseBackward(D(dx), D(dw), D(dy), D(dgy), true, p, res), what))
        continue;
      deterministic(sameBits(host.gx, res.gx) && sameBits(host.gw, res.gw) && sameBits(host.gb, res.gb), what, [&] {
        DenseGrads again;
        runDenseBackward(H(x, m, in), H(w, out, in), H(y, m, out), H(gy, m, out), true, p, again);
        return sameBits(host.gx, again.gx) && sameBits(host.gw, again.gw) && sameBits(host.gb, again.gb);
      });
    }
  }
  // infoNCE, with and without negatives.
  {
    const int64_t B = 33, d = 67;
    const std::vector<float> a = randomLengthRows(rng, B, d), pos = randomPositives(rng, a, B, d);
    for (int64_t N : {int64_t(0), int64_t(5)}) {
      const std::vector<float> neg = randomLengthRows(rng, N, d);
      auto da = upload(g, a, B, d, "anchors"), dp = upload(g, pos, B, d, "positives");
      auto dn = N ? upload(g, neg, N, d, "negatives") : nullptr;
      if (!da || !dp || (N && !dn)) continue;
      for (Precision p : kPrecisions) {
        NceOut host, res;
        const std::string what = fmt("infoNCE N=%lld %s all resident", (long long)N, pname(p));
        if (!g.ok(runNce(H(a, B, d), H(pos, B, d), H(neg, N, d), 20.0f, true, p, host), "infoNCE host") ||
            !g.ok(runNce(D(da), D(dp), N ? D(dn) : H(neg, 0, d), 20.0f, true, p, res), what))
          continue;
        auto same = [&](const NceOut& u, const NceOut& v) {
          return std::memcmp(&u.loss, &v.loss, sizeof(double)) == 0 && sameBits(u.ga, v.ga) && sameBits(u.gp, v.gp) &&
                 sameBits(u.gn, v.gn);
        };
        deterministic(same(host, res), what, [&] {
          NceOut again;
          runNce(H(a, B, d), H(pos, B, d), H(neg, N, d), 20.0f, true, p, again);
          return same(host, again);
        });
      }
    }
  }
  g.done();
}

// ---------------------------------------------------------------- concurrency

// Calls from two and three threads at once give the bits of sequential calls.
void concurrencyChecks(std::mt19937_64& rng) {
  Group g("concurrency (threads = sequential)");
  const int64_t q = 64, n = kEmu ? 400 : 20000, d = kEmu ? 32 : 256, k = kEmu ? 10 : 100;
  const int64_t m = kEmu ? 64 : 1000, in = kEmu ? 48 : 512, out = kEmu ? 40 : 300;
  const std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
  const std::vector<float> x = randomFloats(rng, m * in), w = randomFloats(rng, out * in, -0.1f, 0.1f),
                           b = randomFloats(rng, out);
  auto dc = upload(g, cs, n, d, "corpus");
  if (!dc) {
    g.done();
    return;
  }
  const Precision tp[2] = {Precision::kFp32, Precision::kBf16}, dp[2] = {Precision::kFp32, Precision::kTf32};
  TopKOut T[2];
  std::vector<float> Y[2];
  for (int i = 0; i < 2; ++i) {
    g.ok(runTopK(H(qs, q, d), H(cs, n, d), k, Metric::kCosine, tp[i], T[i]), "sequential topK");
    g.ok(runDense(H(x, m, in), H(w, out, in), b.data(), true, dp[i], Y[i]), "sequential dense");
  }
  std::vector<std::string> problems[3];
  const int reps = kEmu ? 2 : 4;
  std::thread t1([&] {
    for (int r = 0; r < reps; ++r)
      for (int i = 0; i < 2; ++i) {
        TopKOut o;
        const Status s = runTopK(H(qs, q, d), H(cs, n, d), k, Metric::kCosine, tp[i], o);
        if (!s.ok()) problems[0].push_back("topK: " + describe(s));
        else if (!sameBits(o.idx, T[i].idx) || !sameBits(o.sc, T[i].sc))
          problems[0].push_back(fmt("topK %s differs from the sequential result", pname(tp[i])));
      }
  });
  std::thread t2([&] {
    for (int r = 0; r < reps; ++r)
      for (int i = 0; i < 2; ++i) {
        std::vector<float> y;
        const Status s = runDense(H(x, m, in), H(w, out, in), b.data(), true, dp[i], y);
        if (!s.ok()) problems[1].push_back("dense: " + describe(s));
        else if (!sameBits(y, Y[i]))
          problems[1].push_back(fmt("dense %s differs from the sequential result", pname(dp[i])));
      }
  });
  std::thread t3([&] {
    for (int r = 0; r < reps; ++r) {
      TopKOut o;
      const Status s = runTopK(H(qs, q, d), D(dc), k, Metric::kCosine, tp[0], o);
      if (!s.ok()) problems[2].push_back("resident topK: " + describe(s));
      else if (!sameBits(o.idx, T[0].idx) || !sameBits(o.sc, T[0].sc))
        problems[2].push_back("resident topK differs from the sequential host result");
    }
  });
  t1.join(), t2.join(), t3.join();
  for (int t = 0; t < 3; ++t) {
    g.expect(problems[t].empty(), fmt("thread %d: ", t + 1) + (problems[t].empty() ? "" : problems[t][0]) +
                                      (problems[t].size() > 1 ? fmt(" (%zu problems)", problems[t].size()) : ""));
  }
  g.done();
}

// ---------------------------------------------------------------- out of memory

void oomChecks(std::mt19937_64& rng) {
  Group g("out of memory");
  const int64_t q = 5, n = 50, d = 8;
  const std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
  TopKOut before, after;
  g.ok(runTopK(H(qs, q, d), H(cs, n, d), 5, Metric::kCosine, Precision::kFp32, before), "topK before");

  double bytes = 256.0 * (1 << 30);  // beyond any device when its size is unknown
  std::string why = "no size known: 256 GiB";
  if (kEmu) {
    const char* env = std::getenv("JOBBERT_EMU_MEMORY_MB");
    const double mb = env ? std::atof(env) : 0;
    if (mb > 0) bytes = 2 * mb * (1 << 20), why = fmt("twice JOBBERT_EMU_MEMORY_MB=%g", mb);
  } else {
    // deviceDescription: "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)".
    const std::string desc = cu::deviceDescription(0);
    const size_t comma = desc.rfind(", "), gib = desc.rfind(" GiB");
    if (comma != std::string::npos && gib != std::string::npos && gib > comma) {
      const double total = std::atof(desc.c_str() + comma + 2);
      if (total > 0) bytes = total * 1.1 * (1 << 30) + double(1 << 30), why = fmt("1.1 × %.1f GiB + 1 GiB", total);
    }
  }
  const int64_t cols = 1024, rows = int64_t(bytes / (4.0 * cols)) + 1;
  const size_t mapped = size_t(rows) * cols * 4;
  // Untouched anonymous pages read as zeros and cost no memory.
  void* p = mmap(nullptr, mapped, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
#ifdef MADV_HUGEPAGE
  if (p != MAP_FAILED) madvise(p, mapped, MADV_HUGEPAGE);  // the huge zero page: fewer faults when it is read
#endif
  if (p == MAP_FAILED) {
    std::printf("  note: could not map %.1f GiB of zero pages; the out-of-memory upload is skipped\n",
                mapped / 1073741824.0);
  } else {
    std::shared_ptr<cu::DeviceMatrix> m;
    const auto t = std::chrono::steady_clock::now();
    const Status s = cu::DeviceMatrix::upload({static_cast<const float*>(p), rows, cols}, "huge", &m);
    expectCode(g,
               fmt("upload of %lld×%lld floats (%.1f GiB, %s)", (long long)rows, (long long)cols, mapped / 1073741824.0,
                   why.c_str()),
               s, StatusCode::kOutOfMemory);
    g.expect(!m, "a failed upload leaves no matrix");
    std::printf("  (the refused upload took %.2fs: %s)\n", secondsSince(t), describe(s).c_str());
    munmap(p, mapped);
  }
  // The device still works, and gives the same bits.
  g.ok(runTopK(H(qs, q, d), H(cs, n, d), 5, Metric::kCosine, Precision::kFp32, after), "topK after");
  g.expect(sameBits(before.idx, after.idx) && sameBits(before.sc, after.sc), "topK after out of memory differs");
  std::shared_ptr<cu::DeviceMatrix> small;
  if (g.ok(cu::DeviceMatrix::upload({cs.data(), n, d}, "corpus", &small), "upload after out of memory"))
    g.ok(runTopK(H(qs, q, d), D(small), 5, Metric::kCosine, Precision::kFp32, after), "resident topK after");
  g.done();
}

}  // namespace

JOBBERT_CUDA_CHECK(60, residentChecks);
JOBBERT_CUDA_CHECK(70, concurrencyChecks);
JOBBERT_CUDA_CHECK(80, oomChecks);

}  // namespace jobbert::cudatest
