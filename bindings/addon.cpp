// N-API glue: unpack arguments (args.cpp), run the kernel on a libuv worker
// thread, settle a Promise. No math here: every kernel lives in native/.
#include <napi.h>

#include <memory>

#include "args.h"
#include "worker.h"
#include "jobbert/kernels.h"
#ifdef JOBBERT_HAVE_CUDA
#include "../native/cuda/device.h"
#endif

namespace jobbert::bindings {
namespace {

const std::vector<const char*> kActivations = {"identity", "tanh"};
const std::vector<const char*> kMetrics = {"cosine", "dot"};

Activation readActivation(const Napi::Value& v) {
  return readChoice(v, "activation", kActivations) == 1 ? Activation::kTanh : Activation::kIdentity;
}

// dense(x, weight, bias | null, activation) → Promise<Float32Array>
Napi::Value Dense(const Napi::CallbackInfo& info) {
  struct State {
    MatrixCopy x, weight;
    std::vector<float> bias;
    bool hasBias = false;
    Activation activation;
    OwnedFloats y;
  };
  auto s = std::make_shared<State>();
  s->x = copyMatrix(info[0], "x");
  s->weight = copyMatrix(info[1], "weight");
  if (s->weight.cols != s->x.cols)
    throw Napi::RangeError::New(info.Env(), "weight.cols must equal x.cols (" + std::to_string(s->x.cols) +
                                                "); received " + std::to_string(s->weight.cols));
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    s->bias = copyVector(info[2], "bias", s->weight.rows);
    s->hasBias = true;
  }
  s->activation = readActivation(info[3]);
  checkOutputSize(info.Env(), s->x.rows * s->weight.rows, "y (x.rows × weight.rows)");
  return KernelWorker::Start(
      info.Env(),
      [s] {
        s->y = allocateFloats(s->x.rows * s->weight.rows);
        DenseParams p;
        p.x = s->x.view(), p.weight = s->weight.view();
        p.bias = s->hasBias ? s->bias.data() : nullptr;
        p.activation = s->activation, p.y = s->y.data();
        return denseForward(p);
      },
      [s](Napi::Env env) -> Napi::Value { return toFloat32Array(env, std::move(s->y)); });
}

// denseBackward(x, weight, y, gradY, activation) → Promise<{ gradX, gradWeight, gradBias }>
Napi::Value DenseBackward(const Napi::CallbackInfo& info) {
  struct State {
    MatrixCopy x, weight, y, gradY;
    Activation activation;
    OwnedFloats gradX, gradWeight, gradBias;
  };
  auto s = std::make_shared<State>();
  s->x = copyMatrix(info[0], "x");
  s->weight = copyMatrix(info[1], "weight");
  s->y = copyMatrix(info[2], "y");
  s->gradY = copyMatrix(info[3], "gradY");
  s->activation = readActivation(info[4]);
  return KernelWorker::Start(
      info.Env(),
      [s] {
        s->gradX = allocateFloats(s->x.rows * s->x.cols);
        s->gradWeight = allocateFloats(s->weight.rows * s->weight.cols);
        s->gradBias = allocateFloats(s->weight.rows);
        DenseBackwardParams p;
        p.x = s->x.view(), p.weight = s->weight.view(), p.y = s->y.view(), p.gradY = s->gradY.view();
        p.activation = s->activation;
        p.gradX = s->gradX.data(), p.gradWeight = s->gradWeight.data();
        p.gradBias = s->gradBias.data();
        return denseBackward(p);
      },
      [s](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("gradX", toFloat32Array(env, std::move(s->gradX)));
        out.Set("gradWeight", toFloat32Array(env, std::move(s->gradWeight)));
        out.Set("gradBias", toFloat32Array(env, std::move(s->gradBias)));
        return out;
      });
}

// infoNCE(anchors, positives, negatives | null, scale, symmetric)
//   → Promise<{ loss, gradAnchors, gradPositives, gradNegatives | null }>
Napi::Value InfoNCE(const Napi::CallbackInfo& info) {
  struct State {
    MatrixCopy anchors, positives, negatives;
    float scale;
    bool symmetric;
    double loss = 0;
    OwnedFloats gradAnchors, gradPositives, gradNegatives;
  };
  auto s = std::make_shared<State>();
  s->anchors = copyMatrix(info[0], "anchors");
  s->positives = copyMatrix(info[1], "positives");
  if (!info[2].IsNull() && !info[2].IsUndefined()) s->negatives = copyMatrix(info[2], "negatives", true);
  s->scale = static_cast<float>(readNumber(info[3], "scale"));
  if (!info[4].IsBoolean()) throw Napi::TypeError::New(info.Env(), "symmetric must be a boolean");
  s->symmetric = info[4].As<Napi::Boolean>().Value();
  return KernelWorker::Start(
      info.Env(),
      [s] {
        s->gradAnchors = allocateFloats(s->anchors.rows * s->anchors.cols);
        s->gradPositives = allocateFloats(s->positives.rows * s->positives.cols);
        if (s->negatives.rows > 0) s->gradNegatives = allocateFloats(s->negatives.rows * s->negatives.cols);
        InfoNCEParams p;
        p.anchors = s->anchors.view(), p.positives = s->positives.view();
        if (s->negatives.rows > 0) p.negatives = s->negatives.view();
        else p.negatives = {nullptr, 0, s->anchors.cols};
        p.scale = s->scale, p.symmetric = s->symmetric, p.loss = &s->loss;
        p.gradAnchors = s->gradAnchors.data(), p.gradPositives = s->gradPositives.data();
        p.gradNegatives = s->negatives.rows > 0 ? s->gradNegatives.data() : nullptr;
        return infoNCE(p);
      },
      [s](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", Napi::Number::New(env, s->loss));
        out.Set("gradAnchors", toFloat32Array(env, std::move(s->gradAnchors)));
        out.Set("gradPositives", toFloat32Array(env, std::move(s->gradPositives)));
        if (s->negatives.rows > 0) out.Set("gradNegatives", toFloat32Array(env, std::move(s->gradNegatives)));
        else out.Set("gradNegatives", env.Null());
        return out;
      });
}

// topK(queries, corpus, k, metric) → Promise<{ k, indices: Int32Array, scores: Float32Array }>
Napi::Value TopK(const Napi::CallbackInfo& info) {
  struct State {
    MatrixCopy queries, corpus;
    int64_t k;
    Metric metric;
    std::unique_ptr<int32_t[]> indices;
    OwnedFloats scores;
  };
  auto s = std::make_shared<State>();
  s->queries = copyMatrix(info[0], "queries");
  s->corpus = copyMatrix(info[1], "corpus");
  if (s->corpus.cols != s->queries.cols)
    throw Napi::RangeError::New(info.Env(), "corpus.cols must equal queries.cols (" +
                                                std::to_string(s->queries.cols) + "); received " +
                                                std::to_string(s->corpus.cols));
  s->k = readInteger(info[2], "k", 1, s->corpus.rows);
  s->metric = readChoice(info[3], "metric", kMetrics) == 1 ? Metric::kDot : Metric::kCosine;
  checkOutputSize(info.Env(), s->queries.rows * s->k, "the result (queries.rows × k)");
  return KernelWorker::Start(
      info.Env(),
      [s] {
        const int64_t n = s->queries.rows * s->k;
        s->indices.reset(new int32_t[static_cast<size_t>(n)]);
        s->scores = allocateFloats(n);
        TopKParams p;
        p.queries = s->queries.view(), p.corpus = s->corpus.view();
        p.k = s->k, p.metric = s->metric;
        p.indices = s->indices.get(), p.scores = s->scores.data();
        return topK(p);
      },
      [s](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("k", Napi::Number::New(env, double(s->k)));
        out.Set("indices", toInt32Array(env, std::move(s->indices), s->queries.rows * s->k));
        out.Set("scores", toFloat32Array(env, std::move(s->scores)));
        return out;
      });
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = backends();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(uint32_t(i), names[i]);
  return out;
}

Napi::Value CudaDevices(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
#ifdef JOBBERT_HAVE_CUDA
  int count = cuda::deviceCount();
  for (int i = 0; i < count; ++i) out.Set(uint32_t(i), cuda::deviceDescription(i));
#endif
  return out;
}

Napi::Value Isas(const Napi::CallbackInfo& info) {
  std::vector<Isa> isas = availableIsas();
  Napi::Array out = Napi::Array::New(info.Env(), isas.size());
  for (size_t i = 0; i < isas.size(); ++i) out.Set(uint32_t(i), isaName(isas[i]));
  return out;
}

// isa() → the active instruction set; isa(name) selects one.
Napi::Value IsaFn(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    int choice = readChoice(info[0], "isa", {"portable", "avx2", "avx512"});
    Status s = setIsa(static_cast<Isa>(choice));
    if (!s.ok()) throw toError(info.Env(), s);
  }
  return Napi::String::New(info.Env(), isaName(activeIsa()));
}

// threads() → the pool size; threads(n) resizes it (0: the default).
Napi::Value Threads(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined())
    setThreadCount(static_cast<int>(readInteger(info[0], "threads", 0, 256)));
  return Napi::Number::New(info.Env(), threadCount());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("dense", Napi::Function::New(env, Guarded<Dense>, "dense"));
  exports.Set("denseBackward", Napi::Function::New(env, Guarded<DenseBackward>, "denseBackward"));
  exports.Set("infoNCE", Napi::Function::New(env, Guarded<InfoNCE>, "infoNCE"));
  exports.Set("topK", Napi::Function::New(env, Guarded<TopK>, "topK"));
  exports.Set("backends", Napi::Function::New(env, Guarded<Backends>, "backends"));
  exports.Set("cudaDevices", Napi::Function::New(env, Guarded<CudaDevices>, "cudaDevices"));
  exports.Set("isas", Napi::Function::New(env, Guarded<Isas>, "isas"));
  exports.Set("isa", Napi::Function::New(env, Guarded<IsaFn>, "isa"));
  exports.Set("threads", Napi::Function::New(env, Guarded<Threads>, "threads"));
  auto* data = new AddonData();
  Napi::Function resident = ResidentMatrix::Define(env);
  data->residentMatrix = Napi::Persistent(resident);
  env.SetInstanceData(data);
  exports.Set("ResidentMatrix", resident);
  registerStore(env, exports);
  registerQuantized(env, exports);
  registerLite(env, exports);
  return exports;
}

}  // namespace
}  // namespace jobbert::bindings

static Napi::Object InitJobbert(Napi::Env env, Napi::Object exports) {
  return jobbert::bindings::Init(env, exports);
}

NODE_API_MODULE(jobbert, InitJobbert)
