// embedding_bag: forward and sparse backward against float64 references on
// random shapes (empty bags, repeated ids, D not a multiple of the vector
// width, one bag), determinism across thread counts, and argument errors.
#include "jobbert/embedding_bag.h"

#include <cmath>
#include <cstring>
#include <map>

#include "harness.h"
#include "thread_pool.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

struct Bags {
  std::vector<int32_t> ids, offsets;
};

Bags randomBags(std::mt19937_64& rng, int64_t bags, int64_t rows, int maxLen) {
  Bags b;
  b.offsets.push_back(0);
  std::uniform_int_distribution<int> len(0, maxLen);
  std::uniform_int_distribution<int32_t> id(0, int32_t(rows - 1));
  for (int64_t i = 0; i < bags; ++i) {
    int n = len(rng);
    for (int k = 0; k < n; ++k) b.ids.push_back(id(rng));
    b.offsets.push_back(int32_t(b.ids.size()));
  }
  return b;
}

void testShape(std::mt19937_64& rng, int64_t rows, int64_t D, int64_t bags, int maxLen) {
  std::string tag = "rows=" + std::to_string(rows) + " D=" + std::to_string(D) + " bags=" + std::to_string(bags);
  auto table = randomFloats(rng, rows * D);
  Bags b = randomBags(rng, bags, rows, maxLen);
  // forward
  std::vector<float> out(size_t(bags * D));
  poison(out.data(), bags * D);
  EmbeddingBagParams p{{table.data(), rows, D}, b.ids.data(), int64_t(b.ids.size()),
                       b.offsets.data(),        bags,         out.data()};
  Status s = embeddingBagForward(p);
  check(s.ok(), "forward ok " + tag + " " + s.message);
  std::vector<double> ref(size_t(bags * D), 0.0);
  for (int64_t i = 0; i < bags; ++i) {
    int64_t lo = b.offsets[i], hi = b.offsets[i + 1];
    for (int64_t k = lo; k < hi; ++k)
      for (int64_t d = 0; d < D; ++d) ref[i * D + d] += table[b.ids[k] * D + d];
    if (hi > lo)
      for (int64_t d = 0; d < D; ++d) ref[i * D + d] /= double(hi - lo);
  }
  double err = maxError(out.data(), ref.data(), bags * D);
  check(err < 1e-5, "forward error " + std::to_string(err) + " " + tag);
  // backward
  auto gradOut = randomFloats(rng, bags * D);
  EmbeddingBagBackwardParams q{{gradOut.data(), bags, D}, b.ids.data(), int64_t(b.ids.size()),
                               b.offsets.data(),          bags,         rows};
  SparseRows sr;
  s = embeddingBagBackward(q, &sr);
  check(s.ok(), "backward ok " + tag + " " + s.message);
  std::map<int32_t, std::vector<double>> refRows;
  for (int64_t i = 0; i < bags; ++i) {
    int64_t lo = b.offsets[i], hi = b.offsets[i + 1];
    for (int64_t k = lo; k < hi; ++k) {
      auto& r = refRows[b.ids[k]];
      r.resize(size_t(D), 0.0);
      for (int64_t d = 0; d < D; ++d) r[d] += double(gradOut[i * D + d]) / double(hi - lo);
    }
  }
  check(sr.rowIds.size() == refRows.size(), "backward distinct ids " + tag);
  size_t u = 0;
  double worst = 0;
  for (auto& [id, r] : refRows) {
    if (u >= sr.rowIds.size()) break;
    check(sr.rowIds[u] == id, "backward ids ascending " + tag);
    worst = std::max(worst, maxError(sr.grads.data() + u * D, r.data(), D));
    ++u;
  }
  check(worst < 1e-5, "backward error " + std::to_string(worst) + " " + tag);
  // determinism across thread counts
  ThreadPool::instance().resize(1);
  SparseRows one;
  embeddingBagBackward(q, &one);
  std::vector<float> out1(size_t(bags * D));
  p.out = out1.data();
  embeddingBagForward(p);
  ThreadPool::instance().resize(0);
  check(one.grads == sr.grads && one.rowIds == sr.rowIds, "backward bit-identical on 1 thread " + tag);
  check(std::memcmp(out1.data(), out.data(), out.size() * sizeof(float)) == 0,
        "forward bit-identical on 1 thread " + tag);
  // an int8 table (quantised as the LiteEncoder stores it: a row's largest
  // magnitude at code ±127) gives the sums of its dequantised floats, bit for bit
  const size_t cells = size_t(rows * D);
  std::vector<int8_t> codes(cells), recovered(cells);
  std::vector<float> scales(static_cast<size_t>(rows)), recoveredScales(static_cast<size_t>(rows)), dequantised(cells);
  for (int64_t r = 0; r < rows; ++r) {
    float max = 0;
    for (int64_t d = 0; d < D; ++d) max = std::max(max, std::fabs(table[r * D + d]));
    scales[r] = float(double(max) / 127);
    for (int64_t d = 0; d < D; ++d) {
      codes[r * D + d] = int8_t(std::lround(double(table[r * D + d]) / double(scales[r])));
      dequantised[r * D + d] = float(codes[r * D + d]) * scales[r];
    }
  }
  check(int8RowsExactly({dequantised.data(), rows, D}, recovered.data(), recoveredScales.data()),
        "int8RowsExactly finds the codes " + tag);
  check(recovered == codes && recoveredScales == scales, "int8RowsExactly recovers codes and scales " + tag);
  std::vector<float> fromFloat(size_t(bags * D)), fromInt8(size_t(bags * D));
  poison(fromFloat.data(), bags * D);
  poison(fromInt8.data(), bags * D);
  p.table = {dequantised.data(), rows, D};
  p.out = fromFloat.data();
  check(embeddingBagForward(p).ok(), "forward on the dequantised table " + tag);
  p.quantized = {codes.data(), scales.data(), rows, D};
  p.out = fromInt8.data();
  check(embeddingBagForward(p).ok(), "forward on the int8 table " + tag);
  check(std::memcmp(fromFloat.data(), fromInt8.data(), fromInt8.size() * sizeof(float)) == 0,
        "int8 forward bit-identical to the dequantised float forward " + tag);
  // a value one ulp off its code (not a row's largest, which would only move the scale)
  for (size_t k = 0; k < cells; ++k) {
    if (std::abs(codes[k]) >= 127) continue;
    dequantised[k] = std::nextafter(dequantised[k], 1.0f);
    check(!int8RowsExactly({dequantised.data(), rows, D}, recovered.data(), recoveredScales.data()),
          "int8RowsExactly refuses a value one ulp off " + tag);
    break;
  }
}

void testErrors() {
  std::vector<float> table(4 * 3, 1.0f), out(3 * 2);
  std::vector<int32_t> ids = {0, 4}, offsets = {0, 1, 2};
  EmbeddingBagParams p{{table.data(), 4, 3}, ids.data(), 2, offsets.data(), 2, out.data()};
  Status s = embeddingBagForward(p);
  check(s.code == StatusCode::kRangeError && s.message.find("ids[1]") != std::string::npos,
        "out-of-range id refused: " + s.message);
  ids[1] = 1;
  offsets = {0, 2, 1};
  s = embeddingBagForward(p);
  check(s.code == StatusCode::kRangeError, "decreasing offsets refused: " + s.message);
  offsets = {0, 1, 2};
  table[4] = std::nanf("");
  s = embeddingBagForward(p);
  check(s.code == StatusCode::kRangeError, "NaN in a selected row refused: " + s.message);
  std::vector<float> g(6, std::nanf(""));
  EmbeddingBagBackwardParams q{{g.data(), 2, 3}, ids.data(), 2, offsets.data(), 2, 4};
  SparseRows sr;
  s = embeddingBagBackward(q, &sr);
  check(s.code == StatusCode::kRangeError, "NaN gradOut refused: " + s.message);
}

}  // namespace

int main() {
  std::mt19937_64 rng(seed());
  testShape(rng, 1, 1, 1, 1);
  testShape(rng, 7, 5, 3, 4);
  testShape(rng, 50, 17, 40, 12);
  testShape(rng, 1000, 96, 300, 60);
  testShape(rng, 1 << 14, 33, 1000, 100);
  testErrors();
  return finish("embedding_bag");
}
