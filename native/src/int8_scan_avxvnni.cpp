// The int8 scan's AVX-VNNI kernel (VEX-encoded 256-bit vpdpbusd: Intel client
// cores since Alder Lake, which lack AVX-512): int8_scan_vnni256.inc. Inline
// assembly for the same reason as the AVX-512 kernel (GCC 12 spills the
// builtin's accumulators); `{vex}` asks for the AVX-VNNI encoding.
#include <immintrin.h>

namespace jobbert {
namespace {
inline __m256i dpbusdVex(__m256i acc, __m256i c, __m256i b) {
  asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(c), "x"(b));
  return acc;
}
}  // namespace
}  // namespace jobbert

#define JOBBERT_VNNI256_DPBUSD dpbusdVex
#define JOBBERT_VNNI256_NAME int8Tile_avxvnni
#include "int8_scan_vnni256.inc"
