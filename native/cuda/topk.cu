// topK on CUDA: the similarity GEMM fused with per-query selection, so no
// Q×N score matrix ever exists in global memory.
//
// Scan: block (slice, query tile) multiplies its 128 queries by each 128-row
// corpus tile of its slice of the corpus, then each warp filters its rows'
// scores against a running threshold (the k-th best seen so far) and appends
// survivors to the row's candidate list (k + max(k, kSlack) entries).
// When a list fills, the warp cuts it back to its best k with a radix select
// and raises the threshold, so after the first few tiles almost nothing passes.
// Merge: one warp per query picks the best k of its slices' lists and writes
// them best first.
//
// Candidates are 64-bit keys: the score's bits made order-preserving in the
// high half, 0xFFFFFFFF − index in the low half, so "larger key" means "better
// score, then lower index" — the CPU kernel's tie rule — and keys are unique.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "checks.h"
#include "common.cuh"
#include "gemm.cuh"
#include "guard.h"
#include "launch.cuh"

namespace jobbert::cuda {
namespace {

using Key = unsigned long long;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarps = kTileThreads / 32;
constexpr size_t kCandidateBudget = size_t(1) << 30;  // bytes of candidate lists per batch of queries
#ifdef JOBBERT_CUDA_EMU
constexpr int kSlack = 32;  // the emulator's small shapes must still fill lists and exercise cutToBest
#else
constexpr int kSlack = 256;  // a list holds k + max(k, kSlack) candidates
#endif

__device__ __forceinline__ Key encodeKey(float score, int index) {
  score = score + 0.0f;  // −0 → +0, so equal scores compare equal
  unsigned u = __float_as_uint(score);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (Key(u) << 32) | Key(0xffffffffu - unsigned(index));
}
__device__ __forceinline__ float keyScore(Key key) {
  const unsigned u = unsigned(key >> 32);
  return __uint_as_float((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u);
}
__device__ __forceinline__ int keyIndex(Key key) { return int(0xffffffffu - unsigned(key)); }
__device__ __forceinline__ unsigned lanesBelow(int lane) { return (1u << lane) - 1u; }

// The k-th largest of the keys forEach visits (this lane's share of them; k ≤
// their number), by an MSB-first radix select over 8-bit digits. hist: this
// warp's 256 counters in shared memory. Warp-collective.
template <class ForEach>
__device__ Key kthLargest(ForEach forEach, int k, unsigned* hist, int lane) {
  Key prefix = 0, mask = 0;
  unsigned remaining = unsigned(k);
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = lane; b < 256; b += 32) hist[b] = 0;
    __syncwarp();
    forEach([&](Key key) {
      if ((key & mask) == prefix) atomicAdd(&hist[unsigned(key >> shift) & 255u], 1u);
    });
    __syncwarp();
    // Lane l owns digits 255−8l down to 248−8l; lanes in order cover 255 → 0.
    unsigned local = 0;
    for (int d = 0; d < 8; ++d) local += hist[255 - 8 * lane - d];
    unsigned inclusive = local;
    for (int offset = 1; offset < 32; offset <<= 1) {
      const unsigned v = __shfl_up_sync(kFullMask, inclusive, offset);
      if (lane >= offset) inclusive += v;
    }
    const unsigned exclusive = inclusive - local;
    const bool mine = exclusive < remaining && remaining <= inclusive;
    int digit = 0;
    unsigned above = 0;
    if (mine) {
      unsigned run = exclusive;
      for (int d = 0; d < 8; ++d) {
        const unsigned h = hist[255 - 8 * lane - d];
        if (run + h >= remaining) {
          digit = 255 - 8 * lane - d, above = run;
          break;
        }
        run += h;
      }
    }
    const unsigned owner = __ballot_sync(kFullMask, mine);
    const int src = owner ? __ffs(owner) - 1 : 0;
    digit = __shfl_sync(kFullMask, digit, src);
    above = __shfl_sync(kFullMask, above, src);
    prefix |= Key(digit) << shift;
    mask |= Key(0xff) << shift;
    remaining -= above;
    __syncwarp();  // every lane has read hist before the next pass clears it
  }
  return prefix;
}

// Cuts list[0, n) (n > k) down to its k best keys, in place, keeping their
// order; returns the k-th best key, the row's new threshold. Warp-collective.
__device__ Key cutToBest(Key* list, int n, int k, unsigned* hist, int lane) {
  __syncwarp();
  const Key kth = kthLargest(
      [&](auto visit) {
        for (int i = lane; i < n; i += 32) visit(list[i]);
      },
      k, hist, lane);
  int written = 0;
  for (int i0 = 0; i0 < n; i0 += 32) {
    const int i = i0 + lane;
    const Key key = i < n ? list[i] : 0;
    const bool keep = i < n && key >= kth;
    const unsigned ballot = __ballot_sync(kFullMask, keep);
    __syncwarp();  // all reads of this chunk before any write into it
    if (keep) list[written + __popc(ballot & lanesBelow(lane))] = key;
    written += __popc(ballot);
  }
  __syncwarp();
  return kth;
}

struct ScanArgs {
  GemmOperands g;           // a: the batch's queries (m rows), b: the corpus (n rows)
  const float* invQueries;  // [m] or null (dot)
  const float* invCorpus;   // [n] or null (dot)
  int k;
  int cap;     // entries per candidate list
  int slices;  // corpus slices (gridDim.x)
  int tilesPerSlice;
  Key* candidates;  // [m][slices][cap]
  int* counts;      // [m][slices]
};

// Shared memory after the tile: count[128], threshold[128], hist[kWarps][256].
constexpr size_t kScanStateBytes = kTileM * sizeof(int) + kTileM * sizeof(Key) + kWarps * 256 * sizeof(unsigned);

template <class Tile>
__global__ void __launch_bounds__(kTileThreads) topKScan(ScanArgs p) {
  JOBBERT_DYNAMIC_SHARED(unsigned char, smem);
  int* count = reinterpret_cast<int*>(smem + Tile::kSharedBytes);
  Key* threshold = reinterpret_cast<Key*>(count + kTileM);
  unsigned* hist = reinterpret_cast<unsigned*>(threshold + kTileM);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  unsigned* warpHist = hist + warp * 256;
  const int q0 = blockIdx.y * kTileM, slice = blockIdx.x;
  for (int r = threadIdx.x; r < kTileM; r += kTileThreads) count[r] = 0, threshold[r] = 0;
  __syncthreads();

  const int tiles = (p.g.n + kTileN - 1) / kTileN;
  const int tileBegin = slice * p.tilesPerSlice;
  const int tileEnd = tileBegin + p.tilesPerSlice < tiles ? tileBegin + p.tilesPerSlice : tiles;
  const float* C = reinterpret_cast<const float*>(smem);
  for (int tile = tileBegin; tile < tileEnd; ++tile) {
    const int c0 = tile * kTileN;
    Tile::run(p.g, q0, c0, smem);  // ends with a barrier: C holds the scores
    for (int r = warp; r < kTileM && q0 + r < p.g.m; r += kWarps) {
      const int q = q0 + r;
      Key* list = p.candidates + (int64_t(q) * p.slices + slice) * p.cap;
      const float scaleQ = p.invQueries ? p.invQueries[q] : 1.f;
      int n = count[r];
      Key bar = threshold[r];
      for (int j = 0; j < kTileN; j += 32) {
        const int c = c0 + j + lane;
        Key key = 0;
        if (c < p.g.n) {
          float s = C[r * kTileLd + j + lane];
          if (p.invCorpus) s = s * scaleQ * p.invCorpus[c];
          key = encodeKey(s, c);
        }
        bool pass = key > bar;
        unsigned ballot = __ballot_sync(kFullMask, pass);
        if (!ballot) continue;
        if (n + __popc(ballot) > p.cap) {
          bar = cutToBest(list, n, p.k, warpHist, lane);
          n = p.k;
          pass = key > bar;
          ballot = __ballot_sync(kFullMask, pass);
        }
        if (pass) list[n + __popc(ballot & lanesBelow(lane))] = key;
        n += __popc(ballot);
      }
      __syncwarp();
      if (lane == 0) count[r] = n, threshold[r] = bar;
    }
    // The next tile's first barrier keeps C alive until every warp is done.
  }
  __syncthreads();
  for (int r = warp; r < kTileM && q0 + r < p.g.m; r += kWarps) {
    const int q = q0 + r;
    Key* list = p.candidates + (int64_t(q) * p.slices + slice) * p.cap;
    int n = count[r];
    if (n > p.k) {
      cutToBest(list, n, p.k, warpHist, lane);
      n = p.k;
    }
    if (lane == 0) p.counts[int64_t(q) * p.slices + slice] = n;
  }
}

// One warp (block) per query: the best k of its slices' lists, best first.
__global__ void __launch_bounds__(32)
    topKMerge(const Key* candidates, const int* counts, int slices, int cap, int k, int* indices, float* scores) {
  JOBBERT_DYNAMIC_SHARED(unsigned char, smem);
  unsigned* hist = reinterpret_cast<unsigned*>(smem);
  Key* best = reinterpret_cast<Key*>(smem + 256 * sizeof(unsigned));
  const int q = blockIdx.x, lane = threadIdx.x;
  const Key* lists = candidates + int64_t(q) * slices * cap;
  const int* n = counts + int64_t(q) * slices;
  const Key kth = kthLargest(
      [&](auto visit) {
        for (int s = 0; s < slices; ++s)
          for (int i = lane; i < n[s]; i += 32) visit(lists[int64_t(s) * cap + i]);
      },
      k, hist, lane);
  int written = 0;
  for (int s = 0; s < slices; ++s) {
    for (int i0 = 0; i0 < n[s]; i0 += 32) {
      const int i = i0 + lane;
      const Key key = i < n[s] ? lists[int64_t(s) * cap + i] : 0;
      const bool keep = i < n[s] && key >= kth;
      const unsigned ballot = __ballot_sync(kFullMask, keep);
      if (keep) best[written + __popc(ballot & lanesBelow(lane))] = key;
      written += __popc(ballot);
    }
  }
  __syncwarp();
  // Keys are unique: a key's rank is the number of larger keys.
  for (int i = lane; i < k; i += 32) {
    const Key key = best[i];
    int rank = 0;
    for (int j = 0; j < k; ++j) rank += best[j] > key;
    indices[int64_t(q) * k + rank] = keyIndex(key);
    scores[int64_t(q) * k + rank] = keyScore(key);
  }
}

Status checkHostShape(const Operand& op, const char* name) {
  return op.device ? Status::Ok() : checkShape(op.host, name);
}

}  // namespace

Status topK(const TopKParams& p) {
  if (!p.indices || !p.scores) return Status::Type("indices and scores must be output buffers");
  JOBBERT_TRY(checkHostShape(p.queries, "queries"));
  JOBBERT_TRY(checkHostShape(p.corpus, "corpus"));
  if (p.corpus.cols() != p.queries.cols())
    return Status::Range("corpus must have as many columns as queries (" + std::to_string(p.queries.cols()) +
                         "); received " + std::to_string(p.corpus.cols()));
  if (p.k < 1 || p.k > p.corpus.rows())
    return Status::Range("k must be between 1 and corpus.rows (" + std::to_string(p.corpus.rows()) + "); received " +
                         std::to_string(p.k));
  if (p.k > kMaxTopK)
    return Status::Range("k must be at most " + std::to_string(kMaxTopK) + " on CUDA; received " + std::to_string(p.k));
  return guarded("CUDA topK", [&]() -> Status {
    Call call;
    JOBBERT_TRY(call.begin());
    const bool cosine = p.metric == Metric::kCosine;
    DeviceView queries, corpus;
    JOBBERT_TRY(stage(call, p.queries, "queries", cosine, &queries));
    JOBBERT_TRY(stage(call, p.corpus, "corpus", cosine, &corpus));
    const int Q = queries.rows, N = corpus.rows, d = corpus.cols, k = int(p.k);
    const int cap = k + std::max(k, kSlack);
    const int tiles = (N + kTileN - 1) / kTileN;
    int device = 0, sms = 132;
    JOBBERT_CUDA_TRY(cudaGetDevice(&device), "cudaGetDevice");
    JOBBERT_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    // Enough slices for two blocks per SM; the query batch bounds the candidate lists' memory.
    const int qTilesAll = (Q + kTileM - 1) / kTileM;
    int slices = std::clamp((2 * sms + qTilesAll - 1) / qTilesAll, 1, tiles);
    const int tilesPerSlice = (tiles + slices - 1) / slices;
    slices = (tiles + tilesPerSlice - 1) / tilesPerSlice;
    const size_t perQuery = size_t(slices) * cap * sizeof(Key);
    const int batch =
        int(std::min<int64_t>(Q, std::max<int64_t>(kTileM, kCandidateBudget / perQuery / kTileM * kTileM)));

    Key* candidates = nullptr;
    int *counts = nullptr, *indices = nullptr;
    float* scores = nullptr;
    JOBBERT_TRY(call.alloc(&candidates, int64_t(batch) * slices * cap, "topK candidate lists"));
    JOBBERT_TRY(call.alloc(&counts, int64_t(batch) * slices, "topK candidate counts"));
    JOBBERT_TRY(call.alloc(&indices, int64_t(batch) * k, "topK indices"));
    JOBBERT_TRY(call.alloc(&scores, int64_t(batch) * k, "topK scores"));
    const size_t mergeShared = 256 * sizeof(unsigned) + size_t(k) * sizeof(Key);
    for (int b0 = 0; b0 < Q; b0 += batch) {
      const int m = std::min(batch, Q - b0);
      ScanArgs args;
      args.g = gemmOperands(queries.data + int64_t(b0) * d, d, m, corpus.data, d, N, d);
      args.invQueries = cosine ? queries.inverseNorms + b0 : nullptr;
      args.invCorpus = cosine ? corpus.inverseNorms : nullptr;
      args.k = k, args.cap = cap, args.slices = slices, args.tilesPerSlice = tilesPerSlice;
      args.candidates = candidates, args.counts = counts;
      JOBBERT_TRY(withTile(p.precision, [&](auto tile) -> Status {
        using Tile = decltype(tile);
        const size_t shared = Tile::kSharedBytes + kScanStateBytes;
        JOBBERT_TRY(allowShared(topKScan<Tile>, shared));
        const dim3 grid(slices, (m + kTileM - 1) / kTileM);
        JOBBERT_CUDA_TRY(launch(topKScan<Tile>, grid, dim3(kTileThreads), shared, call.stream(), args), "topK scan");
        return Status::Ok();
      }));
      JOBBERT_CUDA_TRY(launch(topKMerge, dim3(m), dim3(32), mergeShared, call.stream(), candidates, counts, slices, cap,
                              k, indices, scores),
                       "topK merge");
      JOBBERT_CUDA_TRY(cudaMemcpyAsync(p.indices + int64_t(b0) * k, indices, sizeof(int) * size_t(m) * k,
                                       cudaMemcpyDeviceToHost, call.stream()),
                       "copying topK indices");
      JOBBERT_TRY(
          call.download(p.scores + int64_t(b0) * k, scores, sizeof(float) * size_t(m) * k, "copying topK scores"));
    }
    return Status::Ok();
  });
}

}  // namespace jobbert::cuda
