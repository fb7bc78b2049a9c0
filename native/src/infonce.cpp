// infoNCE: contrastive loss over scaled cosine scores and its gradients (CPU).
// Cost: 6·B·(B+N)·d flops in three GEMMs per strip of anchor rows (scores,
// dL/dÂ, dL/dĈ); symmetric adds 2·B²·d for a first pass of column log-sum-exps.
// Memory: O((B+N)·d + R·(B+N)); the B×(B+N) score matrix is never held whole.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "checks.h"
#include "gemm.h"
#include "guard.h"
#include "jobbert/kernels.h"
#include "thread_pool.h"

#if defined(__GNUC__)
#define JB_INLINE inline __attribute__((always_inline))
#else
#define JB_INLINE inline
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && defined(JOBBERT_HAVE_AVX512)
#define JB_INFONCE_X86 1
#endif

namespace jobbert {
namespace {

// Anchor rows per strip. 256 matches gemm's K block, so the dL/dĈ GEMM
// (k = strip rows) reads and writes its output once per strip; a strip of
// 256×(B+N) floats is 16 MB at B+N = 16,384.
constexpr int64_t kStripRows = 256;
// With very many candidates the strip shrinks to stay under this (down to 32 rows).
constexpr int64_t kStripMaxBytes = int64_t(64) << 20;
// Output rows per dL/dĈ GEMM call: bounds gemm's packing buffer (rows × 256 floats).
constexpr int64_t kGradChunkRows = 8192;

// ---------------------------------------------------------------- elementwise
// Written as fixed-width lane loops without branches so the compiler
// vectorises them; compiled once per instruction set below.
constexpr int kLanes = 16;

// e^x for x <= ~0 to about 2 ulp (Cephes expf); 0 below −87 (where the result
// would be denormal), so −Infinity gives 0. Selects are integer masks: GCC
// if-converts them where it refuses float conditionals.
JB_INLINE float expApprox(float x) {
  const float c = std::min(88.0f, std::max(-88.0f, x));
  // Round c·log2(e) to an integer with the 1.5·2^23 trick (no floor or cvt needed).
  const float shifter = 12582912.0f;
  const float t = c * 1.44269504088896341f + shifter;
  int32_t tBits;
  std::memcpy(&tBits, &t, 4);
  const float n = t - shifter;
  const int32_t ni = tBits - 0x4b400000;
  float z = c - n * 0.693359375f;
  z = z - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * z + 1.3981999507e-3f;
  p = p * z + 8.3334519073e-3f;
  p = p * z + 4.1665795894e-2f;
  p = p * z + 1.6666665459e-1f;
  p = p * z + 5.0000001201e-1f;
  const float y = p * z * z + z + 1.0f;
  const int32_t keep = -static_cast<int32_t>(x >= -87.0f);
  const int32_t powBits = ((ni + 127) << 23) & keep;
  float pow2;
  std::memcpy(&pow2, &powBits, 4);
  return y * pow2;
}

JB_INLINE float maxOfImpl(const float* s, int64_t n) {
  float lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = -INFINITY;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = lane[l] < s[j + l] ? s[j + l] : lane[l];
  float m = -INFINITY;
  for (int l = 0; l < kLanes; ++l) m = m < lane[l] ? lane[l] : m;
  for (; j < n; ++j) m = m < s[j] ? s[j] : m;
  return m;
}

// Σ exp(s[j] − shift), accumulated in double.
JB_INLINE double expSumImpl(const float* s, int64_t n, float shift) {
  double acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = 0.0;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += double(expApprox(s[j + l] - shift));
  double sum = 0.0;
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  for (; j < n; ++j) sum += double(expApprox(s[j] - shift));
  return sum;
}

// s[j] ← factor·exp(s[j] − shift) + colFactor[j]·exp(s[j] − colShift[j]) for
// j < nCol (the symmetric direction's positives), the first term alone after.
JB_INLINE void writeGradImpl(float* s, int64_t n, float shift, float factor, const float* colShift,
                             const float* colFactor, int64_t nCol) {
  int64_t j = 0;
  for (; j < nCol; ++j) {
    const float v = s[j];
    s[j] = factor * expApprox(v - shift) + colFactor[j] * expApprox(v - colShift[j]);
  }
  for (; j < n; ++j) s[j] = factor * expApprox(s[j] - shift);
}

JB_INLINE void columnMaxImpl(const float* s, int64_t n, float* mx) {
  for (int64_t j = 0; j < n; ++j) mx[j] = mx[j] < s[j] ? s[j] : mx[j];
}

JB_INLINE void columnExpSumImpl(const float* s, int64_t n, const float* shift, double* sum) {
  for (int64_t j = 0; j < n; ++j) sum[j] += double(expApprox(s[j] - shift[j]));
}

struct Elementwise {
  float (*maxOf)(const float*, int64_t);
  double (*expSum)(const float*, int64_t, float);
  void (*writeGrad)(float*, int64_t, float, float, const float*, const float*, int64_t);
  void (*columnMax)(const float*, int64_t, float*);
  void (*columnExpSum)(const float*, int64_t, const float*, double*);
};

#define JB_ELEMENTWISE(SUFFIX, ATTR)                                                                                  \
  ATTR float maxOf_##SUFFIX(const float* s, int64_t n) { return maxOfImpl(s, n); }                                    \
  ATTR double expSum_##SUFFIX(const float* s, int64_t n, float shift) { return expSumImpl(s, n, shift); }             \
  ATTR void writeGrad_##SUFFIX(float* s, int64_t n, float shift, float factor, const float* colShift,                 \
                               const float* colFactor, int64_t nCol) {                                                \
    writeGradImpl(s, n, shift, factor, colShift, colFactor, nCol);                                                    \
  }                                                                                                                   \
  ATTR void columnMax_##SUFFIX(const float* s, int64_t n, float* mx) { columnMaxImpl(s, n, mx); }                     \
  ATTR void columnExpSum_##SUFFIX(const float* s, int64_t n, const float* shift, double* sum) {                       \
    columnExpSumImpl(s, n, shift, sum);                                                                               \
  }                                                                                                                   \
  const Elementwise kElementwise_##SUFFIX = {maxOf_##SUFFIX, expSum_##SUFFIX, writeGrad_##SUFFIX, columnMax_##SUFFIX, \
                                             columnExpSum_##SUFFIX};

JB_ELEMENTWISE(portable, )
#ifdef JB_INFONCE_X86
JB_ELEMENTWISE(avx2, __attribute__((target("avx2,fma"))))
JB_ELEMENTWISE(avx512, __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512"))))
#endif

const Elementwise& elementwise() {
#ifdef JB_INFONCE_X86
  switch (activeIsa()) {
    case Isa::kAvx512: return kElementwise_avx512;
    case Isa::kAvx2: return kElementwise_avx2;
    default: break;
  }
#endif
  return kElementwise_portable;
}

// ---------------------------------------------------------------- the pass

template <typename T>
std::unique_ptr<T[]> uninitialised(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// What the anchors→candidates rows need from the positives→anchors direction
// (symmetric only): per positive j, exp(s_ij − shift_j)·factor_j is its
// column-softmax share of dL/ds_ij, and diagOthers_j its share on s_jj.
struct ColumnTerms {
  std::unique_ptr<float[]> shift, factor;
  std::unique_ptr<double[]> diagOthers;
};

struct Problem {
  const InfoNCEParams& p;
  int64_t B, N, M, d;  // M = B + N candidates
  const Elementwise& ew;
  float* anchorsHat;     // Â [B×d], held in p.gradAnchors until its strip's gradient lands
  float* candidatesHat;  // Ĉ [M×d]
  float* strip;          // [R×M] scores, then dL/dS in place
  int64_t stripRows;     // R
};

// strip[0..rows)×[0..n) = scale · Â[r0..r0+rows) · Ĉ[0..n)ᵀ.
void scoreStrip(const Problem& pr, int64_t r0, int64_t rows, int64_t n, int64_t ldc) {
  GemmParams g;
  g.m = rows, g.n = n, g.k = pr.d;
  g.a = pr.anchorsHat + r0 * pr.d, g.lda = pr.d;
  g.b = pr.candidatesHat, g.ldb = pr.d, g.transB = true;
  g.c = pr.strip, g.ldc = ldc;
  g.alpha = pr.p.scale;
  gemm(g);
}

// First pass of the symmetric loss: online (max, Σexp) per positive column
// over all anchors, the diagonal kept out of the sum so that 1 − p_jj is
// formed without cancellation. Returns Σ_j (lse_j − s_jj).
double columnPass(const Problem& pr, ColumnTerms& terms) {
  const int64_t B = pr.B;
  auto colMax = uninitialised<float>(B);
  auto diagS = uninitialised<float>(B);
  std::vector<double> colSum(static_cast<size_t>(B), 0.0);
  std::fill(colMax.get(), colMax.get() + B, -INFINITY);
  for (int64_t r0 = 0; r0 < B; r0 += pr.stripRows) {
    const int64_t rows = std::min(pr.stripRows, B - r0);
    scoreStrip(pr, r0, rows, B, B);
    parallelRanges(B, 512, [&](int64_t c0, int64_t c1) {
      const int64_t n = c1 - c0;
      std::vector<float> mx(colMax.get() + c0, colMax.get() + c1);
      for (int64_t i = 0; i < rows; ++i) pr.ew.columnMax(pr.strip + i * B + c0, n, mx.data());
      for (int64_t j = 0; j < n; ++j) {
        float& cm = colMax[c0 + j];
        if (mx[j] > cm) {
          colSum[c0 + j] *= std::exp(double(cm) - double(mx[j]));
          cm = mx[j];
        }
      }
      for (int64_t i = 0; i < rows; ++i) {
        float* row = pr.strip + i * B;
        const int64_t gi = r0 + i;
        if (gi >= c0 && gi < c1) {
          diagS[gi] = row[gi];
          row[gi] = -INFINITY;  // the strip is scratch here; exp gives 0
        }
        pr.ew.columnExpSum(row + c0, n, colMax.get() + c0, colSum.data() + c0);
      }
    });
  }
  terms.shift = std::move(colMax);
  terms.factor = uninitialised<float>(B);
  terms.diagOthers = uninitialised<double>(B);
  const double half = 0.5 / double(B);
  double lossSum = 0.0;
  for (int64_t j = 0; j < B; ++j) {
    const double shift = terms.shift[j];
    const double total = colSum[j] + std::exp(double(diagS[j]) - shift);
    lossSum += shift + std::log(total) - double(diagS[j]);
    terms.factor[j] = static_cast<float>(half / total);
    terms.diagOthers[j] = half * (colSum[j] / total);
  }
  return lossSum;
}

// Row i of the strip (anchor gi against every candidate) becomes dL/ds_i·
// in place; returns the row's loss term lse_i − s_ii.
double rowGradient(const Problem& pr, float* s, int64_t gi, double rowWeight, const ColumnTerms* col) {
  const float sii = s[gi];
  const float m = pr.ew.maxOf(s, pr.M);
  s[gi] = -INFINITY;  // sum the others alone: 1 − p_ii without cancellation
  const double others = pr.ew.expSum(s, pr.M, m);
  const double total = others + std::exp(double(sii) - double(m));
  s[gi] = sii;
  pr.ew.writeGrad(s, pr.M, m, static_cast<float>(rowWeight / total), col ? col->shift.get() : nullptr,
                  col ? col->factor.get() : nullptr, col ? pr.B : 0);
  s[gi] = static_cast<float>(-rowWeight * (others / total) - (col ? col->diagOthers[gi] : 0.0));
  return double(m) + std::log(total) - double(sii);
}

// dL/dx = (g − (g·x̂)x̂)/‖x‖ for each row, g = dL/dx̂ held in grad, in place.
void throughNormalisation(float* grad, const float* hat, const float* raw, const float* invNorm, int64_t rows,
                          int64_t d) {
  parallelRanges(rows, std::max<int64_t>(1, 16384 / d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* g = grad + r * d;
      const float inv = invNorm[r];
      double dot = 0.0;
      if (hat) {
        const float* h = hat + r * d;
        for (int64_t c = 0; c < d; ++c) dot += double(g[c]) * double(h[c]);
        const float fd = static_cast<float>(dot);
        for (int64_t c = 0; c < d; ++c) g[c] = inv * (g[c] - fd * h[c]);
      } else {  // x̂ = raw·inv, recomputed where Â no longer exists
        const float* x = raw + r * d;
        for (int64_t c = 0; c < d; ++c) dot += double(g[c]) * double(x[c]);
        const float fd = static_cast<float>(dot * inv);
        for (int64_t c = 0; c < d; ++c) g[c] = inv * (g[c] - fd * (x[c] * inv));
      }
    }
  });
}

Status checkArguments(const InfoNCEParams& p) {
  if (Status s = checkShape(p.anchors, "anchors"); !s.ok()) return s;
  if (Status s = checkShape(p.positives, "positives"); !s.ok()) return s;
  if (p.positives.rows != p.anchors.rows || p.positives.cols != p.anchors.cols)
    return Status::Range("positives must have the shape of anchors (" + std::to_string(p.anchors.rows) + "×" +
                         std::to_string(p.anchors.cols) + "); received " + std::to_string(p.positives.rows) + "×" +
                         std::to_string(p.positives.cols));
  if (p.negatives.rows < 0)
    return Status::Range("negatives must have 0 or more rows; received " + std::to_string(p.negatives.rows));
  if (p.negatives.rows > 0) {
    if (Status s = checkShape(p.negatives, "negatives"); !s.ok()) return s;
    if (p.negatives.cols != p.anchors.cols)
      return Status::Range("negatives must have as many columns as anchors (" + std::to_string(p.anchors.cols) +
                           "); received " + std::to_string(p.negatives.cols));
  }
  if (!(std::isfinite(p.scale) && p.scale > 0.0f))
    return Status::Range("scale must be a finite number greater than 0; received " + std::to_string(p.scale));
  if (!p.loss) return Status::Type("loss must be an output pointer");
  if (!p.gradAnchors) return Status::Type("gradAnchors must be an output buffer");
  if (!p.gradPositives) return Status::Type("gradPositives must be an output buffer");
  if (p.negatives.rows > 0 && !p.gradNegatives)
    return Status::Type("gradNegatives must be an output buffer when negatives are given");
  return Status::Ok();
}

// dst row r = src row r · inv[r].
void normaliseRows(const float* src, const float* inv, int64_t rows, int64_t d, float* dst) {
  parallelRanges(rows, std::max<int64_t>(1, 16384 / d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float s = inv[r];
      for (int64_t c = 0; c < d; ++c) dst[r * d + c] = src[r * d + c] * s;
    }
  });
}

Status run(const InfoNCEParams& p) {
  const int64_t B = p.anchors.rows, d = p.anchors.cols, N = p.negatives.rows, M = B + N;
  auto invAnchor = uninitialised<float>(B);
  auto invCandidate = uninitialised<float>(M);
  if (Status s = inverseRowNorms(p.anchors, "anchors", invAnchor.get()); !s.ok()) return s;
  if (Status s = inverseRowNorms(p.positives, "positives", invCandidate.get()); !s.ok()) return s;
  if (N > 0) {
    if (Status s = inverseRowNorms(p.negatives, "negatives", invCandidate.get() + B); !s.ok()) return s;
  }

  const int64_t stripRows =
      std::min(B, std::max<int64_t>(32, std::min(kStripRows, kStripMaxBytes / (M * int64_t(sizeof(float))))));
  auto candidatesHat = uninitialised<float>(M * d);
  auto strip = uninitialised<float>(stripRows * M);
  Problem pr{p, B, N, M, d, elementwise(), p.gradAnchors, candidatesHat.get(), strip.get(), stripRows};
  normaliseRows(p.anchors.data, invAnchor.get(), B, d, pr.anchorsHat);
  normaliseRows(p.positives.data, invCandidate.get(), B, d, pr.candidatesHat);
  if (N > 0) normaliseRows(p.negatives.data, invCandidate.get() + B, N, d, pr.candidatesHat + B * d);

  ColumnTerms col;
  double columnLoss = 0.0;
  if (p.symmetric) columnLoss = columnPass(pr, col);
  const double rowWeight = (p.symmetric ? 0.5 : 1.0) / double(B);

  double rowLoss = 0.0;
  std::vector<double> stripLoss(static_cast<size_t>(stripRows));
  for (int64_t r0 = 0; r0 < B; r0 += stripRows) {
    const int64_t rows = std::min(stripRows, B - r0);
    scoreStrip(pr, r0, rows, M, M);
    parallelRanges(rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        stripLoss[i] = rowGradient(pr, pr.strip + i * M, r0 + i, rowWeight, p.symmetric ? &col : nullptr);
    });
    for (int64_t i = 0; i < rows; ++i) rowLoss += stripLoss[i];

    // dL/dĈ += scale·Gᵀ·Â_strip, straight into the caller's positive/negative gradients.
    for (int64_t c0 = 0; c0 < M; c0 += kGradChunkRows) {
      const int64_t c1 = std::min(M, c0 + kGradChunkRows);
      // Split at B: positives and negatives have separate output buffers.
      for (int64_t part = 0; part < 2; ++part) {
        const int64_t lo = part == 0 ? c0 : std::max(c0, B), hi = part == 0 ? std::min(c1, B) : c1;
        if (lo >= hi) continue;
        GemmParams g;
        g.m = hi - lo, g.n = d, g.k = rows;
        g.a = pr.strip + lo, g.lda = M, g.transA = true;
        g.b = pr.anchorsHat + r0 * d, g.ldb = d;
        g.c = lo < B ? p.gradPositives + lo * d : p.gradNegatives + (lo - B) * d, g.ldc = d;
        g.alpha = p.scale;
        g.beta = r0 == 0 ? 0.0f : 1.0f;
        gemm(g);
      }
    }
    // dL/dÂ_strip = scale·G·Ĉ, over Â_strip, which no later strip reads.
    GemmParams g;
    g.m = rows, g.n = d, g.k = M;
    g.a = pr.strip, g.lda = M;
    g.b = pr.candidatesHat, g.ldb = d;
    g.c = p.gradAnchors + r0 * d, g.ldc = d;
    g.alpha = p.scale;
    gemm(g);
  }

  throughNormalisation(p.gradAnchors, nullptr, p.anchors.data, invAnchor.get(), B, d);
  throughNormalisation(p.gradPositives, pr.candidatesHat, nullptr, invCandidate.get(), B, d);
  if (N > 0) throughNormalisation(p.gradNegatives, pr.candidatesHat + B * d, nullptr, invCandidate.get() + B, N, d);

  const double loss = rowLoss / double(B);
  *p.loss = p.symmetric ? 0.5 * (loss + columnLoss / double(B)) : loss;
  return Status::Ok();
}

}  // namespace

Status infoNCE(const InfoNCEParams& p) {
  // Even the argument messages allocate: nothing may escape to the caller.
  return guarded("infoNCE", [&]() -> Status {
    if (Status s = checkArguments(p); !s.ok()) return s;
    return run(p);
  });
}

}  // namespace jobbert
