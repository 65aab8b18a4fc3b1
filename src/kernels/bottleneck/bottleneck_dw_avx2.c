/* bottleneck_dw_avx2.c - FUSED_BOTTLENECK's depthwise bands on AVX2 + FMA, 8
 * channels per vector: bottleneck_dw.inc over simd_avx2.h. */
#include "kernels/x86/simd_avx2.h"
/* Sixteen registers: the nine taps, the bias, four sums and the columns
 * being read; more sums would spill. */
#define OX_BLOCK 4
#include "kernels/bottleneck/bottleneck_dw.inc"
