// N-API glue for native/…/store.h: checksums, resident matrices read from and
// written to files, and new residents built from rows of others. Every buffer
// a worker reads is held by a shared_ptr, so disposing a ResidentMatrix while
// one of these runs only drops its own share.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "jobbert/buffer.h"
#include "jobbert/store.h"
#include "worker.h"

namespace jobbert::bindings {
namespace {

// Sizes of resident matrices are capped like kernel outputs (2^31 floats, 8 GiB).
std::shared_ptr<FloatBuffer> allocateShared(int64_t count) {
  return std::make_shared<FloatBuffer>(allocateFloats(count));
}

// checksum(view: ArrayBufferView) → string: checksum64 of the view's bytes, as
// 16 hex digits. Sync (for headers and metadata; it reads the bytes in place).
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  const uint8_t* bytes = nullptr;
  size_t length = 0;
  if (v.IsTypedArray()) {
    auto array = v.As<Napi::TypedArray>();
    length = array.ByteLength();
    if (length) bytes = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  } else if (v.IsDataView()) {
    auto view = v.As<Napi::DataView>();
    length = view.ByteLength();
    if (length) bytes = static_cast<const uint8_t*>(view.Data());
  } else {
    throw Napi::TypeError::New(env, "bytes must be an ArrayBufferView (a typed array, Buffer or DataView)");
  }
  if (length && !bytes) throw Napi::TypeError::New(env, "bytes is detached");
  return Napi::String::New(env, checksumHex(checksum64(bytes, length)));
}

// residentFromFile(path, offset, rows, cols, expected | null) → Promise<ResidentMatrix>
Napi::Value ResidentFromFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State : FileRange {
    std::shared_ptr<FloatBuffer> values;
  };
  auto s = std::make_shared<State>();
  static_cast<FileRange&>(*s) = readFileRange(info);
  checkOutputSize(env, s->rows * s->cols, "the matrix (rows × cols)");
  return KernelWorker::Start(
      env,
      [s] {
        s->values = allocateShared(s->rows * s->cols);
        uint64_t sum = 0;
        Status st =
            readFloatsFromFile(s->path, s->offset, s->rows * s->cols, s->values->data(), s->verify ? &sum : nullptr);
        if (!st.ok()) {
          s->values.reset();
          return st;
        }
        if (s->verify && sum != s->expected) {
          s->values.reset();
          return Status::Corrupt("checksum mismatch in '" + s->path + "': the " +
                                 std::to_string(s->rows * s->cols * 4) + " bytes at offset " +
                                 std::to_string(s->offset) + " give " + checksumHex(sum) + ", expected " +
                                 checksumHex(s->expected));
        }
        return Status::Ok();
      },
      [s](Napi::Env env) -> Napi::Value {
        return ResidentMatrix::Adopt(env, MatrixArg{std::move(s->values), s->rows, s->cols});
      });
}

// residentConcat(parts: (ResidentMatrix | Matrix)[]) → Promise<ResidentMatrix>:
// the parts' rows, stacked in order. Plain matrices are copied first (the
// caller may change them while the worker runs); residents are shared.
Napi::Value ResidentConcat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct State {
    std::vector<MatrixArg> parts;
    int64_t rows = 0, cols = 0;
    std::shared_ptr<FloatBuffer> values;
  };
  auto s = std::make_shared<State>();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "parts must be an array of matrices");
  auto parts = info[0].As<Napi::Array>();
  if (parts.Length() == 0)
    throw Napi::RangeError::New(env, "parts must hold at least one matrix; received an empty array");
  for (uint32_t i = 0; i < parts.Length(); ++i) {
    std::string name = "parts[" + std::to_string(i) + "]";
    s->parts.push_back(copyMatrix(parts.Get(i), name.c_str()));
    const MatrixArg& p = s->parts.back();
    if (i == 0) s->cols = p.cols;
    else if (p.cols != s->cols)
      throw Napi::RangeError::New(env, name + ".cols must be " + std::to_string(s->cols) +
                                           " (parts[0].cols); received " + std::to_string(p.cols));
    s->rows += p.rows;
    if (s->rows > kMaxDim)
      throw Napi::RangeError::New(env, "parts hold " + std::to_string(s->rows) + "+ rows, more than 2^31 - 1");
  }
  checkOutputSize(env, s->rows * s->cols, "the concatenation (Σ rows × cols)");
  return KernelWorker::Start(
      env,
      [s] {
        s->values = allocateShared(s->rows * s->cols);
        std::vector<ConstMatrix> views;
        for (const MatrixArg& p : s->parts) views.push_back(p.view());
        Status st = concatRows(views.data(), views.size(), s->cols, s->values->data());
        s->parts.clear();  // drop the shares (and copies) as soon as possible
        return st;
      },
      [s](Napi::Env env) -> Napi::Value {
        return ResidentMatrix::Adopt(env, MatrixArg{std::move(s->values), s->rows, s->cols});
      });
}

}  // namespace

// writeTo(path, offset) → Promise<string>: the rows' bytes written at `offset`
// of the existing file, resolving to their checksum.
Napi::Value ResidentMatrix::WriteTo(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    struct State {
      MatrixArg m;
      std::string path;
      uint64_t offset = 0;
      uint64_t sum = 0;
    };
    auto s = std::make_shared<State>();
    s->m = live(info.Env(), "this");
    s->path = readPath(info[0], "path");
    s->offset = static_cast<uint64_t>(readInteger(info[1], "offset", 0, (int64_t(1) << 53) - 1));
    return KernelWorker::Start(
        info.Env(),
        [s] {
          Status st = writeFloatsToFile(s->path, s->offset, s->m.values->data(), s->m.rows * s->m.cols, &s->sum);
          s->m.values.reset();
          return st;
        },
        [s](Napi::Env env) -> Napi::Value { return Napi::String::New(env, checksumHex(s->sum)); });
  });
}

// take(rows: Int32Array) → Promise<ResidentMatrix>: the listed rows, in order.
// Indices are copied now and checked on the worker (RangeError naming rows[i]).
Napi::Value ResidentMatrix::Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    struct State {
      MatrixArg m;
      std::vector<int32_t> rows;
      std::shared_ptr<FloatBuffer> values;
    };
    auto s = std::make_shared<State>();
    s->m = live(env, "this");
    Napi::Value v = info[0];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "rows must be an Int32Array of row indices");
    auto array = v.As<Napi::Int32Array>();
    size_t n = array.ElementLength();
    if (n == 0) throw Napi::RangeError::New(env, "rows must hold at least one row index; received an empty Int32Array");
    if (!array.ArrayBuffer().Data()) throw Napi::TypeError::New(env, "rows is detached");
    s->rows.assign(array.Data(), array.Data() + n);
    checkOutputSize(env, int64_t(n) * s->m.cols, "the result (rows.length × cols)");
    return KernelWorker::Start(
        env,
        [s] {
          const int64_t n = static_cast<int64_t>(s->rows.size());
          s->values = allocateShared(n * s->m.cols);
          Status st = gatherRows(s->m.view(), s->rows.data(), n, s->values->data());
          s->m.values.reset();
          if (!st.ok()) s->values.reset();
          return st;
        },
        [s](Napi::Env env) -> Napi::Value {
          return ResidentMatrix::Adopt(env, MatrixArg{std::move(s->values), int64_t(s->rows.size()), s->m.cols});
        });
  });
}

// toFloat32Array() → Promise<Float32Array>: a copy of the values, owned by JS.
Napi::Value ResidentMatrix::ToFloat32Array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    struct State {
      MatrixArg m;
      OwnedFloats out;
    };
    auto s = std::make_shared<State>();
    s->m = live(env, "this");
    return KernelWorker::Start(
        env,
        [s] {
          s->out = allocateFloats(s->m.rows * s->m.cols);
          ConstMatrix whole = s->m.view();
          Status st = concatRows(&whole, 1, s->m.cols, s->out.data());
          s->m.values.reset();
          return st;
        },
        [s](Napi::Env env) -> Napi::Value { return toFloat32Array(env, std::move(s->out)); });
  });
}

void registerStore(Napi::Env env, Napi::Object exports) {
  exports.Set("checksum", Napi::Function::New(env, Guarded<Checksum>, "checksum"));
  exports.Set("residentFromFile", Napi::Function::New(env, Guarded<ResidentFromFile>, "residentFromFile"));
  exports.Set("residentConcat", Napi::Function::New(env, Guarded<ResidentConcat>, "residentConcat"));
}

}  // namespace jobbert::bindings
