// The CUDA entry points of a build without CUDA (no nvcc at build time): each
// reports kUnavailable, so callers need no #ifdefs and say why to the user.
#include "jobbert/cuda.h"

namespace jobbert::cuda {
namespace {
Status none() {
  return Status::Unavailable("this build of jobbert has no CUDA backend (nvcc was not found when it was built)");
}
}  // namespace

Status available() { return none(); }
int deviceCount() { return 0; }
std::string deviceDescription(int) { return "this build has no CUDA backend"; }
Status DeviceMatrix::upload(const ConstMatrix&, const char*, std::shared_ptr<DeviceMatrix>* out) {
  if (out) out->reset();
  return none();
}
DeviceMatrix::~DeviceMatrix() = default;
Status DeviceMatrix::download(float*) const { return none(); }
Status denseForward(const DenseParams&) { return none(); }
Status denseBackward(const DenseBackwardParams&) { return none(); }
Status infoNCE(const InfoNCEParams&) { return none(); }
Status topK(const TopKParams&) { return none(); }

}  // namespace jobbert::cuda
