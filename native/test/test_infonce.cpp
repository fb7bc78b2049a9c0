// infoNCE: loss and gradients against a float64 reference that holds the whole
// score matrix, finite differences of the loss, bad calls, then (without
// --quick / JOBBERT_QUICK=1) timings beside the GEMM work the kernel does.
#include <sys/resource.h>

#include <cstring>

#include "gemm.h"
#include "harness.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

// ---------------------------------------------------------------- reference

struct Reference {
  double loss = 0;
  std::vector<double> gradAnchors, gradPositives, gradNegatives;
  // Largest scale·Σ|dL/ds|/‖x‖ over an input's rows: the size of the terms its
  // gradient sums (they may cancel, and g − (g·x̂)x̂ cancels exactly when
  // d = 1), the yardstick for fp32 error.
  double scaleAnchors = 0, scalePositives = 0, scaleNegatives = 0;
};

// Straight from the definition, in double: full S, row (and column) softmax,
// dL/dS, then dL/dx̂ and the chain through x̂ = x/‖x‖.
Reference reference(const std::vector<float>& a, const std::vector<float>& pos, const std::vector<float>& neg,
                    int64_t B, int64_t N, int64_t d, double scale, bool symmetric, bool wantGrads = true) {
  const int64_t M = B + N;
  auto normalise = [&](const float* x, int64_t rows, std::vector<double>& hat, std::vector<double>& len) {
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += double(x[r * d + c]) * x[r * d + c];
      len.push_back(std::sqrt(s));
      for (int64_t c = 0; c < d; ++c) hat.push_back(x[r * d + c] / len.back());
    }
  };
  std::vector<double> ah, ch, alen, clen;
  normalise(a.data(), B, ah, alen);
  normalise(pos.data(), B, ch, clen);
  if (N > 0) normalise(neg.data(), N, ch, clen);

  std::vector<double> S(B * M), dS(B * M, 0.0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < M; ++j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += ah[i * d + c] * ch[j * d + c];
      S[i * M + j] = scale * s;
    }
  const double w = symmetric ? 0.5 : 1.0;
  Reference ref;
  double rowLoss = 0;
  for (int64_t i = 0; i < B; ++i) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < M; ++j) mx = std::max(mx, S[i * M + j]);
    for (int64_t j = 0; j < M; ++j) sum += std::exp(S[i * M + j] - mx);
    const double lse = mx + std::log(sum);
    rowLoss += lse - S[i * M + i];
    // p_ii − 1 as −Σ_{j≠i} p_ij: the direct form cancels to 0 when p_ii ≈ 1.
    double others = 0;
    for (int64_t j = 0; j < M; ++j) {
      const double pij = std::exp(S[i * M + j] - lse);
      if (j != i) others += pij, dS[i * M + j] += w * pij / B;
    }
    dS[i * M + i] -= w * others / B;
  }
  ref.loss = rowLoss / B;
  if (symmetric) {
    double colLoss = 0;
    for (int64_t j = 0; j < B; ++j) {
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < B; ++i) mx = std::max(mx, S[i * M + j]);
      for (int64_t i = 0; i < B; ++i) sum += std::exp(S[i * M + j] - mx);
      const double lse = mx + std::log(sum);
      colLoss += lse - S[j * M + j];
      double others = 0;
      for (int64_t i = 0; i < B; ++i) {
        const double pij = std::exp(S[i * M + j] - lse);
        if (i != j) others += pij, dS[i * M + j] += 0.5 * pij / B;
      }
      dS[j * M + j] -= 0.5 * others / B;
    }
    ref.loss = 0.5 * (ref.loss + colLoss / B);
  }
  if (!wantGrads) return ref;

  std::vector<double> gah(B * d, 0.0), gch(M * d, 0.0), rowAbs(B, 0.0), colAbs(M, 0.0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < M; ++j) {
      const double g = scale * dS[i * M + j];
      rowAbs[i] += std::fabs(g);
      colAbs[j] += std::fabs(g);
      for (int64_t c = 0; c < d; ++c) {
        gah[i * d + c] += g * ch[j * d + c];
        gch[j * d + c] += g * ah[i * d + c];
      }
    }
  auto chain = [&](const std::vector<double>& g, const std::vector<double>& hat, const std::vector<double>& len,
                   const std::vector<double>& absSum, int64_t r0, int64_t rows, std::vector<double>& out,
                   double& yardstick) {
    out.assign(rows * d, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      yardstick = std::max(yardstick, absSum[r0 + r] / len[r0 + r]);
      double dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += g[(r0 + r) * d + c] * hat[(r0 + r) * d + c];
      for (int64_t c = 0; c < d; ++c)
        out[r * d + c] = (g[(r0 + r) * d + c] - dot * hat[(r0 + r) * d + c]) / len[r0 + r];
    }
  };
  chain(gah, ah, alen, rowAbs, 0, B, ref.gradAnchors, ref.scaleAnchors);
  chain(gch, ch, clen, colAbs, 0, B, ref.gradPositives, ref.scalePositives);
  if (N > 0) chain(gch, ch, clen, colAbs, B, N, ref.gradNegatives, ref.scaleNegatives);
  return ref;
}

// ---------------------------------------------------------------- helpers

struct Outputs {
  double loss = 0;
  std::vector<float> gradAnchors, gradPositives, gradNegatives;
};

Status callKernel(const std::vector<float>& a, const std::vector<float>& pos, const std::vector<float>& neg, int64_t B,
                  int64_t N, int64_t d, float scale, bool symmetric, Outputs& out) {
  out.gradAnchors.resize(B * d);
  out.gradPositives.resize(B * d);
  out.gradNegatives.resize(std::max<int64_t>(N, 1) * d);
  poison(out.gradAnchors.data(), B * d);
  poison(out.gradPositives.data(), B * d);
  poison(out.gradNegatives.data(), std::max<int64_t>(N, 1) * d);
  out.loss = std::nan("");
  InfoNCEParams p;
  p.anchors = {a.data(), B, d};
  p.positives = {pos.data(), B, d};
  p.negatives = {N > 0 ? neg.data() : nullptr, N, d};
  p.scale = scale;
  p.symmetric = symmetric;
  p.loss = &out.loss;
  p.gradAnchors = out.gradAnchors.data();
  p.gradPositives = out.gradPositives.data();
  p.gradNegatives = N > 0 ? out.gradNegatives.data() : nullptr;
  return infoNCE(p);
}

double maxAbs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Error of a gradient relative to its largest element or its pre-projection
// size (rows far from the decision have tiny entries fp32 cannot resolve
// relatively).
double gradError(const std::vector<float>& got, const std::vector<double>& ref, double yardstick) {
  return maxError(got.data(), ref.data(), static_cast<int64_t>(ref.size()), std::max(maxAbs(ref), yardstick) + 1e-30);
}

std::string describe(int64_t B, int64_t N, int64_t d, float scale, bool sym, const char* isa, int threads) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "B=%lld N=%lld d=%lld scale=%g symmetric=%d isa=%s threads=%d", (long long)B,
                (long long)N, (long long)d, scale, sym, isa, threads);
  return buf;
}

// ---------------------------------------------------------------- correctness

double worstLoss = 0, worstGrad = 0;

void checkCase(std::mt19937_64& rng, int64_t B, int64_t N, int64_t d, float scale, bool sym) {
  const std::vector<float> a = randomLengthRows(rng, B, d), pos = randomLengthRows(rng, B, d),
                           neg = randomLengthRows(rng, N, d);
  const Reference ref = reference(a, pos, neg, B, N, d, scale, sym);
  Outputs out;
  const std::string what = describe(B, N, d, scale, sym, isaName(activeIsa()), threadCount());
  Status s = callKernel(a, pos, neg, B, N, d, scale, sym, out);
  if (!s.ok()) {
    check(false, what + ": " + s.message);
    return;
  }
  // fp32 scores carry ~scale·1e-7 absolute error, so the loss is compared with that allowance.
  const double lossErr = std::fabs(out.loss - ref.loss) / (std::fabs(ref.loss) + 0.1 * scale);
  double gErr = std::max(gradError(out.gradAnchors, ref.gradAnchors, ref.scaleAnchors),
                         gradError(out.gradPositives, ref.gradPositives, ref.scalePositives));
  if (N > 0) {
    out.gradNegatives.resize(N * d);
    gErr = std::max(gErr, gradError(out.gradNegatives, ref.gradNegatives, ref.scaleNegatives));
  }
  worstLoss = std::max(worstLoss, std::isnan(lossErr) ? INFINITY : lossErr);
  worstGrad = std::max(worstGrad, std::isnan(gErr) ? INFINITY : gErr);
  char buf[120];
  std::snprintf(buf, sizeof buf, ": loss %.9g vs %.9g (err %.2e), grad err %.2e", out.loss, ref.loss, lossErr, gErr);
  check(lossErr <= 2e-6 && gErr <= 1e-4, what + buf);
}

void testAgainstReference() {
  std::mt19937_64 rng(seed());
  const int64_t batches[] = {1, 2, 3, 7, 33, 300, 531};  // 531 spans three 256-row strips
  const int64_t dims[] = {1, 3, 17, 64, 100};
  const int64_t negatives[] = {0, 1, 5, 40};
  const float scales[] = {20.0f, 1.0f, 50.0f};
  int index = 0, cases = 0;
  for (int64_t B : batches)
    for (int64_t d : dims)
      for (int64_t N : negatives)
        for (bool sym : {false, true}) {
          if (B * (B + N) * d > 6000000 && (index % 3) != 0) {  // keep the big reference runs few
            ++index;
            continue;
          }
          checkCase(rng, B, N, d, scales[index++ % 3], sym);
          ++cases;
        }
  std::printf("reference: %d cases, worst loss error %.2e, worst gradient error %.2e\n", cases, worstLoss, worstGrad);
}

// Every instruction set's elementwise code and one thread against many.
void testIsasAndThreads() {
  std::mt19937_64 rng(seed() + 1);
  const Isa original = activeIsa();
  const int threads = threadCount();
  for (Isa isa : availableIsas()) {
    setIsa(isa);
    for (int t : {1, 2, 3}) {
      setThreadCount(t);
      checkCase(rng, 300, 17, 37, 20.0f, false);
      checkCase(rng, 300, 0, 33, 50.0f, true);
      checkCase(rng, 5, 3, 19, 1.0f, true);
    }
  }
  setIsa(original);
  // The same bits whatever the thread count (each sum has one fixed order).
  const int64_t B = 300, N = 20, d = 45;
  const std::vector<float> a = randomLengthRows(rng, B, d), pos = randomLengthRows(rng, B, d),
                           neg = randomLengthRows(rng, N, d);
  Outputs one, many;
  setThreadCount(1);
  Status s1 = callKernel(a, pos, neg, B, N, d, 20.0f, true, one);
  setThreadCount(3);
  Status s3 = callKernel(a, pos, neg, B, N, d, 20.0f, true, many);
  check(s1.ok() && s3.ok() && one.loss == many.loss && one.gradAnchors == many.gradAnchors &&
            one.gradPositives == many.gradPositives && one.gradNegatives == many.gradNegatives,
        "1 and 3 threads give identical results");
  setThreadCount(threads);
  // Very many candidates: the strip shrinks below B (2 strips of 98 rows here).
  checkCase(rng, 100, 170000, 2, 20.0f, true);
  std::printf("instruction sets and thread counts: done\n");
}

// Gradients against central differences of the loss. In double on the
// reference loss (checks the kernel's gradient, and that the reference's
// gradient formulas are right), and coarsely on the kernel's own fp32 loss.
void testFiniteDifferences() {
  std::mt19937_64 rng(seed() + 2);
  double worstRef = 0, worstOwn = 0;
  for (bool sym : {false, true})
    for (float scale : {5.0f, 20.0f}) {
      const int64_t B = 6, N = 3, d = 8;
      std::vector<float> in[3] = {randomLengthRows(rng, B, d), randomLengthRows(rng, B, d),
                                  randomLengthRows(rng, N, d)};
      Outputs out;
      Status s = callKernel(in[0], in[1], in[2], B, N, d, scale, sym, out);
      check(s.ok(), "finite differences: kernel call: " + s.message);
      if (!s.ok()) return;
      const std::vector<float>* grads[3] = {&out.gradAnchors, &out.gradPositives, &out.gradNegatives};
      const char* names[3] = {"anchors", "positives", "negatives"};
      for (int which = 0; which < 3; ++which) {
        const int64_t rows = which == 2 ? N : B;
        double gmax = 0;
        for (int64_t i = 0; i < rows * d; ++i) gmax = std::max(gmax, std::fabs(double((*grads[which])[i])));
        std::uniform_int_distribution<int64_t> pick(0, rows * d - 1);
        for (int t = 0; t < 6; ++t) {
          const int64_t idx = pick(rng);
          std::vector<float> plus[3] = {in[0], in[1], in[2]}, minus[3] = {in[0], in[1], in[2]};
          const float x = in[which][idx];
          // Exactly representable steps so (x+h) − (x−h) is 2h in float.
          const float hRef = std::max(std::fabs(x), 1e-3f) * 1e-3f;
          plus[which][idx] = x + hRef;
          minus[which][idx] = x - hRef;
          const double hr = 0.5 * (double(plus[which][idx]) - double(minus[which][idx]));
          const double fdRef = (reference(plus[0], plus[1], plus[2], B, N, d, scale, sym, false).loss -
                                reference(minus[0], minus[1], minus[2], B, N, d, scale, sym, false).loss) /
                               (2 * hr);
          const double g = (*grads[which])[idx];
          const double eRef = std::fabs(g - fdRef) / (gmax + 1e-30);
          worstRef = std::max(worstRef, eRef);
          char buf[200];
          std::snprintf(buf, sizeof buf, "finite difference (reference loss) %s[%lld] sym=%d scale=%g: %.8g vs %.8g",
                        names[which], (long long)idx, sym, scale, g, fdRef);
          check(eRef <= 1e-4, buf);

          // Coarse: the kernel's own loss, step 1e-2 relative.
          const float hOwn = std::max(std::fabs(x), 1e-2f) * 1e-2f;
          plus[which][idx] = x + hOwn;
          minus[which][idx] = x - hOwn;
          const double ho = 0.5 * (double(plus[which][idx]) - double(minus[which][idx]));
          Outputs op, om;
          Status s1 = callKernel(plus[0], plus[1], plus[2], B, N, d, scale, sym, op);
          Status s2 = callKernel(minus[0], minus[1], minus[2], B, N, d, scale, sym, om);
          const double fdOwn = (op.loss - om.loss) / (2 * ho);
          const double eOwn = std::fabs(g - fdOwn) / (gmax + 1e-30);
          worstOwn = std::max(worstOwn, eOwn);
          std::snprintf(buf, sizeof buf, "finite difference (own loss) %s[%lld] sym=%d scale=%g: %.8g vs %.8g",
                        names[which], (long long)idx, sym, scale, g, fdOwn);
          check(s1.ok() && s2.ok() && eOwn <= 1e-2, buf);
        }
      }
    }
  std::printf("finite differences: worst error %.2e (double reference loss), %.2e (own fp32 loss)\n", worstRef,
              worstOwn);
}

// ---------------------------------------------------------------- bad calls

void expectError(const char* what, Status s, StatusCode code, const char* name) {
  const bool ok = s.code == code && s.message.find(name) != std::string::npos;
  check(ok, std::string("bad call ") + what + ": got code " + std::to_string(int(s.code)) + " '" + s.message + "'");
}

void testBadCalls() {
  std::mt19937_64 rng(seed() + 3);
  const int64_t B = 9, N = 4, d = 20;
  const std::vector<float> a = randomLengthRows(rng, B, d), pos = randomLengthRows(rng, B, d),
                           neg = randomLengthRows(rng, N, d);
  Outputs out;
  const char* names[3] = {"anchors", "positives", "negatives"};
  for (int which = 0; which < 3; ++which) {
    const int64_t rows = which == 2 ? N : B;
    for (float bad : {std::nanf(""), INFINITY, -INFINITY, 0.0f}) {
      std::vector<float> v[3] = {a, pos, neg};
      const int64_t row = rows / 2;
      if (bad == 0.0f) std::fill(v[which].begin() + row * d, v[which].begin() + (row + 1) * d, 0.0f);
      else v[which][row * d + 7] = bad;
      Status s = callKernel(v[0], v[1], v[2], B, N, d, 20.0f, true, out);
      const std::string what = std::string(names[which]) + (bad == 0.0f ? " zero row" : " non-finite");
      expectError(what.c_str(), s, StatusCode::kRangeError, names[which]);
      if (bad != 0.0f)
        check(s.message.find("row " + std::to_string(row)) != std::string::npos,
              "bad call message names the row: " + s.message);
    }
  }

  auto withParams = [&](auto edit) {
    InfoNCEParams p;
    p.anchors = {a.data(), B, d};
    p.positives = {pos.data(), B, d};
    p.negatives = {neg.data(), N, d};
    out.gradAnchors.assign(B * d, 0.0f);
    out.gradPositives.assign(B * d, 0.0f);
    out.gradNegatives.assign(N * d, 0.0f);
    p.loss = &out.loss;
    p.gradAnchors = out.gradAnchors.data();
    p.gradPositives = out.gradPositives.data();
    p.gradNegatives = out.gradNegatives.data();
    edit(p);
    return infoNCE(p);
  };
  expectError("positives rows", withParams([&](InfoNCEParams& p) { p.positives.rows = B - 1; }),
              StatusCode::kRangeError, "positives");
  expectError("positives cols", withParams([&](InfoNCEParams& p) {
                p.positives = {pos.data(), B * 2, d / 2};
              }),
              StatusCode::kRangeError, "positives");
  expectError("negatives cols", withParams([&](InfoNCEParams& p) {
                p.negatives = {neg.data(), N * 2, d / 2};
              }),
              StatusCode::kRangeError, "negatives");
  expectError("negative rows", withParams([&](InfoNCEParams& p) { p.negatives.rows = -1; }), StatusCode::kRangeError,
              "negatives");
  expectError("no anchors", withParams([&](InfoNCEParams& p) { p.anchors.rows = 0, p.positives.rows = 0; }),
              StatusCode::kRangeError, "anchors");
  expectError("zero columns", withParams([&](InfoNCEParams& p) { p.anchors.cols = 0; }), StatusCode::kRangeError,
              "anchors");
  expectError("null anchors", withParams([&](InfoNCEParams& p) { p.anchors.data = nullptr; }), StatusCode::kTypeError,
              "anchors");
  for (float scale : {0.0f, -1.0f, std::nanf(""), INFINITY})
    expectError("scale", withParams([&](InfoNCEParams& p) { p.scale = scale; }), StatusCode::kRangeError, "scale");
  expectError("null loss", withParams([&](InfoNCEParams& p) { p.loss = nullptr; }), StatusCode::kTypeError, "loss");
  expectError("null gradAnchors", withParams([&](InfoNCEParams& p) { p.gradAnchors = nullptr; }),
              StatusCode::kTypeError, "gradAnchors");
  expectError("null gradPositives", withParams([&](InfoNCEParams& p) { p.gradPositives = nullptr; }),
              StatusCode::kTypeError, "gradPositives");
  expectError("null gradNegatives", withParams([&](InfoNCEParams& p) { p.gradNegatives = nullptr; }),
              StatusCode::kTypeError, "gradNegatives");
  // No negatives: a null negatives matrix and gradient are fine.
  Status ok = withParams([&](InfoNCEParams& p) {
    p.negatives = {nullptr, 0, 0};
    p.gradNegatives = nullptr;
  });
  check(ok.ok() && std::isfinite(out.loss), "no negatives with null buffers: " + ok.message);
  std::printf("bad calls: done\n");
}

// ---------------------------------------------------------------- timing

double peakRssMiB() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // kilobytes on Linux
}

// The GEMMs infoNCE runs, same shapes and order (symmetric: a first pass of
// score GEMMs), without the elementwise work around them.
void gemmWork(const float* aHat, const float* cHat, float* strip, float* gradA, float* gradC, int64_t B, int64_t d,
              bool sym) {
  const int64_t R = std::min<int64_t>(256, B), M = B;
  const float scale = 1e-3f;  // keeps the reused buffers finite
  auto scores = [&](int64_t r0, int64_t rows) {
    GemmParams s;
    s.m = rows, s.n = M, s.k = d, s.a = aHat + r0 * d, s.lda = d, s.b = cHat, s.ldb = d, s.transB = true;
    s.c = strip, s.ldc = M, s.alpha = scale;
    gemm(s);
  };
  if (sym)
    for (int64_t r0 = 0; r0 < B; r0 += R) scores(r0, std::min(R, B - r0));
  for (int64_t r0 = 0; r0 < B; r0 += R) {
    const int64_t rows = std::min(R, B - r0);
    scores(r0, rows);
    for (int64_t c0 = 0; c0 < M; c0 += 8192) {
      GemmParams g;
      g.m = std::min<int64_t>(8192, M - c0), g.n = d, g.k = rows;
      g.a = strip + c0, g.lda = M, g.transA = true, g.b = aHat + r0 * d, g.ldb = d;
      g.c = gradC + c0 * d, g.ldc = d, g.alpha = scale, g.beta = r0 == 0 ? 0.0f : 1.0f;
      gemm(g);
    }
    GemmParams g;
    g.m = rows, g.n = d, g.k = M, g.a = strip, g.lda = M, g.b = cHat, g.ldb = d;
    g.c = gradA + r0 * d, g.ldc = d, g.alpha = scale;
    gemm(g);
  }
}

double seconds(const std::function<void()>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs infoNCE and its GEMM work alternately and keeps the best of each, so a
// neighbour's load on the machine hits both alike.
void timeOne(int64_t B, int64_t d, bool sym, int reps, bool withBaseline) {
  std::mt19937_64 rng(seed() + 4);
  std::vector<float> a = randomFloats(rng, B * d), pos = randomFloats(rng, B * d), neg;
  Outputs out;
  const double flops = (sym ? 8.0 : 6.0) * double(B) * B * d;
  double ours = INFINITY, gemmTime = INFINITY, rss = 0;
  std::vector<float> strip;
  for (int r = 0; r < reps; ++r) {
    Status s;
    ours = std::min(ours, seconds([&] { s = callKernel(a, pos, neg, B, 0, d, 20.0f, sym, out); }));
    check(s.ok(), "timing run: " + s.message);
    if (r == 0) rss = peakRssMiB();  // before the baseline's own buffers
    if (!withBaseline) continue;
    strip.resize(std::min<int64_t>(256, B) * B);
    // Outputs double as operands; their contents do not matter to the timing.
    gemmTime = std::min(gemmTime, seconds([&] {
                          gemmWork(a.data(), pos.data(), strip.data(), out.gradAnchors.data(), out.gradPositives.data(),
                                   B, d, sym);
                        }));
  }
  if (!withBaseline) {
    std::printf("| %6lld | %4lld | %-5s | %8.3f | %7.1f | %18s | %5s | %12.0f |\n", (long long)B, (long long)d,
                sym ? "sym" : "plain", ours, flops / ours * 1e-9, "-", "-", rss);
    return;
  }
  std::printf("| %6lld | %4lld | %-5s | %8.3f | %7.1f | %8.3f (%7.1f) | %5.2f | %12.0f |\n", (long long)B, (long long)d,
              sym ? "sym" : "plain", ours, flops / ours * 1e-9, gemmTime, flops / gemmTime * 1e-9, ours / gemmTime,
              rss);
}

void timings() {
  std::printf("\ntimings (%d threads, %s): forward+backward, GFLOP/s counted as 6·B²·d (8·B²·d symmetric)\n",
              threadCount(), isaName(activeIsa()));
  std::printf("| B      | d    | mode  | seconds  | GFLOP/s | its GEMMs s (GF/s) | ratio | peak RSS MiB |\n");
  std::printf("|--------|------|-------|----------|---------|--------------------|-------|--------------|\n");
  timeOne(4096, 1024, false, 3, true);
  timeOne(4096, 1024, true, 3, true);
  timeOne(16384, 1024, false, 2, true);
  const char* huge = std::getenv("JOBBERT_HUGE");
  if (huge && std::strcmp(huge, "1") == 0) timeOne(65536, 1024, false, 1, false);
  else std::printf("(B = 65,536 skipped: set JOBBERT_HUGE=1)\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) quick = quick || std::strcmp(argv[i], "--quick") == 0;
  if (const char* env = std::getenv("JOBBERT_QUICK")) quick = quick || std::strcmp(env, "1") == 0;
  seed();
  testBadCalls();
  testAgainstReference();
  testIsasAndThreads();
  testFiniteDifferences();
  if (!quick) timings();
  return finish("test_infonce");
}
