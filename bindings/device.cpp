// GPU-resident matrices: toDevice() uploads a Matrix or ResidentMatrix once
// (jobbert::cuda::DeviceMatrix::upload, on a libuv worker thread), and every
// CUDA kernel call that names the result shares it without a copy. No math
// here; a build without CUDA links native/cuda/unavailable.cpp, whose upload
// reports kUnavailable (→ ERR_CUDA_UNAVAILABLE).
#include <napi.h>

#include <memory>
#include <string>

#include "args.h"
#include "worker.h"
#include "jobbert/cuda.h"

namespace jobbert::bindings {
namespace {

using DevicePtr = std::shared_ptr<const cuda::DeviceMatrix>;

constexpr const char* kCudaUnavailable = "ERR_CUDA_UNAVAILABLE";

// The JS handle of a DeviceMatrix. JS cannot construct one (the constructor
// takes only the External that Adopt passes); toDevice() makes them.
class DeviceMatrixWrap : public Napi::ObjectWrap<DeviceMatrixWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "DeviceMatrix",
        {InstanceAccessor<&DeviceMatrixWrap::Rows>("rows"), InstanceAccessor<&DeviceMatrixWrap::Cols>("cols"),
         InstanceAccessor<&DeviceMatrixWrap::Disposed>("disposed"),
         InstanceMethod<&DeviceMatrixWrap::Dispose>("dispose"),
         InstanceMethod<&DeviceMatrixWrap::Download>("toFloat32Array")});
  }

  // The wrapped instance when v is a DeviceMatrix, else null.
  static DeviceMatrixWrap* Unwrap(const Napi::Value& v) {
    if (!v.IsObject()) return nullptr;
    AddonData* data = v.Env().GetInstanceData<AddonData>();
    if (!data || data->deviceMatrix.IsEmpty()) return nullptr;
    if (!v.As<Napi::Object>().InstanceOf(data->deviceMatrix.Value())) return nullptr;
    return Napi::ObjectWrap<DeviceMatrixWrap>::Unwrap(v.As<Napi::Object>());
  }

  // A new instance around an uploaded matrix. Main thread only.
  static Napi::Object Adopt(Napi::Env env, DevicePtr m) {
    AddonData* data = env.GetInstanceData<AddonData>();
    data->adoptingDevice = &m;
    try {
      Napi::Object out = data->deviceMatrix.New({Napi::External<DevicePtr>::New(env, &m)});
      data->adoptingDevice = nullptr;
      return out;
    } catch (...) {
      data->adoptingDevice = nullptr;
      throw;
    }
  }

  explicit DeviceMatrixWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceMatrixWrap>(info) {
    AddonData* data = info.Env().GetInstanceData<AddonData>();
    if (!data || !data->adoptingDevice || !info[0].IsExternal() ||
        info[0].As<Napi::External<DevicePtr>>().Data() != data->adoptingDevice)
      throw Napi::TypeError::New(info.Env(),
                                 "DeviceMatrix cannot be constructed directly; use kernels.toDevice(matrix)");
    matrix_ = std::move(*data->adoptingDevice);
    if (matrix_) rows_ = matrix_->rows(), cols_ = matrix_->cols();
  }

  // The matrix, shared (null once disposed).
  const DevicePtr& matrix() const { return matrix_; }

 private:
  Napi::Value Rows(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(rows_)); }
  Napi::Value Cols(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(cols_)); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !matrix_); }

  // Drops this handle's share: the GPU memory is freed now, or when the last
  // call still using it ends. The free runs on a worker thread, because
  // cudaFree waits for the device to go idle and the main thread must not.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (matrix_) (new Release(info.Env(), std::move(matrix_)))->Queue();
    matrix_.reset();
    return info.Env().Undefined();
  }

  class Release : public Napi::AsyncWorker {
   public:
    Release(Napi::Env env, DevicePtr matrix) : Napi::AsyncWorker(env), matrix_(std::move(matrix)) {}
    void Execute() override { matrix_.reset(); }

   private:
    DevicePtr matrix_;
  };

  // toFloat32Array() → Promise<Float32Array>: the values copied back to host memory.
  Napi::Value Download(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!matrix_) throw codedError(env, "ERR_DISPOSED", "the DeviceMatrix was disposed");
    struct State {
      DevicePtr matrix;
      OwnedFloats values;
    };
    auto s = std::make_shared<State>();
    s->matrix = matrix_;
    checkOutputSize(env, rows_ * cols_, "the matrix (rows × cols)");
    return KernelWorker::Start(
        env,
        [s] {
          s->values = allocateFloats(s->matrix->rows() * s->matrix->cols());
          Status st = s->matrix->download(s->values.data());
          s->matrix.reset();  // a dispose() meanwhile frees here, off the main thread
          return st;
        },
        [s](Napi::Env env) -> Napi::Value { return toFloat32Array(env, std::move(s->values)); }, kCudaUnavailable);
  }

  DevicePtr matrix_;
  int64_t rows_ = 0, cols_ = 0;
};

// toDevice(matrix: Matrix | ResidentMatrix) → Promise<DeviceMatrix>
Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (DeviceMatrixWrap::Unwrap(info[0]))
    throw Napi::TypeError::New(
        env, "matrix must be a Matrix or ResidentMatrix; received a DeviceMatrix (it is on the GPU already)");
  struct State {
    MatrixArg host;
    DevicePtr out;
  };
  auto s = std::make_shared<State>();
  s->host = copyMatrix(info[0], "matrix");
  return KernelWorker::Start(
      env,
      [s] {
        std::shared_ptr<cuda::DeviceMatrix> uploaded;
        Status st = cuda::DeviceMatrix::upload(s->host.view(), "matrix", &uploaded);
        s->host = MatrixArg{};  // free the host copy on this thread
        s->out = std::move(uploaded);
        return st;
      },
      [s](Napi::Env env) -> Napi::Value { return DeviceMatrixWrap::Adopt(env, std::move(s->out)); }, kCudaUnavailable);
}

// cudaStatus() → '' when the CUDA kernels can run, else the reason they cannot.
Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Status st = cuda::available();
  return Napi::String::New(info.Env(), st.ok() ? std::string() : st.message);
}

}  // namespace

std::shared_ptr<const cuda::DeviceMatrix> deviceMatrixOf(const Napi::Value& v, const char* name, bool* isDevice) {
  DeviceMatrixWrap* wrap = DeviceMatrixWrap::Unwrap(v);
  *isDevice = wrap != nullptr;
  if (!wrap) return nullptr;
  if (!wrap->matrix())
    throw codedError(v.Env(), "ERR_DISPOSED", std::string(name) + " is a DeviceMatrix that was disposed");
  return wrap->matrix();
}

void registerDevice(Napi::Env env, Napi::Object exports) {
  AddonData* data = env.GetInstanceData<AddonData>();
  data->deviceMatrix = Napi::Persistent(DeviceMatrixWrap::Define(env));
  exports.Set("toDevice", Napi::Function::New(env, Guarded<ToDevice>, "toDevice"));
  exports.Set("cudaStatus", Napi::Function::New(env, Guarded<CudaStatus>, "cudaStatus"));
  exports.Set("cudaMaxTopK", Napi::Number::New(env, double(cuda::kMaxTopK)));
}

}  // namespace jobbert::bindings
