// The AsyncWorker every asynchronous entry point uses ("baton" pattern: the
// state lives in a shared_ptr the lambdas capture; Execute touches no N-API),
// and the guard that turns stray C++ exceptions into JS errors.
#pragma once

#include <napi.h>

#include <functional>
#include <new>
#include <stdexcept>
#include <utility>

#include "args.h"
#include "jobbert/kernels.h"

namespace jobbert::bindings {

// Runs `run` off the main thread; `build` turns its outputs into the resolved
// value. A kUnavailable Status rejects with `unavailableCode` (the cuda:: entry
// points pass ERR_CUDA_UNAVAILABLE).
class KernelWorker : public Napi::AsyncWorker {
 public:
  using Run = std::function<Status()>;
  using Build = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Start(Napi::Env env, Run run, Build build, const char* unavailableCode = "ERR_UNAVAILABLE") {
    auto* worker = new KernelWorker(env, std::move(run), std::move(build), unavailableCode);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 private:
  KernelWorker(Napi::Env env, Run run, Build build, const char* unavailableCode)
      : Napi::AsyncWorker(env, "jobbert:kernel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)),
        build_(std::move(build)),
        unavailableCode_(unavailableCode) {}

  void Execute() override {
    try {
      status_ = run_();
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory("out of memory: the kernel's buffers could not be allocated");
    } catch (const std::length_error& e) {
      status_ = Status::Range(e.what());
    } catch (const std::exception& e) {
      status_ = Status::Internal(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(toError(env, status_, unavailableCode_).Value());
      return;
    }
    try {
      deferred_.Resolve(build_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::bad_alloc&) {
      deferred_.Reject(toError(env, Status::OutOfMemory("out of memory while building the result")).Value());
    } catch (const std::exception& e) {
      deferred_.Reject(toError(env, Status::Internal(e.what())).Value());
    }
  }

  Napi::Promise::Deferred deferred_;
  Run run_;
  Build build_;
  const char* unavailableCode_;
  Status status_;
};

// Runs fn(), letting only Napi::Error escape: anything else (an allocation that
// fails while copying arguments) would terminate the process.
template <typename Fn>
Napi::Value guard(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw toError(env, Status::OutOfMemory("out of memory while copying the arguments"));
  } catch (const std::exception& e) {
    throw toError(env, Status::Internal(e.what()));
  }
}

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Fn(info); });
}

// Storage entry points (bindings/store.cpp): checksum, residentFromFile,
// residentConcat.
void registerStore(Napi::Env env, Napi::Object exports);
// Int8-stored matrices (bindings/quantized.cpp): quantizedFromFile, quantizedSearch, …
void registerQuantized(Napi::Env env, Napi::Object exports);
// Embedding bags for the LiteEncoder (bindings/lite.cpp): embeddingBag, embeddingBagSync, embeddingBagBackward.
void registerLite(Napi::Env env, Napi::Object exports);
// JSON text assembly (bindings/text.cpp): assembleJson.
void registerText(Napi::Env env, Napi::Object exports);
// GPU-resident matrices (bindings/device.cpp): toDevice, cudaStatus, cudaMaxTopK
// and the DeviceMatrix class (not exported: only toDevice makes one).
void registerDevice(Napi::Env env, Napi::Object exports);

}  // namespace jobbert::bindings
