// CUDA device discovery. Plain C++ header: callers need no CUDA headers, and
// the functions report "no device" rather than fail when no driver is present
// (cudart is linked statically, so the addon loads on machines without a GPU).
#pragma once

#include <string>

namespace jobbert::cuda {

// Number of usable CUDA devices; 0 without a driver or device.
int deviceCount();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)", or the CUDA error text.
std::string deviceDescription(int device);
// Launches a trivial kernel and reads its result back: true when kernels run.
bool selfTest(std::string* error);

}  // namespace jobbert::cuda
