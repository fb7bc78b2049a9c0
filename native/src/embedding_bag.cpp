// Mean embedding bag, forward and sparse backward (CPU, multithreaded).
// Forward: numIds·D adds plus bags·D scales; memory-bound on the gathered rows
// (numIds·D·4 bytes). Backward: a sort of numIds (id, position) keys, then
// numIds·D multiply-adds into the distinct rows, parallel over distinct ids.
#include "jobbert/embedding_bag.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

#include "thread_pool.h"

namespace jobbert {
namespace {

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

}  // namespace

Status embeddingBagForward(const EmbeddingBagParams& p) {
  const int64_t D = p.table.cols;
  if (p.table.rows <= 0 || D <= 0 || !p.table.data) return Status::Range("table must be a non-empty matrix");
  if (!p.out && p.bags > 0) return Status::Range("out is missing");
  Status s = checkBags(p.ids, p.numIds, p.offsets, p.bags, p.table.rows);
  if (!s.ok()) return s;
  std::atomic<bool> bad{false};
  parallelRanges(p.bags, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, D)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      float* o = p.out + b * D;
      std::memset(o, 0, sizeof(float) * D);
      const int64_t lo = p.offsets[b], hi = p.offsets[b + 1];
      for (int64_t i = lo; i < hi; ++i) {
        const float* r = p.table.data + int64_t(p.ids[i]) * D;
        for (int64_t d = 0; d < D; ++d) o[d] += r[d];
      }
      if (hi > lo) {
        const float inv = 1.0f / float(hi - lo);
        float check = 0;
        for (int64_t d = 0; d < D; ++d) {
          o[d] *= inv;
          check += o[d] * 0.0f;
        }
        if (!std::isfinite(check)) bad.store(true, std::memory_order_relaxed);
      }
    }
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
