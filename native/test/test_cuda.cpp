// test_cuda: the CUDA kernels of jobbert/cuda.h (denseForward, denseBackward,
// infoNCE, topK, DeviceMatrix) against float64 references at every precision,
// resident operands against host ones, bad calls, out of memory, concurrent
// calls; with --time, their speed on a real GPU beside the hardware's floor.
//
// This file is main() (flags, devices, the run); the rest is in native/test/cuda/:
//   cuda_harness.h     check groups, tolerances, test data, kernel calls, the check registry
//   bad_calls.cpp      status codes of bad calls
//   dense.cpp          denseForward, denseBackward
//   infonce.cpp        infoNCE
//   topk.cpp           topK, exact ties
//   device_matrix.cpp  resident operands, concurrency, out of memory
//   timing.cpp         --time
//
// Built twice (CMakeLists.txt): test_cuda links jobbert_native (the real CUDA
// kernels when nvcc was found; they then need a GPU) and test_cuda_emu links
// jobbert_cuda_emu (the same kernel sources compiled as C++ against the CPU
// emulator, one emulated device, slow: its shapes are smaller). Only cuda.h's
// API is used; without a usable backend the program prints
// "test_cuda: skipped: <reason>" and exits 0 (1 when JOBBERT_REQUIRE_CUDA=1).
//
//   test_cuda [--quick]             the checks (--quick or JOBBERT_QUICK=1: small shapes only)
//   test_cuda --time [--json PATH]  timings only (real GPU only), optionally as JSON rows
#include <cstring>

#include "cuda/cuda_harness.h"

using namespace jobbert;
using namespace jobbert::cudatest;

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // every line out before a crash could lose it
  bool time = false;
  std::string jsonPath;
  if (const char* env = std::getenv("JOBBERT_QUICK")) gQuick = std::strcmp(env, "1") == 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) gQuick = true;
    else if (std::strcmp(argv[i], "--time") == 0) time = true;
    else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) jsonPath = argv[++i];
    else {
      std::printf("usage: %s [--quick] | --time [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  // The emulator's device size: small, so the out-of-memory check is cheap.
  if (kEmu) setenv("JOBBERT_EMU_MEMORY_MB", "256", 0);

  const int count = cu::deviceCount();
  for (int i = 0; i < count; ++i) std::printf("device %d: %s\n", i, cu::deviceDescription(i).c_str());
  const Status available = cu::available();
  if (!available.ok()) {
    const char* require = std::getenv("JOBBERT_REQUIRE_CUDA");
    const bool fail = require && std::strcmp(require, "1") == 0;
    std::printf("test_cuda: %s: %s\n", fail ? "FAILED (JOBBERT_REQUIRE_CUDA=1)" : "skipped", available.message.c_str());
    return fail ? 1 : 0;
  }
  if (time) {
    if (kEmu) {
      std::printf("test_cuda: --time needs a real GPU; this is the CPU emulator\n");
      return 2;
    }
    seed();
    return timings(jsonPath);
  }
  std::printf("%s, %s checks\n", kEmu ? "CPU emulator (emulated device)" : "CUDA device", gQuick ? "quick" : "full");
  std::mt19937_64 rng(seed());
  // The registered checks (cuda/*.cpp) in their fixed order: bad calls, dense,
  // infoNCE, topK, ties, resident operands, concurrency, out of memory.
  std::vector<CheckEntry> checks = checkRegistry();
  std::stable_sort(checks.begin(), checks.end(),
                   [](const CheckEntry& a, const CheckEntry& b) { return a.order < b.order; });
  for (const CheckEntry& c : checks) c.fn(rng);
  return finish("test_cuda");
}
