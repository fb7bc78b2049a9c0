// CUDA plumbing check: reports the devices and runs the launch self-test when a
// GPU is present; skips with one line otherwise (CI has nvcc but no GPU).
#include <cstdio>
#include <string>

#include "jobbert/kernels.h"
#ifdef JOBBERT_HAVE_CUDA
#include "../cuda/device.h"
#endif

int main() {
#ifndef JOBBERT_HAVE_CUDA
  std::printf("test_cuda: skipped: this build has no CUDA backend\n");
  return 0;
#else
  int count = jobbert::cuda::deviceCount();
  bool listed = false;
  for (const auto& b : jobbert::backends()) listed |= b == "cuda";
  if (count == 0) {
    std::printf("test_cuda: skipped: no CUDA device on this machine (backends() lists cuda: %s)\n",
                listed ? "yes — WRONG" : "no");
    return listed ? 1 : 0;
  }
  for (int i = 0; i < count; ++i) std::printf("device %d: %s\n", i, jobbert::cuda::deviceDescription(i).c_str());
  std::string error;
  bool ok = jobbert::cuda::selfTest(&error) && listed;
  std::printf("test_cuda: %s%s\n", ok ? "ok" : "FAILED ", ok ? "" : error.c_str());
  return ok ? 0 : 1;
#endif
}
