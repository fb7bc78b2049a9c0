// jobbert int8 storage: a float32 matrix (a MatchIndex partition in a file, or
// rows in memory) held as int8 codes with a per-row scale, searched in two
// steps — an int8 scan (scanInt8, int8_scan.cpp: VNNI/AVX2/portable kernels)
// picks a candidate pool per query (or, for searchGroups, the rows that can
// decide each query's k best groups), and the candidates' exact float32 rows,
// read back from the file or memory, are scored with the exact topK. No N-API.
//
// Quantisation (symmetric, per row): scale = max|x| / 127 (float),
// code = round-to-nearest-even(x / scale) in [-127, 127]; an all-zero row has
// scale 0 and zero codes. Dequantised: x ≈ code · scale, |error| ≤ scale / 2.
// Symmetric keeps the scan a plain dot product (no zero points) and costs at
// most one of 255 levels against an asymmetric range. The scan quantises each
// query the same way, so its score for (query, row) is an exact integer dot
// times float factors: the same float on every instruction set and in every
// batch.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jobbert/buffer.h"
#include "jobbert/kernels.h"

namespace jobbert {

// The smallest max |x| a row is quantised at: below it the scale, max/127,
// would not be a normal float (the division by it overflows), so such a row
// gets zero codes and scale 0, and its error bound is the row itself.
constexpr float kMinQuantTop = 127.0f * std::numeric_limits<float>::min();

// Quantises one row of d floats: codes[0..d) and *scale as above. Returns
// Σ x² in double (finite exactly when every element is).
double quantizeRow(const float* x, int64_t d, int8_t* codes, float* scale);

// The packed layout the scan reads: rows in groups of 16; within a group, for
// each 4 columns, the 16 rows' 4 codes (64 bytes) after another; codes stored
// as u8 = code + 128 (VNNI multiplies u8 by s8); columns padded to a multiple
// of 4 and rows to a multiple of 16 with code 0. cols <= kInt8MaxCols keeps
// every integer dot inside int32.
constexpr int64_t kInt8MaxCols = 65536;
struct PackedInt8Rows {
  const uint8_t* codes = nullptr;
  const float* scales = nullptr;
  const float* invNorms = nullptr;  // 1/‖x‖ of the float32 rows (cosine)
  int64_t rows = 0;
  int64_t cols = 0;
};
int64_t packedDepth(int64_t cols);                // cols rounded up to 4
int64_t packedBytes(int64_t rows, int64_t cols);  // the packed codes' size
void packRow(const int8_t* codes, int64_t row, int64_t cols, uint8_t* packed);
void unpackRow(const uint8_t* packed, int64_t row, int64_t cols, int8_t* codes);

// For each query, the `pool` best rows by the approximate score, best first,
// ties to the lower row: cosine ≈ dot(q̂, x̂) / (‖q‖·‖x‖), dot ≈ dot(q̂, x̂),
// with q̂ and x̂ the dequantised query and row. Queries are refused as topK
// refuses them (non-finite; zero under cosine). 1 <= pool <= rows.
Status scanInt8(const ConstMatrix& queries, const PackedInt8Rows& corpus, Metric metric, int64_t pool, int32_t* indices,
                float* approx);
// For each query, every row whose group may be among the query's k best
// groups (a group's score: its best row's), by the same approximate score:
// the rows scoring above t = (the k-th best distinct group's score) − margins[q],
// best first, ties to the lower row. groupOf[row] names each row's group (any
// int32). t is -inf (and every row returned) where the rows hold fewer than k
// groups or the query is zero. Every row left out scores at most t.
struct GroupCandidates {
  std::vector<int64_t> offsets;  // query q's candidates: [offsets[q], offsets[q + 1])
  std::vector<int32_t> rows;
  std::vector<float> approx;
  std::vector<double> thresholds;  // t per query
};
Status scanInt8Groups(const ConstMatrix& queries, const PackedInt8Rows& corpus, Metric metric, const int32_t* groupOf,
                      int64_t k, const double* margins, GroupCandidates* out);
// The rows of a packed corpus laid out for probeInt8Groups: each group's rows
// split into lists of about kInt8ListRows (spherical k-means on their
// directions, within the group), each list in row groups of 16 of its own
// (the last padded with zero codes), and one prototype per list — the unit
// mean of its rows' unit directions —, packed as a corpus of its own. Built
// once per (corpus, groupOf); immutable, so searches share it.
constexpr int64_t kInt8ListRows = 16;
struct GroupedInt8 {
  int64_t groups = 0, lists = 0, cols = 0;
  std::vector<int32_t> groupOf;              // list l's group (dense: 0 … groups − 1)
  std::vector<int64_t> firstBlock;           // list l's row groups: [firstBlock[l], firstBlock[l + 1])
  std::vector<int32_t> counts;               // list l's rows
  std::vector<int32_t> rowAt;                // per slot (16 a row group): the corpus row, or -1 (padding)
  std::vector<uint8_t> codes;                // the slots, packed as PackedInt8Rows::codes
  std::vector<float> scales, cosineFactors;  // per slot, the kernel's row factors by metric (0 for padding)
  std::vector<uint8_t> prototypeCodes;       // the lists' prototypes, packed
  std::vector<float> prototypeScales, prototypeInvNorms;
  PackedInt8Rows prototypes() const {
    return {prototypeCodes.data(), prototypeScales.data(), prototypeInvNorms.data(), lists, cols};
  }
  int64_t bytes() const;
};
Status groupInt8(const PackedInt8Rows& corpus, const int32_t* groupOf, GroupedInt8* out);
// scanInt8Groups' answer (same meaning, same margins) over only the lists
// whose prototypes score best for each query, about `probe` of them (half to
// twice as many: a threshold estimated from a sample of prototypes; more where those hold
// fewer than k groups; every list when probe >= their number): the rows of
// those lists that may decide the query's k best groups among them, a group
// scoring by its best row in them. Inexact where a row outside the probed
// lists would have changed the k best. Cost per query: the prototypes (L·d
// multiply-adds) plus the probed lists' rows, scored a list at a time for all
// the queries that probe it (so 8-query tiles still share each load).
Status probeInt8Groups(const ConstMatrix& queries, const GroupedInt8& grouped, Metric metric, int64_t k, int64_t probe,
                       const double* margins, GroupCandidates* out);
// The scan kernel the active instruction set uses: "avx512-vnni", "avx-vnni",
// "avx2" or "portable".
const char* int8ScanKernel();
// For tests: while on, the AVX-512 instruction set runs the AVX-VNNI kernel's
// code in EVEX encoding ("vnni256"), so machines with AVX512-VNNI but not
// AVX-VNNI check that kernel's logic. Returns false (and changes nothing)
// where the CPU lacks AVX512-VNNI.
bool int8ScanUseVnni256(bool on);

// Rows held as packed int8 codes, with their exact float32 values either in a
// file (a partition of an index file) or in memory (shared with a resident
// matrix). The file stays open (its descriptor) for the exact re-scoring
// reads, so replacing the path (an atomic save renames a new file over it)
// does not disturb a loaded matrix; a change to the file itself (size or
// mtime, or a candidate row whose re-quantisation differs from the codes
// held) is reported as kCorrupt.
class QuantizedMatrix {
 public:
  // Streams rows·cols float32 at byte `offset` of `path` in 8 MiB chunks,
  // quantising as it goes (the float32 values are never all in memory), and,
  // when `expected` is not null, verifies their checksum64. Errors as
  // readFloatsFromFile, plus kCorrupt for a checksum mismatch.
  static Status fromFile(const std::string& path, uint64_t offset, int64_t rows, int64_t cols, const uint64_t* expected,
                         std::shared_ptr<QuantizedMatrix>* out);
  // Quantises rows·cols float32 held in memory, keeping `values` (shared, not
  // copied) for the exact re-scoring. kRangeError for a non-finite value.
  static Status fromMemory(std::shared_ptr<const FloatBuffer> values, int64_t rows, int64_t cols,
                           std::shared_ptr<QuantizedMatrix>* out);
  ~QuantizedMatrix();
  QuantizedMatrix(const QuantizedMatrix&) = delete;
  QuantizedMatrix& operator=(const QuantizedMatrix&) = delete;

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Bytes of memory held (packed codes; per row its scale, norm and quantisation error; the group layout of
  // a probed searchGroups once built; not the shared float32 values).
  int64_t bytes() const;
  PackedInt8Rows packed() const;
  // Row r's codes, unpacked (cols of them).
  void rowCodes(int64_t r, int8_t* out) const;

  // Exact top-k by `metric`: the best `pool` rows per query by the int8 scan,
  // re-scored from the float32 rows (file or memory) with topK, best first,
  // ties to the lower row. Scores are bit-identical to topK over the float32
  // rows. 1 <= k <= pool <= rows. Cost: the scan (Q·N·d int8 multiply-adds)
  // plus Q·pool rows read (memory, or pread: page cache or disk) and scored.
  //
  // The result is certified, not just likely: a row outside a query's pool
  // has an int8 score at most t (the pool's lowest), and its float32 score
  // differs from its int8 score by at most E, bounded from the quantisation
  // errors of the query and of the rows (‖q − q̂‖·max‖x‖ + ‖q̂‖·max‖x − x̂‖ for
  // dot; divided by the norms for cosine) plus float32 rounding. When the k-th
  // re-scored score exceeds t + E, no row outside the pool can enter the top
  // k; otherwise the query is searched again with a 4× larger pool (at most
  // all rows, which is exhaustive). `widened`, when not null, counts those
  // queries.
  Status search(const ConstMatrix& queries, int64_t k, int64_t pool, Metric metric, int32_t* indices, float* scores,
                int64_t* widened = nullptr) const;

  // For the best k *groups* of each query (groupOf[row] names each row's
  // group; a group scores as its best row): every row whose float32 score
  // exceeds floors[q], best first, ties to the lower row, with the scores
  // topK gives; every row left out scores at most floors[q], and the k best
  // groups' best rows score above it (floors[q] is -inf, and every row is
  // listed, where the rows hold fewer than k groups). Certified like search():
  // the int8 scan keeps each row whose int8 score is within 2E of the k-th
  // best group's, so the k best groups by float32 are decided by the rows kept.
  struct GroupHits {
    std::vector<int64_t> offsets;  // query q's rows: [offsets[q], offsets[q + 1])
    std::vector<int32_t> rows;
    std::vector<float> scores;
    std::vector<double> floors;
  };
  //
  // probe > 0 makes the search inexact and faster: only the lists of rows
  // whose prototypes score best for a query, about `probe` of them (at least
  // k), are searched (probeInt8Groups), and the answer is the k best groups
  // of those rows, with topK's scores. Where lists are left out nothing is
  // certified: floors are -inf, and the scan keeps rows within a quarter of
  // the certified margin (kProbeMargin, quantized.cpp). Probing every list is
  // the exhaustive search, bit for bit. The group layout it needs is built on the first
  // such call for a groupOf and kept (one at a time).
  Status searchGroups(const ConstMatrix& queries, const int32_t* groupOf, int64_t k, Metric metric, GroupHits* out,
                      int64_t probe = 0) const;

  // Reads the float32 rows `rows[0..n)` from the file into out (n × cols),
  // checking each against its codes. For tests and search.
  Status readRows(const int32_t* rows, int64_t n, float* out) const;
  // Where the exact rows live.
  bool inMemory() const { return values_ != nullptr; }

 private:
  QuantizedMatrix() = default;
  Status checkFile() const;
  // Whether the rows can be searched under `metric` (no non-finite row; no
  // zero row under cosine; the file unchanged).
  Status checkSearchable(Metric metric) const;
  Status allocate(int64_t rows, int64_t cols);
  double quantizeInto(const float* row, int64_t r, int8_t* scratch);
  void summariseErrors();
  // The bound E of search() for one query (see there).
  double errorBound(const float* query, Metric metric) const;
  // Rows of the file read beforehand: `count` sorted row indices and their float32 values.
  struct HeldRows {
    const int32_t* rows;
    int64_t count;
    const float* values;
  };
  // The float32 rows `rows` (m of them, ascending) scored exactly against
  // `query`: the k best, best first, equal scores to the lower row, as
  // positions in `rows` (order) with their scores. The rows come from memory,
  // from `held` (when given), or else are read from the file.
  Status rescore(const float* query, const int32_t* rows, int64_t m, int64_t k, Metric metric, const HeldRows* held,
                 std::vector<float>* scratch, int32_t* order, float* scores) const;

  // The group layout for groupOf: the last one built, when it was for the same groups.
  Status groupedFor(const int32_t* groupOf, std::shared_ptr<const GroupedInt8>* out) const;
  mutable std::mutex groupedMutex_;
  mutable std::shared_ptr<const GroupedInt8> grouped_;
  mutable std::vector<int32_t> groupedOf_;

  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  int64_t rows_ = 0, cols_ = 0;
  int64_t fileSize_ = 0, mtimeNs_ = 0;
  FloatBuffer codes_;  // packedBytes(rows, cols) in float storage (aligned, huge pages)
  std::vector<float> scales_, invNorms_;
  std::vector<float> errors_;  // per row ‖x − x̂‖ (x̂ = scale · codes)
  // Over the rows: max ‖x‖, max ‖x − x̂‖, max ‖x − x̂‖ / ‖x‖ (non-zero rows).
  double maxNorm_ = 0, maxError_ = 0, maxRelativeError_ = 0;
  std::shared_ptr<const FloatBuffer> values_;  // in memory: the float32 rows
  int64_t zeroRow_ = -1;                       // the first zero row, refused under cosine
  int64_t nonFiniteRow_ = -1;                  // the first row holding a non-finite value, refused by search
};

}  // namespace jobbert
