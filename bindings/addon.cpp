// N-API glue: unpack arguments (args.cpp), run the kernel on a libuv worker
// thread, settle a Promise. No math here: every kernel lives in native/.
#include <napi.h>

#include <algorithm>
#include <memory>

#include "args.h"
#include "worker.h"
#include "jobbert/kernels.h"
#include "jobbert/cuda.h"

namespace jobbert::bindings {
namespace {

const std::vector<const char*> kActivations = {"identity", "tanh"};
const std::vector<const char*> kMetrics = {"cosine", "dot"};

Activation readActivation(const Napi::Value& v) {
  return readChoice(v, "activation", kActivations) == 1 ? Activation::kTanh : Activation::kIdentity;
}

// Every kernel takes (..., backend: 'cpu' | 'cuda', precision: 'fp32' | 'tf32' |
// 'bf16') last: the JS layer resolves device 'auto' to a backend. The CPU
// computes in fp32 whatever the precision. A CUDA call takes DeviceMatrix
// operands as they are and copies host ones to the GPU itself; a kUnavailable
// from it rejects with ERR_CUDA_UNAVAILABLE.
constexpr const char* kCudaUnavailable = "ERR_CUDA_UNAVAILABLE";

const char* unavailableCode(Backend backend) {
  return backend == Backend::kCuda ? kCudaUnavailable : "ERR_UNAVAILABLE";
}

// Drops the call's shares of DeviceMatrix operands on the worker thread, so a
// matrix disposed while the call ran is freed there rather than on the main thread.
template <typename... Operands>
void releaseDevice(Operands&... operands) {
  (operands.device.reset(), ...);
}

// dense(x, weight, bias | null, activation, backend, precision, out?) → Promise<Float32Array>
// Without `out` the result is a new array; with it (a Float32Array of
// x.rows × weight.rows elements) the kernel writes into the caller's memory in
// place and resolves to `out` itself: no allocation, no page faults, no copy.
Napi::Value Dense(const Napi::CallbackInfo& info) {
  struct State {
    OperandArg x, weight;
    std::vector<float> bias;
    bool hasBias = false;
    Activation activation;
    Backend backend;
    cuda::Precision precision;
    OwnedFloats y;
    Napi::Reference<Napi::Float32Array> out;  // keeps the caller's array alive while the kernel writes it
    float* outData = nullptr;
  };
  auto s = std::make_shared<State>();
  s->backend = readBackend(info[4]);
  s->precision = readPrecision(info[5]);
  s->x = readOperand(info[0], "x", s->backend);
  s->weight = readOperand(info[1], "weight", s->backend);
  if (s->weight.cols != s->x.cols)
    throw Napi::RangeError::New(info.Env(), "weight.cols must equal x.cols (" + std::to_string(s->x.cols) +
                                                "); received " + std::to_string(s->weight.cols));
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    s->bias = copyVector(info[2], "bias", s->weight.rows);
    s->hasBias = true;
  }
  s->activation = readActivation(info[3]);
  checkOutputSize(info.Env(), s->x.rows * s->weight.rows, "y (x.rows × weight.rows)");
  if (info.Length() > 6 && !info[6].IsUndefined()) {
    // The inputs were copied (or are resident) above, so `out` overlapping
    // them cannot change what the kernel reads.
    s->outData = outputFloats(info[6], "out", s->x.rows * s->weight.rows);
    s->out = Napi::Persistent(info[6].As<Napi::Float32Array>());
  }
  return KernelWorker::Start(
      info.Env(),
      [s] {
        float* y = s->outData;
        if (!y) {
          s->y = allocateFloats(s->x.rows * s->weight.rows);
          y = s->y.data();
        }
        const float* bias = s->hasBias ? s->bias.data() : nullptr;
        if (s->backend == Backend::kCuda) {
          cuda::DenseParams p;
          p.x = s->x.operand(), p.weight = s->weight.operand();
          p.bias = bias, p.activation = s->activation, p.precision = s->precision, p.y = y;
          Status st = cuda::denseForward(p);
          releaseDevice(s->x, s->weight);
          return st;
        }
        DenseParams p;
        p.x = s->x.view(), p.weight = s->weight.view();
        p.bias = bias, p.activation = s->activation, p.y = y;
        return denseForward(p);
      },
      [s](Napi::Env env) -> Napi::Value {
        if (s->outData) return s->out.Value();
        return toFloat32Array(env, std::move(s->y));
      },
      unavailableCode(s->backend));
}

// denseBackward(x, weight, y, gradY, activation, backend, precision) → Promise<{ gradX, gradWeight, gradBias }>
Napi::Value DenseBackward(const Napi::CallbackInfo& info) {
  struct State {
    OperandArg x, weight, y, gradY;
    Activation activation;
    Backend backend;
    cuda::Precision precision;
    OwnedFloats gradX, gradWeight, gradBias;
  };
  auto s = std::make_shared<State>();
  s->backend = readBackend(info[5]);
  s->precision = readPrecision(info[6]);
  s->x = readOperand(info[0], "x", s->backend);
  s->weight = readOperand(info[1], "weight", s->backend);
  s->y = readOperand(info[2], "y", s->backend);
  s->gradY = readOperand(info[3], "gradY", s->backend);
  s->activation = readActivation(info[4]);
  return KernelWorker::Start(
      info.Env(),
      [s] {
        s->gradX = allocateFloats(s->x.rows * s->x.cols);
        s->gradWeight = allocateFloats(s->weight.rows * s->weight.cols);
        s->gradBias = allocateFloats(s->weight.rows);
        if (s->backend == Backend::kCuda) {
          cuda::DenseBackwardParams p;
          p.x = s->x.operand(), p.weight = s->weight.operand(), p.y = s->y.operand(), p.gradY = s->gradY.operand();
          p.activation = s->activation, p.precision = s->precision;
          p.gradX = s->gradX.data(), p.gradWeight = s->gradWeight.data(), p.gradBias = s->gradBias.data();
          Status st = cuda::denseBackward(p);
          releaseDevice(s->x, s->weight, s->y, s->gradY);
          return st;
        }
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
      },
      unavailableCode(s->backend));
}

// infoNCE(anchors, positives, negatives | null, scale, symmetric, backend, precision)
//   → Promise<{ loss, gradAnchors, gradPositives, gradNegatives | null }>
Napi::Value InfoNCE(const Napi::CallbackInfo& info) {
  struct State {
    OperandArg anchors, positives, negatives;
    float scale;
    bool symmetric;
    Backend backend;
    cuda::Precision precision;
    double loss = 0;
    OwnedFloats gradAnchors, gradPositives, gradNegatives;
  };
  auto s = std::make_shared<State>();
  s->backend = readBackend(info[5]);
  s->precision = readPrecision(info[6]);
  s->anchors = readOperand(info[0], "anchors", s->backend);
  s->positives = readOperand(info[1], "positives", s->backend);
  if (!info[2].IsNull() && !info[2].IsUndefined()) s->negatives = readOperand(info[2], "negatives", s->backend, true);
  s->scale = static_cast<float>(readNumber(info[3], "scale"));
  if (!info[4].IsBoolean()) throw Napi::TypeError::New(info.Env(), "symmetric must be a boolean");
  s->symmetric = info[4].As<Napi::Boolean>().Value();
  return KernelWorker::Start(
      info.Env(),
      [s] {
        const bool hasNegatives = s->negatives.rows > 0;
        s->gradAnchors = allocateFloats(s->anchors.rows * s->anchors.cols);
        s->gradPositives = allocateFloats(s->positives.rows * s->positives.cols);
        if (hasNegatives) s->gradNegatives = allocateFloats(s->negatives.rows * s->negatives.cols);
        float* gradNegatives = hasNegatives ? s->gradNegatives.data() : nullptr;
        const ConstMatrix noNegatives{nullptr, 0, s->anchors.cols};
        if (s->backend == Backend::kCuda) {
          cuda::InfoNCEParams p;
          p.anchors = s->anchors.operand(), p.positives = s->positives.operand();
          p.negatives = hasNegatives ? s->negatives.operand() : cuda::Operand{noNegatives, nullptr};
          p.scale = s->scale, p.symmetric = s->symmetric, p.precision = s->precision, p.loss = &s->loss;
          p.gradAnchors = s->gradAnchors.data(), p.gradPositives = s->gradPositives.data();
          p.gradNegatives = gradNegatives;
          Status st = cuda::infoNCE(p);
          releaseDevice(s->anchors, s->positives, s->negatives);
          return st;
        }
        InfoNCEParams p;
        p.anchors = s->anchors.view(), p.positives = s->positives.view();
        p.negatives = hasNegatives ? s->negatives.view() : noNegatives;
        p.scale = s->scale, p.symmetric = s->symmetric, p.loss = &s->loss;
        p.gradAnchors = s->gradAnchors.data(), p.gradPositives = s->gradPositives.data();
        p.gradNegatives = gradNegatives;
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
      },
      unavailableCode(s->backend));
}

// topK(queries, corpus, k, metric, backend, precision) → Promise<{ k, indices: Int32Array, scores: Float32Array }>
Napi::Value TopK(const Napi::CallbackInfo& info) {
  struct State {
    OperandArg queries, corpus;
    int64_t k;
    Metric metric;
    Backend backend;
    cuda::Precision precision;
    std::unique_ptr<int32_t[]> indices;
    OwnedFloats scores;
  };
  auto s = std::make_shared<State>();
  s->backend = readBackend(info[4]);
  s->precision = readPrecision(info[5]);
  s->queries = readOperand(info[0], "queries", s->backend);
  s->corpus = readOperand(info[1], "corpus", s->backend);
  if (s->corpus.cols != s->queries.cols)
    throw Napi::RangeError::New(info.Env(), "corpus.cols must equal queries.cols (" + std::to_string(s->queries.cols) +
                                                "); received " + std::to_string(s->corpus.cols));
  const int64_t maxK = s->backend == Backend::kCuda ? std::min(s->corpus.rows, cuda::kMaxTopK) : s->corpus.rows;
  s->k = readInteger(info[2], "k", 1, maxK);
  s->metric = readChoice(info[3], "metric", kMetrics) == 1 ? Metric::kDot : Metric::kCosine;
  checkOutputSize(info.Env(), s->queries.rows * s->k, "the result (queries.rows × k)");
  return KernelWorker::Start(
      info.Env(),
      [s] {
        const int64_t n = s->queries.rows * s->k;
        s->indices.reset(new int32_t[static_cast<size_t>(n)]);
        s->scores = allocateFloats(n);
        if (s->backend == Backend::kCuda) {
          cuda::TopKParams p;
          p.queries = s->queries.operand(), p.corpus = s->corpus.operand();
          p.k = s->k, p.metric = s->metric, p.precision = s->precision;
          p.indices = s->indices.get(), p.scores = s->scores.data();
          Status st = cuda::topK(p);
          releaseDevice(s->queries, s->corpus);
          return st;
        }
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
      },
      unavailableCode(s->backend));
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = backends();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(uint32_t(i), names[i]);
  return out;
}

Napi::Value CudaDevices(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  int count = cuda::deviceCount();
  for (int i = 0; i < count; ++i) out.Set(uint32_t(i), cuda::deviceDescription(i));
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

// releaseFreeMemory() → whether the allocator gave free memory back to the system.
Napi::Value ReleaseFreeMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), releaseFreeMemory());
}

Napi::Value GemmBlocking(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), gemmBlockingDescription());
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
  exports.Set("gemmBlocking", Napi::Function::New(env, Guarded<GemmBlocking>, "gemmBlocking"));
  exports.Set("releaseFreeMemory", Napi::Function::New(env, Guarded<ReleaseFreeMemory>, "releaseFreeMemory"));
  auto* data = new AddonData();
  Napi::Function resident = ResidentMatrix::Define(env);
  data->residentMatrix = Napi::Persistent(resident);
  env.SetInstanceData(data);
  exports.Set("ResidentMatrix", resident);
  registerStore(env, exports);
  registerQuantized(env, exports);
  registerLite(env, exports);
  registerText(env, exports);
  registerDevice(env, exports);
  return exports;
}

}  // namespace
}  // namespace jobbert::bindings

static Napi::Object InitJobbert(Napi::Env env, Napi::Object exports) { return jobbert::bindings::Init(env, exports); }

NODE_API_MODULE(jobbert, InitJobbert)
