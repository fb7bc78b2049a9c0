// jobbert native kernels: the public C++ interface (no N-API, no CUDA types).
//
// Every kernel takes one params struct, reads row-major float32 matrices, writes
// into caller-owned buffers and returns a Status instead of throwing, so it can
// run on any thread. Inputs are checked here too (finite values, zero vectors
// under cosine, shapes): the bindings validate first, but a bad call from any
// caller must never crash the process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace jobbert {

enum class StatusCode {
  kOk = 0,
  kTypeError,    // wrong kind of argument
  kRangeError,   // right kind, bad value: shape, NaN/Infinity, zero vector, k
  kOutOfMemory,  // an allocation failed
  kUnavailable,  // asked for a device or instruction set this build/machine lacks
  kInternal,     // a bug or a device fault
  kIoError,      // a file could not be opened, read or written (message: path and strerror)
  kCorrupt,      // a file is shorter than expected or its checksum does not match
};

// The result of a kernel call. `message` names the argument at fault.
struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;

  bool ok() const { return code == StatusCode::kOk; }
  static Status Ok() { return {}; }
  static Status Range(std::string m) { return {StatusCode::kRangeError, std::move(m)}; }
  static Status Type(std::string m) { return {StatusCode::kTypeError, std::move(m)}; }
  static Status OutOfMemory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Io(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
};

// A read-only row-major matrix. rows == 0 is allowed where an argument is optional.
struct ConstMatrix {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

enum class Activation { kIdentity, kTanh };
enum class Metric { kCosine, kDot };

// ---------------------------------------------------------------- dense
// y[m×out] = act(x[m×in] · weightᵀ + bias), weight is [out × in].
struct DenseParams {
  ConstMatrix x;
  ConstMatrix weight;
  const float* bias = nullptr;  // [out] or null
  Activation activation = Activation::kIdentity;
  float* y = nullptr;  // [m × out]
};
Status denseForward(const DenseParams& p);

// Gradients of the dense layer given its output y and dL/dy.
struct DenseBackwardParams {
  ConstMatrix x;       // [m × in]
  ConstMatrix weight;  // [out × in]
  ConstMatrix y;       // [m × out], the forward output (needed for tanh')
  ConstMatrix gradY;   // [m × out]
  Activation activation = Activation::kIdentity;
  float* gradX = nullptr;       // [m × in]
  float* gradWeight = nullptr;  // [out × in]
  float* gradBias = nullptr;    // [out]
};
Status denseBackward(const DenseBackwardParams& p);

// ---------------------------------------------------------------- infoNCE
// s_ij = scale · cos(a_i, c_j) over candidates c = positives ++ negatives;
// loss = mean_i [logsumexp_j s_ij − s_ii]; symmetric adds the positives→anchors
// direction (positives scored against the anchors only) and averages the two.
struct InfoNCEParams {
  ConstMatrix anchors;    // [B × d]
  ConstMatrix positives;  // [B × d]
  ConstMatrix negatives;  // [N × d], rows may be 0
  float scale = 20.0f;
  bool symmetric = false;
  double* loss = nullptr;
  float* gradAnchors = nullptr;    // [B × d]
  float* gradPositives = nullptr;  // [B × d]
  float* gradNegatives = nullptr;  // [N × d], may be null when N == 0
};
Status infoNCE(const InfoNCEParams& p);

// ---------------------------------------------------------------- topK
// For each query row, the k best corpus rows, best first, ties to the lower
// index. k must be in [1, corpus.rows] (callers clamp).
struct TopKParams {
  ConstMatrix queries;  // [Q × d]
  ConstMatrix corpus;   // [N × d]
  int64_t k = 10;
  Metric metric = Metric::kCosine;
  int32_t* indices = nullptr;  // [Q × k]
  float* scores = nullptr;     // [Q × k]
};
Status topK(const TopKParams& p);
// The scores topK gives `query` against each of the m rows `rows[j]` (d
// floats each; checked by the caller: finite, and non-zero under cosine),
// bit for bit, into out[j]: the same direct kernel and scaling, without
// gathering the rows, selecting or checking them. For re-scoring candidates.
Status scoreRows(const float* query, const float* const* rows, int64_t m, int64_t d, Metric metric, float* out);

// ---------------------------------------------------------------- runtime
// Instruction sets the CPU kernels can use, best last.
enum class Isa { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };
const char* isaName(Isa isa);
// The instruction sets this build and CPU support, in ascending order.
std::vector<Isa> availableIsas();
// The instruction set in use (the best available unless forced).
Isa activeIsa();
// Force an instruction set; returns Unavailable when the CPU lacks it.
Status setIsa(Isa isa);
// The CPU GEMM's blocking for the active instruction set and the cache sizes it
// came from, in words (kernels.info(), benchmarks).
std::string gemmBlockingDescription();

// Worker threads used by the CPU kernels (the caller's thread counts as one).
int threadCount();
// n <= 0 restores the default: JOBBERT_THREADS or the hardware concurrency.
void setThreadCount(int n);

// Hands the allocator's free memory back to the system (glibc's malloc_trim):
// after a burst, glibc keeps the pages of freed large blocks in its heaps. Returns
// whether any was released; false where the C library has no such call.
bool releaseFreeMemory();

// Backends this build and machine can run: always "cpu", plus "cuda" when the
// build has CUDA and a device is present.
std::vector<std::string> backends();

}  // namespace jobbert
