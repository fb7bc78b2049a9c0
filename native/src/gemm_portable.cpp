// Portable micro-kernel: 4×8 on 4-wide vectors (SSE2 on x86-64, NEON on Arm).
#define JB_ISA portable
#define JB_LANES 4
#define JB_MR 4
#define JB_NV 2
#include "gemm_kernel.inc"
