/* bottleneck_dw_avx512.c - FUSED_BOTTLENECK's depthwise bands on AVX-512, 16
 * channels per vector: bottleneck_dw.inc over simd_avx512.h. */
#include "kernels/x86/simd_avx512.h"
#define OX_BLOCK 4
#include "kernels/bottleneck/bottleneck_dw.inc"
