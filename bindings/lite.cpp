// N-API glue for native/…/embedding_bag.h (the LiteEncoder's pooling):
//   embeddingBag(table, ids, offsets) → Promise<Float32Array>        (table: Matrix or ResidentMatrix)
//   embeddingBagSync(tableData, cols, ids, offsets) → Float32Array    (reads the table in place; training)
//   embeddingBagBackward(gradOut, ids, offsets, tableRows) → Promise<{ ids: Int32Array, grads: Float32Array }>
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "jobbert/embedding_bag.h"
#include "worker.h"

namespace jobbert::bindings {
namespace {

// A copy of an Int32Array argument.
std::vector<int32_t> copyInt32(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  std::vector<int32_t> out(a.ElementLength());
  if (!out.empty()) {
    if (!a.Data()) throw Napi::TypeError::New(v.Env(), std::string(name) + " is detached");
    std::memcpy(out.data(), a.Data(), out.size() * sizeof(int32_t));
  }
  return out;
}

void checkOffsets(Napi::Env env, const std::vector<int32_t>& offsets) {
  if (offsets.empty()) throw Napi::RangeError::New(env, "offsets must hold bags + 1 entries (at least 1); received 0");
}

Napi::Value EmbeddingBag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    MatrixArg table;
    std::vector<int32_t> ids, offsets;
    OwnedFloats out;
  };
  auto s = std::make_shared<State>();
  s->table = copyMatrix(info[0], "table");
  s->ids = copyInt32(info[1], "ids");
  s->offsets = copyInt32(info[2], "offsets");
  checkOffsets(env, s->offsets);
  const int64_t bags = int64_t(s->offsets.size()) - 1;
  checkOutputSize(env, bags * s->table.cols, "the pooled output (bags × cols)");
  return KernelWorker::Start(
      env,
      [s, bags] {
        s->out = allocateFloats(bags * s->table.cols);
        EmbeddingBagParams p;
        p.table = s->table.view();
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
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "table must be a Float32Array");
  auto table = info[0].As<Napi::Float32Array>();
  const int64_t cols = readInteger(info[1], "cols", 1, kMaxDim);
  const int64_t length = int64_t(table.ElementLength());
  if (length == 0 || length % cols != 0)
    throw Napi::RangeError::New(env,
                                "table length must be a positive multiple of cols; received " + std::to_string(length));
  std::vector<int32_t> ids = copyInt32(info[2], "ids");
  std::vector<int32_t> offsets = copyInt32(info[3], "offsets");
  checkOffsets(env, offsets);
  const int64_t bags = int64_t(offsets.size()) - 1;
  checkOutputSize(env, bags * cols, "the pooled output (bags × cols)");
  OwnedFloats out = allocateFloats(bags * cols);
  EmbeddingBagParams p;
  p.table = {table.Data(), length / cols, cols};
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
  exports.Set("embeddingBag", Napi::Function::New(env, Guarded<EmbeddingBag>, "embeddingBag"));
  exports.Set("embeddingBagSync", Napi::Function::New(env, Guarded<EmbeddingBagSync>, "embeddingBagSync"));
  exports.Set("embeddingBagBackward", Napi::Function::New(env, Guarded<EmbeddingBagBackward>, "embeddingBagBackward"));
}

}  // namespace jobbert::bindings
