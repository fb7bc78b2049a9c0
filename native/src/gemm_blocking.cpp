// Cache sizes of this CPU (CPUID leaf 4 on Intel, 0x8000001D on AMD) and the
// GEMM blocking derived from them, so the packed blocks fit the caches of the
// machine the code runs on rather than those of the machine it was tuned on.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "gemm.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define JOBBERT_HAVE_CPUID 1
#endif

namespace jobbert {
namespace {

// Per-core data cache sizes (bytes) from the deterministic cache parameters
// leaf: Intel's 4, or AMD's 0x8000001D (same layout, with topology extensions).
CacheSizes detectCaches() {
  CacheSizes c;
#ifdef JOBBERT_HAVE_CPUID
  unsigned a, b, cx, d;
  if (!__get_cpuid(0, &a, &b, &cx, &d)) return c;
  const bool amd = b == 0x68747541;  // "Auth"enticAMD
  unsigned leaf = 4;
  if (amd) {
    unsigned maxExt = __get_cpuid_max(0x80000000, nullptr);
    if (maxExt < 0x8000001D) return c;
    leaf = 0x8000001D;
  } else if (a < 4) {
    return c;
  }
  for (unsigned sub = 0; sub < 16; ++sub) {
    __cpuid_count(leaf, sub, a, b, cx, d);
    const unsigned type = a & 0x1f;  // 0: no more caches; 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    const unsigned level = (a >> 5) & 0x7;
    const int64_t ways = ((b >> 22) & 0x3ff) + 1, partitions = ((b >> 12) & 0x3ff) + 1;
    const int64_t line = (b & 0xfff) + 1, sets = int64_t(cx) + 1;
    const int64_t bytes = ways * partitions * line * sets;
    if (level == 1) c.l1 = bytes;
    else if (level == 2) c.l2 = bytes;
    else if (level == 3) c.l3 = bytes;
  }
  c.detected = c.l1 > 0 && c.l2 > 0;
#endif
  return c;
}

// JOBBERT_GEMM_L1 / JOBBERT_GEMM_L2 (bytes, for experiments) override what CPUID says.
void overrideFromEnv(CacheSizes& c) {
  for (auto [name, field] : {std::pair{"JOBBERT_GEMM_L1", &c.l1}, std::pair{"JOBBERT_GEMM_L2", &c.l2}}) {
    if (const char* v = std::getenv(name)) {
      const long long bytes = std::atoll(v);
      if (bytes >= 4096) *field = bytes, c.fromEnv = true;
    }
  }
}

}  // namespace

const CacheSizes& cacheSizes() {
  static const CacheSizes sizes = [] {
    CacheSizes c = detectCaches();
    if (!c.detected) c.l1 = 32 << 10, c.l2 = 1 << 20;  // conservative: most x86 cores have at least these
    overrideFromEnv(c);
    return c;
  }();
  return sizes;
}

GemmBlocking gemmBlocking(int mr, int nr) {
  const CacheSizes& c = cacheSizes();
  GemmBlocking g;
  // One MR×KC panel of packed A is reused against every B panel while it sits
  // in L1; give it under half of L1 so the streaming B panels and the C tile
  // do not evict it. Multiples of 32 keep the panels' k loop regular.
  g.kc = std::clamp<int64_t>(c.l1 * 45 / 100 / (mr * int64_t(sizeof(float))) / 32 * 32, 64, 1024);
  // The KC×NC block of packed B is streamed past each A panel from L2: half of
  // L2 leaves room for the A panels, the C rows and the next block's packing.
  g.bBlockBytes = std::max<int64_t>(c.l2 / 2, int64_t(nr) * g.kc * int64_t(sizeof(float)));
  return g;
}

std::string describeGemmBlocking(int mr, int nr) {
  const CacheSizes& c = cacheSizes();
  const GemmBlocking g = gemmBlocking(mr, nr);
  char buf[256];
  std::snprintf(buf, sizeof buf, "MR×NR %d×%d, KC %lld, B block %lld KiB (L1d %lld KiB, L2 %lld KiB per core, %s)", mr,
                nr, (long long)g.kc, (long long)(g.bBlockBytes >> 10), (long long)(c.l1 >> 10), (long long)(c.l2 >> 10),
                c.fromEnv    ? "set by JOBBERT_GEMM_L1/L2"
                : c.detected ? "from CPUID"
                             : "CPUID unavailable: defaults");
  return buf;
}

std::string gemmBlockingDescription() {
  const MicroKernel mk = microKernel(activeIsa());
  return describeGemmBlocking(mk.mr, mk.nr);
}

}  // namespace jobbert
