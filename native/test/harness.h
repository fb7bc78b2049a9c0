// Shared helpers for the native test/benchmark programs (plain C++, no Node):
// seeded random data, float64 references, tolerance checks and timing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "jobbert/kernels.h"

namespace jobbert::harness {

// The seed comes from JOBBERT_SEED when set, so a failure can be replayed.
inline uint64_t seed() {
  static uint64_t s = [] {
    const char* env = std::getenv("JOBBERT_SEED");
    uint64_t v = env ? std::strtoull(env, nullptr, 10) : 20261126ull;
    std::printf("seed %llu (set JOBBERT_SEED to replay)\n", static_cast<unsigned long long>(v));
    return v;
  }();
  return s;
}

inline std::vector<float> randomFloats(std::mt19937_64& rng, int64_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// Rows of random direction and length (0.01 .. 100): nothing arrives normalised,
// and no row is zero.
inline std::vector<float> randomLengthRows(std::mt19937_64& rng, int64_t rows, int64_t d) {
  std::vector<float> v = randomFloats(rng, rows * d);
  std::uniform_real_distribution<double> logLen(std::log(0.01), std::log(100.0));
  for (int64_t r = 0; r < rows; ++r) {
    const float f = static_cast<float>(std::exp(logLen(rng)));
    bool zero = true;
    for (int64_t c = 0; c < d; ++c) zero = zero && v[r * d + c] == 0.0f;
    if (zero) v[r * d] = 0.5f;
    for (int64_t c = 0; c < d; ++c) v[r * d + c] *= f;
  }
  return v;
}

// Fill with a value that no correct kernel leaves behind.
inline void poison(float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = std::nanf("");
}

// Counts failures; main() returns failures() != 0.
inline int& failureCount() {
  static int n = 0;
  return n;
}
inline int failures() { return failureCount(); }

inline void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failureCount();
    std::printf("FAIL %s\n", what.c_str());
  }
}

// Max error of `got` against the float64 reference, scaled per element by
// (|ref| + scale): relative for large values, absolute near zero.
inline double maxError(const float* got, const double* ref, int64_t n, double scale = 1.0) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double e = std::fabs(double(got[i]) - ref[i]) / (std::fabs(ref[i]) + scale);
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  return worst;
}

// C[m×n] = A[m×k] · B[k×n] in double, row-major, from float inputs.
inline std::vector<double> referenceGemm(const float* a, const float* b, int64_t m, int64_t n, int64_t k,
                                         bool transA = false, bool transB = false) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) {
      double av = transA ? a[p * m + i] : a[i * k + p];
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += av * (transB ? b[j * k + p] : b[p * n + j]);
    }
  return c;
}

// Median wall time of fn over `reps` runs after one warm-up, in seconds.
// JOBBERT_TIME_CPU=1: the process's CPU seconds divided by the thread count
// instead of wall seconds, for a machine shared with other work, where being
// descheduled would otherwise count as our time (threads block, never spin,
// while they wait, so waiting costs no CPU time either way).
inline double timeIt(const std::function<void()>& fn, int reps = 5) {
  fn();
  const char* cpuEnv = std::getenv("JOBBERT_TIME_CPU");
  const bool cpu = cpuEnv && cpuEnv[0] == '1';
  auto now = [cpu] {
    if (!cpu) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (ts.tv_sec + ts.tv_nsec * 1e-9) / jobbert::threadCount();
  };
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double start = now();
    fn();
    t.push_back(now() - start);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

inline int finish(const char* name) {
  std::printf("%s: %s (%d failure(s))\n", name, failures() ? "FAILED" : "ok", failures());
  return failures() ? 1 : 0;
}

}  // namespace jobbert::harness
