// dense: y = act(x·Wᵀ + b) and its gradients.
// Forward costs 2·m·in·out flops (one GEMM) plus an O(m·out) epilogue; the
// backward pass two GEMMs (gradX = gZ·W, gradW = gZᵀ·x) plus O(m·out).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <new>
#include <vector>

#include "checks.h"
#include "gemm.h"
#include "guard.h"
#include "jobbert/kernels.h"
#include "thread_pool.h"

namespace jobbert {
namespace {

// tanh to within a few ulp, branch-free so the loop vectorises (Eigen's
// rational approximation; |x| >= 9 rounds to ±1 in float).
inline float fastTanh(float x) {
  const float c = std::min(9.0f, std::max(-9.0f, x));
  const float x2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const float r = p / q;
  // Near zero the rational form loses relative accuracy; tanh(x) = x there.
  return std::fabs(c) < 0.0004f ? c : r;
}

// tile = act(tile + bias[col0..]) for one finished GEMM tile, applied by the
// GEMM while the tile is still in L1 (a separate pass over y would re-read it
// from memory). Built for AVX-512, AVX2 and baseline where the compiler can
// (ifunc on ELF), since dense.cpp itself gets no ISA flags.
struct Epilogue {
  const float* bias;
  bool tanhAct;
};

#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void epilogue(void* ctx, float* tile, int64_t ldc, int64_t /*row0*/, int64_t col0, int rows, int cols) {
  const Epilogue& e = *static_cast<const Epilogue*>(ctx);
  for (int r = 0; r < rows; ++r) {
    float* row = tile + r * ldc;
    if (e.bias)
      for (int j = 0; j < cols; ++j) row[j] += e.bias[col0 + j];
    if (e.tanhAct)
      for (int j = 0; j < cols; ++j) row[j] = fastTanh(row[j]);
  }
}

Status checkDenseShapes(const ConstMatrix& x, const ConstMatrix& w) {
  if (Status s = checkShape(x, "x"); !s.ok()) return s;
  if (Status s = checkShape(w, "weight"); !s.ok()) return s;
  if (x.cols != w.cols)
    return Status::Range("weight must have as many columns as x (" + std::to_string(x.cols) + "); received " +
                         std::to_string(w.cols));
  return Status::Ok();
}

}  // namespace

Status denseForward(const DenseParams& p) {
  if (Status s = checkDenseShapes(p.x, p.weight); !s.ok()) return s;
  if (!p.y) return Status::Type("y must be an output buffer");
  return guarded("dense", [&]() -> Status {
    if (p.bias) {
      if (Status s = checkFiniteVector(p.bias, p.weight.rows, "bias"); !s.ok()) return s;
    }
    // x and W are checked while the GEMM packs them (every element passes
    // through the packing once): a separate scan cost ~5% of the call. Only
    // when that finds a bad value does a second scan name it.
    std::atomic<bool> nonFinite{false};
    const int64_t m = p.x.rows, in = p.x.cols, out = p.weight.rows;
    GemmParams g;
    g.m = m, g.n = out, g.k = in;
    g.a = p.x.data, g.lda = in;
    g.b = p.weight.data, g.ldb = in, g.transB = true;
    g.c = p.y, g.ldc = out;
    Epilogue e{p.bias, p.activation == Activation::kTanh};
    if (e.bias || e.tanhAct) g.epilogue = epilogue, g.epilogueCtx = &e;
    g.nonFinite = &nonFinite;
    gemm(g);
    if (nonFinite.load()) {
      if (Status s = checkFinite(p.x, "x"); !s.ok()) return s;
      if (Status s = checkFinite(p.weight, "weight"); !s.ok()) return s;
      return Status::Range("x and weight must hold only finite numbers");
    }
    return Status::Ok();
  });
}

Status denseBackward(const DenseBackwardParams& p) {
  if (Status s = checkDenseShapes(p.x, p.weight); !s.ok()) return s;
  const int64_t m = p.x.rows, in = p.x.cols, out = p.weight.rows;
  for (const auto& [mat, name] : {std::pair{p.y, "y"}, std::pair{p.gradY, "gradY"}}) {
    if (mat.rows != m || mat.cols != out)
      return Status::Range(std::string(name) + " must be " + std::to_string(m) + "×" + std::to_string(out) +
                           " (x.rows × weight.rows); received " + std::to_string(mat.rows) + "×" +
                           std::to_string(mat.cols));
    if (!mat.data) return Status::Type(std::string(name) + " has no data");
  }
  if (!p.gradX || !p.gradWeight || !p.gradBias) return Status::Type("gradient output buffers are required");
  return guarded("dense", [&]() -> Status {
    if (Status s = checkFinite(p.x, "x"); !s.ok()) return s;
    if (Status s = checkFinite(p.weight, "weight"); !s.ok()) return s;
    if (Status s = checkFinite(p.y, "y"); !s.ok()) return s;
    if (Status s = checkFinite(p.gradY, "gradY"); !s.ok()) return s;

    // gZ = dL/d(pre-activation): gradY·(1 − y²) for tanh, gradY itself otherwise.
    const float* gz = p.gradY.data;
    std::vector<float> gzBuffer;
    if (p.activation == Activation::kTanh) {
      gzBuffer.resize(static_cast<size_t>(m * out));
      parallelRanges(m * out, 1 << 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          float yv = p.y.data[i];
          gzBuffer[i] = p.gradY.data[i] * (1.0f - yv * yv);
        }
      });
      gz = gzBuffer.data();
    }
    GemmParams gx;  // gradX[m×in] = gZ[m×out] · W[out×in]
    gx.m = m, gx.n = in, gx.k = out;
    gx.a = gz, gx.lda = out;
    gx.b = p.weight.data, gx.ldb = in;
    gx.c = p.gradX, gx.ldc = in;
    gemm(gx);
    GemmParams gw;  // gradW[out×in] = gZᵀ[out×m] · x[m×in]
    gw.m = out, gw.n = in, gw.k = m;
    gw.a = gz, gw.lda = out, gw.transA = true;
    gw.b = p.x.data, gw.ldb = in;
    gw.c = p.gradWeight, gw.ldc = in;
    gemm(gw);
    // gradB = column sums of gZ, accumulated in double per column block.
    parallelRanges(out, 64, [&](int64_t begin, int64_t end) {
      std::vector<double> sums(static_cast<size_t>(end - begin), 0.0);
      for (int64_t r = 0; r < m; ++r) {
        const float* row = gz + r * out;
        for (int64_t j = begin; j < end; ++j) sums[j - begin] += row[j];
      }
      for (int64_t j = begin; j < end; ++j) p.gradBias[j] = static_cast<float>(sums[j - begin]);
    });
    return Status::Ok();
  });
}

}  // namespace jobbert
