// N-API glue for native/…/embedding_bag.h (the LiteEncoder's pooling):
//   int8Table(tableData, cols) → Int8Table handle | null              (an exact int8 copy, or null where none exists)
//   int8TableFromCodes(bytes, cols) → Int8Table handle                 (table.bin's layout: scales, then codes)
//   int8TableDispose(handle)                                          (idempotent)
//   embeddingBag(table, ids, offsets) → Promise<Float32Array>        (table: Matrix, ResidentMatrix or Int8Table)
//   embeddingBagSync(tableData, cols, ids, offsets) → Float32Array    (reads the table in place; training)
//   embeddingBagBackward(gradOut, ids, offsets, tableRows) → Promise<{ ids: Int32Array, grads: Float32Array }>
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "handle.h"
#include "jobbert/embedding_bag.h"
#include "worker.h"

namespace jobbert::bindings {
namespace {

// An int8 copy of a float32 table (native/…/embedding_bag.h int8RowsExactly),
// handed to JS as a type-tagged External holding a shared_ptr, so a bag
// running on a worker keeps the table alive if it is disposed meanwhile.
struct Int8Table {
  std::vector<int8_t> codes;
  std::vector<float> scales;
  int64_t rows = 0, cols = 0;
  Int8Rows view() const { return {codes.data(), scales.data(), rows, cols}; }
};

const napi_type_tag kInt8TableTag = {0x6a6f6262657274ULL, 0x6c69746538ULL};  // "jobbert", "lite8"

using Int8Handle = SharedHandle<Int8Table>;

bool isInt8Table(const Napi::Value& v) { return Int8Handle::is(v, kInt8TableTag); }

Int8Handle* unwrapInt8(const Napi::Value& v, const char* name) {
  return Int8Handle::unwrap(v, kInt8TableTag, std::string(name) + " must be an Int8Table handle");
}

// A Float32Array table argument of `cols` columns (at least one row), not copied.
struct FloatTable {
  Napi::Float32Array data;
  int64_t rows = 0, cols = 0;
};
FloatTable readFloatTable(const Napi::Value& table, const Napi::Value& colsArg) {
  Napi::Env env = table.Env();
  if (!table.IsTypedArray() || table.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "table must be a Float32Array");
  FloatTable t{table.As<Napi::Float32Array>()};
  t.cols = readInteger(colsArg, "cols", 1, kMaxDim);
  const int64_t length = int64_t(t.data.ElementLength());
  if (length == 0 || length % t.cols != 0)
    throw Napi::RangeError::New(env,
                                "table length must be a positive multiple of cols; received " + std::to_string(length));
  t.rows = length / t.cols;
  return t;
}

// int8Table(tableData: Float32Array, cols) → handle, or null when some row is not codes · scale exactly.
Napi::Value Int8TableNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const FloatTable t = readFloatTable(info[0], info[1]);
  auto table = std::make_shared<Int8Table>();
  table->rows = t.rows;
  table->cols = t.cols;
  table->codes.resize(size_t(t.rows * t.cols));
  table->scales.resize(size_t(t.rows));
  if (!int8RowsExactly({t.data.Data(), t.rows, t.cols}, table->codes.data(), table->scales.data())) return env.Null();
  const int64_t bytes = t.rows * t.cols + t.rows * int64_t(sizeof(float));
  return Int8Handle::wrap(env, std::move(table), bytes, kInt8TableTag);
}

// int8TableFromCodes(bytes: Uint8Array, cols) → handle over a model's stored
// table ([rows] float32 scales, then [rows × cols] int8 codes; io.ts
// quantizeTable). The bag reads float(code) · scale, the very float that
// dequantising the bytes gives, so this is the dequantised table without
// building its float32 copy (4× the bytes) first.
Napi::Value Int8TableFromCodes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
  const auto bytes = info[0].As<Napi::Uint8Array>();
  const int64_t cols = readInteger(info[1], "cols", 1, kMaxDim);
  const int64_t length = int64_t(bytes.ElementLength());
  if (length == 0 || length % (cols + 4) != 0)
    throw Napi::RangeError::New(
        env, "bytes length must be a positive multiple of cols + 4 (a float32 scale and cols codes a row); received " +
                 std::to_string(length));
  auto table = std::make_shared<Int8Table>();
  table->rows = length / (cols + 4);
  table->cols = cols;
  table->scales.resize(size_t(table->rows));
  table->codes.resize(size_t(table->rows * cols));
  std::memcpy(table->scales.data(), bytes.Data(), size_t(table->rows) * sizeof(float));
  std::memcpy(table->codes.data(), bytes.Data() + table->rows * int64_t(sizeof(float)), table->codes.size());
  return Int8Handle::wrap(env, std::move(table), length, kInt8TableTag);
}

Napi::Value Int8TableDispose(const Napi::CallbackInfo& info) {
  unwrapInt8(info[0], "table")->release(info.Env());
  return info.Env().Undefined();
}

void checkOffsets(Napi::Env env, const std::vector<int32_t>& offsets) {
  if (offsets.empty()) throw Napi::RangeError::New(env, "offsets must hold bags + 1 entries (at least 1); received 0");
}

Napi::Value EmbeddingBag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    MatrixArg table;
    std::shared_ptr<const Int8Table> int8;
    std::vector<int32_t> ids, offsets;
    OwnedFloats out;
  };
  auto s = std::make_shared<State>();
  if (isInt8Table(info[0])) {
    s->int8 = unwrapInt8(info[0], "table")->object;
    if (!s->int8) throw codedError(env, "ERR_DISPOSED", "table: the Int8Table was disposed");
  } else {
    s->table = copyMatrix(info[0], "table");
  }
  const int64_t cols = s->int8 ? s->int8->cols : s->table.cols;
  s->ids = copyInt32(info[1], "ids");
  s->offsets = copyInt32(info[2], "offsets");
  checkOffsets(env, s->offsets);
  const int64_t bags = int64_t(s->offsets.size()) - 1;
  checkOutputSize(env, bags * cols, "the pooled output (bags × cols)");
  return KernelWorker::Start(
      env,
      [s, bags, cols] {
        s->out = allocateFloats(bags * cols);
        EmbeddingBagParams p;
        if (s->int8) p.quantized = s->int8->view();
        else p.table = s->table.view();
        p.ids = s->ids.data();
        p.numIds = int64_t(s->ids.size());
        p.offsets = s->offsets.data();
        p.bags = bags;
        p.out = s->out.data();
        return embeddingBagForward(p);
      },
      [s](Napi::Env env) -> Napi::Value { return toFloat32Array(env, std::move(s->out)); });
}

Napi::Value EmbeddingBagSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const FloatTable table = readFloatTable(info[0], info[1]);
  const int64_t cols = table.cols;
  std::vector<int32_t> ids = copyInt32(info[2], "ids");
  std::vector<int32_t> offsets = copyInt32(info[3], "offsets");
  checkOffsets(env, offsets);
  const int64_t bags = int64_t(offsets.size()) - 1;
  checkOutputSize(env, bags * cols, "the pooled output (bags × cols)");
  OwnedFloats out = allocateFloats(bags * cols);
  EmbeddingBagParams p;
  p.table = {table.data.Data(), table.rows, cols};
  p.ids = ids.data();
  p.numIds = int64_t(ids.size());
  p.offsets = offsets.data();
  p.bags = bags;
  p.out = out.data();
  Status st = embeddingBagForward(p);
  if (!st.ok()) throw toError(env, st);
  return toFloat32Array(env, std::move(out));
}

Napi::Value EmbeddingBagBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    MatrixArg gradOut;
    std::vector<int32_t> ids, offsets;
    int64_t tableRows = 0;
    SparseRows rows;
  };
  auto s = std::make_shared<State>();
  s->gradOut = copyMatrix(info[0], "gradOut", true);
  s->ids = copyInt32(info[1], "ids");
  s->offsets = copyInt32(info[2], "offsets");
  checkOffsets(env, s->offsets);
  s->tableRows = readInteger(info[3], "tableRows", 1, kMaxDim);
  return KernelWorker::Start(
      env,
      [s] {
        EmbeddingBagBackwardParams p;
        p.gradOut = s->gradOut.view();
        p.ids = s->ids.data();
        p.numIds = int64_t(s->ids.size());
        p.offsets = s->offsets.data();
        p.bags = int64_t(s->offsets.size()) - 1;
        p.tableRows = s->tableRows;
        return embeddingBagBackward(p, &s->rows);
      },
      [s](Napi::Env env) -> Napi::Value {
        const int64_t U = int64_t(s->rows.rowIds.size());
        const int64_t D = s->gradOut.cols;
        auto ids = Napi::Int32Array::New(env, size_t(U));
        if (U) std::memcpy(ids.Data(), s->rows.rowIds.data(), size_t(U) * sizeof(int32_t));
        auto grads = Napi::Float32Array::New(env, size_t(U * D));
        if (U * D) std::memcpy(grads.Data(), s->rows.grads.data(), size_t(U * D) * sizeof(float));
        Napi::Object out = Napi::Object::New(env);
        out.Set("ids", ids);
        out.Set("grads", grads);
        return out;
      });
}

}  // namespace

void registerLite(Napi::Env env, Napi::Object exports) {
  exports.Set("int8Table", Napi::Function::New(env, Guarded<Int8TableNew>, "int8Table"));
  exports.Set("int8TableFromCodes", Napi::Function::New(env, Guarded<Int8TableFromCodes>, "int8TableFromCodes"));
  exports.Set("int8TableDispose", Napi::Function::New(env, Guarded<Int8TableDispose>, "int8TableDispose"));
  exports.Set("embeddingBag", Napi::Function::New(env, Guarded<EmbeddingBag>, "embeddingBag"));
  exports.Set("embeddingBagSync", Napi::Function::New(env, Guarded<EmbeddingBagSync>, "embeddingBagSync"));
  exports.Set("embeddingBagBackward", Napi::Function::New(env, Guarded<EmbeddingBagBackward>, "embeddingBagBackward"));
}

}  // namespace jobbert::bindings
