// Int8 storage of float32 rows in a file or in memory (see jobbert/quantized.h).
// Cost model: loading is one streaming pass over the values (pread + CRC32C
// + quantise + pack, ~3 flops a value, memory-bound); a search is the int8
// scan (scanInt8: Q·N·d int8 multiply-adds over N·d bytes, a quarter of the
// float32 scan's) plus Q·pool rows of d·4 bytes read back and scored exactly
// (2·Q·pool·d flops).
#include "jobbert/quantized.h"

#include "files.h"
#include "guard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "checks.h"
#include "jobbert/store.h"
#include "thread_pool.h"

#if defined(JOBBERT_HAVE_AVX512) && defined(__x86_64__)
#include <immintrin.h>
#define JOBBERT_QUANT_AVX512 1
#endif

namespace jobbert {
namespace {

constexpr uint64_t kChunk = uint64_t(8) << 20;  // bytes streamed per task step (whole checksum blocks)
static_assert(kChunk % kChecksumBlock == 0, "chunks must hold whole checksum blocks");
// Re-scoring reads at most this many bytes of candidate rows at once.
constexpr int64_t kRescoreBytes = int64_t(64) << 20;

int64_t mtimeNs(const struct stat& st) {
#if defined(__APPLE__)
  return int64_t(st.st_mtimespec.tv_sec) * 1000000000 + st.st_mtimespec.tv_nsec;
#else
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
#endif
}

// Reads exactly n bytes at `at`; 0 bytes read (end of file) is kCorrupt.
Status preadAll(int fd, const std::string& path, uint8_t* dst, uint64_t n, uint64_t at) {
  for (uint64_t done = 0; done < n;) {
    ssize_t got = ::pread(fd, dst + done, static_cast<size_t>(n - done), static_cast<off_t>(at + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::Io(sysError("cannot read", path, errno));
    }
    if (got == 0)
      return Status::Corrupt("'" + path + "' ends at byte " + std::to_string(at + done) + ", before the data");
    done += uint64_t(got);
  }
  return Status::Ok();
}

bool useAvx512() { return activeIsa() == Isa::kAvx512; }

#ifdef JOBBERT_QUANT_AVX512
// (All-lanes masked forms throughout: the plain ones start from
// _mm512_undefined_*, which GCC 12 reports as maybe uninitialized.)
constexpr __mmask16 kAll16 = 0xffff;
constexpr __mmask8 kAll8 = 0xff;

__attribute__((target("avx512f"))) double quantizeRowAvx512(const float* x, int64_t d, int8_t* codes, float* scale) {
  __m512 maxAbs = _mm512_setzero_ps();
  __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
  for (int64_t p = 0; p < d; p += 16) {
    const __mmask16 m = d - p >= 16 ? __mmask16(0xffff) : __mmask16((1u << (d - p)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + p);
    maxAbs = _mm512_maskz_max_ps(
        kAll16, maxAbs, _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff))));
    const __m512d lo =
        _mm512_maskz_cvtps_pd(kAll8, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(kAll8, _mm512_castps_pd(v), 0)));
    const __m512d hi =
        _mm512_maskz_cvtps_pd(kAll8, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(kAll8, _mm512_castps_pd(v), 1)));
    sum0 = _mm512_fmadd_pd(lo, lo, sum0);
    sum1 = _mm512_fmadd_pd(hi, hi, sum1);
  }
  alignas(64) float tops[16];
  alignas(64) double sums[8];
  _mm512_store_ps(tops, maxAbs);
  _mm512_store_pd(sums, _mm512_add_pd(sum0, sum1));
  const float top = *std::max_element(tops, tops + 16);
  const double sum = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
  // A row too small for a normal scale is quantised to zero codes (its error bound is the row itself).
  const bool coded = top >= kMinQuantTop;
  *scale = coded ? top / 127.0f : 0.0f;
  const __m512 s = _mm512_set1_ps(coded ? *scale : 1.0f);
  for (int64_t p = 0; p < d; p += 16) {
    const __mmask16 m = d - p >= 16 ? __mmask16(0xffff) : __mmask16((1u << (d - p)) - 1);
    // cvtps_epi32 rounds to nearest even (the default MXCSR mode), as lrintf does.
    const __m512i q = coded ? _mm512_maskz_cvtps_epi32(kAll16, _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + p), s))
                            : _mm512_setzero_si512();
    _mm512_mask_cvtsepi32_storeu_epi8(codes + p, m, q);
  }
  return sum;
}
#endif

}  // namespace

// ---------------------------------------------------------------- quantisation

double quantizeRow(const float* x, int64_t d, int8_t* codes, float* scale) {
#ifdef JOBBERT_QUANT_AVX512
  if (useAvx512()) return quantizeRowAvx512(x, d, codes, scale);
#endif
  float top = 0.0f;
  double sum = 0.0;
  for (int64_t p = 0; p < d; ++p) {
    top = std::max(top, std::fabs(x[p]));
    sum += double(x[p]) * double(x[p]);
  }
  const bool coded = top >= kMinQuantTop;  // as in quantizeRowAvx512
  *scale = coded ? top / 127.0f : 0.0f;
  for (int64_t p = 0; p < d; ++p) {
    const long q = coded ? std::lrint(x[p] / *scale) : 0;  // nearest, ties to even
    codes[p] = static_cast<int8_t>(std::min(127L, std::max(-127L, q)));
  }
  return sum;
}

// ---------------------------------------------------------------- QuantizedMatrix

QuantizedMatrix::~QuantizedMatrix() {
  if (fd_ >= 0) ::close(fd_);
}

PackedInt8Rows QuantizedMatrix::packed() const {
  return {reinterpret_cast<const uint8_t*>(codes_.data()), scales_.data(), invNorms_.data(), rows_, cols_};
}

void QuantizedMatrix::rowCodes(int64_t r, int8_t* out) const {
  unpackRow(reinterpret_cast<const uint8_t*>(codes_.data()), r, cols_, out);
}

// Quantises row r of the values into the packed codes, its scale and 1/‖x‖;
// returns Σx² (not finite when a value is not).
double QuantizedMatrix::quantizeInto(const float* row, int64_t r, int8_t* scratch) {
  const double sum = quantizeRow(row, cols_, scratch, &scales_[r]);
  packRow(scratch, r, cols_, reinterpret_cast<uint8_t*>(codes_.data()));
  invNorms_[r] = sum >= kMinSquaredNorm && std::isfinite(sum) ? static_cast<float>(1.0 / std::sqrt(sum)) : 0.0f;
  double err = 0.0;
  for (int64_t p = 0; p < cols_; ++p) {
    const double e = double(row[p]) - double(scales_[r]) * double(scratch[p]);
    err += e * e;
  }
  errors_[r] = static_cast<float>(std::sqrt(err) * (1.0 + 1e-6));  // rounded up, past float's rounding
  return sum;
}

// The corpus side of search()'s error bound, once all rows are quantised.
void QuantizedMatrix::summariseErrors() {
  maxNorm_ = maxError_ = maxRelativeError_ = 0.0;
  for (int64_t r = 0; r < rows_; ++r) {
    maxError_ = std::max(maxError_, double(errors_[r]));
    if (invNorms_[r] > 0.0f) {
      const double norm = 1.0 / double(invNorms_[r]);
      maxNorm_ = std::max(maxNorm_, norm);
      maxRelativeError_ = std::max(maxRelativeError_, double(errors_[r]) * double(invNorms_[r]));
    }
  }
  maxNorm_ *= 1.0 + 1e-6, maxRelativeError_ *= 1.0 + 1e-6;
}

double QuantizedMatrix::errorBound(const float* query, Metric metric) const {
  const int64_t d = cols_;
  std::vector<int8_t> codes(static_cast<size_t>(d));
  float scale;
  quantizeRow(query, d, codes.data(), &scale);  // as scanInt8 quantises it
  double norm = 0, hatNorm = 0, err = 0;
  for (int64_t p = 0; p < d; ++p) {
    const double x = query[p], hat = double(scale) * double(codes[p]);
    norm += x * x, hatNorm += hat * hat, err += (x - hat) * (x - hat);
  }
  norm = std::sqrt(norm), hatNorm = std::sqrt(hatNorm), err = std::sqrt(err);
  // float32 rounding of the exact kernel's dot and of the int8 score's scaling: (2d + 16) units of 2^-24, relative.
  const double rounding = double(2 * d + 16) * std::ldexp(1.0, -24);
  if (metric == Metric::kCosine) {
    if (!(norm > 0.0)) return 0.0;
    return (err + hatNorm * maxRelativeError_) / norm * (1.0 + 1e-6) + rounding * (1.0 + hatNorm / norm);
  }
  return (err * maxNorm_ + hatNorm * maxError_) * (1.0 + 1e-6) + rounding * (norm + hatNorm) * maxNorm_;
}

// Allocates the packed codes (zero codes in the padding), scales and norms.
Status QuantizedMatrix::allocate(int64_t rows, int64_t cols) {
  if (rows < 1 || cols < 1) return Status::Range("rows and cols must be >= 1");
  if (cols > kInt8MaxCols)
    return Status::Range("int8 storage takes rows of at most " + std::to_string(kInt8MaxCols) + " columns; received " +
                         std::to_string(cols));
  rows_ = rows, cols_ = cols;
  const int64_t bytes = packedBytes(rows, cols);
  codes_ = FloatBuffer((bytes + 3) / 4);
  // Code 0 (u8 128) in the padding rows and columns.
  std::memset(codes_.data(), 128, size_t(bytes));
  scales_.assign(size_t(rows), 0.0f);
  invNorms_.assign(size_t(rows), 0.0f);
  errors_.assign(size_t(rows), 0.0f);
  return Status::Ok();
}

Status QuantizedMatrix::fromMemory(std::shared_ptr<const FloatBuffer> values, int64_t rows, int64_t cols,
                                   std::shared_ptr<QuantizedMatrix>* out) {
  if (!values) return Status::Type("values must be a float32 buffer");
  if (rows > 0 && cols > 0 && values->size() < rows * cols)
    return Status::Range("values hold " + std::to_string(values->size()) + " floats, fewer than rows·cols");
  return guarded("int8 quantisation", [&]() -> Status {
    std::shared_ptr<QuantizedMatrix> m(new QuantizedMatrix());
    if (Status s = m->allocate(rows, cols); !s.ok()) return s;
    std::atomic<int64_t> badRow{INT64_MAX}, zeroRow{INT64_MAX};
    parallelRanges(rows, 256, [&](int64_t b, int64_t e) {
      std::vector<int8_t> scratch(static_cast<size_t>(cols));
      for (int64_t r = b; r < e; ++r) {
        const double sum = m->quantizeInto(values->data() + r * cols, r, scratch.data());
        std::atomic<int64_t>& first = !std::isfinite(sum) ? badRow : zeroRow;
        if (!std::isfinite(sum) || !(sum >= kMinSquaredNorm))
          for (int64_t seen = first.load(); r < seen && !first.compare_exchange_weak(seen, r);) {
          }
      }
    });
    if (badRow.load() != INT64_MAX) {
      // Name the first bad value precisely (a second scan, on the error path only).
      Status s = checkFinite({values->data(), rows, cols}, "matrix");
      return s.ok() ? Status::Range("matrix must hold only finite numbers") : s;
    }
    if (zeroRow.load() != INT64_MAX) m->zeroRow_ = zeroRow.load();
    m->summariseErrors();
    m->values_ = std::move(values);
    *out = std::move(m);
    return Status::Ok();
  });
}

Status QuantizedMatrix::fromFile(const std::string& path, uint64_t offset, int64_t rows, int64_t cols,
                                 const uint64_t* expected, std::shared_ptr<QuantizedMatrix>* out) {
  if (rows < 1 || cols < 1) return Status::Range("rows and cols must be >= 1");
  if (cols > kInt8MaxCols)
    return Status::Range("int8 storage takes rows of at most " + std::to_string(kInt8MaxCols) + " columns; received " +
                         std::to_string(cols));
  const uint64_t rowBytes = uint64_t(cols) * 4;
  if (offset > uint64_t(INT64_MAX) || uint64_t(rows) > (uint64_t(INT64_MAX) - offset) / rowBytes)
    return Status::Range("offset + rows·cols·4 overflows a file offset");
  const uint64_t bytes = uint64_t(rows) * rowBytes;
  std::shared_ptr<QuantizedMatrix> m(new QuantizedMatrix());
  m->path_ = path, m->offset_ = offset;
  if (Status s = openRegular(path, O_RDONLY, "", &m->fd_); !s.ok()) return s;
  struct stat st;
  if (::fstat(m->fd_, &st) != 0) return Status::Io(sysError("cannot stat", path, errno));
  if (uint64_t(st.st_size) < offset + bytes)
    return Status::Corrupt("'" + path + "' is truncated: it holds " + std::to_string(st.st_size) + " bytes, but " +
                           std::to_string(rows * cols) + " floats at offset " + std::to_string(offset) + " need " +
                           std::to_string(offset + bytes));
  m->fileSize_ = st.st_size, m->mtimeNs_ = mtimeNs(st);
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(m->fd_, static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_SEQUENTIAL);
#endif
  if (Status s = m->allocate(rows, cols); !s.ok()) return s;

  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  const size_t blocks = static_cast<size_t>((bytes + kChecksumBlock - 1) / kChecksumBlock);
  std::vector<uint32_t> crcs(expected ? blocks : 0);
  std::atomic<int64_t> nextChunk{0}, badRow{INT64_MAX}, zeroRow{INT64_MAX};
  FirstError error;
  // One task per thread, each with one buffer, taking chunks in file order.
  const int64_t tasks = std::min<int64_t>(chunks, ThreadPool::instance().size());
  ThreadPool::instance().run(tasks, [&](int64_t) {
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[kChunk + rowBytes]);
    std::vector<int8_t> scratch(static_cast<size_t>(cols));
    for (int64_t c; !error.failed() && (c = nextChunk.fetch_add(1)) < chunks;) {
      const uint64_t begin = uint64_t(c) * kChunk, end = std::min(bytes, begin + kChunk);
      // The rows that start in [begin, end), read whole (the last may run past end).
      const int64_t r0 = static_cast<int64_t>((begin + rowBytes - 1) / rowBytes);
      const int64_t r1 = static_cast<int64_t>((end + rowBytes - 1) / rowBytes);
      const uint64_t readEnd = std::max(end, uint64_t(r1) * rowBytes);
      Status s = preadAll(m->fd_, path, buffer.get(), readEnd - begin, offset + begin);
      if (!s.ok()) return error.set(std::move(s));
      for (uint64_t b = begin / kChecksumBlock; expected && b * kChecksumBlock < end; ++b)
        crcs[b] = crc32c(buffer.get() + (b * kChecksumBlock - begin),
                         std::min(end, (b + 1) * kChecksumBlock) - b * kChecksumBlock);
      for (int64_t r = r0; r < r1; ++r) {
        const auto* row = reinterpret_cast<const float*>(buffer.get() + (uint64_t(r) * rowBytes - begin));
        const double sum = m->quantizeInto(row, r, scratch.data());
        std::atomic<int64_t>& first = !std::isfinite(sum) ? badRow : zeroRow;
        if (!std::isfinite(sum) || !(sum >= kMinSquaredNorm))
          for (int64_t seen = first.load(); r < seen && !first.compare_exchange_weak(seen, r);) {
          }
      }
    }
  });
  if (error.failed()) return error.take();
  if (expected) {
    const uint64_t sum = combineBlockCrcs(crcs.data(), blocks, bytes);
    if (sum != *expected)
      return Status::Corrupt("checksum mismatch in '" + path + "': the " + std::to_string(bytes) + " bytes at offset " +
                             std::to_string(offset) + " give " + checksumHex(sum) + ", expected " +
                             checksumHex(*expected));
  }
#ifdef POSIX_FADV_RANDOM
  // From now on the file is read a row at a time (re-scoring): no read-ahead.
  ::posix_fadvise(m->fd_, 0, 0, POSIX_FADV_RANDOM);
#endif
  if (badRow.load() != INT64_MAX) m->nonFiniteRow_ = badRow.load();
  if (zeroRow.load() != INT64_MAX) m->zeroRow_ = zeroRow.load();
  m->summariseErrors();
  *out = std::move(m);
  return Status::Ok();
}

Status QuantizedMatrix::checkFile() const {
  if (values_) return Status::Ok();
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Status::Io(sysError("cannot stat", path_, errno));
  if (st.st_size != fileSize_ || mtimeNs(st) != mtimeNs_)
    return Status::Corrupt("'" + path_ + "' was modified in place after it was loaded with int8 storage; its exact " +
                           "vectors can no longer be trusted (load it again)");
  return Status::Ok();
}

Status QuantizedMatrix::checkSearchable(Metric metric) const {
  if (nonFiniteRow_ >= 0)
    return Status::Range("corpus row " + std::to_string(nonFiniteRow_) +
                         " holds a non-finite value; its similarities are undefined");
  if (metric == Metric::kCosine && zeroRow_ >= 0)
    return Status::Range("corpus row " + std::to_string(zeroRow_) + kZeroVector);
  return checkFile();
}

Status QuantizedMatrix::readRows(const int32_t* rows, int64_t n, float* out) const {
  for (int64_t i = 0; i < n; ++i)
    if (rows[i] < 0 || rows[i] >= rows_)
      return Status::Range("rows[" + std::to_string(i) + "] must be a row index in [0, " + std::to_string(rows_ - 1) +
                           "]; received " + std::to_string(rows[i]));
  if (values_) {
    parallelRanges(n, 64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        std::memcpy(out + i * cols_, values_->data() + int64_t(rows[i]) * cols_, size_t(cols_) * 4);
    });
    return Status::Ok();
  }
  const uint64_t rowBytes = uint64_t(cols_) * 4;
  FirstError error;
  parallelRanges(n, 16, [&](int64_t b, int64_t e) {
    std::vector<int8_t> check(static_cast<size_t>(cols_)), held(static_cast<size_t>(cols_));
    for (int64_t i = b; i < e && !error.failed(); ++i) {
      const int64_t r = rows[i];
      float* dst = out + i * cols_;
      Status s = preadAll(fd_, path_, reinterpret_cast<uint8_t*>(dst), rowBytes, offset_ + uint64_t(r) * rowBytes);
      if (!s.ok()) return error.set(std::move(s));
      // The row must still be the one that was quantised: the same scale and codes.
      float scale;
      quantizeRow(dst, cols_, check.data(), &scale);
      rowCodes(r, held.data());
      if (!(scale == scales_[r]) || check != held)
        return error.set(Status::Corrupt("row " + std::to_string(r) + " of '" + path_ +
                                         "' changed after the index was loaded with int8 storage (load it again)"));
    }
  });
  return error.failed() ? error.take() : Status::Ok();
}

Status QuantizedMatrix::rescore(const float* query, const int32_t* rows, int64_t m, int64_t k, Metric metric,
                                const HeldRows* held, std::vector<float>* scratch, int32_t* order,
                                float* scores) const {
  const int64_t d = cols_;
  scratch->resize(static_cast<size_t>(m * d));
  float* gathered = scratch->data();
  if (values_) {
    for (int64_t i = 0; i < m; ++i)
      std::memcpy(gathered + i * d, values_->data() + int64_t(rows[i]) * d, size_t(d) * 4);
  } else if (held) {
    for (int64_t i = 0; i < m; ++i) {
      const int64_t at = std::lower_bound(held->rows, held->rows + held->count, rows[i]) - held->rows;
      std::memcpy(gathered + i * d, held->values + at * d, size_t(d) * 4);
    }
  } else if (Status s = readRows(rows, m, gathered); !s.ok()) {
    return s;
  }
  TopKParams p;
  p.queries = {query, 1, d};
  p.corpus = {gathered, m, d};
  p.k = k, p.metric = metric;
  p.indices = order, p.scores = scores;
  return topK(p);
}

Status QuantizedMatrix::search(const ConstMatrix& queries, int64_t k, int64_t pool, Metric metric, int32_t* indices,
                               float* scores, int64_t* widened) const {
  if (queries.cols != cols_)
    return Status::Range("queries must have " + std::to_string(cols_) + " columns; received " +
                         std::to_string(queries.cols));
  if (pool < 1 || pool > rows_ || k < 1 || k > pool)
    return Status::Range("need 1 <= k <= pool <= rows (" + std::to_string(rows_) +
                         "); received k = " + std::to_string(k) + ", pool = " + std::to_string(pool));
  if (!indices || !scores) return Status::Type("indices and scores must be output buffers");
  if (Status s = checkSearchable(metric); !s.ok()) return s;
  const int64_t Q = queries.rows, d = cols_;
  return guarded("the int8 search", [&]() -> Status {
    // 1. The candidate pools, from the codes, and each pool's lowest int8 score.
    std::vector<int32_t> pools(static_cast<size_t>(Q * pool));
    std::vector<float> lowest(static_cast<size_t>(Q));
    {
      std::vector<float> approx(static_cast<size_t>(Q * pool));
      if (Status s = scanInt8(queries, packed(), metric, pool, pools.data(), approx.data()); !s.ok()) return s;
      for (int64_t q = 0; q < Q; ++q) lowest[q] = approx[q * pool + pool - 1];
    }
    // 2–3. Per group of queries: read the union of their pools once from the
    // file (rows in memory are gathered in place), then score each query
    // against its own pool only (so a query's result does not depend on the
    // others in the call), in row order so ties go to the lower row.
    const int64_t group = values_ ? Q : std::max<int64_t>(1, kRescoreBytes / (pool * d * 4));
    for (int64_t g0 = 0; g0 < Q; g0 += group) {
      const int64_t g1 = std::min(Q, g0 + group);
      std::vector<int32_t> rows;
      FloatBuffer exact;
      if (!values_) {
        rows.assign(pools.begin() + g0 * pool, pools.begin() + g1 * pool);
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        exact = FloatBuffer(int64_t(rows.size()) * d);
        if (Status s = readRows(rows.data(), int64_t(rows.size()), exact.data()); !s.ok()) return s;
      }
      const HeldRows held{rows.data(), int64_t(rows.size()), exact.data()};
      FirstError error;
      parallelRanges(g1 - g0, 16, [&](int64_t b, int64_t e) {
        std::vector<float> scratch;
        std::vector<int32_t> local(static_cast<size_t>(k));
        for (int64_t q = g0 + b; q < g0 + e && !error.failed(); ++q) {
          int32_t* cand = pools.data() + q * pool;
          std::sort(cand, cand + pool);
          if (Status s =
                  rescore(queries.data + q * d, cand, pool, k, metric, &held, &scratch, local.data(), scores + q * k);
              !s.ok())
            return error.set(std::move(s));
          for (int64_t j = 0; j < k; ++j) indices[q * k + j] = cand[local[j]];
        }
      });
      if (error.failed()) return error.take();
    }
    // 4. The certificate: a row outside the pool scores at most lowest + E in
    // float32; if that is below the k-th score, the top k are exact.
    // Otherwise those queries are searched again with a wider pool.
    if (pool == rows_) return Status::Ok();
    std::vector<int64_t> retry;
    for (int64_t q = 0; q < Q; ++q) {
      const double bound = double(lowest[q]) + errorBound(queries.data + q * d, metric);
      if (!(double(scores[q * k + k - 1]) > bound)) retry.push_back(q);
    }
    if (retry.empty()) return Status::Ok();
    if (widened) *widened += int64_t(retry.size());
    const int64_t R = int64_t(retry.size()), wider = std::min(rows_, std::max(pool * 4, pool + 64));
    FloatBuffer again(R * d);
    for (int64_t i = 0; i < R; ++i) std::memcpy(again.data() + i * d, queries.data + retry[i] * d, size_t(d) * 4);
    std::vector<int32_t> idx(static_cast<size_t>(R * k));
    std::vector<float> sc(static_cast<size_t>(R * k));
    if (Status s = search({again.data(), R, d}, k, wider, metric, idx.data(), sc.data(), nullptr); !s.ok()) return s;
    for (int64_t i = 0; i < R; ++i) {
      std::memcpy(indices + retry[i] * k, idx.data() + i * k, size_t(k) * 4);
      std::memcpy(scores + retry[i] * k, sc.data() + i * k, size_t(k) * 4);
    }
    return Status::Ok();
  });
}

int64_t QuantizedMatrix::bytes() const {
  std::lock_guard<std::mutex> lock(groupedMutex_);
  return packedBytes(rows_, cols_) + rows_ * 12 + (grouped_ ? grouped_->bytes() + int64_t(groupedOf_.size()) * 4 : 0);
}

Status QuantizedMatrix::groupedFor(const int32_t* groupOf, std::shared_ptr<const GroupedInt8>* out) const {
  {
    std::lock_guard<std::mutex> lock(groupedMutex_);
    if (grouped_ && std::equal(groupedOf_.begin(), groupedOf_.end(), groupOf)) {
      *out = grouped_;
      return Status::Ok();
    }
  }
  // Built outside the lock (k-means: ~0.1 s for the built-in ESCO), so bytes() and other
  // searches do not wait on it; two first searches at once may each build one.
  auto grouped = std::make_shared<GroupedInt8>();
  if (Status s = groupInt8(packed(), groupOf, grouped.get()); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(groupedMutex_);
  groupedOf_.assign(groupOf, groupOf + rows_);
  grouped_ = grouped;
  *out = std::move(grouped);
  return Status::Ok();
}

// The fraction of the certified margin (2E + 2·slack) a probe that leaves lists
// out keeps rows within. E assumes every quantisation error lines up against
// the query (Cauchy–Schwarz), which real errors do not come near: at a quarter
// of it, --fast's answers were byte for byte the same over 200,000 bench
// titles and on titles.csv (at a tenth, 5 in 200,000 differed), for ~5% more
// titles/s in the CLI.
constexpr double kProbeMargin = 0.25;
constexpr double kNoFloor = -std::numeric_limits<double>::infinity();

Status QuantizedMatrix::searchGroups(const ConstMatrix& queries, const int32_t* groupOf, int64_t k, Metric metric,
                                     GroupHits* out, int64_t probe) const {
  if (queries.cols != cols_)
    return Status::Range("queries must have " + std::to_string(cols_) + " columns; received " +
                         std::to_string(queries.cols));
  if (k < 1) return Status::Range("k must be >= 1; received " + std::to_string(k));
  if (!groupOf || !out) return Status::Type("groupOf and out must be given");
  if (Status s = checkSearchable(metric); !s.ok()) return s;
  const int64_t Q = queries.rows, d = cols_;
  return guarded("the int8 group search", [&]() -> Status {
    // Per query: E (errorBound) and a slack of 1e-5 of E plus the largest
    // possible score, past the rounding of moving scores between kernel units
    // and similarities. The scan keeps rows within 2E + 2·slack of the k-th
    // group's int8 score t_k; a row left out scores at most t = t_k − 2E −
    // 2·slack in int8, so at most t + E + slack = floor in float32, while each
    // of the k groups' best rows scores at least t_k − E > floor.
    std::vector<double> bounds(static_cast<size_t>(Q)), slack(static_cast<size_t>(Q)), margins(static_cast<size_t>(Q));
    for (int64_t q = 0; q < Q; ++q) {
      const float* x = queries.data + q * d;
      double norm = 0;
      for (int64_t p = 0; p < d; ++p) norm += double(x[p]) * double(x[p]);
      const double top = metric == Metric::kCosine ? 1.0 : std::sqrt(norm) * maxNorm_;
      bounds[q] = errorBound(x, metric);
      // (Never 0: over rows that all score 0 exactly, E is 0 too, and the k best groups' rows must
      // still clear the floor.)
      slack[q] = std::max(1e-5 * (bounds[q] + top), std::numeric_limits<double>::min());
      margins[q] = 2.0 * bounds[q] + 2.0 * slack[q];
    }
    GroupCandidates cand;
    bool certified = true;
    if (probe > 0) {
      std::shared_ptr<const GroupedInt8> grouped;
      if (Status s = groupedFor(groupOf, &grouped); !s.ok()) return s;
      // A probe that leaves lists out gives up the certificate anyway, and its scan keeps rows within a
      // fraction of the certified margin (kProbeMargin): fewer rows scored twice and walked. Nothing is
      // certified then: the floors are -inf.
      certified = std::max(probe, k) >= grouped->lists;
      if (!certified)
        for (double& m : margins) m *= kProbeMargin;
      if (Status s = probeInt8Groups(queries, *grouped, metric, k, probe, margins.data(), &cand); !s.ok()) return s;
    } else if (Status s = scanInt8Groups(queries, packed(), metric, groupOf, k, margins.data(), &cand); !s.ok()) {
      return s;
    }
    // Re-score each query's candidates exactly (in row order, so ties go to
    // the lower row) and keep those above its floor.
    std::vector<std::vector<int32_t>> rows(static_cast<size_t>(Q));
    std::vector<std::vector<float>> scores(static_cast<size_t>(Q));
    out->floors.assign(static_cast<size_t>(Q), 0.0);
    FirstError error;
    parallelRanges(Q, 4, [&](int64_t b, int64_t e) {
      std::vector<int32_t> cands, local;
      std::vector<float> scratch, sc;
      std::vector<const float*> at;
      std::vector<std::pair<float, int32_t>> above;
      for (int64_t q = b; q < e && !error.failed(); ++q) {
        const double t = cand.thresholds[q];
        const double floor = !certified || t == kNoFloor ? kNoFloor : t + bounds[q] + slack[q];
        out->floors[q] = floor;
        cands.assign(cand.rows.begin() + cand.offsets[q], cand.rows.begin() + cand.offsets[q + 1]);
        const int64_t m = int64_t(cands.size());
        if (m == 0) continue;
        if (values_) {
          // In memory: each candidate scored where it lies (scoreRows: topK's floats, no gather), and
          // those above the floor ordered as topK orders them: best first, ties to the lower row.
          at.resize(static_cast<size_t>(m)), sc.resize(static_cast<size_t>(m));
          for (int64_t i = 0; i < m; ++i) at[i] = values_->data() + int64_t(cands[i]) * d;
          if (Status s = scoreRows(queries.data + q * d, at.data(), m, d, metric, sc.data()); !s.ok())
            return error.set(std::move(s));
          above.clear();
          for (int64_t i = 0; i < m; ++i)
            if (double(sc[i]) > floor) above.emplace_back(sc[i], cands[i]);
          std::sort(above.begin(), above.end(), [](const auto& x, const auto& y) {
            return x.first > y.first || (x.first == y.first && x.second < y.second);
          });
          for (const auto& [score, row] : above) rows[q].push_back(row), scores[q].push_back(score);
          continue;
        }
        std::sort(cands.begin(), cands.end());
        local.resize(static_cast<size_t>(m)), sc.resize(static_cast<size_t>(m));
        if (Status s =
                rescore(queries.data + q * d, cands.data(), m, m, metric, nullptr, &scratch, local.data(), sc.data());
            !s.ok())
          return error.set(std::move(s));
        for (int64_t i = 0; i < m; ++i) {
          if (!(double(sc[i]) > floor)) break;  // best first: the rest are at or below the floor too
          rows[q].push_back(cands[local[i]]);
          scores[q].push_back(sc[i]);
        }
      }
    });
    if (error.failed()) return error.take();
    out->offsets.assign(static_cast<size_t>(Q + 1), 0);
    for (int64_t q = 0; q < Q; ++q) out->offsets[q + 1] = out->offsets[q] + int64_t(rows[q].size());
    out->rows.clear(), out->scores.clear();
    out->rows.reserve(static_cast<size_t>(out->offsets[Q])), out->scores.reserve(static_cast<size_t>(out->offsets[Q]));
    for (int64_t q = 0; q < Q; ++q) {
      out->rows.insert(out->rows.end(), rows[q].begin(), rows[q].end());
      out->scores.insert(out->scores.end(), scores[q].begin(), scores[q].end());
    }
    return Status::Ok();
  });
}

}  // namespace jobbert
