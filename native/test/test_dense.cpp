// dense: forward and backward against float64 references for every
// instruction set, argument errors, the fast tanh's accuracy, and (without
// --quick / JOBBERT_QUICK=1) forward speed against OpenBLAS sgemm.
#include <dlfcn.h>

#include <cstring>
#include <limits>

#include "harness.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

struct Ref {
  std::vector<double> y, gradX, gradW, gradB;
};

// y = act(x·Wᵀ + b); with gradY, the gradients through it (using the float y
// the kernel returns, as denseBackward does).
Ref reference(const std::vector<float>& x, const std::vector<float>& w, const float* bias, bool tanhAct, int64_t m,
              int64_t in, int64_t out, const std::vector<float>& y, const std::vector<float>& gy) {
  Ref r;
  r.y = referenceGemm(x.data(), w.data(), m, out, in, false, true);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < out; ++j) {
      double& v = r.y[i * out + j];
      v += bias ? bias[j] : 0.0;
      if (tanhAct) v = std::tanh(v);
    }
  if (gy.empty()) return r;
  std::vector<double> gz(m * out);
  for (int64_t i = 0; i < m * out; ++i) gz[i] = tanhAct ? gy[i] * (1.0 - double(y[i]) * y[i]) : gy[i];
  r.gradX.assign(m * in, 0.0), r.gradW.assign(out * in, 0.0), r.gradB.assign(out, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < out; ++j) {
      const double g = gz[i * out + j];
      r.gradB[j] += g;
      for (int64_t c = 0; c < in; ++c) {
        r.gradX[i * in + c] += g * w[j * in + c];
        r.gradW[j * in + c] += g * x[i * in + c];
      }
    }
  return r;
}

void checkShape(Isa isa, int64_t m, int64_t in, int64_t out, bool withBias, bool tanhAct, std::mt19937_64& rng) {
  char what[160];
  std::snprintf(what, sizeof what, "%s m=%lld in=%lld out=%lld bias=%d tanh=%d", isaName(isa), (long long)m,
                (long long)in, (long long)out, withBias, tanhAct);
  std::vector<float> x = randomFloats(rng, m * in), w = randomFloats(rng, out * in, -0.2f, 0.2f);
  std::vector<float> bias = randomFloats(rng, out), y(m * out), gy = randomFloats(rng, m * out);
  poison(y.data(), m * out);
  DenseParams f;
  f.x = {x.data(), m, in}, f.weight = {w.data(), out, in};
  f.bias = withBias ? bias.data() : nullptr;
  f.activation = tanhAct ? Activation::kTanh : Activation::kIdentity;
  f.y = y.data();
  Status s = denseForward(f);
  check(s.ok(), std::string(what) + " forward: " + s.message);

  Ref r = reference(x, w, f.bias, tanhAct, m, in, out, y, gy);
  const double tol = 1e-6 * (4.0 + std::sqrt(double(in)));
  check(maxError(y.data(), r.y.data(), m * out) <= tol, std::string(what) + " forward error");

  std::vector<float> gx(m * in), gw(out * in), gb(out);
  poison(gx.data(), m * in), poison(gw.data(), out * in), poison(gb.data(), out);
  DenseBackwardParams b;
  b.x = f.x, b.weight = f.weight, b.y = {y.data(), m, out}, b.gradY = {gy.data(), m, out};
  b.activation = f.activation;
  b.gradX = gx.data(), b.gradWeight = gw.data(), b.gradBias = gb.data();
  s = denseBackward(b);
  check(s.ok(), std::string(what) + " backward: " + s.message);
  check(maxError(gx.data(), r.gradX.data(), m * in) <= 1e-6 * (4.0 + std::sqrt(double(out))),
        std::string(what) + " gradX error");
  const double tolM = 1e-6 * (4.0 + std::sqrt(double(m)));
  check(maxError(gw.data(), r.gradW.data(), out * in) <= tolM, std::string(what) + " gradWeight error");
  check(maxError(gb.data(), r.gradB.data(), out) <= tolM, std::string(what) + " gradBias error");
}

void checkErrors() {
  const int64_t m = 3, in = 5, out = 4;
  std::vector<float> x(m * in, 0.5f), w(out * in, 0.25f), bias(out, 0.1f), y(m * out, 0.3f), gy(m * out, 1.0f);
  std::vector<float> gx(m * in), gw(out * in), gb(out);
  auto forward = [&]() {
    DenseParams f;
    f.x = {x.data(), m, in}, f.weight = {w.data(), out, in}, f.bias = bias.data(), f.y = y.data();
    f.activation = Activation::kTanh;
    return denseForward(f);
  };
  auto backward = [&]() {
    DenseBackwardParams b;
    b.x = {x.data(), m, in}, b.weight = {w.data(), out, in}, b.y = {y.data(), m, out}, b.gradY = {gy.data(), m, out},
    b.activation = Activation::kTanh;
    b.gradX = gx.data(), b.gradWeight = gw.data(), b.gradBias = gb.data();
    return denseBackward(b);
  };
  auto expectRange = [](const Status& s, const char* name, const std::string& what) {
    check(s.code == StatusCode::kRangeError && s.message.find(name) != std::string::npos,
          what + ": expected a range error naming '" + name + "', got '" + s.message + "'");
  };
  const float bad[] = {std::nanf(""), std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  struct Target {
    std::vector<float>* v;
    const char* name;
    bool inForward;
  } targets[] = {{&x, "x", true}, {&w, "weight", true}, {&bias, "bias", true}, {&gy, "gradY", false}};
  for (const Target& t : targets)
    for (float v : bad) {
      float& slot = (*t.v)[t.v->size() - 1];
      const float saved = slot;
      slot = v;
      if (t.inForward) expectRange(forward(), t.name, std::string("forward with bad ") + t.name);
      if (t.name != std::string("bias")) expectRange(backward(), t.name, std::string("backward with bad ") + t.name);
      slot = saved;
    }
  check(forward().ok() && backward().ok(), "clean inputs pass");

  DenseParams f;  // weight with the wrong number of columns
  f.x = {x.data(), m, in}, f.weight = {w.data(), out, in - 1}, f.y = y.data();
  expectRange(denseForward(f), "weight", "forward shape mismatch");
  DenseBackwardParams b;  // gradY with the wrong shape
  b.x = {x.data(), m, in}, b.weight = {w.data(), out, in}, b.y = {y.data(), m, out}, b.gradY = {gy.data(), m, out - 1},
  b.gradX = gx.data(), b.gradWeight = gw.data(), b.gradBias = gb.data();
  expectRange(denseBackward(b), "gradY", "backward shape mismatch");
  f.weight = {w.data(), out, in}, f.x = {x.data(), 0, in};
  expectRange(denseForward(f), "x", "forward with no rows");
}

// The fast tanh, through the public API: a 1→1 layer with weight 1.
void checkTanh() {
  const int64_t n = 2'400'001;  // step 1e-5 over [-12, 12]
  std::vector<float> x(n), y(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(-12.0 + 24.0 * double(i) / double(n - 1));
  const float one = 1.0f;
  DenseParams f;
  f.x = {x.data(), n, 1}, f.weight = {&one, 1, 1}, f.activation = Activation::kTanh, f.y = y.data();
  check(denseForward(f).ok(), "tanh sweep runs");
  double worst = 0, worstRel = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double ref = std::tanh(double(x[i])), e = std::fabs(y[i] - ref);
    worst = std::max(worst, e);
    worstRel = std::max(worstRel, e / std::max(std::fabs(ref), 1e-30));
  }
  std::printf("fast tanh on [-12, 12]: max abs error %.3g, max rel error %.3g\n", worst, worstRel);
  // Measured 3.9e-7 (near |x| = 5.8, where tanh is within 2e-5 of ±1): about
  // 4 ulp of 1.0, the rational approximation's own error, not accumulation.
  check(worst <= 5e-7, "fast tanh max abs error " + std::to_string(worst));
  check(worstRel <= 1e-6, "fast tanh max rel error " + std::to_string(worstRel));
}

void timing() {
  if (activeIsa() == Isa::kAvx512) setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 0);  // see test_gemm.cpp
  void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  using SgemmFn =
      void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  SgemmFn sgemm = lib ? reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm")) : nullptr;
  if (!sgemm) {
    std::printf("OpenBLAS not found: skipping the timing comparison\n");
    return;
  }
  if (auto setThreads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads")))
    setThreads(threadCount());
  const int64_t m = 4096, in = 768, out = 1024;
  std::mt19937_64 rng(seed());
  std::vector<float> x = randomFloats(rng, m * in), w = randomFloats(rng, out * in), bias = randomFloats(rng, out);
  std::vector<float> y(m * out);
  DenseParams f;
  f.x = {x.data(), m, in}, f.weight = {w.data(), out, in}, f.bias = bias.data();
  f.activation = Activation::kTanh, f.y = y.data();
  double ours = 1e9, theirs = 1e9;
  for (int round = 0; round < 3; ++round) {
    ours = std::min(ours, timeIt([&] { denseForward(f); }, 3));
    theirs = std::min(theirs, timeIt(
                                  [&] {
                                    sgemm(101, 111, 112, int(m), int(out), int(in), 1.0f, x.data(), int(in), w.data(),
                                          int(in), 0.0f, y.data(), int(out));
                                  },
                                  3));
  }
  const double flops = 2.0 * m * in * out;
  std::printf(
      "dense forward %lld×%lld→%lld tanh+bias, %d thread(s): ours %.1f GFLOP/s, OpenBLAS sgemm alone %.1f, "
      "ratio %.2f\n",
      (long long)m, (long long)in, (long long)out, threadCount(), flops / ours / 1e9, flops / theirs / 1e9,
      theirs / ours);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = std::getenv("JOBBERT_QUICK") && std::strcmp(std::getenv("JOBBERT_QUICK"), "1") == 0;
  for (int i = 1; i < argc; ++i) quick |= std::strcmp(argv[i], "--quick") == 0;
  std::mt19937_64 rng(seed());
  const Isa best = activeIsa();
  const int64_t shapes[][3] = {{1, 1, 1}, {1, 768, 1024}, {7, 13, 5}, {33, 65, 17}, {64, 768, 96}, {130, 31, 257}};
  for (Isa isa : availableIsas()) {
    setIsa(isa);
    for (auto& s : shapes)
      for (int variant = 0; variant < 4; ++variant) checkShape(isa, s[0], s[1], s[2], variant & 1, variant & 2, rng);
  }
  setIsa(best);
  checkErrors();
  checkTanh();
  if (!quick) timing();
  return finish("test_dense");
}
