// test_cuda: the CUDA kernels of jobbert/cuda.h (denseForward, denseBackward,
// infoNCE, topK, DeviceMatrix) against float64 references at every precision,
// resident operands against host ones, bad calls, out of memory, concurrent
// calls; with --time, their speed on a real GPU beside the hardware's floor.
//
// Built twice (CMakeLists.txt): test_cuda links jobbert_native (the real CUDA
// kernels when nvcc was found; they then need a GPU) and test_cuda_emu links
// jobbert_cuda_emu (the same kernel sources compiled as C++ against the CPU
// emulator, one emulated device, slow: its shapes are smaller). Only cuda.h's
// API is used; without a usable backend the program prints
// "test_cuda: skipped: <reason>" and exits 0 (1 when JOBBERT_REQUIRE_CUDA=1).
//
//   test_cuda [--quick]             the checks (--quick or JOBBERT_QUICK=1: small shapes only)
//   test_cuda --time [--json PATH]  timings only (real GPU only), optionally as JSON rows
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
//
// infoNCE: with δs the largest score tolerance (scale × the bound above over
// all pairs), the loss may differ by 2δs (each row's loss moves by at most
// Σ_j p_ij δs + δs) plus fp32 rounding 2e-7·(8 + sqrt(B) + sqrt(B+N))·(|L| +
// 0.1·scale + 1); each gradient row, relative to the size of the terms it sums
// (scale·Σ_j|dL/ds_ij|/‖x_i‖, test_infonce's yardstick, here per row; at least
// 1% of scale/(B·‖x_i‖), the size for a row whose dL/ds has mass 1/B, since
// p_ii − 1 formed directly in fp32 is only right to 2⁻²⁴ absolute), by 4δs
// (softmax sensitivity: |δp_ij| ≤ 2δs·p_ij) + 4u' (2u' on exact data, where
// only dL/ds is rounded) + 2e-6·(8 + sqrt(B+N)).
// On random data at tf32/bf16 these rigorous bounds are loose (a smoke test);
// the exact data is where infoNCE's reduced precisions are held tight.
//
// Each group prints its worst error as a fraction of the tolerance, so the
// margins are visible: a kernel that sits near 1 deserves a look even when it passes.
#include <dlfcn.h>
#include <sys/mman.h>

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

using namespace jobbert;
using namespace jobbert::harness;
namespace cu = jobbert::cuda;
using cu::Precision;

namespace {

#ifdef JOBBERT_CUDA_EMU
constexpr bool kEmu = true;  // the CPU emulator: ~1e7–1e8 simple operations a second
#else
constexpr bool kEmu = false;
#endif

constexpr Precision kPrecisions[] = {Precision::kFp32, Precision::kTf32, Precision::kBf16};
constexpr double kTanhAbs = 1e-6;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

bool gQuick = false;
bool onGpu() { return !kEmu; }              // shapes a GPU runs in no time
bool bigCases() { return !kEmu && !gQuick; }  // shapes whose float64 references take seconds

const char* pname(Precision p) { return cu::precisionName(p); }
const char* metricName(Metric m) { return m == Metric::kCosine ? "cosine" : "dot"; }

const char* codeName(StatusCode c) {
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
std::string describe(const Status& s) {
  return std::string(codeName(s.code)) + (s.message.empty() ? "" : " '" + s.message + "'");
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// ---------------------------------------------------------------- check groups

// One line per group: checks run, the worst error as a fraction of its
// tolerance, ok or FAILED. The first failures print in full, the rest count.
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
    std::printf("%-34s %5d checks  %-22s %6.1fs  %s\n", name_.c_str(), checks_, worst.c_str(),
                secondsSince(start_), failures_ ? fmt("FAILED (%d)", failures_).c_str() : "ok");
    std::fflush(stdout);
  }

 private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  int checks_ = 0, failures_ = 0;
  double worst_ = -1;
};

void expectCode(Group& g, const std::string& what, const Status& s, StatusCode code, const char* name = nullptr) {
  const bool ok = s.code == code && (!name || s.message.find(name) != std::string::npos);
  g.expect(ok, what + ": expected " + codeName(code) + (name ? std::string(" naming '") + name + "'" : "") +
                   ", got " + describe(s));
}

// ---------------------------------------------------------------- host threads for the references

void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1) {
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

// Operand unit: the statistical one (tf32 as if truncated, bf16 rounded to
// nearest) and the worst case (both truncated).
double unitOf(Precision p) {
  switch (p) {
    case Precision::kFp32: return 0.0;
    case Precision::kTf32: return 0x1p-10;
    case Precision::kBf16: return 0x1p-8;
  }
  return 0.0;
}
double worstUnitOf(Precision p) {
  switch (p) {
    case Precision::kFp32: return 0.0;
    case Precision::kTf32: return 0x1p-10;
    case Precision::kBf16: return 0x1p-7;
  }
  return 0.0;
}

// Bound on |computed − y| for y = Σ of K products with |t|₂ = l2, |t|₁ = abs1 (see the top).
double dotTol(double y, double l2, double abs1, int64_t K, Precision p) {
  const double ay = std::fabs(y);
  const double op = p == Precision::kFp32 ? 0.0 : std::min(2 * unitOf(p) * (ay + 3 * l2), 2 * worstUnitOf(p) * abs1);
  const double acc = 8 * 0x1p-24 * std::sqrt(double(std::max<int64_t>(K, 1))) * (l2 + ay) + 8 * 0x1p-24 * ay;
  return op + acc;
}

// Float64 values with their tolerance, element by element.
struct Expect {
  std::vector<double> val, tol;
};

void compare(Group& g, const std::string& what, const float* got, const Expect& e) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < e.val.size(); ++i) {
    double r = std::fabs(double(got[i]) - e.val[i]) / std::max(e.tol[i], 1e-300);
    if (std::isnan(r)) r = INFINITY;
    if (r > worst) worst = r, at = i;
  }
  g.within(worst, [&] {
    return fmt("%s: element %zu is %.9g, float64 %.9g, tolerance %.3g", what.c_str(), at, double(got[at]),
               e.val[at], e.tol[at]);
  });
}

// ---------------------------------------------------------------- data

// Positives near their anchors (half the rows) so the softmax is not flat.
std::vector<float> randomPositives(std::mt19937_64& rng, const std::vector<float>& a, int64_t rows, int64_t d) {
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
std::vector<float> exactValues(std::mt19937_64& rng, int64_t n, bool small = false) {
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
std::vector<float> exactRows(std::mt19937_64& rng, int64_t rows, int64_t d, bool lengths = false) {
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
std::vector<float> exactPositives(std::mt19937_64& rng, const std::vector<float>& a, int64_t rows, int64_t d) {
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

std::vector<double> toDouble(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

std::vector<double> transpose(const std::vector<double>& a, int64_t rows, int64_t cols) {
  std::vector<double> t(a.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

template <class T>
bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ---------------------------------------------------------------- kernel calls

cu::Operand H(const std::vector<float>& v, int64_t rows, int64_t cols) {
  cu::Operand o;
  o.host = {v.empty() ? nullptr : v.data(), rows, cols};
  return o;
}
cu::Operand D(const std::shared_ptr<cu::DeviceMatrix>& m) {
  cu::Operand o;
  o.device = m;
  return o;
}

std::shared_ptr<cu::DeviceMatrix> upload(Group& g, const std::vector<float>& v, int64_t rows, int64_t cols,
                                         const char* name) {
  std::shared_ptr<cu::DeviceMatrix> m;
  Status s = cu::DeviceMatrix::upload({v.data(), rows, cols}, name, &m);
  g.ok(s, fmt("upload %s %lld×%lld", name, (long long)rows, (long long)cols));
  return s.ok() ? m : nullptr;
}

Status runDense(const cu::Operand& x, const cu::Operand& w, const float* bias, bool tanhAct, Precision p,
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

Status runDenseBackward(const cu::Operand& x, const cu::Operand& w, const cu::Operand& y, const cu::Operand& gy,
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

Status runNce(const cu::Operand& a, const cu::Operand& p, const cu::Operand& n, float scale, bool sym, Precision prec,
              NceOut& out) {
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

Status runTopK(const cu::Operand& q, const cu::Operand& c, int64_t k, Metric metric, Precision p, TopKOut& out) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(q.rows() * k, 1));
  out.idx.assign(n, -7);
  out.sc.assign(n, kNaN);
  cu::TopKParams tp;
  tp.queries = q, tp.corpus = c, tp.k = k, tp.metric = metric, tp.precision = p;
  tp.indices = out.idx.data(), tp.scores = out.sc.data();
  return cu::topK(tp);
}

// ---------------------------------------------------------------- float64 references

// out[i, j] = Σ_p A[i, p]·B[j, p] with |t|₂ and |t|₁ of its terms.
struct Dots {
  std::vector<double> val, l2, abs1;
};

Dots dotsABt(const std::vector<double>& A, const std::vector<double>& B, int64_t m, int64_t n, int64_t K) {
  Dots d;
  d.val.resize(m * n), d.l2.resize(m * n), d.abs1.resize(m * n);
  parallelFor(m * n, [&](int64_t b, int64_t e) {
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
  }, 16);
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
  t.loss = 2 * ds + 2e-7 * (8 + std::sqrt(double(r.B)) + std::sqrt(double(r.M))) *
                        (std::fabs(r.loss) + 0.1 * r.scale + 1);
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

// Every (query, corpus row) score in float64 with |t|₂ and |t|₁ of its terms
// (normalised like the score).
struct TopKRef {
  int64_t q = 0, n = 0, d = 0;
  std::vector<double> val;
  std::vector<float> l2, abs1;
};

TopKRef topKReference(const std::vector<float>& qs, const std::vector<float>& cs, int64_t q, int64_t n, int64_t d,
                      Metric metric) {
  TopKRef r;
  r.q = q, r.n = n, r.d = d;
  r.val.resize(q * n), r.l2.resize(q * n), r.abs1.resize(q * n);
  std::vector<double> qn(q, 1.0), cn(n, 1.0);
  if (metric == Metric::kCosine) {
    auto norms = [&](const std::vector<float>& x, int64_t rows, std::vector<double>& out) {
      parallelFor(rows, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          double s = 0;
          for (int64_t c = 0; c < d; ++c) s += double(x[i * d + c]) * x[i * d + c];
          out[i] = std::sqrt(s);
        }
      });
    };
    norms(qs, q, qn);
    norms(cs, n, cn);
  }
  parallelFor(q * n, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t i = o / n, j = o % n;
      const float* x = &qs[i * d];
      const float* y = &cs[j * d];
      double s = 0, sq = 0, ab = 0;
      for (int64_t c = 0; c < d; ++c) {
        const double t = double(x[c]) * y[c];
        s += t, sq += t * t, ab += std::fabs(t);
      }
      const double norm = qn[i] * cn[j];
      r.val[o] = s / norm;
      r.l2[o] = static_cast<float>(std::sqrt(sq) / norm);
      r.abs1[o] = static_cast<float>(ab / norm);
    }
  }, 256);
  return r;
}

// One topK result against the reference. Exact: indices in range and distinct,
// float scores non-increasing with equal scores by ascending index. Within
// tolerance: each score against the float64 score of its index, and no
// omitted row better than a returned one (near-ties around the k-th place may
// go either way). exactOrder: the float64 ranking itself, ties to the lower index.
void verifyTopK(Group& g, const std::string& what, const TopKRef& ref, Precision tolPrec, int64_t k,
                const TopKOut& out, bool exactOrder) {
  const int64_t n = ref.n;
  double worstScore = 0;
  std::string worstAt, problem;
  int problems = 0;
  auto report = [&](const std::string& m) {
    if (problems++ == 0) problem = m;
  };
  std::vector<int32_t> order(n);
  std::vector<char> seen(n);
  for (int64_t i = 0; i < ref.q; ++i) {
    const double* v = &ref.val[i * n];
    auto tolOf = [&](int64_t j) { return dotTol(v[j], ref.l2[i * n + j], ref.abs1[i * n + j], ref.d, tolPrec); };
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
    const int32_t kth = order[k - 1];
    const double kthTol = tolOf(kth);
    std::fill(seen.begin(), seen.end(), 0);
    const int32_t* gi = &out.idx[i * k];
    const float* gs = &out.sc[i * k];
    for (int64_t r = 0; r < k; ++r) {
      const int32_t j = gi[r];
      auto at = [&] { return fmt("query %lld rank %lld", (long long)i, (long long)r); };
      if (j < 0 || j >= n) {
        report(at() + fmt(": index %d out of range", j));
        continue;
      }
      if (seen[j]++) report(at() + fmt(": index %d repeated", j));
      const double tol = tolOf(j);
      double e = std::fabs(double(gs[r]) - v[j]) / std::max(tol, 1e-300);
      if (std::isnan(e)) e = INFINITY;
      if (e > worstScore)
        worstScore = e, worstAt = at() + fmt(": index %d score %.9g, float64 %.9g, tolerance %.3g", j, double(gs[r]),
                                           v[j], tol);
      if (v[j] < v[kth] - tol - kthTol)
        report(at() + fmt(": index %d (float64 %.9g) is worse than the true k-th best, index %d (%.9g), beyond "
                        "tolerance %.3g",
                        j, v[j], kth, v[kth], tol + kthTol));
      if (r > 0 && (gs[r] > gs[r - 1] || (gs[r] == gs[r - 1] && j < gi[r - 1])))
        report(at() + fmt(": out of order after rank %lld (%.9g, index %d then %.9g, index %d)", (long long)r - 1,
                        double(gs[r - 1]), gi[r - 1], double(gs[r]), j));
      if (exactOrder && j != order[r])
        report(at() + fmt(": index %d (float64 %.9g), the float64 ranking has %d (%.9g)%s", j, v[j], order[r],
                        v[order[r]], v[j] == v[order[r]] && v[j] == 0 ? " — a −0/+0 tie ordered as unequal?" : ""));
    }
  }
  g.expect(problems == 0, what + ": " + problem + (problems > 1 ? fmt(" (and %d more)", problems - 1) : ""));
  g.within(worstScore, [&] { return what + ": " + worstAt; });
}

// ---------------------------------------------------------------- dense

void denseChecks(std::mt19937_64& rng) {
  struct Shape {
    int64_t m, in, out;
    bool allVariants;
  };
  std::vector<Shape> shapes = {{1, 1, 1, true}, {7, 13, 5, true}, {37, 131, 67, true}, {130, 7, 257, false},
                               {20, 33, 17, false}};
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

// ---------------------------------------------------------------- infoNCE

void infoNCEChecks(std::mt19937_64& rng) {
  struct Case {
    int64_t B, N, d;
    float scale;
    bool sym;
    int families;  // 1 random, 2 exact, 3 both
  };
  std::vector<Case> cases = {{1, 0, 1, 20, false, 3},  {2, 0, 3, 20, true, 3},    {3, 1, 5, 1, false, 3},
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

// ---------------------------------------------------------------- topK

void topKChecks(std::mt19937_64& rng) {
  struct Case {
    int64_t q, n, d;
    std::vector<int64_t> ks;
  };
  std::vector<Case> cases = {{1, 1, 1, {1}},          {37, 131, 67, {10, 131}},  {5, 20, 8, {1, 20}},
                             {3, 1000, 3, {1, 1000}}, {67, 300, 17, {7, 300}},   {1, 2049, 5, {cu::kMaxTopK}},
                             {2, 64, 4, {64}},        {9, 257, 129, {1, 33}}};
  if (onGpu())
    for (Case c : {Case{130, 1000, 257, {10, 1000}}, Case{17, 4099, 96, {1024, cu::kMaxTopK}},
                   Case{1024, 5000, 32, {10}}, Case{3, 20000, 64, {10, 100}}, Case{64, 128, 128, {1, 128}}})
      cases.push_back(c);
  if (bigCases())
    for (Case c : {Case{3, 200000, 64, {10, 1000}}, Case{1, 200000, 1024, {1024}}, Case{1024, 5000, 128, {10, 64}}})
      cases.push_back(c);

  Group groups[3] = {Group("topK fp32"), Group("topK tf32"), Group("topK bf16")};
  for (const Case& c : cases)
    for (bool exact : {false, true})
      for (Metric metric : {Metric::kCosine, Metric::kDot}) {
        const std::vector<float> qs = exact ? exactRows(rng, c.q, c.d, metric == Metric::kDot)
                                            : randomFloats(rng, c.q * c.d);
        const std::vector<float> cs = exact ? exactRows(rng, c.n, c.d, metric == Metric::kDot)
                                            : randomFloats(rng, c.n * c.d);
        const TopKRef ref = topKReference(qs, cs, c.q, c.n, c.d, metric);
        for (int pi = 0; pi < 3; ++pi)
          for (int64_t k : c.ks) {
            const Precision p = kPrecisions[pi];
            const std::string what = fmt("Q=%lld N=%lld d=%lld k=%lld %s %s", (long long)c.q, (long long)c.n,
                                         (long long)c.d, (long long)k, metricName(metric), exact ? "exact" : "random");
            TopKOut out;
            if (!groups[pi].ok(runTopK(H(qs, c.q, c.d), H(cs, c.n, c.d), k, metric, p, out), what)) continue;
            verifyTopK(groups[pi], what, ref, exact ? Precision::kFp32 : p, k, out,
                       exact && metric == Metric::kDot);
          }
      }
  for (auto& g : groups) g.done();
}

// Copies of one corpus row far apart: bit-equal scores, consecutive, in index
// order (required at fp32; at tf32/bf16 whenever their scores are bit-equal).
void tieChecks(std::mt19937_64& rng) {
  Group g("topK exact ties (duplicate rows)");
  const int64_t n = kEmu ? 600 : 5000, d = kEmu ? 16 : 64, q = 20, k = std::min<int64_t>(n, cu::kMaxTopK);
  const int64_t copies[] = {7, n / 2 + 100, n - 10};
  std::vector<float> cs = randomFloats(rng, n * d);
  for (int64_t j : {copies[1], copies[2]}) std::memcpy(&cs[j * d], &cs[7 * d], d * sizeof(float));
  std::vector<float> qs = randomFloats(rng, q * d, -0.5f, 0.5f);
  for (int64_t i = 0; i < q; ++i)
    for (int64_t c = 0; c < d; ++c) qs[i * d + c] = i == 0 ? cs[7 * d + c] : qs[i * d + c] + cs[7 * d + c];
  int unequal = 0;
  for (Metric metric : {Metric::kCosine, Metric::kDot})
    for (Precision p : kPrecisions) {
      TopKOut out;
      const std::string what = fmt("%s %s", metricName(metric), pname(p));
      if (!g.ok(runTopK(H(qs, q, d), H(cs, n, d), k, metric, p, out), what)) continue;
      for (int64_t i = 0; i < q; ++i) {
        const int32_t* row = &out.idx[i * k];
        const float* sc = &out.sc[i * k];
        const int64_t at = std::find(row, row + k, 7) - row;
        if (i == 0 && metric == Metric::kCosine)
          g.expect(at == 0, what + ": a query equal to row 7 does not rank row 7 first");
        if (at + 2 >= k) continue;  // not in the top k (or its copies fall off the end)
        const bool bitEqual = std::memcmp(&sc[at], &sc[at + 1], 4) == 0 && std::memcmp(&sc[at], &sc[at + 2], 4) == 0;
        const bool consecutive = row[at + 1] == copies[1] && row[at + 2] == copies[2];
        if (p == Precision::kFp32)
          g.expect(bitEqual && consecutive,
                   what + fmt(": query %lld: rows 7, %lld, %lld: scores %.9g %.9g %.9g at ranks %lld.., "
                              "indices %d %d %d",
                              (long long)i, (long long)copies[1], (long long)copies[2], double(sc[at]),
                              double(sc[at + 1]), double(sc[at + 2]), (long long)at, row[at], row[at + 1],
                              row[at + 2]));
        else if (bitEqual)
          g.expect(consecutive, what + fmt(": query %lld: bit-equal copies not consecutive in index order (%d %d %d)",
                                           (long long)i, row[at], row[at + 1], row[at + 2]));
        else
          ++unequal;
      }
    }
  if (unequal)
    std::printf("  note: %d tf32/bf16 results scored identical rows unequally (allowed, not bit-equal)\n", unequal);
  g.done();
}

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
      if (!dy || !g.ok(runDenseBackward(H(x, m, in), H(w, out, in), H(y, m, out), H(gy, m, out), true, p, host),
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

// ---------------------------------------------------------------- bad calls

void badCallChecks(std::mt19937_64& rng) {
  Group g("bad calls (status codes)");
  // topK
  {
    const int64_t q = 20, n = cu::kMaxTopK + 10, d = 33;
    const std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
    auto topk = [&](const std::vector<float>& qv, const std::vector<float>& cv, int64_t qRows, int64_t nRows,
                    int64_t cCols, int64_t k, Metric metric, bool nullIdx = false, bool nullScores = false) {
      std::vector<int32_t> idx(std::max<int64_t>(qRows * k, 1));
      std::vector<float> sc(std::max<int64_t>(qRows * k, 1));
      cu::TopKParams p;
      p.queries = H(qv, qRows, d), p.corpus = H(cv, nRows, cCols);
      p.k = k, p.metric = metric;
      p.indices = nullIdx ? nullptr : idx.data(), p.scores = nullScores ? nullptr : sc.data();
      return cu::topK(p);
    };
    for (Metric metric : {Metric::kCosine, Metric::kDot}) {
      const std::string m = std::string("topK ") + metricName(metric) + " ";
      std::vector<float> bad = qs;
      bad[5 * d + 2] = kNaN;
      expectCode(g, m + "NaN in queries", topk(bad, cs, q, n, d, 5, metric), StatusCode::kRangeError, "queries");
      bad = qs, bad[19 * d + 32] = -kInf;
      expectCode(g, m + "-Infinity in queries", topk(bad, cs, q, n, d, 5, metric), StatusCode::kRangeError, "queries");
      bad = cs, bad[(n - 3) * d + 1] = kInf;
      expectCode(g, m + "Infinity in corpus", topk(qs, bad, q, n, d, 5, metric), StatusCode::kRangeError, "corpus");
      bad = cs, bad[3] = kNaN;
      expectCode(g, m + "NaN in corpus", topk(qs, bad, q, n, d, 5, metric), StatusCode::kRangeError, "corpus");
      expectCode(g, m + "corpus columns != queries columns", topk(qs, cs, q, n - 100, d - 1, 5, metric),
                 StatusCode::kRangeError, "corpus");
      expectCode(g, m + "no queries", topk(qs, cs, 0, n, d, 5, metric), StatusCode::kRangeError, "queries");
      expectCode(g, m + "k = 0", topk(qs, cs, q, n, d, 0, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "k > N", topk(qs, cs, q, 100, d, 101, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "k > kMaxTopK", topk(qs, cs, q, n, d, cu::kMaxTopK + 1, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "k < 0", topk(qs, cs, q, n, d, -3, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "null indices", topk(qs, cs, q, n, d, 5, metric, true, false), StatusCode::kTypeError);
      expectCode(g, m + "null scores", topk(qs, cs, q, n, d, 5, metric, false, true), StatusCode::kTypeError);
      std::vector<float> zc = cs, zq = qs;
      std::fill(zc.begin() + 100 * d, zc.begin() + 101 * d, 0.0f);
      std::fill(zq.begin(), zq.begin() + d, 0.0f);
      if (metric == Metric::kCosine) {
        expectCode(g, m + "zero corpus row", topk(qs, zc, q, n, d, 5, metric), StatusCode::kRangeError, "corpus");
        expectCode(g, m + "zero query", topk(zq, cs, q, n, d, 5, metric), StatusCode::kRangeError, "queries");
        std::shared_ptr<cu::DeviceMatrix> dz;
        if (g.ok(cu::DeviceMatrix::upload({zc.data(), n, d}, "corpus", &dz), "upload with a zero row (allowed)")) {
          TopKOut out;
          expectCode(g, m + "resident corpus with a zero row", runTopK(H(qs, q, d), D(dz), 5, metric,
                                                                       Precision::kFp32, out), StatusCode::kRangeError);
        }
      } else {
        TopKOut out;
        g.ok(runTopK(H(zq, q, d), H(zc, n, d), 5, metric, Precision::kFp32, out), m + "zero vectors under dot");
      }
    }
    // Host operand with rows but no data.
    TopKOut out;
    cu::Operand none;
    none.host = {nullptr, q, d};
    expectCode(g, "topK queries without data", runTopK(none, H(cs, n, d), 5, Metric::kDot, Precision::kFp32, out),
               StatusCode::kTypeError, "queries");
  }
  // dense
  {
    const int64_t m = 3, in = 5, out = 4;
    const std::vector<float> x = randomFloats(rng, m * in), w = randomFloats(rng, out * in), b = randomFloats(rng, out);
    const std::vector<float> y = randomFloats(rng, m * out, -0.9f, 0.9f), gy = randomFloats(rng, m * out);
    std::vector<float> yo(m * out);
    auto fwd = [&](const std::vector<float>& xv, const std::vector<float>& wv, const float* bias, int64_t xRows,
                   int64_t wCols, float* yp) {
      cu::DenseParams p;
      p.x = H(xv, xRows, in), p.weight = H(wv, out, wCols), p.bias = bias, p.activation = Activation::kTanh;
      p.y = yp;
      return cu::denseForward(p);
    };
    g.ok(fwd(x, w, b.data(), m, in, yo.data()), "dense clean call");
    std::vector<float> bad = x;
    bad[m * in - 1] = kNaN;
    expectCode(g, "dense NaN in x", fwd(bad, w, b.data(), m, in, yo.data()), StatusCode::kRangeError, "x");
    bad = w, bad[0] = kInf;
    expectCode(g, "dense Infinity in weight", fwd(x, bad, b.data(), m, in, yo.data()), StatusCode::kRangeError,
               "weight");
    bad = b, bad[out - 1] = -kInf;
    expectCode(g, "dense -Infinity in bias", fwd(x, w, bad.data(), m, in, yo.data()), StatusCode::kRangeError, "bias");
    expectCode(g, "dense weight columns != x columns", fwd(x, w, b.data(), m, in - 1, yo.data()),
               StatusCode::kRangeError, "weight");
    expectCode(g, "dense no rows", fwd(x, w, b.data(), 0, in, yo.data()), StatusCode::kRangeError, "x");
    expectCode(g, "dense null y", fwd(x, w, b.data(), m, in, nullptr), StatusCode::kTypeError);

    DenseGrads gr;
    auto bwd = [&](const std::vector<float>& gyv, int64_t gyCols, bool nullGradX) {
      gr.gx.assign(m * in, 0.0f), gr.gw.assign(out * in, 0.0f), gr.gb.assign(out, 0.0f);
      cu::DenseBackwardParams p;
      p.x = H(x, m, in), p.weight = H(w, out, in), p.y = H(y, m, out), p.gradY = H(gyv, m, gyCols);
      p.activation = Activation::kTanh;
      p.gradX = nullGradX ? nullptr : gr.gx.data(), p.gradWeight = gr.gw.data(), p.gradBias = gr.gb.data();
      return cu::denseBackward(p);
    };
    g.ok(bwd(gy, out, false), "denseBackward clean call");
    expectCode(g, "denseBackward gradY shape", bwd(gy, out - 1, false), StatusCode::kRangeError, "gradY");
    bad = gy, bad[2] = kNaN;
    expectCode(g, "denseBackward NaN in gradY", bwd(bad, out, false), StatusCode::kRangeError, "gradY");
    expectCode(g, "denseBackward null gradX", bwd(gy, out, true), StatusCode::kTypeError);
  }
  // infoNCE
  {
    const int64_t B = 9, N = 4, d = 20;
    const std::vector<float> a = randomLengthRows(rng, B, d), pos = randomLengthRows(rng, B, d),
                             neg = randomLengthRows(rng, N, d);
    NceOut o;
    auto call = [&](const std::function<void(cu::InfoNCEParams&)>& edit) {
      o.ga.assign(B * d, 0.0f), o.gp.assign(B * d, 0.0f), o.gn.assign(N * d, 0.0f);
      cu::InfoNCEParams p;
      p.anchors = H(a, B, d), p.positives = H(pos, B, d), p.negatives = H(neg, N, d);
      p.loss = &o.loss, p.gradAnchors = o.ga.data(), p.gradPositives = o.gp.data(), p.gradNegatives = o.gn.data();
      edit(p);
      return cu::infoNCE(p);
    };
    g.ok(call([](cu::InfoNCEParams&) {}), "infoNCE clean call");
    const char* names[] = {"anchors", "positives", "negatives"};
    const std::vector<float>* inputs[] = {&a, &pos, &neg};
    for (int which = 0; which < 3; ++which)
      for (float v : {kNaN, kInf, 0.0f}) {
        std::vector<float> bad = *inputs[which];
        const int64_t row = (which == 2 ? N : B) / 2;
        if (v == 0.0f) std::fill(bad.begin() + row * d, bad.begin() + (row + 1) * d, 0.0f);
        else bad[row * d + 7] = v;
        const Status s = call([&](cu::InfoNCEParams& p) {
          cu::Operand* ops[] = {&p.anchors, &p.positives, &p.negatives};
          ops[which]->host.data = bad.data();
        });
        expectCode(g, std::string("infoNCE ") + names[which] + (v == 0.0f ? " zero row" : " non-finite"), s,
                   StatusCode::kRangeError, names[which]);
      }
    expectCode(g, "infoNCE positives rows", call([&](cu::InfoNCEParams& p) { p.positives.host.rows = B - 1; }),
               StatusCode::kRangeError, "positives");
    expectCode(g, "infoNCE negatives columns",
               call([&](cu::InfoNCEParams& p) { p.negatives.host = {neg.data(), N * 2, d / 2}; }),
               StatusCode::kRangeError, "negatives");
    for (float scale : {0.0f, -1.0f, kNaN, kInf})
      expectCode(g, fmt("infoNCE scale %g", scale), call([&](cu::InfoNCEParams& p) { p.scale = scale; }),
                 StatusCode::kRangeError, "scale");
    expectCode(g, "infoNCE null loss", call([](cu::InfoNCEParams& p) { p.loss = nullptr; }), StatusCode::kTypeError,
               "loss");
    expectCode(g, "infoNCE null gradAnchors", call([](cu::InfoNCEParams& p) { p.gradAnchors = nullptr; }),
               StatusCode::kTypeError, "gradAnchors");
    expectCode(g, "infoNCE null gradNegatives", call([](cu::InfoNCEParams& p) { p.gradNegatives = nullptr; }),
               StatusCode::kTypeError, "gradNegatives");
    const Status s = call([](cu::InfoNCEParams& p) {
      p.negatives = cu::Operand{};
      p.gradNegatives = nullptr;
    });
    g.expect(s.ok() && std::isfinite(o.loss), "infoNCE without negatives, null buffers: " + describe(s));
  }
  // DeviceMatrix::upload
  {
    const int64_t r = 6, c = 5;
    std::vector<float> v = randomFloats(rng, r * c);
    for (float bad : {kNaN, kInf, -kInf}) {
      std::vector<float> b = v;
      b[4 * c + 2] = bad;
      std::shared_ptr<cu::DeviceMatrix> m;
      Status s = cu::DeviceMatrix::upload({b.data(), r, c}, "myMatrix", &m);
      expectCode(g, fmt("upload with %g", bad), s, StatusCode::kRangeError, "myMatrix");
      g.expect(!m, "a failed upload leaves no matrix");
    }
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
    expectCode(g, fmt("upload of %lld×%lld floats (%.1f GiB, %s)", (long long)rows, (long long)cols,
                      mapped / 1073741824.0, why.c_str()),
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

// ---------------------------------------------------------------- timing (--time)

// H100 SXM dense peaks and HBM3 bandwidth: the floor of each row.
double peakFlops(Precision p) {
  switch (p) {
    case Precision::kFp32: return 67e12;
    case Precision::kTf32: return 494.7e12;
    case Precision::kBf16: return 989.4e12;
  }
  return 67e12;
}
constexpr double kBandwidth = 3.35e12;
constexpr double kMiB = 1048576.0;

// Free device memory through the driver API (libcuda, present wherever a GPU
// runs), polled while a call runs: its peak use. No CUDA headers needed.
class MemoryProbe {
 public:
  MemoryProbe() {
    lib_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return;
    init_ = reinterpret_cast<int (*)(unsigned)>(dlsym(lib_, "cuInit"));
    deviceGet_ = reinterpret_cast<int (*)(int*, int)>(dlsym(lib_, "cuDeviceGet"));
    retain_ = reinterpret_cast<int (*)(void**, int)>(dlsym(lib_, "cuDevicePrimaryCtxRetain"));
    setCurrent_ = reinterpret_cast<int (*)(void*)>(dlsym(lib_, "cuCtxSetCurrent"));
    memInfo_ = reinterpret_cast<int (*)(size_t*, size_t*)>(dlsym(lib_, "cuMemGetInfo_v2"));
    int device = 0;
    ok_ = init_ && deviceGet_ && retain_ && setCurrent_ && memInfo_ && init_(0) == 0 && deviceGet_(&device, 0) == 0 &&
          retain_(&ctx_, device) == 0;
  }
  bool ok() const { return ok_; }
  bool freeBytes(size_t* free) const {
    size_t total = 0;
    return ok_ && setCurrent_(ctx_) == 0 && memInfo_(free, &total) == 0;
  }

 private:
  void* lib_ = nullptr;
  void* ctx_ = nullptr;
  bool ok_ = false;
  int (*init_)(unsigned) = nullptr;
  int (*deviceGet_)(int*, int) = nullptr;
  int (*retain_)(void**, int) = nullptr;
  int (*setCurrent_)(void*) = nullptr;
  int (*memInfo_)(size_t*, size_t*) = nullptr;
};

// MiB the call took beyond what was in use before it (NaN when unknown).
double peakDeltaMiB(const MemoryProbe& probe, const std::function<Status()>& fn) {
  size_t base = 0;
  if (!probe.freeBytes(&base)) return NAN;
  std::atomic<bool> running{true};
  std::atomic<size_t> lowest{base};
  std::thread poll([&] {
    while (running.load()) {
      size_t f = 0;
      if (probe.freeBytes(&f) && f < lowest.load()) lowest = f;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  const Status s = fn();
  running = false;
  poll.join();
  size_t f = 0;
  if (probe.freeBytes(&f) && f < lowest.load()) lowest = f;
  return s.ok() ? double(base - lowest.load()) / kMiB : NAN;
}

struct TimedRow {
  std::string kernel, shape, precision, operands, error;
  double ms = NAN, flops = 0, useful = 0, bytes = 0, floorMs = NAN, peakMiB = NAN;
};

// One warm-up call, then the median of `reps` timed calls (host clock around
// the synchronous call: copies of host operands and results included).
double timeMs(const std::function<Status()>& fn, int reps, std::string* error) {
  Status s = fn();
  if (!s.ok()) {
    *error = describe(s);
    return NAN;
  }
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    s = fn();
    t.push_back(secondsSince(start) * 1e3);
    if (!s.ok()) {
      *error = describe(s);
      return NAN;
    }
  }
  std::sort(t.begin(), t.end());
  return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
}

void fastFill(std::vector<float>& v, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  parallelFor(int64_t(v.size()), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      uint64_t z = seed + uint64_t(i) * 0x9E3779B97F4A7C15ull;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      v[i] = lo + (hi - lo) * float(double(z >> 40) * 0x1p-24);
    }
  }, 1 << 16);
}

std::string jsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += fmt("\\u%04x", c);
    else o += c;
  }
  return o + "\"";
}
std::string jsonNumber(double v) { return std::isfinite(v) ? fmt("%.9g", v) : "null"; }

void printTimedRow(const TimedRow& r) {
  const bool nce = r.kernel == "infoNCE";
  const double tf = r.flops / (r.ms * 1e-3) * 1e-12, useful = r.useful / (r.ms * 1e-3) * 1e-12;
  std::printf("| %-13s | %-29s | %-4s | %-8s | %9.3f | %7.1f | %7s | %8.3f | %8.2f | %8s |%s\n", r.kernel.c_str(),
              r.shape.c_str(), r.precision.c_str(), r.operands.c_str(), r.ms, tf,
              nce ? fmt("%.1f", useful).c_str() : "=", r.floorMs, r.ms / r.floorMs,
              std::isfinite(r.peakMiB) ? fmt("%.0f", r.peakMiB).c_str() : "n/a",
              r.error.empty() ? "" : (" ERROR " + r.error).c_str());
  std::fflush(stdout);
}

int timings(const std::string& jsonPath) {
  // JOBBERT_TIME_SMALL=1: small shapes, to try the timing path (and
  // torch_peers.py, which reads the same variable) on any machine.
  const char* smallEnv = std::getenv("JOBBERT_TIME_SMALL");
  const bool small = smallEnv && std::strcmp(smallEnv, "1") == 0;
  const MemoryProbe probe;
  std::vector<TimedRow> rows;
  const std::string device = cu::deviceDescription(0);
  std::printf("\ntimings on %s: median ms of timed calls after one warm-up (host clock around each synchronous\n"
              "call). Operands 'resident': inputs are DeviceMatrix, outputs host (their copy back is timed);\n"
              "'host': every input copied in by the call. Floor = max(flops/peak, bytes/3.35 TB/s) at H100 SXM\n"
              "peaks (fp32 67, tf32 494.7, bf16 989.4 TFLOP/s); infoNCE: TFLOP/s counts 8·B·C·d (with the\n"
              "recompute), 'useful' 6·B·C·d, and the floor uses the useful count. dev MiB: peak device memory\n"
              "during a call (cuMemGetInfo polled), plus the resident inputs for resident rows.\n\n",
              device.c_str());
  std::printf("| kernel        | shape                         | prec | operands | median ms | TFLOP/s | useful  "
              "| floor ms | ms/floor | dev MiB  |\n");
  std::printf("|---------------|-------------------------------|------|----------|-----------|---------|---------"
              "|----------|----------|----------|\n");
  auto measure = [&](TimedRow row, Precision p, int reps, double residentBytes, const std::function<Status()>& fn) {
    row.precision = pname(p);
    row.ms = timeMs(fn, reps, &row.error);
    if (row.error.empty()) {
      const double delta = peakDeltaMiB(probe, fn);
      row.peakMiB = delta + residentBytes / kMiB;
    }
    row.floorMs = std::max(row.useful / peakFlops(p), row.bytes / kBandwidth) * 1e3;
    printTimedRow(row);
    rows.push_back(row);
  };
  Group g("timing setup");

  {  // topK
    const int64_t Q = small ? 64 : 1024, N = small ? 20000 : 1000000, d = small ? 256 : 1024;
    std::vector<float> corpus(N * d), queries(Q * d);
    fastFill(corpus, seed() + 11), fastFill(queries, seed() + 12);
    auto dc = upload(g, corpus, N, d, "corpus"), dq = upload(g, queries, Q, d, "queries");
    for (int64_t k : {int64_t(10), int64_t(1024)})
      for (Precision p : kPrecisions) {
        std::vector<int32_t> idx(Q * k);
        std::vector<float> sc(Q * k);
        auto call = [&](const cu::Operand& qo, const cu::Operand& co) {
          cu::TopKParams tp;
          tp.queries = qo, tp.corpus = co, tp.k = k, tp.metric = Metric::kCosine, tp.precision = p;
          tp.indices = idx.data(), tp.scores = sc.data();
          return cu::topK(tp);
        };
        TimedRow row;
        row.kernel = "topK";
        row.shape = fmt("Q=%lld N=%lld d=%lld k=%lld", (long long)Q, (long long)N, (long long)d, (long long)k);
        row.flops = row.useful = 2.0 * Q * N * d;
        row.bytes = 4.0 * (N + Q) * d + 8.0 * Q * k;
        if (dc && dq) {
          row.operands = "resident";
          measure(row, p, 5, 4.0 * (N + Q) * d, [&] { return call(D(dq), D(dc)); });
        }
        if (k == 10) {
          row.operands = "host";
          measure(row, p, 3, 0, [&] { return call(H(queries, Q, d), H(corpus, N, d)); });
        }
      }
  }
  for (int64_t B : small ? std::vector<int64_t>{512, 1024} : std::vector<int64_t>{16384, 65536}) {
    // infoNCE forward + backward, symmetric off
    const int64_t d = small ? 128 : 1024;
    std::vector<float> a(B * d), pos(B * d);
    fastFill(a, seed() + 21), fastFill(pos, seed() + 22);
    auto da = upload(g, a, B, d, "anchors"), dp = upload(g, pos, B, d, "positives");
    NceOut out;
    out.ga.resize(B * d), out.gp.resize(B * d);
    for (Precision p : kPrecisions) {
      auto call = [&](const cu::Operand& ao, const cu::Operand& po) {
        cu::InfoNCEParams ip;
        ip.anchors = ao, ip.positives = po, ip.scale = 20.0f, ip.symmetric = false, ip.precision = p;
        ip.loss = &out.loss, ip.gradAnchors = out.ga.data(), ip.gradPositives = out.gp.data();
        return cu::infoNCE(ip);
      };
      TimedRow row;
      row.kernel = "infoNCE";
      row.shape = fmt("B=%lld d=%lld", (long long)B, (long long)d);
      row.flops = 8.0 * B * B * d, row.useful = 6.0 * B * B * d;
      row.bytes = 16.0 * B * d;
      if (da && dp) {
        row.operands = "resident";
        measure(row, p, B > 20000 || small ? 3 : 5, 8.0 * B * d, [&] { return call(D(da), D(dp)); });
      }
      row.operands = "host";
      measure(row, p, B > 20000 || small ? 2 : 3, 0, [&] { return call(H(a, B, d), H(pos, B, d)); });
    }
  }
  {  // dense forward (tanh + bias) and backward (tanh)
    const int64_t M = small ? 2048 : 65536, in = 768, out = 1024;
    std::vector<float> x(M * in), w(out * in), b(out), gy(M * out), y(M * out);
    fastFill(x, seed() + 31), fastFill(w, seed() + 32, -0.05f, 0.05f), fastFill(b, seed() + 33),
        fastFill(gy, seed() + 34);
    auto dx = upload(g, x, M, in, "x"), dw = upload(g, w, out, in, "weight");
    const std::string shape = fmt("M=%lld in=%lld out=%lld", (long long)M, (long long)in, (long long)out);
    for (Precision p : kPrecisions) {
      auto call = [&](const cu::Operand& xo, const cu::Operand& wo) {
        cu::DenseParams dp;
        dp.x = xo, dp.weight = wo, dp.bias = b.data(), dp.activation = Activation::kTanh, dp.precision = p;
        dp.y = y.data();
        return cu::denseForward(dp);
      };
      TimedRow row;
      row.kernel = "dense", row.shape = shape;
      row.flops = row.useful = 2.0 * M * in * out;
      row.bytes = 4.0 * (M * in + out * in + out + M * out);
      if (dx && dw) {
        row.operands = "resident";
        measure(row, p, 10, 4.0 * (M * in + out * in), [&] { return call(D(dx), D(dw)); });
      }
      row.operands = "host";
      measure(row, p, 5, 0, [&] { return call(H(x, M, in), H(w, out, in)); });
    }
    {
      cu::DenseParams dp;
      dp.x = H(x, M, in), dp.weight = H(w, out, in), dp.bias = b.data(), dp.activation = Activation::kTanh;
      dp.y = y.data();
      g.ok(cu::denseForward(dp), "dense forward for the backward's y");
    }
    auto dy = upload(g, y, M, out, "y"), dgy = upload(g, gy, M, out, "gradY");
    DenseGrads gr;
    gr.gx.resize(M * in), gr.gw.resize(out * in), gr.gb.resize(out);
    for (Precision p : kPrecisions) {
      auto call = [&](const cu::Operand& xo, const cu::Operand& wo, const cu::Operand& yo, const cu::Operand& gyo) {
        cu::DenseBackwardParams bp;
        bp.x = xo, bp.weight = wo, bp.y = yo, bp.gradY = gyo, bp.activation = Activation::kTanh, bp.precision = p;
        bp.gradX = gr.gx.data(), bp.gradWeight = gr.gw.data(), bp.gradBias = gr.gb.data();
        return cu::denseBackward(bp);
      };
      TimedRow row;
      row.kernel = "denseBackward", row.shape = shape;
      row.flops = row.useful = 4.0 * M * in * out;
      row.bytes = 4.0 * (2 * M * in + 2 * out * in + 2 * M * out + 2 * out);
      if (dx && dw && dy && dgy) {
        row.operands = "resident";
        measure(row, p, 10, 4.0 * (M * in + out * in + 2 * M * out), [&] { return call(D(dx), D(dw), D(dy), D(dgy)); });
      }
      row.operands = "host";
      measure(row, p, 5, 0, [&] { return call(H(x, M, in), H(w, out, in), H(y, M, out), H(gy, M, out)); });
    }
  }
  g.done();

  if (!jsonPath.empty()) {
    std::FILE* f = std::fopen(jsonPath.c_str(), "w");
    if (!f) {
      check(false, "cannot write " + jsonPath + ": " + std::strerror(errno));
    } else {
      std::fprintf(f, "{\n  \"source\": \"test_cuda --time\",\n  \"device\": %s,\n  \"seed\": %llu,\n  \"rows\": [\n",
                   jsonString(device).c_str(), static_cast<unsigned long long>(seed()));
      for (size_t i = 0; i < rows.size(); ++i) {
        const TimedRow& r = rows[i];
        const double s = r.ms * 1e-3;
        std::fprintf(f,
                     "    {\"key\": %s, \"kernel\": %s, \"shape\": %s, \"precision\": %s, \"operands\": %s, "
                     "\"ms\": %s, \"tflops\": %s, \"useful_tflops\": %s, \"flops\": %s, \"useful_flops\": %s, "
                     "\"bytes\": %s, \"floor_ms\": %s, \"ms_over_floor\": %s, \"peak_mib\": %s, \"error\": %s}%s\n",
                     jsonString(r.kernel + "|" + r.shape + "|" + r.precision).c_str(), jsonString(r.kernel).c_str(),
                     jsonString(r.shape).c_str(), jsonString(r.precision).c_str(), jsonString(r.operands).c_str(),
                     jsonNumber(r.ms).c_str(), jsonNumber(r.flops / s * 1e-12).c_str(),
                     jsonNumber(r.useful / s * 1e-12).c_str(), jsonNumber(r.flops).c_str(),
                     jsonNumber(r.useful).c_str(), jsonNumber(r.bytes).c_str(), jsonNumber(r.floorMs).c_str(),
                     jsonNumber(r.ms / r.floorMs).c_str(), jsonNumber(r.peakMiB).c_str(),
                     r.error.empty() ? "null" : jsonString(r.error).c_str(), i + 1 < rows.size() ? "," : "");
      }
      std::fprintf(f, "  ]\n}\n");
      std::fclose(f);
      std::printf("wrote %zu rows to %s\n", rows.size(), jsonPath.c_str());
    }
  }
  for (const TimedRow& r : rows) check(r.error.empty(), r.kernel + " " + r.shape + " " + r.precision + ": " + r.error);
  return finish("test_cuda");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // every line out before a crash could lose it
  bool time = false;
  std::string jsonPath;
  if (const char* env = std::getenv("JOBBERT_QUICK")) gQuick = std::strcmp(env, "1") == 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) gQuick = true;
    else if (std::strcmp(argv[i], "--time") == 0) time = true;
    else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) jsonPath = argv[++i];
    else {
      std::printf("usage: %s [--quick] | --time [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  // The emulator's device size: small, so the out-of-memory check is cheap.
  if (kEmu) setenv("JOBBERT_EMU_MEMORY_MB", "256", 0);

  const int count = cu::deviceCount();
  for (int i = 0; i < count; ++i) std::printf("device %d: %s\n", i, cu::deviceDescription(i).c_str());
  const Status available = cu::available();
  if (!available.ok()) {
    const char* require = std::getenv("JOBBERT_REQUIRE_CUDA");
    const bool fail = require && std::strcmp(require, "1") == 0;
    std::printf("test_cuda: %s: %s\n", fail ? "FAILED (JOBBERT_REQUIRE_CUDA=1)" : "skipped", available.message.c_str());
    return fail ? 1 : 0;
  }
  if (time) {
    if (kEmu) {
      std::printf("test_cuda: --time needs a real GPU; this is the CPU emulator\n");
      return 2;
    }
    seed();
    return timings(jsonPath);
  }
  std::printf("%s, %s checks\n", kEmu ? "CPU emulator (emulated device)" : "CUDA device", gQuick ? "quick" : "full");
  std::mt19937_64 rng(seed());
  badCallChecks(rng);
  denseChecks(rng);
  infoNCEChecks(rng);
  topKChecks(rng);
  tieChecks(rng);
  residentChecks(rng);
  concurrencyChecks(rng);
  oomChecks(rng);
  return finish("test_cuda");
}
