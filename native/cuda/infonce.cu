// InfoNCE on CUDA, forward and backward, in O((B+N)·d) memory: the B×(B+N)
// logits are never stored whole.
//
// Forward: tiles of S = Â·Ĉᵀ (unit rows) feed an online log-sum-exp per anchor
// row (and, when symmetric, per positive column over the anchors), kept as
// partial (max, sum) per corpus slice and combined after. The positive pair's
// logit (the diagonal) is read off the same tiles and kept out of those sums,
// so that its gradient −Σ_{j≠i} p_ij = p_ii − 1 is formed without cancellation
// (as the CPU kernel does). Backward: for each chunk of W candidates, Gᵀ = dL/dSᵀ is
// recomputed by a GEMM whose epilogue applies the softmax, then
// dĈ_chunk = scale·Gᵀ·Â and dÂ += scale·G·Ĉ_chunk; finally both go through the
// normalisation's Jacobian. GEMM work: 8·B·(B+N)·d flops (the forward tiles
// are computed twice), against 6·B·(B+N)·d for an implementation that keeps S.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "checks.h"
#include "common.cuh"
#include "gemm.cuh"
#include "guard.h"
#include "launch.cuh"

namespace jobbert::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarps = kTileThreads / 32;
constexpr size_t kChunkBudget = size_t(256) << 20;  // bytes of G and Gᵀ per chunk

__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// dst row r = src row r · inv[r].
__global__ void scaleRows(const float* src, const float* inv, int64_t rows, int d, float* dst) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * d) dst[i] = src[i] * inv[i / d];
}

struct LseArgs {
  GemmOperands g;  // a: Â [B × d], b: Ĉ [C × d]
  float scale;
  int tilesPerSlice;
  bool symmetric;
  float* rowMax;  // [slices][B]
  float* rowSum;
  float* colMax;  // [row tiles][B], symmetric only
  float* colSum;
  float* diag;  // [B]
};

// Block (slice, row tile): online log-sum-exp of its anchors over its slice of candidates.
template <class Tile>
__global__ void __launch_bounds__(kTileThreads) infoNCELse(LseArgs p) {
  JOBBERT_DYNAMIC_SHARED(unsigned char, smem);
  float* runMax = reinterpret_cast<float*>(smem + Tile::kSharedBytes);
  float* runSum = runMax + kTileM;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int B = p.g.m, C = p.g.n;
  const int row0 = blockIdx.y * kTileM, slice = blockIdx.x;
  for (int r = threadIdx.x; r < kTileM; r += kTileThreads) runMax[r] = -INFINITY, runSum[r] = 0.f;
  __syncthreads();
  const int tiles = (C + kTileN - 1) / kTileN;
  const int tileBegin = slice * p.tilesPerSlice;
  const int tileEnd = tileBegin + p.tilesPerSlice < tiles ? tileBegin + p.tilesPerSlice : tiles;
  const float* S = reinterpret_cast<const float*>(smem);
  for (int tile = tileBegin; tile < tileEnd; ++tile) {
    const int c0 = tile * kTileN;
    Tile::run(p.g, row0, c0, smem);
    for (int r = warp; r < kTileM && row0 + r < B; r += kWarps) {
      const int diagCol = row0 + r - c0;  // the positive's column in this tile, if it is here
      float v[kTileN / 32];
      float tileMax = -INFINITY;
#pragma unroll
      for (int j = 0; j < kTileN / 32; ++j) {
        const int c = j * 32 + lane;
        v[j] = c0 + c < C && c != diagCol ? p.scale * S[r * kTileLd + c] : -INFINITY;
        tileMax = fmaxf(tileMax, v[j]);
      }
      tileMax = warpMax(tileMax);
      const float oldMax = runMax[r];
      const float newMax = fmaxf(oldMax, tileMax);
      float add = 0.f;
      if (newMax != -INFINITY) {
#pragma unroll
        for (int j = 0; j < kTileN / 32; ++j) add += expf(v[j] - newMax);  // exp(−inf) = 0
      }
      add = warpSum(add);
      if (lane == 0) {
        runSum[r] = newMax == -INFINITY ? 0.f : runSum[r] * expf(oldMax - newMax) + add;
        runMax[r] = newMax;
        if (diagCol >= 0 && diagCol < kTileN) p.diag[row0 + r] = p.scale * S[r * kTileLd + diagCol];
      }
    }
    if (p.symmetric && c0 < B) {
      // Each positive column of this tile over this tile's anchors.
      for (int c = threadIdx.x; c < kTileN && c0 + c < B; c += kTileThreads) {
        const int rows = B - row0 < kTileM ? B - row0 : kTileM;
        const int diagRow = c0 + c - row0;
        float m = -INFINITY;
        for (int r = 0; r < rows; ++r)
          if (r != diagRow) m = fmaxf(m, p.scale * S[r * kTileLd + c]);
        float sum = 0.f;
        if (m != -INFINITY)
          for (int r = 0; r < rows; ++r)
            if (r != diagRow) sum += expf(p.scale * S[r * kTileLd + c] - m);
        p.colMax[int64_t(blockIdx.y) * B + c0 + c] = m;
        p.colSum[int64_t(blockIdx.y) * B + c0 + c] = sum;
      }
    }
  }
  __syncthreads();
  for (int r = threadIdx.x; r < kTileM && row0 + r < B; r += kTileThreads) {
    p.rowMax[int64_t(slice) * B + row0 + r] = runMax[r];
    p.rowSum[int64_t(slice) * B + row0 + r] = runSum[r];
  }
}

// From the parts' (max, Σexp) of the off-diagonal logits and the diagonal d:
// lse = log(Σ_{j≠i} e^{s_j} + e^{d}), the diagonal's gradient share
// −Σ_{j≠i} p_j, and the loss term lse − d, all in double.
__global__ void combineLse(const float* max, const float* sum, int parts, int B, const float* diag, float* lse,
                           float* diagGrad, double* term) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= B) return;
  const double d = diag[i];
  double m = d;
  for (int s = 0; s < parts; ++s) m = fmax(m, double(max[int64_t(s) * B + i]));
  double others = 0;
  for (int s = 0; s < parts; ++s) {
    const float ms = max[int64_t(s) * B + i];
    if (ms != -INFINITY) others += double(sum[int64_t(s) * B + i]) * exp(double(ms) - m);
  }
  const double total = others + exp(d - m);
  lse[i] = float(m + log(total));
  diagGrad[i] = float(-others / total);
  term[i] = m - d + log(total);
}

// Gᵀ[j − c0][i] = dL/ds_ij for candidates j of the chunk (rows) and anchors i (columns).
struct GradientEpilogue {
  float* gt;  // [W × B]
  int B;
  int c0;
  float scale;
  float forwardWeight;        // 1/B, halved when symmetric
  float backwardWeight;       // 1/(2B) when symmetric, else 0
  const float* lse;           // [B], anchors → candidates
  const float* lseBack;       // [B], positives → anchors (symmetric)
  const float* diagGrad;      // [B], −Σ_{j≠i} p_ij
  const float* diagGradBack;  // [B], symmetric
  __device__ void operator()(int row, int i, float v) const {
    const int j = c0 + row;
    float g;
    if (i == j) {
      g = forwardWeight * diagGrad[i];
      if (backwardWeight != 0.f) g += backwardWeight * diagGradBack[j];
    } else {
      const float s = scale * v;
      g = forwardWeight * expf(s - lse[i]);
      if (backwardWeight != 0.f && j < B) g += backwardWeight * expf(s - lseBack[j]);
    }
    gt[int64_t(row) * B + i] = g;
  }
};

// grad row r ← (grad_r − x̂_r·(x̂_r·grad_r))·inv_r: the gradient through x ↦ x/‖x‖. One warp per row.
__global__ void normaliseBackward(float* grad, const float* unit, const float* inv, int rows, int d) {
  const int r = blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  float* g = grad + int64_t(r) * d;
  const float* x = unit + int64_t(r) * d;
  float dot = 0.f;
  for (int c = lane; c < d; c += 32) dot += g[c] * x[c];
  dot = warpSum(dot);
  const float s = inv[r];
  for (int c = lane; c < d; c += 32) g[c] = s * (g[c] - dot * x[c]);
}

Status checkArguments(const InfoNCEParams& p) {
  if (!p.anchors.device) JOBBERT_TRY(checkShape(p.anchors.host, "anchors"));
  if (!p.positives.device) JOBBERT_TRY(checkShape(p.positives.host, "positives"));
  if (p.positives.rows() != p.anchors.rows() || p.positives.cols() != p.anchors.cols())
    return Status::Range("positives must have the shape of anchors (" + std::to_string(p.anchors.rows()) + "×" +
                         std::to_string(p.anchors.cols()) + "); received " + std::to_string(p.positives.rows()) + "×" +
                         std::to_string(p.positives.cols()));
  if (p.negatives.rows() < 0)
    return Status::Range("negatives must have 0 or more rows; received " + std::to_string(p.negatives.rows()));
  if (p.negatives.rows() > 0) {
    if (!p.negatives.device) JOBBERT_TRY(checkShape(p.negatives.host, "negatives"));
    if (p.negatives.cols() != p.anchors.cols())
      return Status::Range("negatives must have as many columns as anchors (" + std::to_string(p.anchors.cols()) +
                           "); received " + std::to_string(p.negatives.cols()));
  }
  if (!(std::isfinite(p.scale) && p.scale > 0.0f))
    return Status::Range("scale must be a finite number greater than 0; received " + std::to_string(p.scale));
  if (!p.loss) return Status::Type("loss must be an output pointer");
  if (!p.gradAnchors) return Status::Type("gradAnchors must be an output buffer");
  if (!p.gradPositives) return Status::Type("gradPositives must be an output buffer");
  if (p.negatives.rows() > 0 && !p.gradNegatives)
    return Status::Type("gradNegatives must be an output buffer when negatives are given");
  if (p.anchors.rows() + p.negatives.rows() > kMaxRows)
    return Status::Range("anchors.rows + negatives.rows must be at most 2^30 on CUDA");
  return Status::Ok();
}

unsigned blocksFor(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

}  // namespace

Status infoNCE(const InfoNCEParams& p) {
  JOBBERT_TRY(checkArguments(p));
  return guarded("CUDA infoNCE", [&]() -> Status {
    Call call;
    JOBBERT_TRY(call.begin());
    DeviceView a, pos, neg;
    JOBBERT_TRY(stage(call, p.anchors, "anchors", true, &a));
    JOBBERT_TRY(stage(call, p.positives, "positives", true, &pos));
    const bool hasNegatives = p.negatives.rows() > 0;
    if (hasNegatives) JOBBERT_TRY(stage(call, p.negatives, "negatives", true, &neg));
    const int B = a.rows, N = hasNegatives ? neg.rows : 0, C = B + N, d = a.cols;
    cudaStream_t stream = call.stream();

    // Unit rows: Â [B×d], Ĉ = [P̂; N̂] [C×d], their inverse norms, and the transposes the GEMMs read.
    float *unitA, *unitC, *invC, *unitAT, *unitCT;
    const int ldCT = (C + 3) / 4 * 4;
    JOBBERT_TRY(call.alloc(&unitA, int64_t(B) * d, "unit anchors"));
    JOBBERT_TRY(call.alloc(&unitC, int64_t(C) * d, "unit candidates"));
    JOBBERT_TRY(call.alloc(&invC, C, "candidate norms"));
    JOBBERT_TRY(call.alloc(&unitAT, int64_t(d) * B, "unit anchors (transposed)"));
    JOBBERT_TRY(call.alloc(&unitCT, int64_t(d) * ldCT, "unit candidates (transposed)"));
    auto scale = [&](const DeviceView& v, float* dst) {
      return launch(scaleRows, dim3(blocksFor(int64_t(v.rows) * d, 256)), dim3(256), 0, stream, v.data, v.inverseNorms,
                    int64_t(v.rows), d, dst);
    };
    JOBBERT_CUDA_TRY(scale(a, unitA), "normalising anchors");
    JOBBERT_CUDA_TRY(scale(pos, unitC), "normalising positives");
    JOBBERT_CUDA_TRY(cudaMemcpyAsync(invC, pos.inverseNorms, sizeof(float) * B, cudaMemcpyDeviceToDevice, stream),
                     "copying norms");
    if (hasNegatives) {
      JOBBERT_CUDA_TRY(scale(neg, unitC + int64_t(B) * d), "normalising negatives");
      JOBBERT_CUDA_TRY(cudaMemcpyAsync(invC + B, neg.inverseNorms, sizeof(float) * N, cudaMemcpyDeviceToDevice, stream),
                       "copying norms");
    }
    JOBBERT_TRY(transpose(call, unitA, B, d, unitAT));
    // Ĉᵀ with a padded leading dimension, so chunk offsets stay float4-aligned.
    JOBBERT_TRY(transpose(call, unitC, C, d, unitCT, ldCT));

    // ---- forward: log-sum-exp per anchor (and per positive when symmetric)
    int device = 0, sms = 132;
    JOBBERT_CUDA_TRY(cudaGetDevice(&device), "cudaGetDevice");
    JOBBERT_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    const int rowTiles = (B + kTileM - 1) / kTileM, colTiles = (C + kTileN - 1) / kTileN;
    int slices = std::clamp((2 * sms + rowTiles - 1) / rowTiles, 1, colTiles);
    const int tilesPerSlice = (colTiles + slices - 1) / slices;
    slices = (colTiles + tilesPerSlice - 1) / tilesPerSlice;
    if (rowTiles > 65535) return Status::Range("anchors must have at most 8,388,480 rows on CUDA");

    float *rowMax, *rowSum, *colMax = nullptr, *colSum = nullptr, *diag, *lse, *lseBack = nullptr, *diagGrad,
                            *diagGradBack = nullptr;
    double *term, *termBack = nullptr;
    JOBBERT_TRY(call.alloc(&rowMax, int64_t(slices) * B, "log-sum-exp partials"));
    JOBBERT_TRY(call.alloc(&rowSum, int64_t(slices) * B, "log-sum-exp partials"));
    JOBBERT_TRY(call.alloc(&diag, B, "positive logits"));
    JOBBERT_TRY(call.alloc(&lse, B, "log-sum-exp"));
    JOBBERT_TRY(call.alloc(&diagGrad, B, "positive gradients"));
    JOBBERT_TRY(call.alloc(&term, B, "loss terms"));
    if (p.symmetric) {
      JOBBERT_TRY(call.alloc(&colMax, int64_t(rowTiles) * B, "log-sum-exp partials"));
      JOBBERT_TRY(call.alloc(&colSum, int64_t(rowTiles) * B, "log-sum-exp partials"));
      JOBBERT_TRY(call.alloc(&lseBack, B, "log-sum-exp"));
      JOBBERT_TRY(call.alloc(&diagGradBack, B, "positive gradients"));
      JOBBERT_TRY(call.alloc(&termBack, B, "loss terms"));
    }
    LseArgs args;
    args.g = gemmOperands(unitA, d, B, unitC, d, C, d);
    args.scale = p.scale, args.tilesPerSlice = tilesPerSlice, args.symmetric = p.symmetric;
    args.rowMax = rowMax, args.rowSum = rowSum, args.colMax = colMax, args.colSum = colSum, args.diag = diag;
    JOBBERT_TRY(withTile(p.precision, [&](auto tile) -> Status {
      using Tile = decltype(tile);
      const size_t shared = Tile::kSharedBytes + 2 * kTileM * sizeof(float);
      JOBBERT_TRY(allowShared(infoNCELse<Tile>, shared));
      JOBBERT_CUDA_TRY(launch(infoNCELse<Tile>, dim3(slices, rowTiles), dim3(kTileThreads), shared, stream, args),
                       "infoNCE log-sum-exp");
      return Status::Ok();
    }));
    JOBBERT_CUDA_TRY(launch(combineLse, dim3(blocksFor(B, 256)), dim3(256), 0, stream, rowMax, rowSum, slices, B, diag,
                            lse, diagGrad, term),
                     "combining log-sum-exp");
    if (p.symmetric)
      JOBBERT_CUDA_TRY(launch(combineLse, dim3(blocksFor(B, 256)), dim3(256), 0, stream, colMax, colSum, rowTiles, B,
                              diag, lseBack, diagGradBack, termBack),
                       "combining log-sum-exp");

    // The loss: the B per-row terms summed in double on the host.
    std::vector<double> hostTerm(B), hostBack(p.symmetric ? B : 0);
    if (p.symmetric)
      JOBBERT_CUDA_TRY(cudaMemcpyAsync(hostBack.data(), termBack, sizeof(double) * B, cudaMemcpyDeviceToHost, stream),
                       "loss");
    JOBBERT_TRY(call.download(hostTerm.data(), term, sizeof(double) * B, "loss"));
    double forward = 0, backward = 0;
    for (double t : hostTerm) forward += t;
    for (double t : hostBack) backward += t;
    *p.loss = p.symmetric ? (forward + backward) / (2.0 * B) : forward / B;

    // ---- backward, W candidates at a time
    const int W = std::clamp<int64_t>(int64_t(kChunkBudget / (2 * sizeof(float) * size_t(B))) / kTileN * kTileN, kTileN,
                                      (C + kTileN - 1) / kTileN * kTileN);
    float *gt, *g, *gradA, *gradC;
    JOBBERT_TRY(call.alloc(&gt, int64_t(W) * B, "softmax gradient chunk"));
    JOBBERT_TRY(call.alloc(&g, int64_t(W) * B, "softmax gradient chunk"));
    JOBBERT_TRY(call.alloc(&gradA, int64_t(B) * d, "gradAnchors"));
    JOBBERT_TRY(call.alloc(&gradC, int64_t(C) * d, "candidate gradients"));
    const float forwardWeight = (p.symmetric ? 0.5f : 1.f) / B;
    const float backwardWeight = p.symmetric ? 0.5f / B : 0.f;
    for (int c0 = 0; c0 < C; c0 += W) {
      const int w = std::min(W, C - c0);
      // Gᵀ chunk [w × B] from Ĉ_chunk · Âᵀ.
      JOBBERT_TRY(gemm(
          call, p.precision, gemmOperands(unitC + int64_t(c0) * d, d, w, unitA, d, B, d),
          GradientEpilogue{gt, B, c0, p.scale, forwardWeight, backwardWeight, lse, lseBack, diagGrad, diagGradBack}));
      // dĈ_chunk [w × d] = scale · Gᵀ_chunk · Â  (B operand Âᵀ [d × B]).
      JOBBERT_TRY(gemmInto(call, p.precision, gemmOperands(gt, B, w, unitAT, B, d, B), gradC + int64_t(c0) * d, d,
                           p.scale, false));
      // dÂ += scale · G_chunk · Ĉ_chunk  (A operand G_chunk [B × w], B operand Ĉᵀ's columns c0.. [d × w]).
      JOBBERT_TRY(transpose(call, gt, w, B, g));
      JOBBERT_TRY(
          gemmInto(call, p.precision, gemmOperands(g, w, B, unitCT + c0, ldCT, d, w), gradA, d, p.scale, c0 > 0));
    }
    JOBBERT_CUDA_TRY(
        launch(normaliseBackward, dim3(blocksFor(B, 8)), dim3(256), 0, stream, gradA, unitA, a.inverseNorms, B, d),
        "normalisation gradient");
    JOBBERT_CUDA_TRY(launch(normaliseBackward, dim3(blocksFor(C, 8)), dim3(256), 0, stream, gradC, unitC, invC, C, d),
                     "normalisation gradient");
    JOBBERT_CUDA_TRY(
        cudaMemcpyAsync(p.gradAnchors, gradA, sizeof(float) * size_t(B) * d, cudaMemcpyDeviceToHost, stream),
        "copying gradAnchors");
    if (hasNegatives)
      JOBBERT_CUDA_TRY(cudaMemcpyAsync(p.gradNegatives, gradC + int64_t(B) * d, sizeof(float) * size_t(N) * d,
                                       cudaMemcpyDeviceToHost, stream),
                       "copying gradNegatives");
    return call.download(p.gradPositives, gradC, sizeof(float) * size_t(B) * d, "copying gradPositives");
  });
}

}  // namespace jobbert::cuda
