// dense and its backward pass on CUDA: y = act(x·weightᵀ + bias) as one GEMM
// with bias and tanh fused into the tile's epilogue; the backward pass as two
// GEMMs over transposed operands plus a deterministic column sum for the bias.
#include <cuda_runtime.h>

#include <cmath>

#include "checks.h"
#include "common.cuh"
#include "gemm.cuh"
#include "guard.h"
#include "launch.cuh"

namespace jobbert::cuda {
namespace {

struct DenseEpilogue {
  float* y;
  int out;
  const float* bias;
  bool tanhAct;
  __device__ void operator()(int r, int c, float v) const {
    if (bias) v += bias[c];
    y[int64_t(r) * out + c] = tanhAct ? tanhf(v) : v;
  }
};

// dz = gradY · (1 − y²) under tanh, else gradY.
__global__ void activationGrad(const float* gradY, const float* y, int64_t n, bool tanhAct, float* dz) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  dz[i] = tanhAct ? gradY[i] * (1.f - y[i] * y[i]) : gradY[i];
}

constexpr int kSumRows = 256;  // rows per partial column sum

// partial[blockIdx.y][c] = Σ of dz[r][c] over this block's kSumRows rows.
__global__ void columnSumPartial(const float* dz, int rows, int cols, float* partial) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const int r0 = blockIdx.y * kSumRows;
  const int r1 = r0 + kSumRows < rows ? r0 + kSumRows : rows;
  float sum = 0.f;
  for (int r = r0; r < r1; ++r) sum += dz[int64_t(r) * cols + c];
  partial[int64_t(blockIdx.y) * cols + c] = sum;
}

__global__ void columnSumFinal(const float* partial, int parts, int cols, float* out) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float sum = 0.f;
  for (int p = 0; p < parts; ++p) sum += partial[int64_t(p) * cols + c];
  out[c] = sum;
}

Status checkShapes(const Operand& x, const Operand& weight) {
  if (x.cols() != weight.cols())
    return Status::Range("weight must have as many columns as x (" + std::to_string(x.cols()) + "); received " +
                         std::to_string(weight.cols()));
  return Status::Ok();
}

unsigned blocksFor(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

}  // namespace

Status denseForward(const DenseParams& p) {
  if (!p.y) return Status::Type("y must be an output buffer");
  return guarded("CUDA dense", [&]() -> Status {
    Call call;
    JOBBERT_TRY(call.begin());
    DeviceView x, w;
    JOBBERT_TRY(stage(call, p.x, "x", false, &x));
    JOBBERT_TRY(stage(call, p.weight, "weight", false, &w));
    JOBBERT_TRY(checkShapes(p.x, p.weight));
    const int m = x.rows, in = x.cols, out = w.rows;
    float* bias = nullptr;
    if (p.bias) {
      JOBBERT_TRY(checkFiniteVector(p.bias, out, "bias"));
      JOBBERT_TRY(call.upload(&bias, p.bias, out, "bias"));
    }
    float* y = nullptr;
    JOBBERT_TRY(call.alloc(&y, int64_t(m) * out, "y"));
    const GemmOperands g = gemmOperands(x.data, in, m, w.data, in, out, in);
    JOBBERT_TRY(gemm(call, p.precision, g, DenseEpilogue{y, out, bias, p.activation == Activation::kTanh}));
    return call.download(p.y, y, sizeof(float) * size_t(m) * out, "dense");
  });
}

Status denseBackward(const DenseBackwardParams& p) {
  if (!p.gradX || !p.gradWeight || !p.gradBias) return Status::Type("gradient output buffers are required");
  return guarded("CUDA denseBackward", [&]() -> Status {
    Call call;
    JOBBERT_TRY(call.begin());
    DeviceView x, w, y, gy;
    JOBBERT_TRY(stage(call, p.x, "x", false, &x));
    JOBBERT_TRY(stage(call, p.weight, "weight", false, &w));
    JOBBERT_TRY(checkShapes(p.x, p.weight));
    const int m = x.rows, in = x.cols, out = w.rows;
    for (const auto& [op, name] : {std::pair{&p.y, "y"}, std::pair{&p.gradY, "gradY"}}) {
      if (op->rows() != m || op->cols() != out)
        return Status::Range(std::string(name) + " must be " + std::to_string(m) + "×" + std::to_string(out) +
                             " (x.rows × weight.rows); received " + std::to_string(op->rows()) + "×" +
                             std::to_string(op->cols()));
    }
    JOBBERT_TRY(stage(call, p.y, "y", false, &y));
    JOBBERT_TRY(stage(call, p.gradY, "gradY", false, &gy));

    const int64_t mo = int64_t(m) * out;
    float *dz, *dzT, *xT, *wT, *gradX, *gradW, *gradB, *partial;
    const int parts = (m + kSumRows - 1) / kSumRows;
    JOBBERT_TRY(call.alloc(&dz, mo, "dense gradient"));
    JOBBERT_TRY(call.alloc(&dzT, mo, "dense gradient (transposed)"));
    JOBBERT_TRY(call.alloc(&xT, int64_t(m) * in, "x (transposed)"));
    JOBBERT_TRY(call.alloc(&wT, int64_t(out) * in, "weight (transposed)"));
    JOBBERT_TRY(call.alloc(&gradX, int64_t(m) * in, "gradX"));
    JOBBERT_TRY(call.alloc(&gradW, int64_t(out) * in, "gradWeight"));
    JOBBERT_TRY(call.alloc(&gradB, out, "gradBias"));
    JOBBERT_TRY(call.alloc(&partial, int64_t(parts) * out, "gradBias partial sums"));

    JOBBERT_CUDA_TRY(launch(activationGrad, dim3(blocksFor(mo, 256)), dim3(256), 0, call.stream(), gy.data, y.data, mo,
                            p.activation == Activation::kTanh, dz),
                     "activationGrad");
    // gradBias = column sums of dz, in a fixed order.
    JOBBERT_CUDA_TRY(
        launch(columnSumPartial, dim3(blocksFor(out, 128), parts), dim3(128), 0, call.stream(), dz, m, out, partial),
        "columnSumPartial");
    JOBBERT_CUDA_TRY(
        launch(columnSumFinal, dim3(blocksFor(out, 128)), dim3(128), 0, call.stream(), partial, parts, out, gradB),
        "columnSumFinal");
    // gradX [m×in] = dz · weight = dz · (weightᵀ)ᵀ: A = dz (k = out), B = weightᵀ [in × out].
    JOBBERT_TRY(transpose(call, w.data, out, in, wT));
    JOBBERT_TRY(gemmInto(call, p.precision, gemmOperands(dz, out, m, wT, out, in, out), gradX, in, 1.f, false));
    // gradWeight [out×in] = dzᵀ · x: A = dzᵀ [out × m], B = xᵀ [in × m] (k = m).
    JOBBERT_TRY(transpose(call, dz, m, out, dzT));
    JOBBERT_TRY(transpose(call, x.data, m, in, xT));
    JOBBERT_TRY(gemmInto(call, p.precision, gemmOperands(dzT, m, out, xT, m, in, m), gradW, in, 1.f, false));

    JOBBERT_CUDA_TRY(
        cudaMemcpyAsync(p.gradX, gradX, sizeof(float) * size_t(m) * in, cudaMemcpyDeviceToHost, call.stream()),
        "copying gradX");
    JOBBERT_CUDA_TRY(
        cudaMemcpyAsync(p.gradWeight, gradW, sizeof(float) * size_t(out) * in, cudaMemcpyDeviceToHost, call.stream()),
        "copying gradWeight");
    return call.download(p.gradBias, gradB, sizeof(float) * size_t(out), "copying gradBias");
  });
}

}  // namespace jobbert::cuda
