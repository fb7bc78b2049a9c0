// jobbert native kernels: mean embedding bags (the LiteEncoder's pooling).
//
// A batch of bags is CSR-shaped: bag b holds ids[offsets[b] .. offsets[b+1]),
// offsets has bags + 1 entries, offsets[0] == 0 and offsets[bags] == numIds.
// An id may repeat inside a bag (it then counts twice); an empty bag pools to
// the zero vector.
#pragma once

#include <cstdint>
#include <vector>

#include "jobbert/kernels.h"

namespace jobbert {

// A [rows × cols] table stored as int8 codes with one float32 scale per row:
// element (r, d) reads as float(codes[r·cols + d]) · scales[r], rounded to
// float32 (the LiteEncoder's model file format, a quarter of the bytes).
struct Int8Rows {
  const int8_t* codes = nullptr;  // [rows × cols]
  const float* scales = nullptr;  // [rows]
  int64_t rows = 0;
  int64_t cols = 0;
};

// Codes and scales that reproduce every element of `table` exactly, for a
// table dequantised from int8 rows quantised as the LiteEncoder's model files
// are (each row's largest magnitude at code ±127, or a row of zeros); false
// for any other table, with the outputs unspecified. codes is [rows × cols],
// scales [rows].
bool int8RowsExactly(ConstMatrix table, int8_t* codes, float* scales);

// out[b] = mean over the bag's ids of table[id]   (out is [bags × table.cols]).
// Reads `quantized` instead of `table` when quantized.codes is set; the result
// is then bit-identical to that over the dequantised float table (same sums in
// the same order).
struct EmbeddingBagParams {
  ConstMatrix table;             // [B × D]
  const int32_t* ids = nullptr;  // [numIds], each in [0, B)
  int64_t numIds = 0;
  const int32_t* offsets = nullptr;  // [bags + 1]
  int64_t bags = 0;
  float* out = nullptr;  // [bags × D]
  Int8Rows quantized;    // [B × D]; read instead of table when codes is set
};
Status embeddingBagForward(const EmbeddingBagParams& p);

// Sparse gradient of the forward with respect to the table, given dL/dout:
// rowIds = the distinct ids, ascending; grads[u] = Σ over the occurrences of
// rowIds[u] (in bag order) of gradOut[bag] / |bag|. Deterministic for any
// thread count.
struct EmbeddingBagBackwardParams {
  ConstMatrix gradOut;  // [bags × D]
  const int32_t* ids = nullptr;
  int64_t numIds = 0;
  const int32_t* offsets = nullptr;  // [bags + 1]
  int64_t bags = 0;
  int64_t tableRows = 0;  // B, the bound every id must respect
};
struct SparseRows {
  std::vector<int32_t> rowIds;  // [U]
  std::vector<float> grads;     // [U × D]
};
Status embeddingBagBackward(const EmbeddingBagBackwardParams& p, SparseRows* out);

}  // namespace jobbert
