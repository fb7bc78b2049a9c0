// N-API glue for native/…/quantized.h: int8-stored matrices loaded from a
// file or made from rows in memory, searched exactly. A matrix is handed to JS as a type-tagged External
// holding a shared_ptr, so a search running on a worker keeps the matrix (and
// its file descriptor) alive even if it is disposed meanwhile.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>

#include "args.h"
#include "handle.h"
#include "jobbert/quantized.h"
#include "jobbert/store.h"
#include "worker.h"

namespace jobbert::bindings {
namespace {

const napi_type_tag kQuantizedTag = {0x6a6f6262657274ULL, 0x71756e7438ULL};  // "jobbert", "qunt8"

using Handle = SharedHandle<QuantizedMatrix>;

Handle* unwrap(const Napi::Value& v) {
  return Handle::unwrap(v, kQuantizedTag, "matrix must be a QuantizedMatrix handle");
}

std::shared_ptr<const QuantizedMatrix> live(const Napi::Value& v) {
  Handle* h = unwrap(v);
  if (!h->object) {
    Napi::Error e = Napi::Error::New(v.Env(), "the QuantizedMatrix was disposed");
    e.Set("code", Napi::String::New(v.Env(), "ERR_DISPOSED"));
    throw e;
  }
  return h->object;
}

Napi::Value wrapHandle(Napi::Env env, std::shared_ptr<QuantizedMatrix> matrix) {
  const int64_t bytes = matrix->bytes();
  return Handle::wrap(env, std::move(matrix), bytes, kQuantizedTag);
}

// A copy of the queries argument, as wide as the matrix's rows.
MatrixCopy readQueries(const Napi::Value& v, const QuantizedMatrix& matrix) {
  MatrixCopy queries = copyMatrix(v, "queries");
  if (queries.cols != matrix.cols())
    throw Napi::RangeError::New(v.Env(), "queries must have " + std::to_string(matrix.cols()) + " columns; received " +
                                             std::to_string(queries.cols));
  return queries;
}

// quantizedFromFile(path, offset, rows, cols, expected | null) → Promise<handle>
Napi::Value QuantizedFromFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State : FileRange {
    std::shared_ptr<QuantizedMatrix> matrix;
  };
  auto s = std::make_shared<State>();
  static_cast<FileRange&>(*s) = readFileRange(info);
  return KernelWorker::Start(
      env,
      [s] {
        return QuantizedMatrix::fromFile(s->path, s->offset, s->rows, s->cols, s->verify ? &s->expected : nullptr,
                                         &s->matrix);
      },
      [s](Napi::Env env) -> Napi::Value { return wrapHandle(env, std::move(s->matrix)); });
}

// quantizedFromMatrix(matrix) → Promise<handle>: a Matrix (copied) or a
// ResidentMatrix (shared: its values stay alive as long as the handle).
Napi::Value QuantizedFromMatrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    MatrixCopy values;
    std::shared_ptr<QuantizedMatrix> matrix;
  };
  auto s = std::make_shared<State>();
  s->values = copyMatrix(info[0], "matrix");
  return KernelWorker::Start(
      env, [s] { return QuantizedMatrix::fromMemory(s->values.values, s->values.rows, s->values.cols, &s->matrix); },
      [s](Napi::Env env) -> Napi::Value { return wrapHandle(env, std::move(s->matrix)); });
}

// quantizedSearch(handle, queries, k, pool, metric) → Promise<{ k, indices, scores }>;
// 1 <= k <= pool <= rows (the facade clamps); metric 'cosine' (undefined) or 'dot'.
Napi::Value QuantizedSearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    std::shared_ptr<const QuantizedMatrix> matrix;
    MatrixCopy queries;
    int64_t k = 0, pool = 0;
    Metric metric = Metric::kCosine;
    std::unique_ptr<int32_t[]> indices;
    OwnedFloats scores;
  };
  auto s = std::make_shared<State>();
  s->matrix = live(info[0]);
  s->queries = readQueries(info[1], *s->matrix);
  s->pool = readInteger(info[3], "pool", 1, s->matrix->rows());
  s->k = readInteger(info[2], "k", 1, s->pool);
  if (!info[4].IsUndefined())
    s->metric = readChoice(info[4], "metric", {"cosine", "dot"}) == 1 ? Metric::kDot : Metric::kCosine;
  checkOutputSize(env, s->queries.rows * s->k, "the result (queries.rows × k)");
  return KernelWorker::Start(
      env,
      [s] {
        const int64_t n = s->queries.rows * s->k;
        s->indices.reset(new int32_t[static_cast<size_t>(n)]);
        s->scores = allocateFloats(n);
        Status st = s->matrix->search(s->queries.view(), s->k, s->pool, s->metric, s->indices.get(), s->scores.data());
        s->matrix.reset();
        return st;
      },
      [s](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("k", Napi::Number::New(env, double(s->k)));
        out.Set("indices", toInt32Array(env, std::move(s->indices), s->queries.rows * s->k));
        out.Set("scores", toFloat32Array(env, std::move(s->scores)));
        return out;
      });
}

// quantizedSearchGroups(handle, queries, groupOf, k, metric, probe?) → Promise<{ offsets, rows, scores, floors }>:
// QuantizedMatrix::searchGroups; groupOf an Int32Array of one group per row,
// probe (an integer >= 1, or undefined for the exhaustive search) about how many
// lists of rows to probe, offsets an Int32Array of queries.rows + 1, floors a Float64Array.
Napi::Value QuantizedSearchGroups(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    std::shared_ptr<const QuantizedMatrix> matrix;
    MatrixCopy queries;
    std::vector<int32_t> groupOf;
    int64_t k = 0;
    Metric metric = Metric::kCosine;
    int64_t probe = 0;
    QuantizedMatrix::GroupHits hits;
  };
  auto s = std::make_shared<State>();
  s->matrix = live(info[0]);
  s->queries = readQueries(info[1], *s->matrix);
  s->groupOf = copyInt32(info[2], "groupOf");
  if (int64_t(s->groupOf.size()) != s->matrix->rows())
    throw Napi::RangeError::New(env, "groupOf must hold one group per row (" + std::to_string(s->matrix->rows()) +
                                         "); received " + std::to_string(s->groupOf.size()));
  s->k = readInteger(info[3], "k", 1, s->matrix->rows());
  if (!info[4].IsUndefined())
    s->metric = readChoice(info[4], "metric", {"cosine", "dot"}) == 1 ? Metric::kDot : Metric::kCosine;
  if (!info[5].IsUndefined()) s->probe = readInteger(info[5], "probe", 1, INT32_MAX);
  return KernelWorker::Start(
      env,
      [s] {
        Status st = s->matrix->searchGroups(s->queries.view(), s->groupOf.data(), s->k, s->metric, &s->hits, s->probe);
        if (st.ok() && s->hits.offsets.back() > INT32_MAX) st = Status::Range("the result holds over 2^31 rows");
        s->matrix.reset();
        return st;
      },
      [s](Napi::Env env) -> Napi::Value {
        const auto& h = s->hits;
        const size_t Q = h.floors.size(), n = h.rows.size();
        auto offsets = Napi::Int32Array::New(env, Q + 1);
        for (size_t q = 0; q <= Q; ++q) offsets[q] = int32_t(h.offsets[q]);
        auto rows = Napi::Int32Array::New(env, n);
        auto scores = Napi::Float32Array::New(env, n);
        if (n) std::memcpy(rows.Data(), h.rows.data(), n * 4), std::memcpy(scores.Data(), h.scores.data(), n * 4);
        auto floors = Napi::Float64Array::New(env, Q);
        if (Q) std::memcpy(floors.Data(), h.floors.data(), Q * 8);
        Napi::Object out = Napi::Object::New(env);
        out.Set("offsets", offsets);
        out.Set("rows", rows);
        out.Set("scores", scores);
        out.Set("floors", floors);
        return out;
      });
}

// quantizedInfo(handle) → { rows, cols, bytes, disposed }
Napi::Value QuantizedInfo(const Napi::CallbackInfo& info) {
  Handle* h = unwrap(info[0]);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("disposed", Napi::Boolean::New(info.Env(), !h->object));
  out.Set("inMemory", Napi::Boolean::New(info.Env(), h->object && h->object->inMemory()));
  out.Set("bytes", Napi::Number::New(info.Env(), double(h->object ? h->object->bytes() : 0)));
  return out;
}

// quantizedDispose(handle): frees the codes and (once running searches end) closes the file. Idempotent.
Napi::Value QuantizedDispose(const Napi::CallbackInfo& info) {
  unwrap(info[0])->release(info.Env());
  return info.Env().Undefined();
}

}  // namespace

void registerQuantized(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizedFromFile", Napi::Function::New(env, Guarded<QuantizedFromFile>, "quantizedFromFile"));
  exports.Set("quantizedFromMatrix", Napi::Function::New(env, Guarded<QuantizedFromMatrix>, "quantizedFromMatrix"));
  exports.Set("int8ScanKernel", Napi::Function::New(
                                    env,
                                    [](const Napi::CallbackInfo& info) -> Napi::Value {
                                      return Napi::String::New(info.Env(), int8ScanKernel());
                                    },
                                    "int8ScanKernel"));
  exports.Set("quantizedSearch", Napi::Function::New(env, Guarded<QuantizedSearch>, "quantizedSearch"));
  exports.Set("quantizedSearchGroups",
              Napi::Function::New(env, Guarded<QuantizedSearchGroups>, "quantizedSearchGroups"));
  exports.Set("quantizedInfo", Napi::Function::New(env, Guarded<QuantizedInfo>, "quantizedInfo"));
  exports.Set("quantizedDispose", Napi::Function::New(env, Guarded<QuantizedDispose>, "quantizedDispose"));
}

}  // namespace jobbert::bindings
