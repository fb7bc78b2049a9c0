// test_cuda: infoNCE (loss and the three gradients) against float64 references
// at every precision, on random and exact data, with and without negatives.
//
// Tolerances (dotTol's bound is explained in cuda_harness.h). With δs the
// largest score tolerance (scale × that bound over all pairs), the loss may
// differ by 2δs (each row's loss moves by at most Σ_j p_ij δs + δs) plus fp32
// rounding 2e-7·(8 + sqrt(B) + sqrt(B+N))·(|L| + 0.1·scale + 1); each gradient
// row, relative to the size of the terms it sums (scale·Σ_j|dL/ds_ij|/‖x_i‖,
// test_infonce's yardstick, here per row; at least 1% of scale/(B·‖x_i‖), the
// size for a row whose dL/ds has mass 1/B, since p_ii − 1 formed directly in
// fp32 is only right to 2⁻²⁴ absolute), by 4δs (softmax sensitivity:
// |δp_ij| ≤ 2δs·p_ij) + 4u' (2u' on exact data, where only dL/ds is rounded)
// + 2e-6·(8 + sqrt(B+N)).
// On random data at tf32/bf16 these rigorous bounds are loose (a smoke test);
// the exact data is where infoNCE's reduced precisions are held tight.
#include "cuda_harness.h"

namespace jobbert::cudatest {
namespace {

// ---------------------------------------------------------------- float64 reference

// infoNCE straight from the definition (as test_infonce's reference), with the
// largest score tolerance over all pairs at each precision's bound.
struct NceRef {
  int64_t B = 0, N = 0, M = 0, d = 0;
  double scale = 20, loss = 0;
  std::vector<double> ga, gp, gn;
  std::vector<double> yardA, yardP, yardN;  // per row: scale·Σ_j|dL/ds|/‖x‖
  double maxScoreTol[3] = {0, 0, 0};
};

NceRef nceReference(const std::vector<float>& a, const std::vector<float>& pos, const std::vector<float>& neg,
                    int64_t B, int64_t N, int64_t d, double scale, bool sym) {
  NceRef r;
  const int64_t M = B + N;
  r.B = B, r.N = N, r.M = M, r.d = d, r.scale = scale;
  std::vector<double> ah(B * d), ch(M * d), alen(B), clen(M);
  auto normalise = [&](const float* x, int64_t rows, double* hat, double* len) {
    parallelFor(rows, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += double(x[i * d + c]) * x[i * d + c];
        len[i] = std::sqrt(s);
        for (int64_t c = 0; c < d; ++c) hat[i * d + c] = x[i * d + c] / len[i];
      }
    });
  };
  normalise(a.data(), B, ah.data(), alen.data());
  normalise(pos.data(), B, ch.data(), clen.data());
  if (N > 0) normalise(neg.data(), N, ch.data() + B * d, clen.data() + B);

  std::vector<double> S(B * M), dS(B * M, 0.0), rowTol(3 * B, 0.0);
  parallelFor(B, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < M; ++j) {
        double s = 0, q = 0, ab = 0;
        for (int64_t c = 0; c < d; ++c) {
          const double t = ah[i * d + c] * ch[j * d + c];
          s += t, q += t * t, ab += std::fabs(t);
        }
        S[i * M + j] = scale * s;
        for (int p = 0; p < 3; ++p)
          rowTol[p * B + i] = std::max(rowTol[p * B + i], scale * dotTol(s, std::sqrt(q), ab, d, kPrecisions[p]));
      }
  });
  for (int p = 0; p < 3; ++p)
    for (int64_t i = 0; i < B; ++i) r.maxScoreTol[p] = std::max(r.maxScoreTol[p], rowTol[p * B + i]);

  const double w = sym ? 0.5 : 1.0;
  std::vector<double> rowLoss(B), colLoss(B);
  parallelFor(B, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < M; ++j) mx = std::max(mx, S[i * M + j]);
      for (int64_t j = 0; j < M; ++j) sum += std::exp(S[i * M + j] - mx);
      const double lse = mx + std::log(sum);
      rowLoss[i] = lse - S[i * M + i];
      double others = 0;  // p_ii − 1 as −Σ_{j≠i} p_ij
      for (int64_t j = 0; j < M; ++j) {
        if (j == i) continue;
        const double pij = std::exp(S[i * M + j] - lse);
        others += pij, dS[i * M + j] = w * pij / B;
      }
      dS[i * M + i] = -w * others / B;
    }
  });
  r.loss = std::accumulate(rowLoss.begin(), rowLoss.end(), 0.0) / B;
  if (sym) {
    parallelFor(B, [&](int64_t b, int64_t e) {  // column j touches column j of dS only
      for (int64_t j = b; j < e; ++j) {
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < B; ++i) mx = std::max(mx, S[i * M + j]);
        for (int64_t i = 0; i < B; ++i) sum += std::exp(S[i * M + j] - mx);
        const double lse = mx + std::log(sum);
        colLoss[j] = lse - S[j * M + j];
        double others = 0;
        for (int64_t i = 0; i < B; ++i) {
          if (i == j) continue;
          const double pij = std::exp(S[i * M + j] - lse);
          others += pij, dS[i * M + j] += 0.5 * pij / B;
        }
        dS[j * M + j] -= 0.5 * others / B;
      }
    });
    r.loss = 0.5 * (r.loss + std::accumulate(colLoss.begin(), colLoss.end(), 0.0) / B);
  }

  std::vector<double> gah(B * d, 0.0), gch(M * d, 0.0), rowAbs(B, 0.0), colAbs(M, 0.0);
  parallelFor(B, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < M; ++j) {
        const double g = scale * dS[i * M + j];
        rowAbs[i] += std::fabs(g);
        for (int64_t c = 0; c < d; ++c) gah[i * d + c] += g * ch[j * d + c];
      }
  });
  parallelFor(M, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j)
      for (int64_t i = 0; i < B; ++i) {
        const double g = scale * dS[i * M + j];
        colAbs[j] += std::fabs(g);
        for (int64_t c = 0; c < d; ++c) gch[j * d + c] += g * ah[i * d + c];
      }
  });
  // Through x̂ = x/‖x‖: (g − (g·x̂)x̂)/‖x‖.
  auto chain = [&](const std::vector<double>& g, const std::vector<double>& hat, const std::vector<double>& len,
                   const std::vector<double>& absSum, int64_t r0, int64_t rows, std::vector<double>& out,
                   std::vector<double>& yard) {
    out.assign(rows * d, 0.0);
    yard.assign(rows, 0.0);
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t s = r0 + i;
      // At least 1% of a row whose dL/ds has mass 1/B: where p_ii → 1 the
      // row's own terms shrink to 1 − p_ii, and a kernel that forms p_ii − 1
      // directly (fp32 absolute error 2⁻²⁴) is right to the batch's scale.
      yard[i] = std::max(absSum[s], 1e-2 * scale / B) / len[s];
      double dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += g[s * d + c] * hat[s * d + c];
      for (int64_t c = 0; c < d; ++c) out[i * d + c] = (g[s * d + c] - dot * hat[s * d + c]) / len[s];
    }
  };
  chain(gah, ah, alen, rowAbs, 0, B, r.ga, r.yardA);
  chain(gch, ch, clen, colAbs, 0, B, r.gp, r.yardP);
  if (N > 0) chain(gch, ch, clen, colAbs, B, N, r.gn, r.yardN);
  return r;
}

struct NceTol {
  double loss, grad;
};

NceTol nceTolerance(const NceRef& r, Precision p, bool exact) {
  const double ds = r.maxScoreTol[int(exact ? Precision::kFp32 : p)];
  NceTol t;
  t.loss =
      2 * ds + 2e-7 * (8 + std::sqrt(double(r.B)) + std::sqrt(double(r.M))) * (std::fabs(r.loss) + 0.1 * r.scale + 1);
  t.grad = (exact ? 2 : 4) * worstUnitOf(p) + 4 * ds + 2e-6 * (8 + std::sqrt(double(std::max(r.B, r.M))));
  return t;
}

// Error relative to the scale of its row's gradient (the yardstick, at least
// 1e-6 of the largest), over the tolerance.
double gradRatio(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& yard,
                 int64_t d, double tol, size_t* at) {
  double top = 1e-300;
  for (double y : yard) top = std::max(top, y);
  double worst = 0;
  *at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double scale = std::max(yard[i / d], 1e-6 * top);
    double e = std::fabs(double(got[i]) - ref[i]) / (std::fabs(ref[i]) + scale) / tol;
    if (std::isnan(e)) e = INFINITY;
    if (e > worst) worst = e, *at = i;
  }
  return worst;
}

// ---------------------------------------------------------------- infoNCE

void infoNCEChecks(std::mt19937_64& rng) {
  struct Case {
    int64_t B, N, d;
    float scale;
    bool sym;
    int families;  // 1 random, 2 exact, 3 both
  };
  std::vector<Case> cases = {{1, 0, 1, 20, false, 3},  {2, 0, 3, 20, true, 3},     {3, 1, 5, 1, false, 3},
                             {7, 5, 17, 20, true, 3},  {33, 40, 64, 20, false, 3}, {33, 0, 67, 1, true, 3},
                             {70, 3, 33, 50, true, 3}, {1, 4, 8, 20, true, 3}};
  if (onGpu())
    for (Case c : {Case{300, 17, 37, 20, false, 3}, Case{531, 0, 100, 50, true, 3}, Case{257, 1000, 129, 20, false, 3},
                   Case{129, 0, 1024, 20, true, 3}})
      cases.push_back(c);
  if (bigCases())
    for (Case c :
         {Case{1024, 0, 768, 20, true, 3}, Case{4096, 0, 256, 20, false, 1}, Case{4096, 1000, 256, 20, true, 2}})
      cases.push_back(c);

  Group groups[3] = {Group("infoNCE fp32"), Group("infoNCE tf32"), Group("infoNCE bf16")};
  for (const Case& c : cases)
    for (bool exact : {false, true}) {
      if (!(c.families & (exact ? 2 : 1))) continue;
      const int64_t B = c.B, N = c.N, d = c.d;
      std::vector<float> a, pos, neg;
      if (exact) {
        a = exactRows(rng, B, d), pos = exactPositives(rng, a, B, d), neg = exactRows(rng, N, d);
      } else {
        a = randomLengthRows(rng, B, d), pos = randomPositives(rng, a, B, d), neg = randomLengthRows(rng, N, d);
      }
      const NceRef ref = nceReference(a, pos, neg, B, N, d, c.scale, c.sym);
      for (int pi = 0; pi < 3; ++pi) {
        const Precision p = kPrecisions[pi];
        const std::string what = fmt("B=%lld N=%lld d=%lld scale=%g symmetric=%d %s", (long long)B, (long long)N,
                                     (long long)d, c.scale, c.sym, exact ? "exact" : "random");
        NceOut out;
        if (!groups[pi].ok(runNce(H(a, B, d), H(pos, B, d), H(neg, N, d), c.scale, c.sym, p, out), what)) continue;
        const NceTol tol = nceTolerance(ref, p, exact);
        groups[pi].within(std::fabs(out.loss - ref.loss) / tol.loss, [&] {
          return fmt("%s: loss %.9g, float64 %.9g, tolerance %.3g", what.c_str(), out.loss, ref.loss, tol.loss);
        });
        struct {
          const char* name;
          const std::vector<float>& got;
          const std::vector<double>& ref;
          const std::vector<double>& yard;
        } grads[] = {{"gradAnchors", out.ga, ref.ga, ref.yardA},
                     {"gradPositives", out.gp, ref.gp, ref.yardP},
                     {"gradNegatives", out.gn, ref.gn, ref.yardN}};
        for (const auto& gr : grads) {
          if (gr.ref.empty()) continue;
          size_t at = 0;
          const double r = gradRatio(gr.got, gr.ref, gr.yard, d, tol.grad, &at);
          groups[pi].within(r, [&] {
            return fmt("%s: %s[%zu] is %.9g, float64 %.9g (relative tolerance %.3g)", what.c_str(), gr.name, at,
                       double(gr.got[at]), gr.ref[at], tol.grad);
          });
        }
      }
    }
  for (auto& g : groups) g.done();
}

}  // namespace

JOBBERT_CUDA_CHECK(30, infoNCEChecks);

}  // namespace jobbert::cudatest
