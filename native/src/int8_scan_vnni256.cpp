// int8_scan_vnni256.inc in EVEX encoding (AVX512-VNNI + VL): the AVX-VNNI
// kernel's logic on CPUs with AVX-512, where the harness and tests check it
// (int8ScanUseVnni256); the AVX-VNNI encoding itself needs a CPU that has it.
#include <immintrin.h>

namespace jobbert {
namespace {
inline __m256i dpbusdEvex(__m256i acc, __m256i c, __m256i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(c), "v"(b));
  return acc;
}
}  // namespace
}  // namespace jobbert

#define JOBBERT_VNNI256_DPBUSD dpbusdEvex
#define JOBBERT_VNNI256_NAME int8Tile_vnni256evex
#include "int8_scan_vnni256.inc"
