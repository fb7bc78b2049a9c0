// test_cuda --time [--json PATH]: the speed of each kernel on a real GPU
// (resident and host operands, every precision) beside the hardware's floor,
// with the peak device memory of each call.
#include <dlfcn.h>

#include "cuda_harness.h"

namespace jobbert::cudatest {
namespace {

// ---------------------------------------------------------------- timing (--time)

// H100 SXM dense peaks and HBM3 bandwidth: the floor of each row.
double peakFlops(Precision p) {
  switch (p) {
    case Precision::kFp32: return 67e12;
    case Precision::kTf32: return 494.7e12;
    case Precision::kBf16: return 989.4e12;
  }
  return 67e12;
}
constexpr double kBandwidth = 3.35e12;
constexpr double kMiB = 1048576.0;

// Free device memory through the driver API (libcuda, present wherever a GPU
// runs), polled while a call runs: its peak use. No CUDA headers needed.
class MemoryProbe {
 public:
  MemoryProbe() {
    lib_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return;
    init_ = reinterpret_cast<int (*)(unsigned)>(dlsym(lib_, "cuInit"));
    deviceGet_ = reinterpret_cast<int (*)(int*, int)>(dlsym(lib_, "cuDeviceGet"));
    retain_ = reinterpret_cast<int (*)(void**, int)>(dlsym(lib_, "cuDevicePrimaryCtxRetain"));
    setCurrent_ = reinterpret_cast<int (*)(void*)>(dlsym(lib_, "cuCtxSetCurrent"));
    memInfo_ = reinterpret_cast<int (*)(size_t*, size_t*)>(dlsym(lib_, "cuMemGetInfo_v2"));
    int device = 0;
    ok_ = init_ && deviceGet_ && retain_ && setCurrent_ && memInfo_ && init_(0) == 0 && deviceGet_(&device, 0) == 0 &&
          retain_(&ctx_, device) == 0;
  }
  bool ok() const { return ok_; }
  bool freeBytes(size_t* free) const {
    size_t total = 0;
    return ok_ && setCurrent_(ctx_) == 0 && memInfo_(free, &total) == 0;
  }

 private:
  void* lib_ = nullptr;
  void* ctx_ = nullptr;
  bool ok_ = false;
  int (*init_)(unsigned) = nullptr;
  int (*deviceGet_)(int*, int) = nullptr;
  int (*retain_)(void**, int) = nullptr;
  int (*setCurrent_)(void*) = nullptr;
  int (*memInfo_)(size_t*, size_t*) = nullptr;
};

// MiB the call took beyond what was in use before it (NaN when unknown).
double peakDeltaMiB(const MemoryProbe& probe, const std::function<Status()>& fn) {
  size_t base = 0;
  if (!probe.freeBytes(&base)) return NAN;
  std::atomic<bool> running{true};
  std::atomic<size_t> lowest{base};
  std::thread poll([&] {
    while (running.load()) {
      size_t f = 0;
      if (probe.freeBytes(&f) && f < lowest.load()) lowest = f;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  const Status s = fn();
  running = false;
  poll.join();
  size_t f = 0;
  if (probe.freeBytes(&f) && f < lowest.load()) lowest = f;
  return s.ok() ? double(base - lowest.load()) / kMiB : NAN;
}

struct TimedRow {
  std::string kernel, shape, precision, operands, error;
  double ms = NAN, flops = 0, useful = 0, bytes = 0, floorMs = NAN, peakMiB = NAN;
};

// One warm-up call, then the median of `reps` timed calls (host clock around
// the synchronous call: copies of host operands and results included).
double timeMs(const std::function<Status()>& fn, int reps, std::string* error) {
  Status s = fn();
  if (!s.ok()) {
    *error = describe(s);
    return NAN;
  }
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    s = fn();
    t.push_back(secondsSince(start) * 1e3);
    if (!s.ok()) {
      *error = describe(s);
      return NAN;
    }
  }
  std::sort(t.begin(), t.end());
  return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
}

void fastFill(std::vector<float>& v, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  parallelFor(
      int64_t(v.size()),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          uint64_t z = seed + uint64_t(i) * 0x9E3779B97F4A7C15ull;
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
          z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
          z ^= z >> 31;
          v[i] = lo + (hi - lo) * float(double(z >> 40) * 0x1p-24);
        }
      },
      1 << 16);
}

std::string jsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += fmt("\\u%04x", c);
    else o += c;
  }
  return o + "\"";
}
std::string jsonNumber(double v) { return std::isfinite(v) ? fmt("%.9g", v) : "null"; }

void printTimedRow(const TimedRow& r) {
  const bool nce = r.kernel == "infoNCE";
  const double tf = r.flops / (r.ms * 1e-3) * 1e-12, useful = r.useful / (r.ms * 1e-3) * 1e-12;
  std::printf("| %-13s | %-29s | %-4s | %-8s | %9.3f | %7.1f | %7s | %8.3f | %8.2f | %8s |%s\n", r.kernel.c_str(),
              r.shape.c_str(), r.precision.c_str(), r.operands.c_str(), r.ms, tf,
              nce ? fmt("%.1f", useful).c_str() : "=", r.floorMs, r.ms / r.floorMs,
              std::isfinite(r.peakMiB) ? fmt("%.0f", r.peakMiB).c_str() : "n/a",
              r.error.empty() ? "" : (" ERROR " + r.error).c_str());
  std::fflush(stdout);
}

}  // namespace

int timings(const std::string& jsonPath) {
  // JOBBERT_TIME_SMALL=1: small shapes, to try the timing path (and
  // torch_peers.py, which reads the same variable) on any machine.
  const char* smallEnv = std::getenv("JOBBERT_TIME_SMALL");
  const bool small = smallEnv && std::strcmp(smallEnv, "1") == 0;
  const MemoryProbe probe;
  std::vector<TimedRow> rows;
  const std::string device = cu::deviceDescription(0);
  std::printf(
      "\ntimings on %s: median ms of timed calls after one warm-up (host clock around each synchronous\n"
      "call). Operands 'resident': inputs are DeviceMatrix, outputs host (their copy back is timed);\n"
      "'host': every input copied in by the call. Floor = max(flops/peak, bytes/3.35 TB/s) at H100 SXM\n"
      "peaks (fp32 67, tf32 494.7, bf16 989.4 TFLOP/s); infoNCE: TFLOP/s counts 8·B·C·d (with the\n"
      "recompute), 'useful' 6·B·C·d, and the floor uses the useful count. dev MiB: peak device memory\n"
      "during a call (cuMemGetInfo polled), plus the resident inputs for resident rows.\n\n",
      device.c_str());
  std::printf(
      "| kernel        | shape                         | prec | operands | median ms | TFLOP/s | useful  "
      "| floor ms | ms/floor | dev MiB  |\n");
  std::printf(
      "|---------------|-------------------------------|------|----------|-----------|---------|---------"
      "|----------|----------|----------|\n");
  auto measure = [&](TimedRow row, Precision p, int reps, double residentBytes, const std::function<Status()>& fn) {
    row.precision = pname(p);
    row.ms = timeMs(fn, reps, &row.error);
    if (row.error.empty()) {
      const double delta = peakDeltaMiB(probe, fn);
      row.peakMiB = delta + residentBytes / kMiB;
    }
    row.floorMs = std::max(row.useful / peakFlops(p), row.bytes / kBandwidth) * 1e3;
    printTimedRow(row);
    rows.push_back(row);
  };
  Group g("timing setup");

  {  // topK
    const int64_t Q = small ? 64 : 1024, N = small ? 20000 : 1000000, d = small ? 256 : 1024;
    std::vector<float> corpus(N * d), queries(Q * d);
    fastFill(corpus, seed() + 11), fastFill(queries, seed() + 12);
    auto dc = upload(g, corpus, N, d, "corpus"), dq = upload(g, queries, Q, d, "queries");
    for (int64_t k : {int64_t(10), int64_t(1024)})
      for (Precision p : kPrecisions) {
        std::vector<int32_t> idx(Q * k);
        std::vector<float> sc(Q * k);
        auto call = [&](const cu::Operand& qo, const cu::Operand& co) {
          cu::TopKParams tp;
          tp.queries = qo, tp.corpus = co, tp.k = k, tp.metric = Metric::kCosine, tp.precision = p;
          tp.indices = idx.data(), tp.scores = sc.data();
          return cu::topK(tp);
        };
        TimedRow row;
        row.kernel = "topK";
        row.shape = fmt("Q=%lld N=%lld d=%lld k=%lld", (long long)Q, (long long)N, (long long)d, (long long)k);
        row.flops = row.useful = 2.0 * Q * N * d;
        row.bytes = 4.0 * (N + Q) * d + 8.0 * Q * k;
        if (dc && dq) {
          row.operands = "resident";
          measure(row, p, 5, 4.0 * (N + Q) * d, [&] { return call(D(dq), D(dc)); });
        }
        if (k == 10) {
          row.operands = "host";
          measure(row, p, 3, 0, [&] { return call(H(queries, Q, d), H(corpus, N, d)); });
        }
      }
  }
  for (int64_t B : small ? std::vector<int64_t>{512, 1024} : std::vector<int64_t>{16384, 65536}) {
    // infoNCE forward + backward, symmetric off
    const int64_t d = small ? 128 : 1024;
    std::vector<float> a(B * d), pos(B * d);
    fastFill(a, seed() + 21), fastFill(pos, seed() + 22);
    auto da = upload(g, a, B, d, "anchors"), dp = upload(g, pos, B, d, "positives");
    NceOut out;
    out.ga.resize(B * d), out.gp.resize(B * d);
    for (Precision p : kPrecisions) {
      auto call = [&](const cu::Operand& ao, const cu::Operand& po) {
        cu::InfoNCEParams ip;
        ip.anchors = ao, ip.positives = po, ip.scale = 20.0f, ip.symmetric = false, ip.precision = p;
        ip.loss = &out.loss, ip.gradAnchors = out.ga.data(), ip.gradPositives = out.gp.data();
        return cu::infoNCE(ip);
      };
      TimedRow row;
      row.kernel = "infoNCE";
      row.shape = fmt("B=%lld d=%lld", (long long)B, (long long)d);
      row.flops = 8.0 * B * B * d, row.useful = 6.0 * B * B * d;
      row.bytes = 16.0 * B * d;
      if (da && dp) {
        row.operands = "resident";
        measure(row, p, B > 20000 || small ? 3 : 5, 8.0 * B * d, [&] { return call(D(da), D(dp)); });
      }
      row.operands = "host";
      measure(row, p, B > 20000 || small ? 2 : 3, 0, [&] { return call(H(a, B, d), H(pos, B, d)); });
    }
  }
  {  // dense forward (tanh + bias) and backward (tanh)
    const int64_t M = small ? 2048 : 65536, in = 768, out = 1024;
    std::vector<float> x(M * in), w(out * in), b(out), gy(M * out), y(M * out);
    fastFill(x, seed() + 31), fastFill(w, seed() + 32, -0.05f, 0.05f), fastFill(b, seed() + 33),
        fastFill(gy, seed() + 34);
    auto dx = upload(g, x, M, in, "x"), dw = upload(g, w, out, in, "weight");
    const std::string shape = fmt("M=%lld in=%lld out=%lld", (long long)M, (long long)in, (long long)out);
    for (Precision p : kPrecisions) {
      auto call = [&](const cu::Operand& xo, const cu::Operand& wo) {
        cu::DenseParams dp;
        dp.x = xo, dp.weight = wo, dp.bias = b.data(), dp.activation = Activation::kTanh, dp.precision = p;
        dp.y = y.data();
        return cu::denseForward(dp);
      };
      TimedRow row;
      row.kernel = "dense", row.shape = shape;
      row.flops = row.useful = 2.0 * M * in * out;
      row.bytes = 4.0 * (M * in + out * in + out + M * out);
      if (dx && dw) {
        row.operands = "resident";
        measure(row, p, 10, 4.0 * (M * in + out * in), [&] { return call(D(dx), D(dw)); });
      }
      row.operands = "host";
      measure(row, p, 5, 0, [&] { return call(H(x, M, in), H(w, out, in)); });
    }
    {
      cu::DenseParams dp;
      dp.x = H(x, M, in), dp.weight = H(w, out, in), dp.bias = b.data(), dp.activation = Activation::kTanh;
      dp.y = y.data();
      g.ok(cu::denseForward(dp), "dense forward for the backward's y");
    }
    auto dy = upload(g, y, M, out, "y"), dgy = upload(g, gy, M, out, "gradY");
    DenseGrads gr;
    gr.gx.resize(M * in), gr.gw.resize(out * in), gr.gb.resize(out);
    for (Precision p : kPrecisions) {
      auto call = [&](const cu::Operand& xo, const cu::Operand& wo, const cu::Operand& yo, const cu::Operand& gyo) {
        cu::DenseBackwardParams bp;
        bp.x = xo, bp.weight = wo, bp.y = yo, bp.gradY = gyo, bp.activation = Activation::kTanh, bp.precision = p;
        bp.gradX = gr.gx.data(), bp.gradWeight = gr.gw.data(), bp.gradBias = gr.gb.data();
        return cu::denseBackward(bp);
      };
      TimedRow row;
      row.kernel = "denseBackward", row.shape = shape;
      row.flops = row.useful = 4.0 * M * in * out;
      row.bytes = 4.0 * (2 * M * in + 2 * out * in + 2 * M * out + 2 * out);
      if (dx && dw && dy && dgy) {
        row.operands = "resident";
        measure(row, p, 10, 4.0 * (M * in + out * in + 2 * M * out), [&] { return call(D(dx), D(dw), D(dy), D(dgy)); });
      }
      row.operands = "host";
      measure(row, p, 5, 0, [&] { return call(H(x, M, in), H(w, out, in), H(y, M, out), H(gy, M, out)); });
    }
  }
  g.done();

  if (!jsonPath.empty()) {
    std::FILE* f = std::fopen(jsonPath.c_str(), "w");
    if (!f) {
      check(false, "cannot write " + jsonPath + ": " + std::strerror(errno));
    } else {
      std::fprintf(f, "{\n  \"source\": \"test_cuda --time\",\n  \"device\": %s,\n  \"seed\": %llu,\n  \"rows\": [\n",
                   jsonString(device).c_str(), static_cast<unsigned long long>(seed()));
      for (size_t i = 0; i < rows.size(); ++i) {
        const TimedRow& r = rows[i];
        const double s = r.ms * 1e-3;
        std::fprintf(f,
                     "    {\"key\": %s, \"kernel\": %s, \"shape\": %s, \"precision\": %s, \"operands\": %s, "
                     "\"ms\": %s, \"tflops\": %s, \"useful_tflops\": %s, \"flops\": %s, \"useful_flops\": %s, "
                     "\"bytes\": %s, \"floor_ms\": %s, \"ms_over_floor\": %s, \"peak_mib\": %s, \"error\": %s}%s\n",
                     jsonString(r.kernel + "|" + r.shape + "|" + r.precision).c_str(), jsonString(r.kernel).c_str(),
                     jsonString(r.shape).c_str(), jsonString(r.precision).c_str(), jsonString(r.operands).c_str(),
                     jsonNumber(r.ms).c_str(), jsonNumber(r.flops / s * 1e-12).c_str(),
                     jsonNumber(r.useful / s * 1e-12).c_str(), jsonNumber(r.flops).c_str(),
                     jsonNumber(r.useful).c_str(), jsonNumber(r.bytes).c_str(), jsonNumber(r.floorMs).c_str(),
                     jsonNumber(r.ms / r.floorMs).c_str(), jsonNumber(r.peakMiB).c_str(),
                     r.error.empty() ? "null" : jsonString(r.error).c_str(), i + 1 < rows.size() ? "," : "");
      }
      std::fprintf(f, "  ]\n}\n");
      std::fclose(f);
      std::printf("wrote %zu rows to %s\n", rows.size(), jsonPath.c_str());
    }
  }
  for (const TimedRow& r : rows) check(r.error.empty(), r.kernel + " " + r.shape + " " + r.precision + ": " + r.error);
  return finish("test_cuda");
}

}  // namespace jobbert::cudatest
