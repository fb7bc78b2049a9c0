// Mean embedding bag, forward and sparse backward (CPU, multithreaded).
// Forward: numIds·D adds plus bags·D scales; bound by memory latency on the
// gathered rows (numIds·D·4 bytes from a float table; numIds·(D + 4) from an
// int8 one, a quarter: the shipped LiteEncoder's 131,072 × 96 table is 50 MB
// as float32, 13 MB as int8). Rows are prefetched kPrefetchAhead ids ahead and
// summed in registers, in bag order, so every path gives the same bits.
// Backward: a sort of numIds (id, position) keys, then numIds·D multiply-adds
// into the distinct rows, parallel over distinct ids.
#include "jobbert/embedding_bag.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#if defined(JOBBERT_HAVE_AVX512)
#define JOBBERT_BAG_AVX512 1
#endif
#if defined(JOBBERT_HAVE_AVX2)
#define JOBBERT_BAG_AVX2 1
#endif
#endif

#include "thread_pool.h"

namespace jobbert {
namespace {

// Ids between the row being summed and the one being prefetched. 8 to 32 all
// measured alike on an AMD EPYC (Zen 4) with the shipped table; none: ×1.3–2 slower.
constexpr int64_t kPrefetchAhead = 16;

Status checkBags(const int32_t* ids, int64_t numIds, const int32_t* offsets, int64_t bags, int64_t tableRows) {
  if (bags < 0) return Status::Range("bags must be >= 0; received " + std::to_string(bags));
  if (numIds < 0) return Status::Range("ids must hold >= 0 ids; received " + std::to_string(numIds));
  if (!offsets) return Status::Range("offsets must hold bags + 1 entries; received none");
  if (numIds > 0 && !ids) return Status::Range("ids is missing");
  if (offsets[0] != 0) return Status::Range("offsets[0] must be 0; received " + std::to_string(offsets[0]));
  for (int64_t b = 0; b < bags; ++b)
    if (offsets[b + 1] < offsets[b])
      return Status::Range("offsets must not decrease; offsets[" + std::to_string(b + 1) +
                           "] = " + std::to_string(offsets[b + 1]) + " < offsets[" + std::to_string(b) +
                           "] = " + std::to_string(offsets[b]));
  if (offsets[bags] != numIds)
    return Status::Range("offsets[bags] must equal the number of ids (" + std::to_string(numIds) + "); received " +
                         std::to_string(offsets[bags]));
  for (int64_t i = 0; i < numIds; ++i)
    if (ids[i] < 0 || ids[i] >= tableRows)
      return Status::Range("ids[" + std::to_string(i) + "] must be in [0, " + std::to_string(tableRows) +
                           "); received " + std::to_string(ids[i]));
  return Status::Ok();
}

// prefetchRow must be inlined: as a function of its own, GCC 12 finds it free
// of side effects (pure-const) and deletes every call.
#if defined(__GNUC__)
#define JOBBERT_PREFETCH(address) __builtin_prefetch(address)
#define JOBBERT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define JOBBERT_PREFETCH(address) ((void)(address))
#define JOBBERT_ALWAYS_INLINE inline
#endif

// The bytes of columns [c0, c0 + n) of row `row`, into the caches ahead of use.
JOBBERT_ALWAYS_INLINE void prefetchRow(const EmbeddingBagParams& p, int64_t row, int64_t c0, int64_t n) {
  const char* at;
  int64_t bytes;
  if (p.quantized.codes) {
    at = reinterpret_cast<const char*>(p.quantized.codes + row * p.quantized.cols + c0);
    bytes = n;
    JOBBERT_PREFETCH(p.quantized.scales + row);
  } else {
    at = reinterpret_cast<const char*>(p.table.data + row * p.table.cols + c0);
    bytes = n * int64_t(sizeof(float));
  }
  for (int64_t k = 0; k < bytes; k += 64) JOBBERT_PREFETCH(at + k);
  JOBBERT_PREFETCH(at + bytes - 1);
}

// Columns [c0, c1) of bags [begin, end), one element at a time: the portable
// path, and the last D mod W columns of the vector paths.
void bagsPortable(const EmbeddingBagParams& p, int64_t c0, int64_t c1, int64_t begin, int64_t end) {
  const int64_t D = p.quantized.codes ? p.quantized.cols : p.table.cols;
  constexpr int64_t kBlock = 64;
  float product[kBlock];
  for (int64_t b = begin; b < end; ++b) {
    float* o = p.out + b * D;
    std::fill(o + c0, o + c1, 0.0f);
    const int64_t lo = p.offsets[b], hi = p.offsets[b + 1];
    for (int64_t i = lo; i < hi; ++i) {
      if (i + kPrefetchAhead < p.numIds) prefetchRow(p, p.ids[i + kPrefetchAhead], c0, c1 - c0);
      const int64_t row = p.ids[i];
      if (!p.quantized.codes) {
        const float* r = p.table.data + row * D;
        for (int64_t d = c0; d < c1; ++d) o[d] += r[d];
        continue;
      }
      const int8_t* q = p.quantized.codes + row * D;
      const float scale = p.quantized.scales[row];
      for (int64_t at = c0; at < c1; at += kBlock) {
        const int64_t n = std::min(kBlock, c1 - at);
        for (int64_t k = 0; k < n; ++k) product[k] = float(q[at + k]) * scale;
          // Each product rounded on its own, as the float table holds it: the
          // barrier keeps the compiler from fusing multiply and add into an FMA.
#if defined(__GNUC__)
        __asm__ __volatile__("" : : "r"(product) : "memory");
#endif
        for (int64_t k = 0; k < n; ++k) o[at + k] += product[k];
      }
    }
    if (hi > lo) {
      const float inv = 1.0f / float(hi - lo);
      for (int64_t d = c0; d < c1; ++d) o[d] *= inv;
    }
  }
}

#if defined(JOBBERT_BAG_AVX512)
// GCC 12 warns inside its own conversion intrinsics (their _mm512_undefined
// operands) when they are inlined into a target("avx512f") function.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Columns [c0, c0 + 16·V) of bags [begin, end): V accumulators of 16 lanes.
template <int V>
__attribute__((target("avx512f"))) void bagsAvx512(const EmbeddingBagParams& p, int64_t c0, int64_t begin,
                                                   int64_t end) {
  const bool quantized = p.quantized.codes != nullptr;
  const int64_t D = quantized ? p.quantized.cols : p.table.cols;
  for (int64_t b = begin; b < end; ++b) {
    __m512 acc[V];
    for (int v = 0; v < V; ++v) acc[v] = _mm512_setzero_ps();
    const int64_t lo = p.offsets[b], hi = p.offsets[b + 1];
    for (int64_t i = lo; i < hi; ++i) {
      if (i + kPrefetchAhead < p.numIds) prefetchRow(p, p.ids[i + kPrefetchAhead], c0, 16 * V);
      const int64_t row = p.ids[i];
      if (quantized) {
        const int8_t* q = p.quantized.codes + row * D + c0;
        const __m512 scale = _mm512_set1_ps(p.quantized.scales[row]);
        for (int v = 0; v < V; ++v) {
          const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * v));
          __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(codes)), scale);
          __asm__("" : "+v"(x));  // rounded on its own, never fused into the add (see bagsPortable)
          acc[v] = _mm512_add_ps(acc[v], x);
        }
      } else {
        const float* r = p.table.data + row * D + c0;
        for (int v = 0; v < V; ++v) acc[v] = _mm512_add_ps(acc[v], _mm512_loadu_ps(r + 16 * v));
      }
    }
    if (hi > lo) {
      const __m512 inv = _mm512_set1_ps(1.0f / float(hi - lo));
      for (int v = 0; v < V; ++v) acc[v] = _mm512_mul_ps(acc[v], inv);
    }
    float* o = p.out + b * D + c0;
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(o + 16 * v, acc[v]);
  }
}
#pragma GCC diagnostic pop
#endif

#if defined(JOBBERT_BAG_AVX2)
// Columns [c0, c0 + 8·V) of bags [begin, end): V accumulators of 8 lanes.
template <int V>
__attribute__((target("avx2"))) void bagsAvx2(const EmbeddingBagParams& p, int64_t c0, int64_t begin, int64_t end) {
  const bool quantized = p.quantized.codes != nullptr;
  const int64_t D = quantized ? p.quantized.cols : p.table.cols;
  for (int64_t b = begin; b < end; ++b) {
    __m256 acc[V];
    for (int v = 0; v < V; ++v) acc[v] = _mm256_setzero_ps();
    const int64_t lo = p.offsets[b], hi = p.offsets[b + 1];
    for (int64_t i = lo; i < hi; ++i) {
      if (i + kPrefetchAhead < p.numIds) prefetchRow(p, p.ids[i + kPrefetchAhead], c0, 8 * V);
      const int64_t row = p.ids[i];
      if (quantized) {
        const int8_t* q = p.quantized.codes + row * D + c0;
        const __m256 scale = _mm256_set1_ps(p.quantized.scales[row]);
        for (int v = 0; v < V; ++v) {
          const __m128i codes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + 8 * v));
          __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes)), scale);
          __asm__("" : "+x"(x));  // rounded on its own, never fused into the add (see bagsPortable)
          acc[v] = _mm256_add_ps(acc[v], x);
        }
      } else {
        const float* r = p.table.data + row * D + c0;
        for (int v = 0; v < V; ++v) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(r + 8 * v));
      }
    }
    if (hi > lo) {
      const __m256 inv = _mm256_set1_ps(1.0f / float(hi - lo));
      for (int v = 0; v < V; ++v) acc[v] = _mm256_mul_ps(acc[v], inv);
    }
    float* o = p.out + b * D + c0;
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(o + 8 * v, acc[v]);
  }
}
#endif

// Whether x[0, n) holds NaN or ±Infinity (every exponent bit set): a
// branch-free scan that the compiler vectorises.
bool anyNonFinite(const float* x, int64_t n) {
  uint32_t found = 0;
  for (int64_t k = 0; k < n; ++k) {
    uint32_t bits;
    std::memcpy(&bits, x + k, sizeof bits);
    found |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
  }
  return found != 0;
}

using BagKernel = void (*)(const EmbeddingBagParams&, int64_t, int64_t, int64_t);

// Bags [begin, end), all columns, on the active instruction set: the columns
// in chunks of up to 8 vectors (register accumulators), the rest one by one.
void bags(const EmbeddingBagParams& p, int64_t D, int64_t begin, int64_t end) {
  int64_t width = 1;
  const BagKernel* kernels = nullptr;
#if defined(JOBBERT_BAG_AVX512)
  static const BagKernel avx512[8] = {bagsAvx512<1>, bagsAvx512<2>, bagsAvx512<3>, bagsAvx512<4>,
                                      bagsAvx512<5>, bagsAvx512<6>, bagsAvx512<7>, bagsAvx512<8>};
  if (activeIsa() == Isa::kAvx512) width = 16, kernels = avx512;
#endif
#if defined(JOBBERT_BAG_AVX2)
  static const BagKernel avx2[8] = {bagsAvx2<1>, bagsAvx2<2>, bagsAvx2<3>, bagsAvx2<4>,
                                    bagsAvx2<5>, bagsAvx2<6>, bagsAvx2<7>, bagsAvx2<8>};
  if (activeIsa() == Isa::kAvx2) width = 8, kernels = avx2;
#endif
  int64_t c0 = 0;
  if (kernels) {
    for (int64_t vectors; (vectors = std::min<int64_t>(8, (D - c0) / width)) > 0; c0 += vectors * width)
      kernels[vectors - 1](p, c0, begin, end);
  }
  if (c0 < D) bagsPortable(p, c0, D, begin, end);
}

// Codes for one row at scale `scale` that reproduce it exactly, if there are.
bool fitsRow(const float* row, int64_t cols, float scale, int8_t* codes) {
  const float inv = 1.0f / scale;
  // 1.5 · 2^23: adding and subtracting it rounds a float of magnitude < 2^22 to an integer.
  const float kRound = 12582912.0f;
  int32_t mismatches = 0;
  for (int64_t d = 0; d < cols; ++d) {
    const float x = std::min(127.0f, std::max(-128.0f, row[d] * inv));
    const float q = (x + kRound) - kRound;  // the nearest code
    mismatches += q * scale != row[d];
    codes[d] = int8_t(int32_t(q));
  }
  return mismatches == 0;
}

}  // namespace

bool int8RowsExactly(ConstMatrix t, int8_t* codes, float* scales) {
  if (!t.data || t.rows <= 0 || t.cols <= 0) return false;
  for (int64_t r = 0; r < t.rows; ++r) {
    const float* row = t.data + r * t.cols;
    float max = 0;
    bool finite = true;
    for (int64_t d = 0; d < t.cols; ++d) {
      const float a = std::fabs(row[d]);
      finite &= a <= FLT_MAX;  // NaN and Infinity are not codes · scale
      max = a > max ? a : max;
    }
    if (!finite) return false;
    int8_t* out = codes + r * t.cols;
    if (max == 0) {  // ±0 everywhere: code 0 (a -0 reads as +0, which no mean can tell apart)
      std::memset(out, 0, size_t(t.cols));
      scales[r] = 0;
      continue;
    }
    // The largest element is ±127 · scale when the row was quantised as io.ts
    // does (scale = max / 127); its neighbours cover the rounding of that division.
    const float guess = max / 127.0f;
    bool found = false;
    for (float scale : {guess, std::nextafter(guess, 0.0f), std::nextafter(guess, FLT_MAX)}) {
      if (scale > 0 && fitsRow(row, t.cols, scale, out)) {
        scales[r] = scale;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

Status embeddingBagForward(const EmbeddingBagParams& p) {
  const bool quantized = p.quantized.codes != nullptr;
  const int64_t D = quantized ? p.quantized.cols : p.table.cols;
  const int64_t rows = quantized ? p.quantized.rows : p.table.rows;
  if (quantized ? (rows <= 0 || D <= 0 || !p.quantized.scales) : (rows <= 0 || D <= 0 || !p.table.data))
    return Status::Range("table must be a non-empty matrix");
  if (!p.out && p.bags > 0) return Status::Range("out is missing");
  Status s = checkBags(p.ids, p.numIds, p.offsets, p.bags, rows);
  if (!s.ok()) return s;
  std::atomic<bool> bad{false};
  parallelRanges(p.bags, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, D)), [&](int64_t begin, int64_t end) {
    bags(p, D, begin, end);
    if (anyNonFinite(p.out + begin * D, (end - begin) * D)) bad.store(true, std::memory_order_relaxed);
  });
  if (bad.load()) return Status::Range("table holds NaN or Infinity in a row the ids select");
  return Status::Ok();
}

Status embeddingBagBackward(const EmbeddingBagBackwardParams& p, SparseRows* out) {
  const int64_t D = p.gradOut.cols;
  if (!out) return Status::Internal("embeddingBagBackward: out is null");
  if (p.gradOut.rows != p.bags)
    return Status::Range("gradOut.rows must equal the number of bags (" + std::to_string(p.bags) + "); received " +
                         std::to_string(p.gradOut.rows));
  if (D <= 0 && p.bags > 0) return Status::Range("gradOut.cols must be >= 1");
  if (p.tableRows <= 0) return Status::Range("tableRows must be >= 1");
  Status s = checkBags(p.ids, p.numIds, p.offsets, p.bags, p.tableRows);
  if (!s.ok()) return s;
  for (int64_t i = 0; i < p.bags * D; ++i)
    if (!std::isfinite(p.gradOut.data[i]))
      return Status::Range("gradOut holds NaN or Infinity at index " + std::to_string(i));

  // Key = id << 32 | position: sorting groups each id's occurrences in position
  // (hence bag) order, which fixes the summation order.
  std::vector<uint64_t> keys(static_cast<size_t>(p.numIds));
  for (int64_t i = 0; i < p.numIds; ++i) keys[i] = uint64_t(uint32_t(p.ids[i])) << 32 | uint64_t(i);
  std::sort(keys.begin(), keys.end());
  // Bag of each position and its 1/|bag| weight.
  std::vector<int32_t> bagOf(static_cast<size_t>(p.numIds));
  for (int64_t b = 0; b < p.bags; ++b)
    for (int64_t i = p.offsets[b]; i < p.offsets[b + 1]; ++i) bagOf[i] = int32_t(b);
  std::vector<int64_t> starts;
  out->rowIds.clear();
  for (int64_t i = 0; i < p.numIds; ++i) {
    int32_t id = int32_t(keys[i] >> 32);
    if (i == 0 || id != out->rowIds.back()) {
      out->rowIds.push_back(id);
      starts.push_back(i);
    }
  }
  starts.push_back(p.numIds);
  const int64_t U = int64_t(out->rowIds.size());
  out->grads.assign(static_cast<size_t>(U * D), 0.0f);
  parallelRanges(U, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, D)), [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      float* g = out->grads.data() + u * D;
      for (int64_t k = starts[u]; k < starts[u + 1]; ++k) {
        const int64_t pos = int64_t(keys[k] & 0xFFFFFFFFu);
        const int32_t b = bagOf[pos];
        const float w = 1.0f / float(p.offsets[b + 1] - p.offsets[b]);
        const float* go = p.gradOut.data + int64_t(b) * D;
        for (int64_t d = 0; d < D; ++d) g[d] += w * go[d];
      }
    }
  });
  return Status::Ok();
}

}  // namespace jobbert
