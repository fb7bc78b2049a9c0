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

// out[b] = mean over the bag's ids of table[id]   (out is [bags × table.cols]).
struct EmbeddingBagParams {
  ConstMatrix table;             // [B × D]
  const int32_t* ids = nullptr;  // [numIds], each in [0, B)
  int64_t numIds = 0;
  const int32_t* offsets = nullptr;  // [bags + 1]
  int64_t bags = 0;
  float* out = nullptr;  // [bags × D]
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
