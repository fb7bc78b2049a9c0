// AVX2 + FMA micro-kernel: 6×16 (12 ymm accumulators).
#define JB_ISA avx2
#define JB_LANES 8
#define JB_MR 6
#define JB_NV 2
#include "gemm_kernel.inc"
