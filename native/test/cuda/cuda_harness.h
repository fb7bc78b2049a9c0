// Shared by the test_cuda programs (test_cuda.cpp's main and the check files
// beside this header, one per kernel family): check groups, float64 tolerances,
// test data, calls of jobbert/cuda.h with poisoned (NaN-filled) outputs, and
// the registry through which each check file hands its groups to main().
// Only cuda.h's API is used, so the same files build against the real CUDA
// backend (test_cuda) and the CPU emulator (test_cuda_emu, JOBBERT_CUDA_EMU).
#pragma once

#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <thread>

#include "harness.h"
#include "jobbert/cuda.h"

namespace jobbert::cudatest {

using namespace jobbert::harness;
namespace cu = jobbert::cuda;
using cu::Precision;

#ifdef JOBBERT_CUDA_EMU
constexpr bool kEmu = true;  // the CPU emulator: ~1e7–1e8 simple operations a second
#else
constexpr bool kEmu = false;
#endif

constexpr Precision kPrecisions[] = {Precision::kFp32, Precision::kTf32, Precision::kBf16};
constexpr double kTanhAbs = 1e-6;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

inline bool gQuick = false;                          // --quick or JOBBERT_QUICK=1 (set by main)
inline bool onGpu() { return !kEmu; }                // shapes a GPU runs in no time
inline bool bigCases() { return !kEmu && !gQuick; }  // shapes whose float64 references take seconds

inline const char* pname(Precision p) { return cu::precisionName(p); }
inline const char* metricName(Metric m) { return m == Metric::kCosine ? "cosine" : "dot"; }

inline const char* codeName(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return "kOk";
    case StatusCode::kTypeError: return "kTypeError";
    case StatusCode::kRangeError: return "kRangeError";
    case StatusCode::kOutOfMemory: return "kOutOfMemory";
    case StatusCode::kUnavailable: return "kUnavailable";
    case StatusCode::kInternal: return "kInternal";
    case StatusCode::kIoError: return "kIoError";
    case StatusCode::kCorrupt: return "kCorrupt";
  }
  return "?";
}
inline std::string describe(const Status& s) {
  return std::string(codeName(s.code)) + (s.message.empty() ? "" : " '" + s.message + "'");
}

inline std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

inline double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// ---------------------------------------------------------------- check groups

// One line per group: checks run, the worst error as a fraction of its
// tolerance, ok or FAILED. The first failures print in full, the rest count.
// The worst error is printed so the margins are visible: a kernel that sits
// near 1 deserves a look even when it passes.
class Group {
 public:
  explicit Group(std::string name) : name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  void fail(const std::string& what) {
    ++failures_;
    ++failureCount();
    if (failures_ <= 6) std::printf("  FAIL [%s] %s\n", name_.c_str(), what.c_str());
    else if (failures_ == 7)
      std::printf("  FAIL [%s] ... (further failures of this group counted, not printed)\n", name_.c_str());
  }
  bool expect(bool ok, const std::string& what) {
    ++checks_;
    if (!ok) fail(what);
    return ok;
  }
  bool ok(const Status& s, const std::string& what) { return expect(s.ok(), what + ": " + describe(s)); }
  // An error measured as a fraction of its tolerance: fails above 1.
  void within(double ratio, const std::function<std::string()>& what) {
    ++checks_;
    if (std::isnan(ratio)) ratio = INFINITY;
    worst_ = std::max(worst_, ratio);
    if (!(ratio <= 1.0)) fail(what() + fmt(" [%.3g× the tolerance]", ratio));
  }
  void done() const {
    const std::string worst = worst_ < 0 ? "" : fmt("worst err/tol %.3g", worst_);
    std::printf("%-34s %5d checks  %-22s %6.1fs  %s\n", name_.c_str(), checks_, worst.c_str(), secondsSince(start_),
                failures_ ? fmt("FAILED (%d)", failures_).c_str() : "ok");
    std::fflush(stdout);
  }

 private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  int checks_ = 0, failures_ = 0;
  double worst_ = -1;
};

inline void expectCode(Group& g, const std::string& what, const Status& s, StatusCode code,
                       const char* name = nullptr) {
  const bool ok = s.code == code && (!name || s.message.find(name) != std::string::npos);
  g.expect(ok, what + ": expected " + codeName(code) + (name ? std::string(" naming '") + name + "'" : "") + ", got " +
                   describe(s));
}

// ---------------------------------------------------------------- host threads for the references

inline void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1) {
  if (n <= 0) return;
  static const int threads = [] {
    const char* env = std::getenv("JOBBERT_TEST_THREADS");
    const int t = env ? std::atoi(env) : int(std::thread::hardware_concurrency());
    return std::max(1, std::min(t, 64));
  }();
  const int64_t chunk = std::max<int64_t>(grain, n / (int64_t(threads) * 8));
  const int workers = int(std::min<int64_t>(threads, (n + chunk - 1) / chunk));
  if (workers <= 1) {
    fn(0, n);
    return;
  }
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (;;) {
      const int64_t b = next.fetch_add(chunk);
      if (b >= n) return;
      fn(b, std::min(n, b + chunk));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

// ---------------------------------------------------------------- tolerances
//
// Tolerances. Each output is a sum of K products t_p (dense: x·w; topK and
// infoNCE: the products of normalised coordinates). With y = Σ t_p, its
// float64 value, |t|₂ = sqrt(Σ t_p²) and |t|₁ = Σ |t_p|, an output at
// precision P may differ from float64 by
//   op(P)  = min(2u·(|y| + 3·|t|₂), 2u'·|t|₁)       operands rounded to P
//   acc    = 8·2⁻²⁴·sqrt(K)·(|t|₂ + |y|) + 8·2⁻²⁴·|y|  fp32 accumulation and epilogue
// u is the operand unit (tf32: 2⁻¹⁰, which covers truncation; bf16: 2⁻⁸,
// round to nearest; fp32: no operand term), u' the worst case (tf32 2⁻¹⁰, bf16
// 2⁻⁷). The operand errors are independent per product: their sum has a
// systematic part ≤ u·|y| (truncation shrinks every operand) and a random part
// with standard deviation ≤ 0.41·u·|t|₂, so 2u·(|y| + 3|t|₂) is a 14σ bound,
// and 2u'·|t|₁ is the rigorous one when it is smaller (K = 1). The fp32
// accumulation error of a K-term sum has standard deviation ≈ 2⁻²⁴·sqrt(K/2)·|t|₂
// (more with correlated terms, hence the |y| term): acc is an 11σ bound. tanh
// adds 1e-6 absolute (the CPU kernel's fast tanh is within 4e-7).
//
// That is loose for tf32/bf16 on random data (a bug that drops one term of a
// long sum hides under it), so every kernel also runs on "exact" data: values
// ±2^e with few set bits (rows of norm exactly 1 where a kernel normalises) whose
// products and fp32 sums are exact and which tf32 and bf16 represent exactly.
// There every precision must match float64 to fp32 rounding: the tolerance is
// acc alone, except where a kernel rounds an intermediate it computed (infoNCE's
// dL/ds in the backward pass: 2u' of the gradient's scale). topK under dot on
// exact data must return exactly the float64 ranking, ties to the lower index.

// Operand unit: the statistical one (tf32 as if truncated, bf16 rounded to
// nearest) and the worst case (both truncated).
inline double unitOf(Precision p) {
  switch (p) {
    case Precision::kFp32: return 0.0;
    case Precision::kTf32: return 0x1p-10;
    case Precision::kBf16: return 0x1p-8;
  }
  return 0.0;
}
inline double worstUnitOf(Precision p) {
  switch (p) {
    case Precision::kFp32: return 0.0;
    case Precision::kTf32: return 0x1p-10;
    case Precision::kBf16: return 0x1p-7;
  }
  return 0.0;
}

// Bound on |computed − y| for y = Σ of K products with |t|₂ = l2, |t|₁ = abs1 (see the top).
inline double dotTol(double y, double l2, double abs1, int64_t K, Precision p) {
  const double ay = std::fabs(y);
  const double op = p == Precision::kFp32 ? 0.0 : std::min(2 * unitOf(p) * (ay + 3 * l2), 2 * worstUnitOf(p) * abs1);
  const double acc = 8 * 0x1p-24 * std::sqrt(double(std::max<int64_t>(K, 1))) * (l2 + ay) + 8 * 0x1p-24 * ay;
  return op + acc;
}

// Float64 values with their tolerance, element by element.
struct Expect {
  std::vector<double> val, tol;
};

inline void compare(Group& g, const std::string& what, const float* got, const Expect& e) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < e.val.size(); ++i) {
    double r = std::fabs(double(got[i]) - e.val[i]) / std::max(e.tol[i], 1e-300);
    if (std::isnan(r)) r = INFINITY;
    if (r > worst) worst = r, at = i;
  }
  g.within(worst, [&] {
    return fmt("%s: element %zu is %.9g, float64 %.9g, tolerance %.3g", what.c_str(), at, double(got[at]), e.val[at],
               e.tol[at]);
  });
}

// ---------------------------------------------------------------- data

// Positives near their anchors (half the rows) so the softmax is not flat.
inline std::vector<float> randomPositives(std::mt19937_64& rng, const std::vector<float>& a, int64_t rows, int64_t d) {
  std::vector<float> p = randomLengthRows(rng, rows, d);
  std::uniform_real_distribution<double> logLen(std::log(0.1), std::log(10.0));
  for (int64_t r = 0; r < rows; r += 2) {
    double na = 0, nn = 0;
    for (int64_t c = 0; c < d; ++c) {
      na += double(a[r * d + c]) * a[r * d + c];
      nn += double(p[r * d + c]) * p[r * d + c];
    }
    const double mix = 0.8 * std::sqrt(na / nn), len = std::exp(logLen(rng));
    for (int64_t c = 0; c < d; ++c) p[r * d + c] = static_cast<float>((a[r * d + c] + mix * p[r * d + c]) * len);
  }
  return p;
}

// Exact values: products and their fp32 sums are exact, tf32/bf16 hold them.
inline std::vector<float> exactValues(std::mt19937_64& rng, int64_t n, bool small = false) {
  static const float big[] = {0.0f, 0.25f, -0.25f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, -2.0f};
  static const float little[] = {0.0f, 0.125f, -0.125f, 0.25f, -0.25f, 0.5f, -0.5f};
  std::uniform_int_distribution<int> pick(0, small ? 6 : 8);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = small ? little[pick(rng)] : big[pick(rng)];
  return v;
}

// Exact rows of norm exactly 1: 4^m entries ±2^-m (4^m <= min(d, 64)) at random
// columns, so any normalisation is exact too. `lengths`: times 2^e, e in [-2, 2]
// (for dot products, where no kernel normalises).
inline std::vector<float> exactRows(std::mt19937_64& rng, int64_t rows, int64_t d, bool lengths = false) {
  int maxM = 0;
  while (int64_t(1) << (2 * (maxM + 1)) <= std::min<int64_t>(d, 64)) ++maxM;
  std::uniform_int_distribution<int> pickM(0, maxM), pickE(-2, 2), coin(0, 1);
  std::vector<float> v(static_cast<size_t>(rows * d), 0.0f);
  std::vector<int64_t> cols(static_cast<size_t>(d));
  for (int64_t r = 0; r < rows; ++r) {
    const int m = pickM(rng);
    const int64_t nnz = int64_t(1) << (2 * m);
    const float mag = std::ldexp(1.0f, -m + (lengths ? pickE(rng) : 0));
    std::iota(cols.begin(), cols.end(), 0);
    for (int64_t i = 0; i < nnz; ++i) {
      std::uniform_int_distribution<int64_t> pick(i, d - 1);
      std::swap(cols[i], cols[pick(rng)]);
      v[r * d + cols[i]] = coin(rng) ? mag : -mag;
    }
  }
  return v;
}

// Exact positives: half the rows copy the anchor with one sign flipped.
inline std::vector<float> exactPositives(std::mt19937_64& rng, const std::vector<float>& a, int64_t rows, int64_t d) {
  std::vector<float> p = exactRows(rng, rows, d);
  for (int64_t r = 0; r < rows; r += 2) {
    std::copy(a.begin() + r * d, a.begin() + (r + 1) * d, p.begin() + r * d);
    std::vector<int64_t> nz;
    for (int64_t c = 0; c < d; ++c)
      if (p[r * d + c] != 0.0f) nz.push_back(c);
    if (nz.size() > 1) {
      std::uniform_int_distribution<size_t> pick(0, nz.size() - 1);
      const int64_t c = nz[pick(rng)];
      p[r * d + c] = -p[r * d + c];
    }
  }
  return p;
}

inline std::vector<double> toDouble(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

inline std::vector<double> transpose(const std::vector<double>& a, int64_t rows, int64_t cols) {
  std::vector<double> t(a.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

template <class T>
inline bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ---------------------------------------------------------------- kernel calls

inline cu::Operand H(const std::vector<float>& v, int64_t rows, int64_t cols) {
  cu::Operand o;
  o.host = {v.empty() ? nullptr : v.data(), rows, cols};
  return o;
}
inline cu::Operand D(const std::shared_ptr<cu::DeviceMatrix>& m) {
  cu::Operand o;
  o.device = m;
  return o;
}

inline std::shared_ptr<cu::DeviceMatrix> upload(Group& g, const std::vector<float>& v, int64_t rows, int64_t cols,
                                                const char* name) {
  std::shared_ptr<cu::DeviceMatrix> m;
  Status s = cu::DeviceMatrix::upload({v.data(), rows, cols}, name, &m);
  g.ok(s, fmt("upload %s %lld×%lld", name, (long long)rows, (long long)cols));
  return s.ok() ? m : nullptr;
}

inline Status runDense(const cu::Operand& x, const cu::Operand& w, const float* bias, bool tanhAct, Precision p,
                       std::vector<float>& y) {
  y.assign(static_cast<size_t>(std::max<int64_t>(x.rows() * w.rows(), 1)), kNaN);
  cu::DenseParams dp;
  dp.x = x, dp.weight = w, dp.bias = bias;
  dp.activation = tanhAct ? Activation::kTanh : Activation::kIdentity;
  dp.precision = p;
  dp.y = y.data();
  return cu::denseForward(dp);
}

struct DenseGrads {
  std::vector<float> gx, gw, gb;
};

inline Status runDenseBackward(const cu::Operand& x, const cu::Operand& w, const cu::Operand& y, const cu::Operand& gy,
                               bool tanhAct, Precision p, DenseGrads& g) {
  g.gx.assign(static_cast<size_t>(std::max<int64_t>(x.rows() * x.cols(), 1)), kNaN);
  g.gw.assign(static_cast<size_t>(std::max<int64_t>(w.rows() * w.cols(), 1)), kNaN);
  g.gb.assign(static_cast<size_t>(std::max<int64_t>(w.rows(), 1)), kNaN);
  cu::DenseBackwardParams bp;
  bp.x = x, bp.weight = w, bp.y = y, bp.gradY = gy;
  bp.activation = tanhAct ? Activation::kTanh : Activation::kIdentity;
  bp.precision = p;
  bp.gradX = g.gx.data(), bp.gradWeight = g.gw.data(), bp.gradBias = g.gb.data();
  return cu::denseBackward(bp);
}

struct NceOut {
  double loss = 0;
  std::vector<float> ga, gp, gn;
};

inline Status runNce(const cu::Operand& a, const cu::Operand& p, const cu::Operand& n, float scale, bool sym,
                     Precision prec, NceOut& out) {
  const int64_t B = a.rows(), d = a.cols(), N = n.rows();
  out.loss = std::nan("");
  out.ga.assign(static_cast<size_t>(std::max<int64_t>(B * d, 1)), kNaN);
  out.gp.assign(static_cast<size_t>(std::max<int64_t>(B * d, 1)), kNaN);
  out.gn.assign(static_cast<size_t>(std::max<int64_t>(N * d, 1)), kNaN);
  cu::InfoNCEParams ip;
  ip.anchors = a, ip.positives = p, ip.negatives = n;
  ip.scale = scale, ip.symmetric = sym, ip.precision = prec;
  ip.loss = &out.loss;
  ip.gradAnchors = out.ga.data(), ip.gradPositives = out.gp.data();
  ip.gradNegatives = N > 0 ? out.gn.data() : nullptr;
  return cu::infoNCE(ip);
}

struct TopKOut {
  std::vector<int32_t> idx;
  std::vector<float> sc;
};

inline Status runTopK(const cu::Operand& q, const cu::Operand& c, int64_t k, Metric metric, Precision p, TopKOut& out) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(q.rows() * k, 1));
  out.idx.assign(n, -7);
  out.sc.assign(n, kNaN);
  cu::TopKParams tp;
  tp.queries = q, tp.corpus = c, tp.k = k, tp.metric = metric, tp.precision = p;
  tp.indices = out.idx.data(), tp.scores = out.sc.data();
  return cu::topK(tp);
}

// ---------------------------------------------------------------- registry

// Each check file registers its check functions with JOBBERT_CUDA_CHECK(order,
// fn); main() runs them by ascending order, all drawing on one random stream,
// so the order (and with it every group's data) does not depend on the order
// in which the files are linked.
using CheckFn = void (*)(std::mt19937_64& rng);
struct CheckEntry {
  int order;
  const char* name;
  CheckFn fn;
};
inline std::vector<CheckEntry>& checkRegistry() {
  static std::vector<CheckEntry> entries;
  return entries;
}
struct RegisterCheck {
  RegisterCheck(int order, const char* name, CheckFn fn) { checkRegistry().push_back({order, name, fn}); }
};
#define JOBBERT_CUDA_CHECK(order, fn) static const ::jobbert::cudatest::RegisterCheck fn##Registration(order, #fn, fn)

// --time (timing.cpp): the timings table, optionally as JSON rows; returns the exit status.
int timings(const std::string& jsonPath);

}  // namespace jobbert::cudatest
