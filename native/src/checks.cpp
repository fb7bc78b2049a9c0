#include "checks.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "thread_pool.h"

namespace jobbert {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;

inline bool finiteBits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return (bits & 0x7f800000u) != 0x7f800000u;
}

// Index of the first non-finite value in v[0, n), or -1. Branch-free inner
// loop over blocks so the compiler vectorises it.
int64_t firstNonFinite(const float* v, int64_t n) {
  std::atomic<int64_t> first{std::numeric_limits<int64_t>::max()};
  parallelRanges(n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b += 1024) {
      int64_t e = std::min(end, b + 1024);
      uint32_t bad = 0;
      for (int64_t i = b; i < e; ++i) bad |= !finiteBits(v[i]);
      if (!bad) continue;
      for (int64_t i = b; i < e; ++i) {
        if (!finiteBits(v[i])) {
          int64_t cur = first.load();
          while (i < cur && !first.compare_exchange_weak(cur, i)) {
          }
          return;
        }
      }
    }
  });
  int64_t f = first.load();
  return f == std::numeric_limits<int64_t>::max() ? -1 : f;
}

std::string describe(float x) {
  if (std::isnan(x)) return "NaN";
  return x > 0 ? "Infinity" : "-Infinity";
}

}  // namespace

Status checkShape(const ConstMatrix& m, const char* name, int64_t minRows) {
  if (m.rows < minRows || m.rows >= kMaxDim)
    return Status::Range(std::string(name) + " must have at least " + std::to_string(minRows) +
                         " row(s) and fewer than 2^31; received " + std::to_string(m.rows));
  if (m.cols < 1 || m.cols >= kMaxDim)
    return Status::Range(std::string(name) + " must have at least 1 column and fewer than 2^31; received " +
                         std::to_string(m.cols));
  if (m.rows > 0 && m.data == nullptr) return Status::Type(std::string(name) + " has no data");
  return Status::Ok();
}

Status checkFinite(const ConstMatrix& m, const char* name) {
  int64_t i = firstNonFinite(m.data, m.rows * m.cols);
  if (i < 0) return Status::Ok();
  return Status::Range(std::string(name) + " must hold only finite numbers; received " + describe(m.data[i]) +
                       " at row " + std::to_string(i / m.cols) + ", column " + std::to_string(i % m.cols));
}

Status checkFiniteVector(const float* v, int64_t n, const char* name) {
  int64_t i = firstNonFinite(v, n);
  if (i < 0) return Status::Ok();
  return Status::Range(std::string(name) + " must hold only finite numbers; received " + describe(v[i]) + " at index " +
                       std::to_string(i));
}

Status inverseRowNorms(const ConstMatrix& m, const char* name, float* invNorm) {
  std::atomic<int64_t> badRow{-1};
  parallelRanges(m.rows, std::max<int64_t>(1, 16384 / m.cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = m.data + r * m.cols;
      // Eight independent partial sums: one running sum is a chain of
      // dependent adds (4 cycles each); eight let the adds overlap and
      // vectorise, and each partial is still accumulated in double.
      double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t c = 0;
      for (; c + 8 <= m.cols; c += 8)
        for (int j = 0; j < 8; ++j) part[j] += double(row[c + j]) * double(row[c + j]);
      for (; c < m.cols; ++c) part[0] += double(row[c]) * double(row[c]);
      const double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      if (!(sum >= kMinSquaredNorm) || !std::isfinite(sum)) {
        int64_t expected = -1;
        badRow.compare_exchange_strong(expected, r);
        invNorm[r] = 0.0f;
        continue;
      }
      invNorm[r] = static_cast<float>(1.0 / std::sqrt(sum));
    }
  });
  int64_t r = badRow.load();
  if (r < 0) return Status::Ok();
  // Report a non-finite value precisely when that is the cause.
  Status finite = checkFinite(m, name);
  if (!finite.ok()) return finite;
  return Status::Range(std::string(name) + " row " + std::to_string(r) + kZeroVector);
}

}  // namespace jobbert
