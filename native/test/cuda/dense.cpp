// test_cuda: denseForward and denseBackward against float64 references at
// every precision, on random and exact data, with and without bias and tanh.
#include "cuda_harness.h"

namespace jobbert::cudatest {
namespace {

// ---------------------------------------------------------------- float64 references

// out[i, j] = Σ_p A[i, p]·B[j, p] with |t|₂ and |t|₁ of its terms.
struct Dots {
  std::vector<double> val, l2, abs1;
};

Dots dotsABt(const std::vector<double>& A, const std::vector<double>& B, int64_t m, int64_t n, int64_t K) {
  Dots d;
  d.val.resize(m * n), d.l2.resize(m * n), d.abs1.resize(m * n);
  parallelFor(
      m * n,
      [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          const double* a = &A[(o / n) * K];
          const double* c = &B[(o % n) * K];
          double s = 0, q = 0, ab = 0;
          for (int64_t p = 0; p < K; ++p) {
            const double t = a[p] * c[p];
            s += t, q += t * t, ab += std::fabs(t);
          }
          d.val[o] = s, d.l2[o] = std::sqrt(q), d.abs1[o] = ab;
        }
      },
      16);
  return d;
}

// Expected act(dots + bias) at tolPrec; bias indexed by column (n columns).
// `factors`: the same sums with one factor's inputs in place of the factor
// (dense backward through tanh: gradY for gradY·(1 − y²), whose fp32 value
// carries an absolute error up to 2⁻²³·|gradY| where 1 − y² cancels).
Expect expectDots(const Dots& d, int64_t K, const float* bias, int64_t n, bool tanhAct, Precision tolPrec,
                  const Dots* factors = nullptr) {
  Expect e;
  e.val.resize(d.val.size()), e.tol.resize(d.val.size());
  for (size_t i = 0; i < d.val.size(); ++i) {
    const double z = d.val[i] + (bias ? double(bias[i % n]) : 0.0);
    double tz = dotTol(z, d.l2[i], d.abs1[i], K, tolPrec);
    if (factors) tz += 0x1p-23 * std::min(4 * factors->l2[i], factors->abs1[i]);
    if (tanhAct) {
      const double y = std::tanh(z);
      e.val[i] = y, e.tol[i] = tz * std::min(1.0, 1.0 - y * y + tz) + kTanhAbs;
    } else {
      e.val[i] = z, e.tol[i] = tz;
    }
  }
  return e;
}

// ---------------------------------------------------------------- dense

void denseChecks(std::mt19937_64& rng) {
  struct Shape {
    int64_t m, in, out;
    bool allVariants;
  };
  std::vector<Shape> shapes = {
      {1, 1, 1, true}, {7, 13, 5, true}, {37, 131, 67, true}, {130, 7, 257, false}, {20, 33, 17, false}};
  if (onGpu())
    for (Shape s : {Shape{1, 768, 1024, false}, Shape{257, 1000, 129, false}, Shape{4099, 7, 3, false},
                    Shape{64, 96, 128, false}, Shape{130, 31, 257, true}})
      shapes.push_back(s);
  if (bigCases()) shapes.push_back({1000, 768, 1024, false});

  Group fwd[3] = {Group("dense forward fp32"), Group("dense forward tf32"), Group("dense forward bf16")};
  Group bwd[3] = {Group("dense backward fp32"), Group("dense backward tf32"), Group("dense backward bf16")};
  for (const Shape& s : shapes) {
    const int64_t m = s.m, in = s.in, out = s.out;
    for (bool exact : {false, true}) {
      const std::vector<float> x = exact ? exactValues(rng, m * in) : randomFloats(rng, m * in);
      const std::vector<float> w = exact ? exactValues(rng, out * in, true) : randomFloats(rng, out * in, -0.2f, 0.2f);
      const std::vector<float> bias = exact ? exactValues(rng, out) : randomFloats(rng, out);
      const std::vector<double> xd = toDouble(x), wd = toDouble(w);
      const Dots z = dotsABt(xd, wd, m, out, in);
      for (int variant : s.allVariants ? std::vector<int>{0, 1, 2, 3} : std::vector<int>{0, 3}) {
        const bool withBias = variant & 1, tanhAct = variant & 2;
        for (int pi = 0; pi < 3; ++pi) {
          const Precision p = kPrecisions[pi];
          const std::string what = fmt("m=%lld in=%lld out=%lld bias=%d tanh=%d %s", (long long)m, (long long)in,
                                       (long long)out, withBias, tanhAct, exact ? "exact" : "random");
          std::vector<float> y;
          if (!fwd[pi].ok(runDense(H(x, m, in), H(w, out, in), withBias ? bias.data() : nullptr, tanhAct, p, y), what))
            continue;
          compare(fwd[pi], what, y.data(),
                  expectDots(z, in, withBias ? bias.data() : nullptr, out, tanhAct, exact ? Precision::kFp32 : p));
        }
      }
      for (bool tanhAct : {false, true}) {
        // y is an input of the backward pass: tanh of the float64 forward, or
        // for exact data values whose 1 − y² is exact.
        std::vector<float> y(m * out);
        if (exact) {
          static const float ys[] = {0.0f, 0.25f, -0.25f, 0.5f, -0.5f, 0.75f, -0.75f};
          std::uniform_int_distribution<int> pick(0, 6);
          for (auto& v : y) v = ys[pick(rng)];
        } else {
          for (int64_t i = 0; i < m * out; ++i) y[i] = static_cast<float>(tanhAct ? std::tanh(z.val[i]) : z.val[i]);
        }
        const std::vector<float> gy = exact ? exactValues(rng, m * out) : randomFloats(rng, m * out);
        std::vector<double> gz(m * out);
        for (int64_t i = 0; i < m * out; ++i) gz[i] = tanhAct ? gy[i] * (1.0 - double(y[i]) * y[i]) : gy[i];
        const std::vector<double> gzT = transpose(gz, m, out), wT = transpose(wd, out, in), xT = transpose(xd, m, in);
        const std::vector<double> ones(m, 1.0);
        const Dots gX = dotsABt(gz, wT, m, in, out);
        const Dots gW = dotsABt(gzT, xT, out, in, m);
        const Dots gB = dotsABt(gzT, ones, out, 1, m);
        Dots fX, fW, fB;  // the same sums over gradY: the scale of the error in gradY·(1 − y²)
        if (tanhAct) {
          const std::vector<double> gyd = toDouble(gy), gyT = transpose(gyd, m, out);
          fX = dotsABt(gyd, wT, m, in, out), fW = dotsABt(gyT, xT, out, in, m), fB = dotsABt(gyT, ones, out, 1, m);
        }
        for (int pi = 0; pi < 3; ++pi) {
          const Precision p = kPrecisions[pi], tp = exact ? Precision::kFp32 : p;
          const std::string what = fmt("m=%lld in=%lld out=%lld tanh=%d %s", (long long)m, (long long)in,
                                       (long long)out, tanhAct, exact ? "exact" : "random");
          DenseGrads g;
          if (!bwd[pi].ok(runDenseBackward(H(x, m, in), H(w, out, in), H(y, m, out), H(gy, m, out), tanhAct, p, g),
                          what))
            continue;
          compare(bwd[pi], what + " gradX", g.gx.data(),
                  expectDots(gX, out, nullptr, in, false, tp, tanhAct ? &fX : nullptr));
          compare(bwd[pi], what + " gradWeight", g.gw.data(),
                  expectDots(gW, m, nullptr, in, false, tp, tanhAct ? &fW : nullptr));
          compare(bwd[pi], what + " gradBias", g.gb.data(),
                  expectDots(gB, m, nullptr, 1, false, tp, tanhAct ? &fB : nullptr));
        }
      }
    }
  }
  for (auto& g : fwd) g.done();
  for (auto& g : bwd) g.done();
}

}  // namespace

JOBBERT_CUDA_CHECK(20, denseChecks);

}  // namespace jobbert::cudatest
