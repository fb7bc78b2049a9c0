// Instruction-set dispatch, thread count and backend discovery.
#include <atomic>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "jobbert/kernels.h"
#include "thread_pool.h"

#include "jobbert/cuda.h"

namespace jobbert {
namespace {

bool cpuHas(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return true;
#if defined(JOBBERT_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(JOBBERT_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#endif
    default: return false;
  }
}

Isa bestIsa() {
  Isa best = Isa::kPortable;
  for (Isa isa : availableIsas()) best = isa;
  // JOBBERT_ISA=portable|avx2|avx512 caps the choice (for tests and comparisons).
  if (const char* env = std::getenv("JOBBERT_ISA")) {
    for (Isa isa : availableIsas())
      if (std::strcmp(env, isaName(isa)) == 0) return isa;
  }
  return best;
}

std::atomic<int> activeIsaValue{-1};

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    default: return "portable";
  }
}

std::vector<Isa> availableIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512})
    if (cpuHas(isa)) out.push_back(isa);
  return out;
}

Isa activeIsa() {
  int v = activeIsaValue.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(bestIsa());
    activeIsaValue.store(v);
  }
  return static_cast<Isa>(v);
}

Status setIsa(Isa isa) {
  if (!cpuHas(isa))
    return Status::Unavailable(std::string("instruction set '") + isaName(isa) +
                               "' is not supported by this build or CPU");
  activeIsaValue.store(static_cast<int>(isa));
  return Status::Ok();
}

int threadCount() { return ThreadPool::instance().size(); }

void setThreadCount(int n) { ThreadPool::instance().resize(n); }

bool releaseFreeMemory() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

std::vector<std::string> backends() {
  std::vector<std::string> out{"cpu"};
  if (cuda::available().ok()) out.push_back("cuda");
  return out;
}

}  // namespace jobbert
