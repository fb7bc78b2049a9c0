// jobbert int8 storage: a float32 matrix that lives in a file (a MatchIndex
// partition) held in memory as int8 codes with a per-row scale, searched in
// two steps — an approximate scan of the codes picks a candidate pool per
// query, and the candidates' exact float32 rows, read back from the file, are
// scored with the exact topK. No N-API.
//
// Quantisation (symmetric, per row): scale = max|x| / 127 (float),
// code = round-to-nearest-even(x / scale) in [-127, 127]; an all-zero row has
// scale 0 and zero codes. Dequantised: x ≈ code · scale, |error| ≤ scale / 2.
// Symmetric keeps the scan a plain dot product (no zero points) and costs at
// most one of 255 levels against an asymmetric range.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jobbert/buffer.h"
#include "jobbert/kernels.h"

namespace jobbert {

// Row-major int8 codes with one scale and one inverse norm per row. invNorms
// are 1/‖x‖ of the original float32 rows (so approximate cosines estimate the
// exact ones); they may be +inf for a zero row (callers refuse those).
struct Int8Rows {
  const int8_t* codes = nullptr;
  const float* scales = nullptr;
  const float* invNorms = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Quantises one row of d floats: codes[0..d) and *scale as above. Returns
// Σ x² in double (finite exactly when every element is).
double quantizeRow(const float* x, int64_t d, int8_t* codes, float* scale);

// out[i·cols + p] = codes[(j0 + i)·cols + p] · scales[j0 + i] for i < n.
void dequantizeRows(const Int8Rows& m, int64_t j0, int64_t n, float* out);

// topK (cosine) of queries against the dequantised rows: the same fused
// kernels and selection as topK, reading int8 (4× less memory traffic). Scores
// are approximate: dot(q, dequantised row) / (‖q‖ · ‖original row‖).
// Implemented in topk.cpp. k in [1, corpus.rows].
Status topKInt8(const ConstMatrix& queries, const Int8Rows& corpus, int64_t k, int32_t* indices, float* scores);

// A partition of an index file, held as int8 codes. The file stays open (its
// descriptor) for the exact re-scoring reads, so replacing the path (an
// atomic save renames a new file over it) does not disturb a loaded matrix;
// a change to the file itself (size or mtime, or a candidate row whose
// re-quantisation differs from the codes held) is reported as kCorrupt.
class QuantizedMatrix {
 public:
  // Streams rows·cols float32 at byte `offset` of `path` in 8 MiB chunks,
  // quantising as it goes (the float32 values are never all in memory), and,
  // when `expected` is not null, verifies their checksum64. Errors as
  // readFloatsFromFile, plus kCorrupt for a checksum mismatch.
  static Status fromFile(const std::string& path, uint64_t offset, int64_t rows, int64_t cols, const uint64_t* expected,
                         std::shared_ptr<QuantizedMatrix>* out);
  ~QuantizedMatrix();
  QuantizedMatrix(const QuantizedMatrix&) = delete;
  QuantizedMatrix& operator=(const QuantizedMatrix&) = delete;

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Bytes of memory held (codes, scales, norms).
  int64_t bytes() const { return rows_ * cols_ + rows_ * 8; }
  Int8Rows view() const;

  // Exact top-k by cosine: the best `pool` rows per query by the int8 scan,
  // re-scored from the file's float32 rows with topK, best first, ties to the
  // lower row. Scores are bit-identical to topK over the float32 rows.
  // 1 <= k <= pool <= rows. Cost: the scan (Q·N·d multiply-adds on int8 data)
  // plus Q·pool rows read (pread; page cache or disk) and scored.
  Status search(const ConstMatrix& queries, int64_t k, int64_t pool, int32_t* indices, float* scores) const;

  // Reads the float32 rows `rows[0..n)` from the file into out (n × cols),
  // checking each against its codes. For tests and search.
  Status readRows(const int32_t* rows, int64_t n, float* out) const;

 private:
  QuantizedMatrix() = default;
  Status checkFile() const;

  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  int64_t rows_ = 0, cols_ = 0;
  int64_t fileSize_ = 0, mtimeNs_ = 0;
  FloatBuffer codes_;  // rows·cols int8 in float storage (aligned, huge pages)
  std::vector<float> scales_, invNorms_;
  int64_t badRow_ = -1;  // the first zero or non-finite row, refused by search
};

}  // namespace jobbert
