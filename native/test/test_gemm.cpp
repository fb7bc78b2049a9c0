// gemm: correctness against the float64 reference for every instruction set
// and thread count, then (without --quick / JOBBERT_QUICK=1) GFLOP/s against
// OpenBLAS on the shapes the kernels use.
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "gemm.h"
#include "harness.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

struct Case {
  int64_t m, n, k;
  bool transA, transB;
  int64_t padA, padB, padC;  // extra leading-dimension slack
  float alpha, beta;
};

std::string describe(const Case& c, Isa isa, int threads) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s t=%d m=%lld n=%lld k=%lld tA=%d tB=%d pad=%lld/%lld/%lld alpha=%g beta=%g",
                isaName(isa), threads, (long long)c.m, (long long)c.n, (long long)c.k, c.transA, c.transB,
                (long long)c.padA, (long long)c.padB, (long long)c.padC, c.alpha, c.beta);
  return buf;
}

void runCase(const Case& c, Isa isa, int threads, std::mt19937_64& rng) {
  const int64_t aRows = c.transA ? c.k : c.m, aCols = c.transA ? c.m : c.k;
  const int64_t bRows = c.transB ? c.n : c.k, bCols = c.transB ? c.k : c.n;
  const int64_t lda = aCols + c.padA, ldb = bCols + c.padB, ldc = c.n + c.padC;
  std::vector<float> a = randomFloats(rng, aRows * lda), b = randomFloats(rng, bRows * ldb);
  std::vector<float> c0 = randomFloats(rng, c.m * ldc);
  // The reference wants dense operands.
  std::vector<float> ad(aRows * aCols), bd(bRows * bCols);
  for (int64_t i = 0; i < aRows; ++i) std::memcpy(&ad[i * aCols], &a[i * lda], aCols * 4);
  for (int64_t i = 0; i < bRows; ++i) std::memcpy(&bd[i * bCols], &b[i * ldb], bCols * 4);
  std::vector<double> ref = referenceGemm(ad.data(), bd.data(), c.m, c.n, c.k, c.transA, c.transB);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double& r = ref[i * c.n + j];
      r = c.alpha * r + (c.beta == 0.0f ? 0.0 : double(c.beta) * c0[i * ldc + j]);
    }

  std::vector<float> out = c0;
  if (c.beta == 0.0f)  // must not be read: NaN would leak into the result
    for (int64_t i = 0; i < c.m; ++i) poison(&out[i * ldc], c.n);
  const float sentinel = 12345.0f;
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = c.n; j < ldc; ++j) out[i * ldc + j] = sentinel;

  GemmParams p;
  p.m = c.m, p.n = c.n, p.k = c.k;
  p.a = a.data(), p.lda = lda, p.transA = c.transA;
  p.b = b.data(), p.ldb = ldb, p.transB = c.transB;
  p.c = out.data(), p.ldc = ldc;
  p.alpha = c.alpha, p.beta = c.beta;
  gemm(p);

  std::vector<float> got(c.m * c.n);
  bool padOk = true;
  for (int64_t i = 0; i < c.m; ++i) {
    std::memcpy(&got[i * c.n], &out[i * ldc], c.n * 4);
    for (int64_t j = c.n; j < ldc; ++j) padOk &= out[i * ldc + j] == sentinel;
  }
  // Float accumulation error grows about like sqrt(k) for random signs.
  const double tol = 1e-6 * (4.0 + std::sqrt(double(c.k)));
  const double err = maxError(got.data(), ref.data(), c.m * c.n);
  check(err <= tol, describe(c, isa, threads) + " error " + std::to_string(err));
  check(padOk, describe(c, isa, threads) + " wrote outside m×n");
}

std::vector<Case> cases(std::mt19937_64& rng) {
  std::vector<Case> out;
  const int64_t fixed[][3] = {{1, 1, 1},     {1, 37, 5},    {37, 1, 5},    {5, 7, 1},       {12, 32, 16},
                              {13, 33, 17},  {14, 48, 300}, {96, 96, 96},  {100, 130, 513}, {257, 65, 1100},
                              {3, 1000, 40}, {1000, 3, 40}, {200, 200, 2}, {30, 300, 1500}};
  for (auto& s : fixed)
    for (int t = 0; t < 4; ++t) out.push_back({s[0], s[1], s[2], bool(t & 1), bool(t & 2), 0, 0, 0, 1.0f, 0.0f});
  std::uniform_int_distribution<int> dim(1, 150), pad(0, 9), pick(0, 3);
  for (int i = 0; i < 40; ++i) {
    Case c{dim(rng),
           dim(rng),
           dim(rng) * (pick(rng) == 0 ? 7 : 1),
           bool(pick(rng) & 1),
           bool(pick(rng) & 1),
           pad(rng),
           pad(rng),
           pad(rng),
           pick(rng) == 0 ? 1.0f : -0.75f,
           pick(rng) < 2 ? 0.0f : (pick(rng) & 1 ? 1.0f : 0.5f)};
    out.push_back(c);
  }
  return out;
}

// packA + packBPanel + microKernel on one tile, as topK/infoNCE use them.
void checkPieces(Isa isa, std::mt19937_64& rng) {
  const MicroKernel mk = microKernel(isa);
  const int64_t k = 37, rows = mk.mr - 1, cols = mk.nr - 3;
  std::vector<float> a = randomFloats(rng, rows * k), b = randomFloats(rng, cols * k);
  GemmParams p;
  p.m = rows, p.n = cols, p.k = k;
  p.a = a.data(), p.lda = k, p.b = b.data(), p.ldb = k, p.transB = true;
  std::vector<float> ap(mk.mr * k + 16), bp(mk.nr * k + 16), c(rows * cols);
  packA(p, 0, rows, 0, k, mk.mr, ap.data());
  packBPanel(p, 0, k, 0, cols, mk.nr, bp.data());
  poison(c.data(), rows * cols);
  mk.fn(k, ap.data(), bp.data(), c.data(), cols, 2.0f, 0.0f, int(rows), int(cols));
  std::vector<double> ref = referenceGemm(a.data(), b.data(), rows, cols, k, false, true);
  for (double& r : ref) r *= 2.0;
  check(maxError(c.data(), ref.data(), rows * cols) < 1e-5, std::string(isaName(isa)) + " micro-kernel pieces");
}

// ---------------------------------------------------------------- timing
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };

struct Shape {
  const char* name;
  int64_t m, n, k;
  bool transA, transB;
};

void timing(int only) {
  // OpenBLAS 0.3.21 does not recognise Sapphire Rapids under KVM and falls
  // back to its generic "Prescott" kernels; compare against its AVX-512 ones.
  // AVX2-only CPUs get its Haswell kernels (its Zen target is the same code).
  if (activeIsa() == Isa::kAvx512) setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 0);
  else if (activeIsa() == Isa::kAvx2) setenv("OPENBLAS_CORETYPE", "HASWELL", 0);
  void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  SgemmFn sgemm = lib ? reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm")) : nullptr;
  if (!sgemm) std::printf("OpenBLAS not found: timing ours alone\n");
  if (lib) {
    // Same thread count as ours, so the comparison is fair.
    if (auto setThreads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads")))
      setThreads(threadCount());
    if (auto core = reinterpret_cast<char* (*)()>(dlsym(lib, "openblas_get_corename")))
      std::printf("OpenBLAS core: %s\n", core());
  }
  const Shape shapes[] = {
      {"dense fwd  X·Wᵀ", 4096, 1024, 768, false, true},
      {"gradX      gZ·W", 4096, 768, 1024, false, false},
      {"gradW      gZᵀ·X", 1024, 768, 4096, true, false},
      {"scores     A·Bᵀ", 256, 16384, 1024, false, true},
      {"P·B", 256, 1024, 16384, false, false},
      {"Pᵀ·A", 16384, 1024, 256, true, false},
  };
  // JOBBERT_TIME_ROUNDS: more rounds for a machine shared with other work (the best round counts).
  const int rounds =
      std::max(1, std::getenv("JOBBERT_TIME_ROUNDS") ? std::atoi(std::getenv("JOBBERT_TIME_ROUNDS")) : 3);
  std::printf("\n%d thread(s), isa %s; best of %d rounds of 3 runs\n", threadCount(), isaName(activeIsa()), rounds);
  const MicroKernel mk = microKernel(activeIsa());
  std::printf("blocking: %s\n", describeGemmBlocking(mk.mr, mk.nr).c_str());
  std::printf("%-18s %18s %10s %10s %7s\n", "shape", "m×n×k", "ours", "OpenBLAS", "ratio");
  std::mt19937_64 rng(seed());
  for (const Shape& s : shapes) {
    if (only >= 0 && &s - shapes != only) continue;
    std::vector<float> a = randomFloats(rng, s.m * s.k), b = randomFloats(rng, s.k * s.n), c(s.m * s.n);
    GemmParams p;
    p.m = s.m, p.n = s.n, p.k = s.k;
    p.a = a.data(), p.lda = s.transA ? s.m : s.k, p.transA = s.transA;
    p.b = b.data(), p.ldb = s.transB ? s.k : s.n, p.transB = s.transB;
    p.c = c.data(), p.ldc = s.n;
    // Best of several runs, ours and OpenBLAS alternating in blocks; OpenBLAS's
    // idle workers spin for a while after a call, so let them settle first.
    double ours = 1e9, theirs = 1e9;
    for (int round = 0; round < rounds; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      ours = std::min(ours, timeIt([&] { gemm(p); }, 3));
      if (sgemm)
        theirs = std::min(theirs, timeIt(
                                      [&] {
                                        sgemm(kRowMajor, s.transA ? kTrans : kNoTrans, s.transB ? kTrans : kNoTrans,
                                              int(s.m), int(s.n), int(s.k), 1.0f, a.data(), int(p.lda), b.data(),
                                              int(p.ldb), 0.0f, c.data(), int(s.n));
                                      },
                                      3));
    }
    const double flops = 2.0 * s.m * s.n * s.k;
    char dims[40];
    std::snprintf(dims, sizeof dims, "%lld×%lld×%lld", (long long)s.m, (long long)s.n, (long long)s.k);
    if (sgemm)
      std::printf("%-18s %18s %10.1f %10.1f %7.2f\n", s.name, dims, flops / ours / 1e9, flops / theirs / 1e9,
                  theirs / ours);
    else std::printf("%-18s %18s %10.1f\n", s.name, dims, flops / ours / 1e9);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = std::getenv("JOBBERT_QUICK") && std::strcmp(std::getenv("JOBBERT_QUICK"), "1") == 0;
  bool timeOnly = false;
  int only = -1;  // --shape N: time one shape (for profiling)
  for (int i = 1; i < argc; ++i) {
    quick |= std::strcmp(argv[i], "--quick") == 0;
    timeOnly |= std::strcmp(argv[i], "--time") == 0;  // skip the correctness sweep
    if (std::strcmp(argv[i], "--shape") == 0 && i + 1 < argc) only = std::atoi(argv[++i]), timeOnly = true;
  }
  std::mt19937_64 rng(seed());
  const Isa best = activeIsa();
  if (!timeOnly) {
    const std::vector<Case> all = cases(rng);
    for (Isa isa : availableIsas()) {
      check(setIsa(isa).ok(), std::string("setIsa ") + isaName(isa));
      checkPieces(isa, rng);
      for (int threads : {1, 2}) {
        setThreadCount(threads);
        for (const Case& c : all) runCase(c, isa, threads, rng);
      }
    }
    std::printf("checked %zu shapes × %zu ISAs × 2 thread counts\n", all.size(), availableIsas().size());
    setThreadCount(0);
  }
  setIsa(best);
  if (!quick) timing(only);
  return finish("test_gemm");
}
