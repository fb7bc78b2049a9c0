// AVX-512 micro-kernel: 12×32 (24 zmm accumulators).
#define JB_ISA avx512
#define JB_LANES 16
#define JB_MR 12
#define JB_NV 2
#include "gemm_kernel.inc"
